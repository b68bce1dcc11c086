"""Model syntax + wide data frame -> ModelSpec and Design (one row per response).

Each row of the wide data is a unit (level 2) and each indicator response a
level-1 row: the data are stacked to long format here, and a missing response
drops only that response. The fixed part has an intercept per indicator
(named ``x1~1``) and the covariate effects ``x1 ~ age`` (named ``x1~age``);
each latent variable multiplies the dummies of its indicators with loadings
(``f=~x2``); ``f2 ~ f1`` and ``f ~ w`` are the structural B and Gamma.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import GllammError, closest
from ..families import Family
from ..spec import ModelSpec
from .data_checks import check_frame
from ..syntax.model_syntax import ModelSyntax
from .design import Design, _as_column, _make_chunks
from .syntax_levels import family_of, syntax_levels
from .syntax_stacking import stack_responses
from .formula_levels import nested_order, not_nested, per_unit_weights


@dataclass(frozen=True)
class SyntaxConstraints:
    """Fixed values and equality groups implied by the syntax's modifiers (by reported name)."""

    fix: dict
    equal: list
    labels: dict | None = None  # label -> the reported names of the parameters it labels


def widen(data: pd.DataFrame, unit: str, item: str, response: str) -> pd.DataFrame:
    """Long data (one row per unit x item) -> wide (one row per unit, one column per item).

    Columns constant within units (unit-level covariates, cluster ids) are kept as they are; columns that
    vary across a unit's items (item-level covariates) become one column per item, ``x@y1``, ..., which
    'y1 ~ x' in the syntax uses for the response y1.
    """
    check_frame(data)
    for column in (unit, item, response):
        if column not in data.columns:
            raise GllammError(f"Column '{column}' is not in the data.{closest(column, list(data.columns))}")
    if data.duplicated([unit, item]).any():
        raise GllammError(f"Some '{unit}' has the same '{item}' twice; long data need one row per unit and item.")
    wide = data.pivot(index=unit, columns=item, values=response)
    wide.columns = [str(c) for c in wide.columns]
    others = [c for c in data.columns if c not in (unit, item, response)]
    if others:
        varying = [c for c in others if (data.groupby(unit)[c].nunique(dropna=False) > 1).any()]
        for column in varying:  # item-level covariates: one column per item, 'x@y1', used by 'y1 ~ x'
            values = data.pivot(index=unit, columns=item, values=column)
            wide = wide.join(values.rename(columns=lambda c: f"{column}@{c}"))
        constant = [c for c in others if c not in varying]
        if constant:
            wide = wide.join(data.groupby(unit)[constant].first())
    return wide


def _weight_column(value, data: pd.DataFrame, option: str) -> np.ndarray | None:
    """Sampling weights per data row (a column name or array): finite and non-negative."""
    values = _as_column(value, data, option)
    if values is not None and (not np.all(np.isfinite(values)) or np.any(values < 0)):
        name = value if isinstance(value, str) else option
        raise GllammError(f"{option}= ('{name}') must be finite and non-negative for every row.")
    return values


