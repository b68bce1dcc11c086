"""Checks of the data frame made before any design array is built, each naming the column at fault.

* ``check_frame``: a pandas DataFrame with rows and unique column names (formulaic and pandas fail
  deep inside on duplicates: ``data['x']`` is then a frame);
* ``check_columns``: the columns a model uses are numbers, booleans, text or categories, never dates
  or times (which have no arithmetic a formula could use), and a column of numbers with a few text
  values among them (Stata's missing code ``.`` in an exported CSV, "NA", "n/a", a stray note) is
  reported: pandas reads such a column as text, and a formula would then turn it into a factor with
  one dummy per distinct number.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import DataWarning, GllammError, warn_user


def check_frame(data) -> None:
    """GllammError unless ``data`` is a non-empty DataFrame with unique column names."""
    if not isinstance(data, pd.DataFrame):
        raise GllammError(f"data must be a pandas DataFrame; got {type(data).__name__}. Read a file with "
                          "pandas.read_csv (or gllamm.datasets.load for the bundled data).")
    if data.shape[1] == 0:
        raise GllammError("The data frame has no columns.")
    if len(data) == 0:
        raise GllammError("The data frame has no rows.")
    duplicated = sorted({str(c) for c in data.columns[data.columns.duplicated()]})
    if duplicated:
        raise GllammError(f"The data frame has more than one column named {', '.join(repr(c) for c in duplicated)}; "
                          "rename them so that every column name is unique.")


def check_columns(data: pd.DataFrame, columns, where: str = "the model") -> None:
    """GllammError for date/time columns among ``columns``; DataWarning for numbers mixed with text."""
    for name in columns:
        if name not in data.columns:
            continue
        column = data[name]
        if pd.api.types.is_datetime64_any_dtype(column) or pd.api.types.is_timedelta64_dtype(column) \
                or isinstance(column.dtype, pd.PeriodDtype):
            raise GllammError(f"Column '{name}' used in {where} holds dates or times ({column.dtype}), which a model "
                              f"cannot use as they are: convert it to numbers (e.g. days since the first date, "
                              f"(data['{name}'] - data['{name}'].min()).dt.days) or to categories.")
        if column.dtype == object or pd.api.types.is_string_dtype(column):
            _warn_numbers_with_text(name, column, where)


def _warn_numbers_with_text(name: str, column: pd.Series, where: str) -> None:
    """DataWarning when most distinct values of a text column read as numbers but some do not."""
    values = column.dropna()
    if len(values) == 0 or not all(isinstance(v, str) for v in values.head(1000)):
        return
    distinct = pd.Series(values.unique())
    numeric = pd.to_numeric(distinct, errors="coerce").notna()
    if numeric.sum() < 3 or numeric.mean() < 0.5 or numeric.all():
        return
    text = [str(v) for v in distinct[~numeric].head(5)]
    rows = int(values.isin(distinct[~numeric]).sum())
    warn_user(f"Column '{name}' used in {where} holds numbers and {rows} rows of text "
              f"({', '.join(repr(t) for t in text)}), so it is read as categories (one per distinct value), not as "
              f"numbers. If {text[0]!r} marks missing values, read the file with na_values=[{text[0]!r}] or convert "
              f"with pandas.to_numeric(data['{name}'], errors='coerce').", DataWarning)


def complete_rows(frame: pd.DataFrame, columns) -> np.ndarray:
    """Rows with a value in every one of ``columns``, finite for numeric ones (booleans are never missing)."""
    complete = frame[list(columns)].notna().all(axis=1).to_numpy().copy()
    for name in columns:
        if pd.api.types.is_numeric_dtype(frame[name]) and frame[name].dtype != bool:
            complete &= np.isfinite(frame[name].to_numpy(dtype=float))
    return complete
