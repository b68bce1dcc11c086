"""Predictions of zero-inflated counts: with pi_i = logit^-1(w_i' gamma) (no latent variables in it) and the count
part's mean mu_i,

    type="count": mu_i,   type="mean": (1 - pi_i) mu_i,   type="zero": P(y_i = 0) = pi_i + (1 - pi_i) f(0 | mu_i),

conditional on the latent variables (latent="zero" or "eb") or integrated over them (latent="marginal": the count
part's E[mu] and E[f(0 | mu)], pi unchanged).
"""

from __future__ import annotations

import numpy as np

from .predict import _model_columns

ZERO_INFLATED_TYPES = ("count", "zero")


def structural_zero_probability(result, newdata=None, gamma=None) -> np.ndarray:
    """pi_i = logit^-1(w_i' gamma) of the fitted rows or of new data (gamma: the estimates unless given)."""
    spec, design = result.spec, result.design
    names = list(spec.zero_inflation_names)
    if newdata is None:
        W = design.zero_inflation_matrix
    else:
        W = _model_columns(design.zero_inflation_model_spec, newdata, names, prefix="zi:")
    gamma = result.params[names].to_numpy() if gamma is None else np.asarray(gamma)
    return 1.0 / (1.0 + np.exp(-(W @ gamma)))


def zero_inflated(type: str, pi, count_part) -> np.ndarray:
    """The prediction of ``type`` from pi and the count part's mean (type "count"/"mean") or f(0 | mu) ("zero")."""
    if type == "count":
        return count_part
    if type == "mean":
        return (1.0 - pi) * count_part
    return pi + (1.0 - pi) * count_part