def build_syntax_design(syntax: ModelSyntax, data: pd.DataFrame, family: Family, *,
                        factor_scale: str = "loading", cluster: str | list | None = None, weights=None,
                        cluster_weights=None, level_weights: dict | None = None
                        ) -> tuple[ModelSpec, Design, SyntaxConstraints]:
    """Stack wide data and build the latent variable model the syntax describes.

    With ``level: 1`` / ``level: 2`` blocks and ``cluster=`` the units (rows of the data) are
    nested in clusters: level-1 latent variables vary over units, level-2 ones over clusters; with
    ``level: 3`` blocks (and so on) ``cluster=`` lists the nested cluster columns, lowest first.
    weights: sampling weights of the units (rows of the data); cluster_weights: of the top-level clusters;
    level_weights: {cluster column: weights} of the clusters in between (constant within each), as
    gllamm's pweight at those levels.
    """
    check_frame(data)
    clusters = _checked_clusters(syntax, data, factor_scale, cluster)
    unit_weights, top_weights, middle_weights = _weight_columns(data, clusters, weights, cluster_weights, level_weights)
    indicators = list(syntax.indicators)
    if isinstance(family, dict):  # mixed responses: a family per indicator
        from ..families.mixed import make_mixed_family

        family, _ = make_mixed_family(family, indicators)
    fix: dict = {}
    labels: dict[str, list[str]] = {}
    blocks = [[s for s in syntax.statements if s.level == k] for k in range(1, len(clusters) + 2)]
    levels, covariates, response_effects, level_covariates = syntax_levels(blocks, indicators, clusters, factor_scale,
                                                                           family, data, fix, labels)
    stacked = stack_responses(data, indicators, covariates, response_effects, clusters, blocks, family)
    item_effects, person_columns, ordinal_items = stacked.item_effects, stacked.person_columns, stacked.ordinal_items
    threshold_groups, cluster_items, dropped_people = stacked.threshold_groups, stacked.cluster_items, stacked.dropped
    person, item, keep_people, codes = stacked.person, stacked.item, stacked.keep_people, stacked.codes
    y = stacked.values[person, item]
    n_items = len(indicators)
    X, fixed_names = _fixed_part(stacked, indicators, response_effects, data)
    Z = np.stack([(item == j).astype(float) for j in range(n_items)], axis=1)
    trials = np.ones_like(y)
    w = data[covariates].to_numpy(dtype=float)[keep_people] if covariates else None
    member, dispersion_index, dispersion_names, dispersion_families = _row_families(family, indicators, item, y)
    spec = ModelSpec(syntax, family, tuple(fixed_names), tuple(levels), dispersion_names=dispersion_names,
                     covariate_names=tuple(covariates), dispersion_families=dispersion_families,
                     threshold_groups=threshold_groups)
    threshold_rows, threshold_item = _threshold_rows(spec, ordinal_items, indicators, item)
    offset = np.zeros_like(y)
    kept_weights = None if unit_weights is None else unit_weights[keep_people]
    weights = _row_weights(kept_weights, clusters, cluster_items, codes, item, indicators, len(y))
    chunks = _make_chunks(y, trials, X, Z, offset, weights, codes, len(keep_people), family, None,
                          kept_weights if not clusters else None, dispersion_index=dispersion_index,
                          cluster_covariates=w, member=member, threshold_rows=threshold_rows)
    hierarchy = nested_order([data[c].to_numpy()[keep_people] for c in clusters]) if clusters else []
    if clusters:
        _levels_above(chunks, Z, hierarchy, clusters, top_weights, middle_weights, kept_weights, keep_people, w,
                      covariates, level_covariates)
    item_columns = {f"{c}@{lhs}" for lhs, c in item_effects}
    model_frame = data.iloc[keep_people][sorted(set(indicators) | set(person_columns) | item_columns)].copy()
    design = Design(
        y=y, trials=trials, X=X, Z=Z, offset=offset, weights=weights, cluster_codes=codes,
        cluster_labels=np.asarray(data.index[keep_people]), chunks=chunks, row_index=data.index[person],
        data_rows=np.asarray(person), data_index=data.index,
        n_dropped=dropped_people, response_name=", ".join(indicators), group_columns=(), model_frame=model_frame,
        dispersion_index=dispersion_index, cluster_covariates=w, member=member,
        threshold_item=threshold_item, top_labels=hierarchy[-1][1] if clusters else None,
        middle_labels=tuple(h[1] for h in hierarchy[:-1]), cluster_weights=kept_weights,
        weights_argument=kept_weights, cluster_weights_argument=None if top_weights is None else top_weights[keep_people],
        level_weights_argument={name: values[keep_people] for name, values in middle_weights.items()} or None,
        level_units={"unit": len(keep_people)} | {c: len(h[1]) for c, h in zip(clusters, hierarchy)},
    )
    equal = _label_equalities(syntax.equalities, labels, fix)
    return spec, design, SyntaxConstraints(fix, equal, {label: list(names) for label, names in labels.items()})


def _label_equalities(equalities, labels: dict, fix: dict) -> list[tuple]:
    """Equality groups of parameters: those sharing a label, merged across 'a == b' constraints; 'a == 0.5' fixes
    the parameters labelled a (``fix`` changed in place)."""
    from ..syntax.model_syntax import _number

    parent = {label: label for label in labels}

    def root(label):
        while parent[label] != label:
            label = parent[label]
        return label

    for left, right, line in equalities:
        for label in (left, right):
            if label not in labels and _number(label) is None:
                raise GllammError(f"Line {line} ({left} == {right}): '{label}' is not a label of the model."
                                  f"{closest(label, list(labels))} Labels: {', '.join(labels) or 'none'}.")
        if _number(right) is not None:
            for name in labels[left]:
                fix[name] = _number(right)
        else:
            parent[root(left)] = root(right)
    groups: dict = {}
    for label, names in labels.items():
        groups.setdefault(root(label), []).extend(names)
    return [tuple(names) for names in groups.values() if len(names) > 1]


