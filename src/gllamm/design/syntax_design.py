"""Model syntax + wide data frame -> ModelSpec and Design (one row per response).

Each row of the wide data is a unit (level 2) and each indicator response a
level-1 row: the data are stacked to long format here, and a missing response
drops only that response. The fixed part has an intercept per indicator
(named ``x1~1``) and the covariate effects ``x1 ~ age`` (named ``x1~age``);
each latent variable multiplies the dummies of its indicators with loadings
(``f=~x2``); ``f2 ~ f1`` and ``f ~ w`` are the structural B and Gamma.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..errors import DataWarning, GllammError, closest, warn_user
from ..families import Family
from ..spec import LevelSpec, ModelSpec
from .data_checks import check_columns, check_frame
from ..spec.model_spec import Loading, Path, Product
from ..syntax.model_syntax import ModelSyntax
from .design import Design, _as_column, _make_chunks
from .formula_levels import nested_order, not_nested, per_unit_weights


@dataclass(frozen=True)
class SyntaxConstraints:
    """Fixed values and equality groups implied by the syntax's modifiers (by reported name)."""

    fix: dict
    equal: list
    labels: dict | None = None  # label -> the reported names of the parameters it labels


def _item_level(name: str, data: pd.DataFrame) -> bool:
    """True for a covariate of long data that varies across items (kept as columns name@item by widen)."""
    return name not in data.columns and any(str(c).startswith(f"{name}@") for c in data.columns)


def _check_column(name: str, data: pd.DataFrame, statement) -> None:
    if name not in data.columns and not _item_level(name, data):
        raise GllammError(f"'{name}' in line {statement.line} ({statement.text}) is neither a latent variable "
                          f"nor a column of the data.{closest(name, list(data.columns))}")


