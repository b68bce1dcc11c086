"""Predictions put back on the user's rows: a pandas Series (or a DataFrame of category probabilities) with the
index of the data frame given, NaN where a row was dropped from the fit (a missing value) or has a missing
covariate in new data. Models written in model syntax keep one value per (unit, indicator) row, in the stacked
order of the fit."""

from __future__ import annotations

import numpy as np
import pandas as pd


def _columns(result, width: int) -> list:
    """Column labels of a prediction with ``width`` columns per row (category probabilities)."""
    categories = list(getattr(result.spec, "categories", ()) or ())
    return categories if len(categories) == width else list(range(width))


def _labelled(result, values: np.ndarray, index: pd.Index, name: str, columns=None):
    if values.ndim == 1:
        return pd.Series(values, index=index, name=name)
    return pd.DataFrame(values, index=index, columns=columns or _columns(result, values.shape[1]))


def aligned(result, values, newdata: pd.DataFrame | None, name: str = "prediction"):
    """``values`` (one per design row, or per new-data row) as a Series/DataFrame on the user's index; returned
    unchanged where rows do not map one to one (choice sets, rankings, new units of model syntax)."""
    columns = list(values.columns) if isinstance(values, pd.DataFrame) else None
    original, values = values, np.asarray(values)
    design = result.design
    if newdata is not None:
        if design.fixed_model_spec is not None and values.shape[0] == len(newdata):
            return _labelled(result, values, newdata.index, name, columns)
        return original
    if design.data_rows is None or design.choice is not None or values.shape[0] != len(design.data_rows):
        return original
    if design.fixed_model_spec is None:  # model syntax: one value per (unit, indicator) row, stacked
        return original
    full = np.full((len(design.data_index),) + values.shape[1:], np.nan)
    full[design.data_rows] = values
    return _labelled(result, full, design.data_index, name, columns)
