"""First stage of a formula design: which columns the model reads, the options given as columns, and the rows
complete in all of them (lme4's rule: a row missing any used value is dropped, with a warning that counts them)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import DataWarning, GllammError, closest, warn_user
from .data_checks import check_columns, complete_rows
from .design import _as_column, _check_columns, _group_columns, _variables


@dataclass
class FormulaColumns:
    """The data columns each part of a formula reads, and the formulas of its options."""

    response: set
    fixed: set
    offsets: set
    random: set
    groups: list
    mapping: dict | None = None  # mixed responses: {response type: family}
    threshold_formula: str | None = None  # nominal= (non-proportional odds), one-sided
    thresholds: set = field(default_factory=set)
    scale_formula: str | None = None  # scale=, one-sided
    scale: set = field(default_factory=set)
    zero_inflation_formula: str | None = None  # zero_inflation=, one-sided
    zero_inflation: set = field(default_factory=set)

    def used(self, family_by: str | None, choice_set: str | None) -> list[str]:
        """Every column the model reads, sorted."""
        return sorted(self.response | self.fixed | self.offsets | self.random | self.scale | self.thresholds
                      | self.zero_inflation
                      | set(self.groups) | ({family_by} if family_by else set()) | ({choice_set} if choice_set else set()))


def formula_columns(formula, data: pd.DataFrame, family, family_by, choice_set, nominal, scale,
                    zero_inflation=None) -> FormulaColumns:
    """The columns of the response, fixed part, offsets, random terms and groups, nominal=, scale= and
    zero_inflation=, each checked to be in the data; the options that need a kind of response checked against the
    family."""
    if formula.cbind:  # each part a column or arithmetic of columns and numbers, cbind(k, 7 - k), as evaluated
        response = _variables(f"I({formula.cbind[0]})") | _variables(f"I({formula.cbind[1]})")
    else:
        response = _variables(formula.response)
    _check_columns(response, data, "the response")
    fixed = _variables(formula.fixed)
    _check_columns(fixed, data, "the fixed part of the formula")
    offsets: set[str] = set()
    for expression in formula.offsets:
        offsets |= _variables(expression)
    _check_columns(offsets, data, "offset()")
    random: set[str] = set()
    groups: list[str] = []
    for term in formula.random:
        random |= _variables(term.expr)
        for column in _group_columns(term.group):
            if column not in data.columns:
                raise GllammError(f"Grouping column '{column}' in ({term.expr} | {term.group}) is not in the data."
                                  f"{closest(column, data.columns)}")
            groups.append(column)
    _check_columns(random, data, "a random term")
    columns = FormulaColumns(response, fixed, offsets, random, groups)
    if isinstance(family, dict):  # mixed responses: family per value of the family_by column
        columns.mapping = family
        if family_by is None:
            raise GllammError("family= is a mapping {response type: family}: say which column holds the response "
                              "type with family_by='column' (one row per response, long format).")
        _check_columns({family_by}, data, "family_by=")
    elif family_by is not None:
        raise GllammError("family_by= needs family= as a mapping {value of the column: family}.")
    if choice_set is not None:
        if family.name != "multinomial":
            raise GllammError("choice_set= is for discrete choice and ranking data: use family='multinomial' "
                              "(the response holds ranks, 1 = chosen).")
        _check_columns({choice_set}, data, "choice_set=")
        if formula.cbind:
            raise GllammError("A choice/ranking response is one column of ranks, not cbind().")
    if nominal is not None:
        if family.name != "ordinal":
            raise GllammError("nominal= gives covariates of the thresholds (non-proportional odds) of an ordinal "
                              "response; use it with family='ordinal'.")
        columns.threshold_formula = one_sided(nominal, "nominal")
        columns.thresholds = _variables(columns.threshold_formula)
        _check_columns(columns.thresholds, data, "nominal=")
    if scale is not None:
        columns.scale_formula = one_sided(scale, "scale")
        columns.scale = _variables(columns.scale_formula)
        _check_columns(columns.scale, data, "scale=")
    if zero_inflation is not None:
        if isinstance(family, dict) or not family.counts:
            what = "mixed responses" if isinstance(family, dict) else f"family='{family.name}'"
            raise GllammError(f"zero_inflation= adds structural zeros to counts: use it with family='poisson', "
                              f"'negbin' or 'negbin1' (not {what}).")
        columns.zero_inflation_formula = one_sided(zero_inflation, "zero_inflation")
        columns.zero_inflation = _variables(columns.zero_inflation_formula)
        _check_columns(columns.zero_inflation, data, "zero_inflation=")
    return columns


@dataclass
class OptionColumns:
    """Options given as columns or arrays, one value per data row (None where not given)."""

    weights: np.ndarray | None
    offset: np.ndarray | None
    trials: np.ndarray | None
    cluster_weights: np.ndarray | None
    top_weights: np.ndarray | None
    level_weights: dict

    def named(self, suffix: str = "") -> list[tuple[np.ndarray | None, str]]:
        """(values, option name) of every option."""
        return [(self.weights, f"weights{suffix}"), (self.offset, f"offset{suffix}"), (self.trials, f"trials{suffix}"),
                (self.cluster_weights, f"cluster_weights{suffix}"), (self.top_weights, f"top_weights{suffix}"),
                *((v, f"level_weights['{n}']" if suffix else n) for n, v in self.level_weights.items())]

    def kept(self, name: str, complete: np.ndarray):
        """An option's values on the complete rows (None if not given)."""
        values = getattr(self, name)
        return None if values is None else values[complete]