def _blocks(latent: list[str], endogenous: set[str], free_pairs: set, zero_pairs: set) -> tuple[tuple[int, ...], ...]:
    parent = list(range(len(latent)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    exogenous = [i for i, name in enumerate(latent) if name not in endogenous]
    edges = {(a, b) for a in exogenous for b in exogenous if a < b} - zero_pairs
    for a, b in edges | free_pairs:
        parent[find(a)] = find(b)
    groups: dict[int, list[int]] = {}
    for i in range(len(latent)):
        groups.setdefault(find(i), []).append(i)
    for a, b in zero_pairs:
        if find(a) == find(b):
            raise GllammError(f"Cannot fix the covariance of {latent[a]} and {latent[b]} at 0 while both are "
                              "correlated with other latent variables in one block.")
    return tuple(tuple(g) for g in sorted(groups.values()))


def _check_acyclic(latent: list[str], paths: list[tuple[int, int]], statements) -> None:
    graph = {i: [r for l, r in paths if l == i] for i in range(len(latent))}
    state = [0] * len(latent)

    def visit(i, chain):
        if state[i] == 1:
            loop = " -> ".join(latent[j] for j in chain[chain.index(i):] + [i])
            raise GllammError(f"The structural model has a loop ({loop}); regressions among latent variables "
                              "must not be circular.")
        if state[i] == 0:
            state[i] = 1
            for j in graph[i]:
                visit(j, chain + [i])
            state[i] = 2

    for i in range(len(latent)):
        visit(i, [])


def _build_level(statements, indicators, level_name, factor_scale, family, data, fix, labels, between,
                 outer_latent=()):
    """LevelSpec and covariate bookkeeping for the statements of one level block.

    ``outer_latent``: latent variables of the level above; a regression on one of them is a cross-level
    path (returned by name, resolved once that level is built).
    """
    latent = []
    for s in statements:
        if s.op == "=~" and s.lhs not in latent:
            latent.append(s.lhs)

    def modifier(term, name):
        if term.value is not None:
            fix[name] = term.value
        if term.label is not None:
            labels.setdefault(term.label, []).append(name)

    for s in statements:
        if s.op == "=~":
            for term in s.rhs:
                if term.name in latent:
                    raise GllammError(f"Line {s.line} ({s.text}): '{term.name}' is a latent variable; a higher-order "
                                      "factor is written as a regression of one latent variable on another.")
                _check_column(term.name, data, s)
    # ---- loadings ---------------------------------------------------------------------------
    loadings, measured = [], set()
    for s in statements:
        if s.op != "=~":
            continue
        m = latent.index(s.lhs)
        for term in s.rhs:
            name = f"{s.lhs}=~{term.name}"
            first = s.lhs not in measured
            measured.add(s.lhs)
            value = term.value
            if value is None and not term.free and first and factor_scale == "loading" and term.label is None:
                value = 1.0
            loadings.append(Loading(m, indicators.index(term.name), value, name))
            if term.label is not None:
                labels.setdefault(term.label, []).append(name)
    # ---- regressions ------------------------------------------------------------------------------
    paths, covariate_paths, covariates, endogenous, response_effects = [], [], [], set(), []
    products, cross = [], []
    for s in statements:
        if s.op != "~":
            continue
        for term in s.rhs:
            name = f"{s.lhs}~{term.name}"
            if term.name in outer_latent and s.lhs in latent:  # a unit-level factor on a cluster-level one
                endogenous.add(s.lhs)
                cross.append((latent.index(s.lhs), term.name, name))
                modifier(term, name)
                continue
            if ":" in term.name:  # latent interaction
                a, b = term.name.split(":")
                for part in (a, b):
                    if part not in latent:
                        raise GllammError(f"Line {s.line} ({s.text}): '{part}' in the interaction '{term.name}' is not a "
                                          f"latent variable{' of this level' if between else ''}; interactions are "
                                          "between latent variables (for observed covariates form the product column "
                                          f"in the data).{closest(part, latent)}")
                if between:
                    raise GllammError(f"Line {s.line} ({s.text}): latent interactions are available at the unit level.")
                if s.lhs in latent:
                    endogenous.add(s.lhs)
                    products.append((Product(latent.index(s.lhs), latent.index(a), latent.index(b), name), s))
                elif s.lhs in indicators:
                    products.append((Product(indicators.index(s.lhs), latent.index(a), latent.index(b), name,
                                             response=True), s))
                else:
                    raise GllammError(f"Line {s.line} ({s.text}): '{s.lhs}' is not a latent variable or an indicator "
                                      f"of one.{closest(s.lhs, latent + indicators)}")
                modifier(term, name)
                continue
            if s.lhs in latent:
                endogenous.add(s.lhs)
                if term.name in latent:
                    paths.append(Path(latent.index(s.lhs), latent.index(term.name), name))
                else:
                    _check_column(term.name, data, s)
                    if _item_level(term.name, data):
                        raise GllammError(f"Line {s.line} ({s.text}): '{term.name}' varies across the items of a "
                                          "unit, so it can explain responses ('y1 ~ x') but not a latent variable.")
                    if term.name not in covariates:
                        covariates.append(term.name)
                    covariate_paths.append(Path(latent.index(s.lhs), covariates.index(term.name), name))
            elif s.lhs in indicators:
                if term.name in latent:
                    raise GllammError(f"Line {s.line} ({s.text}): write a loading of '{s.lhs}' on '{term.name}' as "
                                      f"'{term.name} =~ {s.lhs}'.")
                _check_column(term.name, data, s)
                response_effects.append((s.lhs, term.name, name))
            else:
                raise GllammError(f"Line {s.line} ({s.text}): '{s.lhs}' is not a latent variable or an indicator "
                                  f"of one.{closest(s.lhs, latent + indicators)}")
            modifier(term, name)
    _check_acyclic(latent, [(p.lhs, p.rhs) for p in paths], statements)
    for product, s in products:
        for index in (product.a, product.b):
            if latent[index] in endogenous:
                raise GllammError(f"Line {s.line} ({s.text}): '{latent[index]}' is regressed on other variables; "
                                  "interactions are between exogenous latent variables.")
    # ---- covariances -------------------------------------------------------------------------------
    free_pairs, zero_pairs = set(), set()
    naming_level = LevelSpec(level_name, tuple(latent), ((0,),), naming="syntax")
    for s in statements:
        if s.op != "~~":
            continue
        for term in s.rhs:
            if s.lhs in latent and term.name in latent:
                a, b = sorted((latent.index(s.lhs), latent.index(term.name)))
                if a == b:
                    modifier(term, naming_level.covariance_name(a, a))
                elif term.value == 0:
                    zero_pairs.add((a, b))
                else:
                    free_pairs.add((a, b))
                    if term.value is not None or term.label is not None:
                        modifier(term, naming_level.covariance_name(b, a))
            elif s.lhs == term.name and s.lhs in indicators:
                if between:
                    if term.value != 0:
                        raise GllammError(f"Line {s.line} ({s.text}): between-level residual variances are written "
                                          f"'{s.lhs} ~~ 0*{s.lhs}' (the GLLAMM form has none); add a between-level "
                                          "factor for a cluster-level residual.")
                elif _family_of(family, s.lhs).has_dispersion:
                    modifier(term, f"{s.lhs}~~{s.lhs}")
                else:
                    raise GllammError(f"Line {s.line} ({s.text}): a {_family_of(family, s.lhs).name} response has no "
                                      "residual variance.")
            else:
                raise GllammError(f"Line {s.line} ({s.text}): covariances between responses or between a response "
                                  "and a latent variable are not available; add a latent variable for them.")
    for name in latent:
        if name not in measured:
            raise GllammError(f"Latent variable '{name}' has no indicators ('{name} =~ ...').")
    blocks = _blocks(latent, endogenous, free_pairs, zero_pairs)
    unit_variance = factor_scale == "variance"
    level = LevelSpec(level_name, tuple(latent), blocks, tuple(loadings), tuple(paths), tuple(covariate_paths),
                      unit_variance=unit_variance, naming="syntax", products=tuple(p for p, _ in products))
    for m, name in enumerate(latent):
        if not any(l.latent == m and l.value not in (None, 0.0) for l in loadings) and not unit_variance \
                and naming_level.covariance_name(m, m) not in fix:
            first = next(l for l in loadings if l.latent == m).name.split("=~")[1]
            raise GllammError(f"Latent variable '{name}' is not identified: fix one loading (e.g. 1*{first}) "
                              "or its variance (factor_scale='variance').")
    return level, covariates, response_effects, cross


def pad_loadings(loadings: tuple, n_columns: int) -> tuple:
    """Loadings that span all Z columns (a loading fixed at 0 on the last one if needed), so the loading
    matrix has one column per indicator even when a level's latent variables measure only some of them."""
    if max(l.column for l in loadings) < n_columns - 1:
        loadings = loadings + (Loading(0, n_columns - 1, 0.0, ""),)
    return loadings


def _family_of(family, indicator: str):
    """The family of one indicator (its member of a MixedFamily)."""
    if family.name == "mixed":
        return family.members[family.labels.index(indicator)]
    return family


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


def _measured(block, within: bool) -> set:
    """Names the statements of a level block use as responses: indicators of its factors and, at the unit
    level, also the responses and covariates of its regressions."""
    names = {t.name for s in block if s.op == "=~" for t in s.rhs}
    if within:
        names |= {t.name for s in block if s.op == "~" for t in s.rhs} | {s.lhs for s in block if s.op == "~"}
    return names


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
    indicators = list(syntax.indicators)
    if isinstance(family, dict):  # mixed responses: a family per indicator
        from ..families.mixed import make_mixed_family

        family, _ = make_mixed_family(family, indicators)
    fix: dict = {}
    labels: dict[str, list[str]] = {}
    blocks = [[s for s in syntax.statements if s.level == k] for k in range(1, len(clusters) + 2)]
    names_at = [[s.lhs for s in block if s.op == "=~"] for block in blocks] + [[]]
    within = blocks[0]
    level, covariates, response_effects, cross = _build_level(within, indicators, "unit", factor_scale, family, data,
                                                              fix, labels, between=False, outer_latent=names_at[1])
    levels, crosses, level_covariates = [level], [cross], [None]
    for k, block in enumerate(blocks[1:], start=1):
        outer, outer_covariates, outer_effects, cross = _build_level(
            block, indicators, clusters[k - 1], factor_scale, family, data, fix, labels, between=True,
            outer_latent=names_at[k + 1])
        for name in outer_covariates:  # one covariate list for every level; between-level paths re-indexed
            if name not in covariates:
                covariates.append(name)
        outer = replace(outer, covariate_paths=tuple(replace(p, rhs=covariates.index(outer_covariates[p.rhs]))
                                                     for p in outer.covariate_paths))
        if outer_effects:
            raise GllammError("Covariate effects on responses belong in the 'level: 1' block.")
        for below in levels:
            names = set(below.latent_names) & set(outer.latent_names)
            if names:
                raise GllammError(f"Latent variables {sorted(names)} are defined at two levels; use different names.")
        levels.append(outer)
        crosses.append(cross)
        level_covariates.append(outer_covariates)
    for k, cross in enumerate(crosses[:-1]):  # regressions on a latent variable of the next level up
        if cross:
            levels[k] = replace(levels[k], cross_paths=tuple(Path(lhs, levels[k + 1].latent_names.index(rhs), name)
                                                             for lhs, rhs, name in cross))
    level = levels[0]
    levels = [replace(lv, loadings=pad_loadings(lv.loadings, len(indicators))) for lv in levels]
    latent = list(level.latent_names)
    # ---- stacking -------------------------------------------------------------------------------------
    item_effects = {(lhs, c) for lhs, c, _ in response_effects if _item_level(c, data)}
    person_columns = sorted(set(covariates) | {c for lhs, c, _ in response_effects if (lhs, c) not in item_effects}
                            | set(clusters))
    check_columns(data, list(indicators) + person_columns)
    complete_person = data[person_columns].notna().all(axis=1).to_numpy() if person_columns else np.ones(len(data), bool)
    responses = data[indicators]
    threshold_groups = ()
    ordinal_items = [name for name in indicators if _family_of(family, name).name == "ordinal"]
    values = np.full((len(data), len(indicators)), np.nan)
    groups = []
    for j, name in enumerate(indicators):
        if name in ordinal_items:  # each ordinal item its own categories and thresholds (graded response model)
            from .ordinal_response import code_ordinal

            present = responses[name].notna().to_numpy()
            codes_j, categories_j = code_ordinal(responses[name][present], name)
            values[present, j] = codes_j
            groups.append((name, categories_j))
        else:
            if not pd.api.types.is_numeric_dtype(responses[name]):
                raise GllammError(f"Response '{name}' is not numeric (dtype {responses[name].dtype}).")
            values[:, j] = responses[name].to_numpy(dtype=float)
    threshold_groups = tuple(groups)
    observed = np.isfinite(values) & complete_person[:, None]
    item_observed = np.ones_like(observed)
    for lhs, covariate in item_effects:  # a response whose own item-level covariate is missing is left out
        item_observed[:, indicators.index(lhs)] &= data[f"{covariate}@{lhs}"].notna().to_numpy()
    observed &= item_observed
    cluster_items = set()
    for j, name in enumerate(indicators):  # items measured only at a level of clusters: once per cluster
        measured_at = [k for k, block in enumerate(blocks) if name in _measured(block, k == 0)]
        if not clusters or not measured_at or min(measured_at) == 0:
            continue
        column = clusters[min(measured_at) - 1]
        cluster_items.add(name)
        clusters_of_rows = data[column].to_numpy()
        present = observed[:, j]
        frame = pd.DataFrame({"c": clusters_of_rows[present], "v": values[present, j]})
        if (frame.groupby("c")["v"].nunique() > 1).any():
            raise GllammError(f"'{name}' is measured only by level-{min(measured_at) + 1} latent variables, so it "
                              f"must be a cluster-level variable, constant within each '{column}'; it varies. Add a "
                              "level-1 factor for it, or use its cluster mean.")
        first = ~pd.Series(clusters_of_rows).where(present).duplicated(keep="first").to_numpy()
        observed[:, j] = present & first
    dropped_people = int((~complete_person).sum())
    if dropped_people:
        warn_user(f"Dropped {dropped_people} of {len(data)} units with missing covariates "
                  f"({', '.join(person_columns)}).", DataWarning)
    missing_responses = int((~np.isfinite(values) & complete_person[:, None]).sum())
    if missing_responses:
        warn_user(f"{missing_responses} missing responses are left out (each unit keeps its observed responses).",
                  DataWarning)
    missing_item_covariates = int((np.isfinite(values) & complete_person[:, None] & ~item_observed).sum())
    if missing_item_covariates:
        warn_user(f"{missing_item_covariates} responses with a missing item-level covariate are left out.", DataWarning)
    if clusters:  # order units by their clusters at every level so that chunks are sorted by each level
        cluster_codes_all = nested_order([data[c].to_numpy() for c in clusters])[0][0]
        unit_order = np.argsort(cluster_codes_all, kind="stable")
    else:
        unit_order = np.arange(len(data))
    observed_sorted = observed[unit_order]
    position, item = np.nonzero(observed_sorted)  # unit by unit, in cluster order
    person = unit_order[position]
    keep_people = unit_order[np.unique(position)]
    codes = np.searchsorted(np.unique(position), position)
    y = values[person, item]
    n_items = len(indicators)
    # item intercepts, except for ordinal items (their thresholds take the intercept's place)
    fixed_names = [f"{name}~1" for name in indicators if name not in ordinal_items]
    columns = [(item == j).astype(float) for j, name in enumerate(indicators) if name not in ordinal_items]
    for lhs, covariate, name in response_effects:
        column = f"{covariate}@{lhs}" if (lhs, covariate) in item_effects else covariate
        columns.append((item == indicators.index(lhs)) * np.nan_to_num(data[column].to_numpy(dtype=float)[person]))
        fixed_names.append(name)
    X = np.stack(columns, axis=1) if columns else np.zeros((len(y), 0))
    Z = np.stack([(item == j).astype(float) for j in range(n_items)], axis=1)
    trials = np.ones_like(y)
    member = None
    if family.name == "mixed":
        member = np.array([family.labels.index(name) for name in indicators], dtype=np.int32)[item]
        family.validate(y, None, member)
    else:
        family.validate(y, None, ", ".join(indicators))
    w = data[covariates].to_numpy(dtype=float)[keep_people] if covariates else None
    with_dispersion = [j for j, name in enumerate(indicators) if _family_of(family, name).has_dispersion]
    dispersion_names = tuple(f"{indicators[j]}~~{indicators[j]}" for j in with_dispersion) or None
    lookup = np.zeros(n_items, dtype=np.int32)
    lookup[with_dispersion] = np.arange(len(with_dispersion))
    dispersion_index = lookup[item] if with_dispersion else None
    dispersion_families = tuple(_family_of(family, indicators[j]).name for j in with_dispersion) \
        if family.name == "mixed" else None
    spec = ModelSpec(syntax, family, tuple(fixed_names), tuple(levels), dispersion_names=dispersion_names,
                     covariate_names=tuple(covariates), dispersion_families=dispersion_families,
                     threshold_groups=threshold_groups)
    threshold_rows, threshold_item = None, None
    if threshold_groups:  # each row's item: where its thresholds start and its number of categories
        layout = spec.threshold_layout
        group_of = np.array([ordinal_items.index(name) if name in ordinal_items else -1 for name in indicators])
        threshold_item = group_of[item]
        starts = np.array([start for start, _ in layout] + [0])[threshold_item]
        counts = np.array([c + 1 for _, c in layout] + [2])[threshold_item]
        threshold_rows = (starts, counts)
    weights = np.ones_like(y)
    offset = np.zeros_like(y)
    kept_weights = None if unit_weights is None else unit_weights[keep_people]
    if clusters and kept_weights is not None and cluster_items:
        # a cluster-level item rides on one unit of its cluster, whose integral is raised to the unit's weight
        # w: weight 1/w on its rows keeps it counted once (it does not depend on the unit's own latent variables)
        host = kept_weights[codes]
        rows = np.isin(item, [indicators.index(name) for name in cluster_items])
        if np.any(host[rows] <= 0):
            raise GllammError("weights= must be positive for the first unit of each cluster, which carries the "
                              f"cluster-level items ({', '.join(sorted(cluster_items))}).")
        weights = np.where(rows, 1.0 / np.where(rows, host, 1.0), 1.0)
    chunks = _make_chunks(y, trials, X, Z, offset, weights, codes, len(keep_people), family, None,
                          kept_weights if not clusters else None, dispersion_index=dispersion_index,
                          cluster_covariates=w, member=member, threshold_rows=threshold_rows)
    hierarchy = nested_order([data[c].to_numpy()[keep_people] for c in clusters]) if clusters else []
    if clusters:
        import jax
        import jax.numpy as jnp

        valid = chunks.row_positions >= 0
        safe = np.where(valid, chunks.row_positions, 0)
        Z_chunks = jnp.asarray(np.stack([np.where(valid, Z[safe, j], 0.0) for j in range(n_items)]))
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
    item_columns = {f"{c}@{lhs}" for lhs, c in item_effects}
    model_frame = data.iloc[keep_people][sorted(set(indicators) | set(person_columns) | item_columns)].copy()
    design = Design(
        y=y, trials=trials, X=X, Z=Z, offset=offset, weights=weights, cluster_codes=codes,
        cluster_labels=np.asarray(data.index[keep_people]), chunks=chunks, row_index=data.index[person],
        n_dropped=dropped_people, response_name=", ".join(indicators), group_columns=(), model_frame=model_frame,
        dispersion_index=dispersion_index, cluster_covariates=w, member=member,
        threshold_item=threshold_item, top_labels=hierarchy[-1][1] if clusters else None,
        middle_labels=tuple(h[1] for h in hierarchy[:-1]), cluster_weights=kept_weights,
        weights_argument=kept_weights, cluster_weights_argument=None if top_weights is None else top_weights[keep_people],
        level_weights_argument={name: values[keep_people] for name, values in middle_weights.items()} or None,
        level_units={"unit": len(keep_people)} | {c: len(h[1]) for c, h in zip(clusters, hierarchy)},
    )
    equal = [tuple(names) for names in labels.values() if len(names) > 1]
    return spec, design, SyntaxConstraints(fix, equal, {label: list(names) for label, names in labels.items()})
