"""The grouping levels of a formula model: its random terms per grouping factor (nested, innermost first), the
latent variables and Z columns of each level, and the units every row belongs to at each level."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import GllammError
from ..spec import LevelSpec
from .design import _check_rank, _group_columns, _rename_intercept, model_matrix


@dataclass
class Levels:
    """Grouping levels, innermost first, and the units of the rows."""

    groups: list  # grouping factors, innermost first
    keys: dict  # grouping factor -> each row's unit key
    levels: list  # LevelSpec per grouping factor
    Z_levels: list  # Z columns (rows, q_l) per level
    random_specs: list  # formulaic specs of the random terms (for new data)
    codes: np.ndarray = None  # each row's unit of the first level (or the row itself without levels)
    labels: np.ndarray = None  # the first level's unit labels
    parent: np.ndarray | None = None  # nested levels: each first-level unit's unit above
    top_labels: np.ndarray | None = None  # nested levels: the top level's unit labels
    top_of_row: np.ndarray | None = None  # nested levels: each row's top unit
    middle: list = ()  # levels between the first and the top: (row codes, labels, parent) each
    crossed: bool = False  # grouping factors not nested in one another: every row is in one unit of each
    factor_codes: list = ()  # crossed: each row's unit of every factor (in ``groups`` order)
    factor_labels: list = ()  # crossed: the unit labels of every factor
    spec_groups: list = field(default_factory=list)  # the grouping factor of each entry of random_specs

    @property
    def group(self) -> str:
        """The first grouping factor ('row' without levels)."""
        return self.groups[0] if self.groups else "row"


def grouping_levels(formula, cc: pd.DataFrame, family, discrete: bool) -> Levels:
    """The levels of the formula's random terms on the complete rows ``cc``, checked: at least two units each,
    nested (more units = lower level), full-rank Z, more units than covariance parameters, and for Gaussian
    responses not one row per unit (the random intercept would be the residual; a finite mixture is identified)."""
    keys = {}
    for group in formula.groups:
        columns = _group_columns(group)
        keys[group] = cc[columns].astype(str).agg(":".join, axis=1) if len(columns) > 1 else cc[columns[0]]
        if keys[group].nunique() < 2:
            raise GllammError(f"Grouping factor '{group}' has {keys[group].nunique()} level; a random effect needs "
                              "at least 2 groups.")
    groups = sorted(formula.groups, key=lambda g: -keys[g].nunique())  # more units = lower level
    crossed = any(not_nested(keys[lower].to_numpy(), keys[higher].to_numpy()) for lower, higher in zip(groups, groups[1:]))
    if crossed and discrete:
        raise GllammError(f"Latent classes with crossed grouping factors ({', '.join(groups)}) are not a GLLAMM: "
                          "classes belong to units of one level. Leave out classes= or nest the factors.")
    result = Levels(groups, keys, [], [], [], crossed=crossed)
    for group in groups:
        level, Z_level = _level(formula, cc, group, result.random_specs)
        result.spec_groups += [group] * (len(result.random_specs) - len(result.spec_groups))
        n_units = keys[group].nunique()
        n_cov = len(level.cholesky_positions)
        if n_units <= n_cov:
            raise GllammError(
                f"Grouping factor '{group}' has {n_units} groups, too few to estimate {n_cov} variance/covariance "
                f"parameters of the random effects ({', '.join(level.latent_names)}). Use fewer random terms or '||' "
                "for uncorrelated effects."
            )
        if family.name == "gaussian" and n_units >= len(cc) and not discrete:  # (a finite mixture is identified)
            raise GllammError(
                f"Every group of '{group}' has a single observation, so the random intercept cannot be told apart "
                "from the residual."
            )
        result.levels.append(level)
        result.Z_levels.append(Z_level)
    if crossed:
        _crossed_units(result)
    else:
        _units(result, cc)
    return result


def _crossed_units(levels: Levels) -> None:
    """Crossed factors: ordered by number of random effects (n_k p_k, most first: that block is eliminated first,
    integrate/crossed.py), each row's unit of every factor; the rows form one cluster."""
    order = sorted(range(len(levels.groups)), key=lambda k: -levels.keys[levels.groups[k]].nunique()
                   * levels.levels[k].dim)
    levels.groups = [levels.groups[k] for k in order]
    levels.levels = [levels.levels[k] for k in order]
    levels.Z_levels = [levels.Z_levels[k] for k in order]
    levels.random_specs = [spec for group in levels.groups
                           for spec, owner in zip(levels.random_specs, levels.spec_groups) if owner == group]
    factorized = [pd.factorize(levels.keys[g], sort=True) for g in levels.groups]
    levels.factor_codes = [np.asarray(codes, dtype=np.int32) for codes, _ in factorized]
    levels.factor_labels = [np.asarray(labels) for _, labels in factorized]
    n_rows = len(levels.factor_codes[0])
    levels.codes, levels.labels = np.zeros(n_rows, dtype=np.int64), np.asarray(["(all rows)"])


