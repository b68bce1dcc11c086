"""Predictions put back on the user's rows: a pandas Series (or a DataFrame of category probabilities) with the
index of the data frame given, NaN where a row was dropped from the fit (a missing value) or has a missing
covariate in new data. For models written in model syntax: a DataFrame of the data's rows (units) x the
indicators."""

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


def _units_by_indicators(design, values: np.ndarray, original):
    """One value per (unit, indicator) row as a DataFrame: the data's index x the indicators, NaN where a unit has
    no row (a missing response, or a unit dropped from the fit); other shapes unchanged."""
    indicators = design.response_name.split(", ")
    if values.ndim != 1 or design.Z is None or design.Z.shape[1] != len(indicators):
        return original
    table = np.full((len(design.data_index), len(indicators)), np.nan)
    table[design.data_rows, np.argmax(design.Z, axis=1)] = values
    return pd.DataFrame(table, index=design.data_index, columns=indicators)


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
    if design.fixed_model_spec is None:  # model syntax: units (the data's rows) x indicators
        return _units_by_indicators(design, values, original)
    full = np.full((len(design.data_index),) + values.shape[1:], np.nan)
    full[design.data_rows] = values
    return _labelled(result, full, design.data_index, name, columns)
