"""Multinomial rows as choice sets of K slots: a nominal response's categories (one copy of every fixed and random
effect per category but the base), or the alternatives of each ranking stage in choice/ranking data."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import GllammError
from .chunks import choose_width
from .choice_sets import check_varies_within_sets, slot_values, stage_layout
from .nominal import expand as expand_nominal


@dataclass
class Rows:
    """The row arrays of a formula design, before chunking: response, trials, X, offset, weights, Z per level and
    each row's first-level unit (multinomial responses reshape them into choice sets)."""

    y: np.ndarray
    trials: np.ndarray
    X: np.ndarray
    fixed_names: list
    offset: np.ndarray
    weights: np.ndarray
    Z_levels: list
    codes: np.ndarray
    labels: np.ndarray
    set_size: int = 1
    available: np.ndarray | None = None
    chunk_width: int | None = None
    choice: object = None  # the stage layout of choice/ranking data


def as_choice_sets(rows: Rows, response, levels, choice_set, scale, keys) -> None:
    """Reshape a multinomial response's rows into choice sets of K slots (in place): ranking stages of choice data
    (``choice_set``), or the categories of a nominal response."""
    if scale is not None:
        raise GllammError("scale= is not available for multinomial responses.")
    if choice_set is not None:
        layout, codes, labels = _choice_layout(choice_set, response.set_codes, response.set_labels, rows.y, rows.X,
                                               rows.fixed_names, rows.Z_levels, levels.levels, rows.weights,
                                               rows.codes if levels.groups else None, rows.labels)
        rows.choice, rows.labels, rows.set_size = layout, labels, layout.set_size
        per_stage = layout.slot_rows.reshape(-1, rows.set_size)[:, 0]  # every stage's first slot holds a row
        stage_codes = codes[per_stage]
        rows.X, rows.offset = slot_values(layout, rows.X), slot_values(layout, rows.offset)
        rows.Z_levels = [slot_values(layout, Z_level) for Z_level in rows.Z_levels]
        rows.weights = np.repeat(rows.weights[per_stage], rows.set_size)
        rows.codes = np.repeat(stage_codes, rows.set_size)
        rows.y, rows.available, rows.trials = layout.chosen, layout.available, np.ones(len(layout.chosen))
        rows.chunk_width = rows.set_size * choose_width(np.bincount(stage_codes, minlength=len(labels)).clip(1))
    else:
        if np.any(rows.offset != 0):
            raise GllammError("offset= is not available for a nominal response (one row per observation).")
        rows.set_size = len(response.nominal[1])
        rows.y, rows.X, rows.fixed_names, rows.Z_levels, levels.levels = expand_nominal(
            *response.nominal, rows.X, rows.fixed_names, rows.Z_levels, levels.levels)
        rows.chunk_width = rows.set_size * choose_width(np.bincount(rows.codes))
        rows.codes, rows.weights = np.repeat(rows.codes, rows.set_size), np.repeat(rows.weights, rows.set_size)
        rows.offset, rows.trials = np.zeros(len(rows.y)), np.ones(len(rows.y))
        rows.available = np.ones(len(rows.y))
    if response.nominal is not None:
        _check_categories_across_groups(response.nominal[0], response.nominal[1], keys, levels.levels)
    for level in levels.levels:
        n_cov = len(level.cholesky_positions)
        if keys[level.name].nunique() <= n_cov:
            raise GllammError(f"Grouping factor '{level.name}' has too few groups to estimate {n_cov} "
                              "variance/covariance parameters of the category-specific random effects; use '||'.")


def _choice_layout(column, set_codes, set_labels, ranks, X, fixed_names, Z_levels, levels, weights, codes, labels):
    """Stage layout of choice/ranking data, after checking what the sets identify.

    Returns the layout and the unit codes/labels of the rows (each choice set its own unit when
    the model has no random terms).
    """
    check_varies_within_sets(X, fixed_names, set_codes, "Fixed-effect term(s)",
                             "Give alternative-specific effects by interacting them with the alternative, "
                             "e.g. C(alt):x, or drop them.")
    for Z_level, level in zip(Z_levels, levels):
        check_varies_within_sets(Z_level, level.latent_names, set_codes, f"Random effect(s) of '{level.name}'",
                                 "A random intercept shared by all alternatives cancels; use alternative-specific "
                                 "ones, e.g. (0 + C(alt) | g), or random coefficients of attributes, (0 + price | g).")
    if codes is None:
        codes, labels = set_codes, set_labels
    else:
        spread = pd.Series(codes).groupby(set_codes).nunique().to_numpy()
        if spread.max() > 1:
            bad = set_labels[int(np.argmax(spread > 1))]
            raise GllammError(f"Choice set '{bad}' ({column}) has alternatives in different '{levels[0].name}' "
                              "units; every choice set must lie within one unit of the random effects.")
    uneven = pd.Series(weights).groupby(set_codes).nunique().to_numpy()
    if uneven.max() > 1:
        raise GllammError(f"weights= differ within choice set '{set_labels[int(np.argmax(uneven > 1))]}'; a weight "
                          "applies to a whole choice set (give every alternative of a set the same weight).")
    return stage_layout(set_codes, len(set_labels), ranks.astype(int)), codes, labels


def _check_categories_across_groups(codes, labels, keys, levels) -> None:
    """Category-specific random effects need each category in at least two groups: a category seen in
    one group only cannot separate that group's effect from the category's intercept."""
    for level in levels:
        groups = pd.Series(keys[level.name].to_numpy()).groupby(codes).nunique()
        for k, label in enumerate(labels):
            count = int(groups.get(k, 0))
            if count < 2:
                raise GllammError(f"Category '{label}' of the nominal response occurs in {count} group(s) of "
                                  f"'{level.name}' only, so its random effect across groups cannot be estimated. "
                                  "Merge the category with another, or drop the random effect.")