def _fixed_part(stacked, indicators: list, response_effects: list, data: pd.DataFrame) -> tuple[np.ndarray, list]:
    """X of the long rows and the fixed effects' names: an intercept per item (``x1~1``; none for ordinal items,
    whose thresholds take its place) and each covariate effect on a response (``x1~age``; an item-level covariate of
    long data takes its value on the response's own row)."""
    item, person = stacked.item, stacked.person
    # item intercepts, except for ordinal items (their thresholds take the intercept's place)
    fixed_names = [f"{name}~1" for name in indicators if name not in stacked.ordinal_items]
    columns = [(item == j).astype(float) for j, name in enumerate(indicators) if name not in stacked.ordinal_items]
    for lhs, covariate, name in response_effects:
        column = f"{covariate}@{lhs}" if (lhs, covariate) in stacked.item_effects else covariate
        columns.append((item == indicators.index(lhs)) * np.nan_to_num(data[column].to_numpy(dtype=float)[person]))
        fixed_names.append(name)
    X = np.stack(columns, axis=1) if columns else np.zeros((len(item), 0))
    return X, fixed_names


def _levels_above(chunks, Z, hierarchy, clusters, top_weights, middle_weights, kept_weights, keep_people, w, covariates,
                  level_covariates) -> None:
    """Multilevel syntax: the items' loadings and the parent pointers of every cluster level, the weights of the
    top clusters, of the units and of the clusters in between, and the cluster-level values of the covariates."""
    import jax
    import jax.numpy as jnp

    valid = chunks.row_positions >= 0
    safe = np.where(valid, chunks.row_positions, 0)
    Z_chunks = jnp.asarray(np.stack([np.where(valid, Z[safe, j], 0.0) for j in range(Z.shape[1])]))
    top_codes, top_labels = hierarchy[-1][0], hierarchy[-1][1]
    top_weight = np.ones(len(top_labels))
    if top_weights is not None:  # one weight per top-level cluster
        values = top_weights[keep_people]
        top_weight[top_codes] = values
        if np.any(np.abs(values - top_weight[top_codes]) > 1e-12 * np.abs(values).max()):
            raise GllammError(f"cluster_weights must be constant within each '{clusters[-1]}' cluster.")
    chunks.arrays.update(cluster_weight=jnp.asarray(top_weight))
    for index in range(1, len(clusters) + 1):  # level index's loadings and the pointer from the level below
        pointer = hierarchy[0][0] if index == 1 else hierarchy[index - 2][2]
        suffix = "" if index == 1 else str(index)
        chunks.arrays[f"Z_outer{suffix}"] = Z_chunks
        chunks.arrays[f"parent{suffix}"] = jax.device_put(np.asarray(pointer, dtype=np.int32))
    if kept_weights is not None:  # unit weights raise each unit's integral to its weight
        chunks.arrays["unit_weight"] = jnp.asarray(kept_weights)
    for name, values in middle_weights.items():  # and cluster weights each cluster's within the level above
        index = clusters.index(name) + 1
        chunks.arrays[f"unit_weight{index}"] = jnp.asarray(
            per_unit_weights(values[keep_people], hierarchy[index - 1][0], len(hierarchy[index - 1][1]), name))
    if w is not None:  # cluster-level values of the covariates (between-level ones must be constant)
        for index in range(1, len(clusters) + 1):
            frame = pd.DataFrame(w, columns=covariates).assign(_cluster=hierarchy[index - 1][0])
            for name in level_covariates[index]:
                if (frame.groupby("_cluster")[name].nunique() > 1).any():
                    raise GllammError(f"'{name}' explains a latent variable of the '{clusters[index - 1]}' level, "
                                      f"so it must be constant within each '{clusters[index - 1]}'; it varies. "
                                      "Use its cluster mean.")
            chunks.arrays["w_outer" + ("" if index == 1 else str(index))] = jnp.asarray(
                frame.groupby("_cluster")[covariates].mean().to_numpy())


def _checked_clusters(syntax, data: pd.DataFrame, factor_scale: str, cluster) -> list:
    """The cluster columns of multilevel syntax, lowest first, checked against the level blocks and nested."""
    if factor_scale not in ("loading", "variance"):
        raise GllammError(f"factor_scale must be 'loading' (first loading 1) or 'variance' (factor variance 1); got {factor_scale!r}.")
    for k in range(1, syntax.n_levels + 1):
        if not any(s.level == k and s.op == "=~" for s in syntax.statements):
            raise GllammError(f"The syntax has a 'level: {syntax.n_levels}' block but no latent variables at level "
                              f"{k}: every level up to the highest needs a 'level: {k}' block with a '=~' statement.")
    clusters = [] if cluster is None else ([cluster] if isinstance(cluster, str) else list(cluster))
    if syntax.multilevel and not clusters:
        raise GllammError("The syntax has a 'level: 2' block: give the cluster column, e.g. cluster='school' "
                          "(with 'level: 3' blocks a list, lowest first: cluster=['class', 'school']).")
    if clusters and not syntax.multilevel:
        raise GllammError("cluster= needs 'level: 1' and 'level: 2' blocks in the syntax saying which latent "
                          "variables vary within and between clusters.")
    if clusters and len(clusters) != syntax.n_levels - 1:
        raise GllammError(f"The syntax has level blocks up to 'level: {syntax.n_levels}', so cluster= needs "
                          f"{syntax.n_levels - 1} nested cluster columns, lowest first; got {clusters}.")
    for name in clusters:
        if name not in data.columns:
            raise GllammError(f"Cluster column '{name}' is not in the data.{closest(name, list(data.columns))}")
    for lower, higher in zip(clusters, clusters[1:]):
        if not_nested(data[lower].to_numpy(), data[higher].to_numpy()):
            raise GllammError(f"Cluster column '{lower}' is not nested in '{higher}': some '{lower}' clusters occur "
                              f"in several '{higher}' clusters. Give cluster ids that are unique across '{higher}' "
                              f"(e.g. combine both columns) and list the columns lowest first.")
    return clusters


