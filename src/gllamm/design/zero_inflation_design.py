"""The covariates of a zero-inflation model: logit P(structural zero)_i = w_i' gamma, w from ``zero_inflation="~ w"``.

As glmmTMB's ``ziformula``: fixed effects only (the random effects are in the count part), an intercept unless the
formula removes it with ``- 1`` / ``0 +``; parameters named "zi:(Intercept)", "zi:w".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import GllammError
from .design import _check_rank, _rename_intercept, model_matrix


def zero_inflation_matrix(formula: str | None, frame: pd.DataFrame, levels):
    """(W (rows, n_zi), the names "zi:w", the formulaic spec of W), or (None, (), None) without zero inflation."""
    if formula is None:
        return None, (), None
    if any(level.discrete for level in levels.levels):
        raise GllammError("zero_inflation= with latent classes (discrete=True) is not a model gllamm fits: the "
                          "classes already mix count distributions; drop one of the two.")
    matrix = model_matrix(formula, frame, na_action="raise")
    names = _rename_intercept(matrix.columns)
    if not names:
        raise GllammError(f"zero_inflation='~ {formula}' has no columns; '~ 1' gives a constant probability of a "
                          "structural zero.")
    W = np.asarray(matrix, dtype=float)
    _check_rank(W, names, "zero_inflation")
    return W, tuple(f"zi:{n}" for n in names), matrix.model_spec
