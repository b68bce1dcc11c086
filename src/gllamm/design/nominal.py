"""Nominal responses as choice sets: one set of K slots (categories) per observation.

For categories c = 1..K with base category b, the linear predictor of slot c is
x_i' beta_c + z_i' u_c (beta_b = 0, u_b = 0): every fixed effect and every random effect
gets one copy per non-base category ("2:x", "var(2:(Intercept)|school)"). Copies of a
correlated random term are correlated across categories too.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import GllammError, closest
from ..spec import LevelSpec


def code_nominal(values, column: str, base=None) -> tuple[np.ndarray, tuple[str, ...], int]:
    """0-based category codes, category labels and the index of the base category."""
    series = pd.Series(values)
    if isinstance(series.dtype, pd.CategoricalDtype):
        labels = [str(c) for c in series.dtype.categories]
        codes = series.cat.codes.to_numpy()
        empty = [c for c, n in zip(labels, np.bincount(codes, minlength=len(labels))) if n == 0]
        if empty:
            raise GllammError(f"Nominal response '{column}' has categories with no observations: {', '.join(empty)}. "
                              "Remove them (series.cat.remove_unused_categories()) or merge them.")
    else:
        uniques = np.sort(series.unique())
        labels = [str(int(v)) if isinstance(v, (float, np.floating)) and float(v).is_integer() else str(v)
                  for v in uniques]
        codes = np.searchsorted(uniques, series.to_numpy())
    if len(labels) < 2:
        raise GllammError(f"Nominal response '{column}' has a single category ({labels[0]}); a multinomial model "
                          "needs at least two.")
    if base is None:
        base_index = 0
    elif str(base) in labels:
        base_index = labels.index(str(base))
    else:
        raise GllammError(f"base='{base}' is not a category of '{column}'.{closest(str(base), labels)} "
                          f"Categories: {', '.join(labels)}.")
    return codes.astype(int), tuple(labels), base_index


def category_copies(matrix: np.ndarray, K: int, base_index: int) -> np.ndarray:
    """Slot rows (n K, r (K-1)): row i's values in the block of category c at slot c, zeros elsewhere."""
    n, r = matrix.shape
    others = [k for k in range(K) if k != base_index]
    out = np.zeros((n, K, r * len(others)))
    for j, k in enumerate(others):
        out[:, k, j * r : (j + 1) * r] = matrix
    return out.reshape(n * K, -1)


def expand(codes, labels, base_index, X, fixed_names, Z_levels, levels):
    """Slot-level arrays: y (n K,), X (n K, p (K-1)), Z per level, level specs, fixed-effect names."""
    n, K = len(codes), len(labels)
    others = [k for k in range(K) if k != base_index]
    y = np.zeros((n, K))
    y[np.arange(n), codes] = 1.0

    def copies(matrix):
        return category_copies(matrix, K, base_index)

    names = [f"{labels[k]}:{name}" for k in others for name in fixed_names]
    new_levels, new_Z = [], []
    for Z, level in zip(Z_levels, levels):
        r = Z.shape[1]
        blocks = tuple(tuple(j * r + i for j in range(len(others)) for i in block) for block in level.blocks)
        latent = tuple(f"{labels[k]}:{name}" for k in others for name in level.latent_names)
        new_levels.append(LevelSpec(level.name, latent, blocks))
        new_Z.append(copies(Z))
    return y.reshape(-1), copies(X), names, new_Z, new_levels