def _weight_columns(data: pd.DataFrame, clusters: list, weights, cluster_weights, level_weights):
    """(unit weights, top-cluster weights, {middle cluster level: weights}) per data row, checked."""
    if cluster_weights is not None and not clusters:
        raise GllammError("cluster_weights= are the weights of the clusters of multilevel syntax (with cluster=); "
                          "the units' (rows') weights are weights=.")
    unit_weights = _weight_column(weights, data, "weights")
    top_weights = _weight_column(cluster_weights, data, "cluster_weights")
    level_weights = dict(level_weights or {})
    for name in level_weights:
        if name not in clusters[:-1]:
            raise GllammError(f"level_weights= names '{name}', which is not a cluster level below the top of this "
                              f"model ({', '.join(clusters[:-1]) or 'none'}); the top clusters' weights are "
                              "cluster_weights= and the units' weights=.")
    middle_weights = {name: _weight_column(value, data, f"level_weights['{name}']")
                      for name, value in level_weights.items()}
    return unit_weights, top_weights, middle_weights


def _row_families(family, indicators: list, item: np.ndarray, y: np.ndarray):
    """(each row's family member, each row's residual variance, the variances' names and families) of the long rows;
    the responses validated for their families."""
    member = None
    if family.name == "mixed":
        member = np.array([family.labels.index(name) for name in indicators], dtype=np.int32)[item]
        family.validate(y, None, member)
    else:
        family.validate(y, None, ", ".join(indicators))
    with_dispersion = [j for j, name in enumerate(indicators) if family_of(family, name).has_dispersion]
    dispersion_names = tuple(f"{indicators[j]}~~{indicators[j]}" for j in with_dispersion) or None
    lookup = np.zeros(len(indicators), dtype=np.int32)
    lookup[with_dispersion] = np.arange(len(with_dispersion))
    dispersion_index = lookup[item] if with_dispersion else None
    dispersion_families = tuple(family_of(family, indicators[j]).name for j in with_dispersion) \
        if family.name == "mixed" else None
    return member, dispersion_index, dispersion_names, dispersion_families


def _threshold_rows(spec, ordinal_items: list, indicators: list, item: np.ndarray):
    """Ordinal items: (where each row's thresholds start and its number of categories, each row's ordinal item)."""
    threshold_rows, threshold_item = None, None
    if spec.threshold_groups:  # each row's item: where its thresholds start and its number of categories
        layout = spec.threshold_layout
        group_of = np.array([ordinal_items.index(name) if name in ordinal_items else -1 for name in indicators])
        threshold_item = group_of[item]
        starts = np.array([start for start, _ in layout] + [0])[threshold_item]
        counts = np.array([c + 1 for _, c in layout] + [2])[threshold_item]
        threshold_rows = (starts, counts)
    return threshold_rows, threshold_item


def _row_weights(kept_weights, clusters, cluster_items, codes, item, indicators, n_rows: int) -> np.ndarray:
    """Weights of the long rows: 1, but with unit weights w a cluster-level item rides on one unit of its cluster, whose
    integral is raised to w: weight 1/w on its rows keeps it counted once."""
    weights = np.ones(n_rows)
    if clusters and kept_weights is not None and cluster_items:
        # a cluster-level item rides on one unit of its cluster, whose integral is raised to the unit's weight
        # w: weight 1/w on its rows keeps it counted once (it does not depend on the unit's own latent variables)
        host = kept_weights[codes]
        rows = np.isin(item, [indicators.index(name) for name in cluster_items])
        if np.any(host[rows] <= 0):
            raise GllammError("weights= must be positive for the first unit of each cluster, which carries the "
                              f"cluster-level items ({', '.join(sorted(cluster_items))}).")
        weights = np.where(rows, 1.0 / np.where(rows, host, 1.0), 1.0)
    return weights
