"""Ordinal responses: map the observed values to categories 0..K-1 and check them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import GllammError


def code_ordinal(values, column: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """0-based category codes and the ordered category labels of an ordinal response.

    Numbers are ordered by value and must be consecutive whole numbers (a gap,
    such as 1, 2, 4, means an empty category: an error, never silently dropped);
    text must be an ordered pandas Categorical, whose categories must all occur.
    """
    series = pd.Series(values)
    if isinstance(series.dtype, pd.CategoricalDtype):
        if not series.dtype.ordered:
            raise GllammError(
                f"Ordinal response '{column}' is an unordered categorical; make it ordered, e.g. "
                f"data['{column}'] = pd.Categorical(data['{column}'], categories=[...], ordered=True).")
        categories = [str(c) for c in series.dtype.categories]
        codes = series.cat.codes.to_numpy()
        counts = np.bincount(codes, minlength=len(categories))
        empty = [c for c, n in zip(categories, counts) if n == 0]
        if empty:
            raise GllammError(
                f"Ordinal response '{column}' has categories with no observations: {', '.join(empty)}. "
                "Remove them (series.cat.remove_unused_categories()) or merge them with a neighbouring category.")
    elif pd.api.types.is_numeric_dtype(series) and series.dtype != bool:
        numbers = series.to_numpy(dtype=float)
        observed = np.unique(numbers)
        if np.any(observed != np.round(observed)):
            raise GllammError(f"Ordinal response '{column}' has non-integer values; code the categories as "
                              "whole numbers 1, 2, ... or as an ordered pandas Categorical.")
        missing = sorted(set(range(int(observed.min()), int(observed.max()) + 1)) - set(observed.astype(int)))
        if missing and len(observed) > 1:
            raise GllammError(
                f"Ordinal response '{column}' has no observations in categories {', '.join(map(str, missing))} "
                f"(it takes values {', '.join(str(int(v)) for v in observed)}). Recode the categories "
                "consecutively or merge the empty ones with a neighbouring category.")
        categories = [str(int(v)) for v in observed]
        codes = np.searchsorted(observed, numbers)
    else:
        raise GllammError(
            f"Ordinal response '{column}' (dtype {series.dtype}) must be whole numbers or an ordered pandas Categorical.")
    if len(categories) < 2:
        raise GllammError(f"Ordinal response '{column}' has a single category ({categories[0]}); an ordinal "
                          "model needs at least two.")
    return codes.astype(float), tuple(categories)
