"""The discrete latent variable's parameters in theta: class locations and membership logits."""

from __future__ import annotations

import numpy as np

from .parameters import ParameterTable


def set_segment(table: ParameterTable, theta: np.ndarray, kind: str, values) -> np.ndarray:
    """theta with the values of one segment (e.g. "locations", "class_logits") replaced."""
    theta = np.array(theta, dtype=float)
    for segment, _, start, count in table._segments():
        if segment == kind and count:
            theta[start : start + count] = np.asarray(values, float).ravel()[:count]
    return theta


def class_parameters(table: ParameterTable, theta) -> tuple[np.ndarray, np.ndarray]:
    """(locations (C, q), logits rho (C, n_v) with last row 0) at theta."""
    unpacked = table.unpack(np.asarray(theta))
    return np.asarray(unpacked.locations[table.spec.discrete_index]), np.asarray(unpacked.class_logits)