def option_columns(data, weights, offset, trials, cluster_weights, top_weights, level_weights) -> OptionColumns:
    """The options given as a column name or an array, as one value per row."""
    if level_weights is not None and not isinstance(level_weights, dict):
        raise GllammError("level_weights= maps grouping factors to weight columns, e.g. {'school': 'w_school'}.")
    return OptionColumns(_as_column(weights, data, "weights"), _as_column(offset, data, "offset"),
                         _as_column(trials, data, "trials"), _as_column(cluster_weights, data, "cluster_weights"),
                         _as_column(top_weights, data, "top_weights"),
                         {name: _as_column(value, data, f"level_weights['{name}']")
                          for name, value in (level_weights or {}).items()})


def complete_cases(data: pd.DataFrame, used: list[str], columns: FormulaColumns, options: OptionColumns,
                   choice_set: str | None) -> tuple[np.ndarray, int]:
    """(rows complete in every used column and option, number dropped); a DataWarning counts the missing values
    per column. In choice data a whole choice set goes with any of its rows, and a missing rank means unranked."""
    check_columns(data, used)
    frame = data[used]
    checked = [name for name in used if not (choice_set is not None and name in columns.response)]
    complete = complete_rows(frame, checked)
    for extra, _ in options.named():
        if extra is not None:
            complete &= np.isfinite(extra)
    if choice_set is not None:  # an alternative cannot be dropped from its set: drop the whole set
        complete = pd.Series(complete).groupby(frame[choice_set].to_numpy()).transform("all").to_numpy()
    n_dropped = int((~complete).sum())
    detail = ""
    if n_dropped:
        counts = {}
        for name in used:
            bad = frame[name].isna().to_numpy()
            if pd.api.types.is_numeric_dtype(frame[name]) and frame[name].dtype != bool:
                bad = bad | ~np.isfinite(frame[name].to_numpy(dtype=float))
            if bad.any():
                counts[name] = int(bad.sum())
        for extra, name in options.named("="):
            if extra is not None and not np.all(np.isfinite(extra)):
                counts[name] = int((~np.isfinite(extra)).sum())
        detail = ", ".join(f"{k}: {v}" for k, v in counts.items())
        warn_user(f"Dropped {n_dropped} of {len(data)} rows with missing or non-finite values"
                  + (f" ({detail})." if detail else "."), DataWarning)
    if complete.sum() == 0:
        raise GllammError("No complete rows remain after dropping rows with missing values in the model's columns"
                          + (f" (missing or non-finite per column: {detail})" if n_dropped and detail else "")
                          + ". Check those columns, or leave them out of the model.")
    return complete, n_dropped


def one_sided(expression: str, option: str) -> str:
    """'~ x + z' or 'x + z' -> 'x + z'; a two-sided formula is an error."""
    text = str(expression).strip()
    if "~" in text:
        left, _, right = text.partition("~")
        if left.strip():
            raise GllammError(f"{option}= takes a one-sided formula such as '~ x'; got '{expression}'.")
        text = right.strip()
    if not text:
        raise GllammError(f"{option}= is empty; give a one-sided formula such as '~ x'.")
    return text