def _level(formula, cc, group: str, random_specs: list) -> tuple[LevelSpec, np.ndarray]:
    """The LevelSpec and Z columns of one grouping factor's random terms."""
    Z_parts, latent_names, blocks = [], [], []
    for term in [t for t in formula.random if t.group == group]:
        Z_frame = model_matrix(term.expr, cc, na_action="raise")
        random_specs.append(Z_frame.model_spec)
        names = _rename_intercept(Z_frame.columns)
        if not names:
            raise GllammError(f"Random term ({term.expr} | {term.group}) has no columns.")
        start = len(latent_names)
        for name in names:
            if name in latent_names:
                raise GllammError(f"'{name}' appears in more than one random term for '{group}'.")
        latent_names.extend(names)
        Z_parts.append(np.asarray(Z_frame, dtype=float))
        indices = tuple(range(start, start + len(names)))
        blocks.extend([indices] if term.correlated else [(i,) for i in indices])
    Z_level = np.concatenate(Z_parts, axis=1)
    _check_rank(Z_level, latent_names, f"random-effects ('{group}')")
    return LevelSpec(group, tuple(latent_names), tuple(blocks)), Z_level


def _units(levels: Levels, cc: pd.DataFrame) -> None:
    """Each row's unit at the first level, and with nested levels the units above (ordered by their higher units,
    so chunks sorted by first-level unit are sorted by every level above); without levels each row is a unit."""
    groups, keys = levels.groups, levels.keys
    if not groups:
        levels.codes, levels.labels = np.arange(len(cc)), np.asarray(cc.index)
    elif len(groups) >= 2:
        hierarchy = nested_order([keys[g].to_numpy() for g in groups])
        (levels.codes, levels.labels, levels.parent), levels.middle = hierarchy[0], hierarchy[1:-1]
        levels.top_labels, levels.top_of_row = hierarchy[-1][1], hierarchy[-1][0]
    else:
        codes, labels = pd.factorize(keys[groups[0]], sort=True)
        levels.codes, levels.labels = codes, np.asarray(labels)


def first_level_weights(values: np.ndarray | None, levels: Levels) -> np.ndarray | None:
    """cluster_weights= (on the complete rows) as one weight per first-level unit: constant within units, >= 0."""
    if values is None:
        return None
    per_cluster = np.zeros(len(levels.labels))
    per_cluster[levels.codes] = values
    if np.any(np.abs(values - per_cluster[levels.codes]) > 1e-12 * np.abs(values).max()):
        raise GllammError(f"cluster_weights must be constant within each '{levels.group}' cluster.")
    if np.any(per_cluster < 0):
        raise GllammError("cluster_weights must be non-negative.")
    return per_cluster


def per_unit_weights(values, codes, n_units: int, level: str) -> np.ndarray:
    """One weight per unit from the rows' values (which must be constant within units and non-negative)."""
    per_unit = np.ones(n_units)
    per_unit[codes] = values
    if np.any(np.abs(values - per_unit[codes]) > 1e-12 * np.abs(values).max()) or np.any(values < 0):
        raise GllammError(f"level_weights['{level}'] must be non-negative and constant within each '{level}' unit.")
    return per_unit


def not_nested(lower, higher) -> bool:
    """True when some unit of ``lower`` (row keys) occurs in several units of ``higher``."""
    return bool(pd.Series(higher).groupby(lower).nunique().max() > 1)


def nested_order(keys: list) -> list:
    """Units of nested grouping levels (row keys per level, innermost first) ordered by their higher units.

    Returns per level (row codes, unit labels, parent of each unit at the level above; None at the top):
    the top units sorted by label, every lower level's units sorted by (parent code, label), so each parent
    pointer is sorted and row chunks sorted by first-level unit are sorted by every level above.
    """
    codes, labels = pd.factorize(keys[-1], sort=True)
    out = [(codes, np.asarray(labels), None)]
    for key in reversed(keys[:-1]):
        pairs = pd.DataFrame({"parent": out[0][0], "unit": key})
        order = pairs.drop_duplicates("unit").sort_values(["parent", "unit"])
        labels = order.unit.to_numpy()
        out.insert(0, (pd.Index(labels).get_indexer(key), labels, order.parent.to_numpy()))
    return out

