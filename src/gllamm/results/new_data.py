"""New data for predictions: model matrices built safely, unseen categories refused, incomplete rows kept.

* ``model_matrix_for``: a fitted formulaic ModelSpec applied to new data. A category the fit never saw
  has no coefficient; formulaic would code it as the reference level (with only a warning), so it is a
  GllammError naming the column and the level instead.
* ``complete_rows``: which rows of new data have every covariate the model uses; predictions are made
  for those and are NaN for the others (``scatter``), aligned to the rows of ``newdata``.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd

from ..design.data_checks import complete_rows as design_complete_rows
from ..errors import GllammError


def model_matrix_for(model_spec, newdata: pd.DataFrame):
    """``model_spec.get_model_matrix(newdata)``, refusing categories that were not in the fitted data and naming
    the columns the model needs that newdata lacks."""
    missing = sorted(str(v) for v in getattr(model_spec, "required_variables", ()) if v not in newdata.columns)
    if missing:
        raise GllammError(f"newdata lacks the column(s) {', '.join(repr(m) for m in missing)} that the model uses; "
                          "give every covariate of the model (responses and grouping columns may be left out).")
    _check_levels(model_spec, newdata)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*categories outside of the nominated levels.*")
        try:
            return model_spec.get_model_matrix(newdata, na_action="raise")
        except Warning as warning:  # (a category in an expression _check_levels could not attribute to a column)
            raise GllammError(f"newdata has categories the fit did not see: {warning}. Predictions for them "
                              "would use the reference level; drop those rows or recode them.") from None


def _check_levels(model_spec, newdata: pd.DataFrame) -> None:
    for factor, state in getattr(model_spec, "factor_contrasts", {}).items():
        levels = list(state.levels)
        expression = str(getattr(factor, "expr", factor))
        names = [expression] if expression in newdata.columns else \
            [n for n in re.findall(r"[A-Za-z_][A-Za-z0-9_.]*", expression) if n in newdata.columns]
        if len(names) != 1:
            continue
        column = names[0]
        values = pd.Series(newdata[column].dropna().unique())
        known = {str(level) for level in levels}
        unseen = [value for value in values if value not in levels and str(value) not in known]
        if unseen:
            shown = ", ".join(repr(v) for v in unseen[:5]) + (" ..." if len(unseen) > 5 else "")
            raise GllammError(f"newdata column '{column}' has the level(s) {shown}, which the fitted data did not "
                              f"have (levels: {', '.join(repr(v) for v in levels[:10])}"
                              f"{' ...' if len(levels) > 10 else ''}); the model has no coefficient for them. "
                              "Drop those rows or recode them to a fitted level.")


def complete_rows(result, newdata: pd.DataFrame) -> np.ndarray:
    """Rows of ``newdata`` with a value in every covariate column the model uses (responses and grouping
    columns are not needed: an unknown cluster is predicted at latent value 0 or marginally)."""
    design = result.design
    if design.model_frame is None:
        return np.ones(len(newdata), bool)
    responses = set(str(design.response_name).split(", ")) | set(re.findall(r"[A-Za-z_][A-Za-z0-9_.]*",
                                                                           str(result.spec.formula.response)))
    needed = [c for c in design.model_frame.columns
              if c in newdata.columns and c not in responses and c not in set(design.group_columns)]
    if not needed:
        return np.ones(len(newdata), bool)
    return design_complete_rows(newdata, needed)


def scatter(values, complete: np.ndarray):
    """Predictions for the complete rows placed at their rows, NaN at the others (arrays or DataFrames)."""
    if isinstance(values, pd.DataFrame):
        full = pd.DataFrame(np.nan, index=range(len(complete)), columns=values.columns)
        full.loc[np.flatnonzero(complete)] = values.to_numpy()
        return full
    values = np.asarray(values, dtype=float)
    full = np.full((len(complete),) + values.shape[1:], np.nan)
    full[complete] = values
    return full
