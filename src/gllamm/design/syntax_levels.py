"""The latent variables of one level block of model syntax: factors and their loadings, regressions among them
(B, without loops), on covariates (Gamma) and on latent variables of the level above, latent interactions, and
which disturbances are correlated (blocks of Psi); and every level of a multilevel model in turn (``syntax_levels``).
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from ..errors import GllammError, closest
from ..spec import LevelSpec
from ..spec.model_spec import Loading, Path, Product


def item_level(name: str, data: pd.DataFrame) -> bool:
    """True for a covariate of long data that varies across items (kept as columns name@item by widen)."""
    return name not in data.columns and any(str(c).startswith(f"{name}@") for c in data.columns)


def _check_column(name: str, data: pd.DataFrame, statement) -> None:
    if name not in data.columns and not item_level(name, data):
        raise GllammError(f"'{name}' in line {statement.line} ({statement.text}) is neither a latent variable "
                          f"nor a column of the data.{closest(name, list(data.columns))}")


def _default_covariances(block) -> set[tuple[int, int]]:
    """The latent covariances free by default, as lavaan's sem(): among the exogenous latent variables, and among
    the disturbances of latent variables that are regressed on something but predict no other latent variable
    (lavaan's auto.cov.y: 'f1 + f2 ~ x' correlates f1 and f2). The latent means of multiple groups (paths on
    _mean.g<k> columns) make no variable endogenous here."""
    regressed = {p.lhs for p in block.paths} | {lhs for lhs, _, _ in block.cross} \
        | {p.lhs for p, _ in block.products if not p.response} \
        | {p.lhs for p in block.covariate_paths if not block.covariates[p.rhs].startswith("_mean.g")}
    predictors = {p.rhs for p in block.paths}
    n = len(block.latent)
    exogenous = [i for i in range(n) if i not in regressed]
    dependent = [i for i in range(n) if i in regressed and i not in predictors]
    return {(a, b) for group in (exogenous, dependent) for a in group for b in group if a < b}


def _blocks(latent: list[str], defaults: set, free_pairs: set, zero_pairs: set) -> tuple[tuple[int, ...], ...]:
    parent = list(range(len(latent)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    edges = defaults - zero_pairs
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


def build_level(statements, indicators, level_name, factor_scale, family, data, fix, labels, between,
                outer_latent=()):
    """LevelSpec and covariate bookkeeping for the statements of one level block: (level, covariates of its
    structural model, covariate effects on responses, regressions on latent variables of the level above).

    ``outer_latent``: latent variables of the level above; a regression on one of them is a cross-level
    path (returned by name, resolved once that level is built). ``fix`` and ``labels`` collect the modifiers.
    """
    block = _LevelBlock(statements, indicators, level_name, family, data, fix, labels, between, outer_latent)
    loadings, measured = block.loadings(factor_scale)
    block.regressions()
    free_pairs, zero_pairs = block.covariances()
    latent = block.latent
    for name in latent:
        if name not in measured:
            raise GllammError(f"Latent variable '{name}' has no indicators ('{name} =~ ...').")
    blocks = _blocks(latent, _default_covariances(block), free_pairs, zero_pairs)
    unit_variance = factor_scale == "variance"
    level = LevelSpec(level_name, tuple(latent), blocks, tuple(loadings), tuple(block.paths),
                      tuple(block.covariate_paths), unit_variance=unit_variance, naming="syntax",
                      products=tuple(p for p, _ in block.products))
    naming_level = LevelSpec(level_name, tuple(latent), ((0,),), naming="syntax")
    for m, name in enumerate(latent):
        if not any(l.latent == m and l.value not in (None, 0.0) for l in loadings) and not unit_variance \
                and naming_level.covariance_name(m, m) not in fix:
            first = next(l for l in loadings if l.latent == m).name.split("=~")[1]
            raise GllammError(f"Latent variable '{name}' is not identified: fix one loading (e.g. 1*{first}) "
                              "or its variance (factor_scale='variance').")
    return level, block.covariates, block.response_effects, block.cross


class _LevelBlock:
    """The statements of one level block, read stage by stage (loadings, regressions, covariances)."""

    def __init__(self, statements, indicators, level_name, family, data, fix, labels, between, outer_latent):
        self.statements, self.indicators, self.level_name = statements, indicators, level_name
        self.family, self.data, self.fix, self.labels = family, data, fix, labels
        self.between, self.outer_latent = between, outer_latent
        self.latent = []
        for s in statements:
            if s.op == "=~" and s.lhs not in self.latent:
                self.latent.append(s.lhs)
        for s in statements:
            if s.op == "=~":
                for term in s.rhs:
                    if term.name in self.latent:
                        raise GllammError(f"Line {s.line} ({s.text}): '{term.name}' is a latent variable; a "
                                          "higher-order factor is written as a regression of one latent variable on "
                                          "another.")
                    _check_column(term.name, data, s)
        self.paths, self.covariate_paths, self.covariates, self.endogenous = [], [], [], set()
        self.response_effects, self.products, self.cross = [], [], []

    def modifier(self, term, name):
        """Record a term's fixed value and label under the parameter's name."""
        if term.value is not None:
            self.fix[name] = term.value
        if term.label is not None:
            self.labels.setdefault(term.label, []).append(name)

    def loadings(self, factor_scale):
        """(Loadings, the latent variables measured): the first loading of each factor fixed at 1 with
        factor_scale="loading" unless the syntax frees (NA*) or labels it."""
        loadings, measured = [], set()
        for s in self.statements:
            if s.op != "=~":
                continue
            m = self.latent.index(s.lhs)
            for term in s.rhs:
                name = f"{s.lhs}=~{term.name}"
                first = s.lhs not in measured
                measured.add(s.lhs)
                value = term.value
                if value is None and not term.free and first and factor_scale == "loading" and term.label is None:
                    value = 1.0
                loadings.append(Loading(m, self.indicators.index(term.name), value, name))
                if term.label is not None:
                    self.labels.setdefault(term.label, []).append(name)
        return loadings, measured

    def regressions(self):
        """The '~' statements: paths among latent variables (B), on covariates (Gamma), on latent variables of the
        level above (cross), latent interactions, and covariate effects on responses."""
        latent, indicators, data = self.latent, self.indicators, self.data
        for s in self.statements:
            if s.op != "~":
                continue
            for term in s.rhs:
                name = f"{s.lhs}~{term.name}"
                if term.name in self.outer_latent and s.lhs in latent:  # a unit-level factor on a cluster-level one
                    self.endogenous.add(s.lhs)
                    self.cross.append((latent.index(s.lhs), term.name, name))
                elif ":" in term.name:
                    self._interaction(s, term, name)
                elif s.lhs in latent:
                    self.endogenous.add(s.lhs)
                    if term.name in latent:
                        self.paths.append(Path(latent.index(s.lhs), latent.index(term.name), name))
                    else:
                        self._covariate(s, term, name)
                elif s.lhs in indicators:
                    if term.name in latent:
                        raise GllammError(f"Line {s.line} ({s.text}): write a loading of '{s.lhs}' on '{term.name}' "
                                          f"as '{term.name} =~ {s.lhs}'.")
                    _check_column(term.name, data, s)
                    self.response_effects.append((s.lhs, term.name, name))
                else:
                    raise GllammError(f"Line {s.line} ({s.text}): '{s.lhs}' is not a latent variable or an indicator "
                                      f"of one.{closest(s.lhs, latent + indicators)}")
                self.modifier(term, name)
        _check_acyclic(latent, [(p.lhs, p.rhs) for p in self.paths], self.statements)
        for product, s in self.products:
            for index in (product.a, product.b):
                if latent[index] in self.endogenous:
                    raise GllammError(f"Line {s.line} ({s.text}): '{latent[index]}' is regressed on other variables; "
                                      "interactions are between exogenous latent variables.")

    def _covariate(self, s, term, name):
        """A latent variable regressed on an observed covariate (a column constant across a unit's items)."""
        _check_column(term.name, self.data, s)
        if item_level(term.name, self.data):
            raise GllammError(f"Line {s.line} ({s.text}): '{term.name}' varies across the items of a "
                              "unit, so it can explain responses ('y1 ~ x') but not a latent variable.")
        if term.name not in self.covariates:
            self.covariates.append(term.name)
        self.covariate_paths.append(Path(self.latent.index(s.lhs), self.covariates.index(term.name), name))

    def _interaction(self, s, term, name):
        """A latent interaction 'a:b' in the equation of a latent variable or of a response."""
        latent, indicators = self.latent, self.indicators
        a, b = term.name.split(":")
        for part in (a, b):
            if part not in latent:
                raise GllammError(f"Line {s.line} ({s.text}): '{part}' in the interaction '{term.name}' is not a "
                                  f"latent variable{' of this level' if self.between else ''}; interactions are "
                                  "between latent variables (for observed covariates form the product column "
                                  f"in the data).{closest(part, latent)}")
        if self.between:
            raise GllammError(f"Line {s.line} ({s.text}): latent interactions are available at the unit level.")
        if s.lhs in latent:
            self.endogenous.add(s.lhs)
            self.products.append((Product(latent.index(s.lhs), latent.index(a), latent.index(b), name), s))
        elif s.lhs in indicators:
            self.products.append((Product(indicators.index(s.lhs), latent.index(a), latent.index(b), name,
                                          response=True), s))
        else:
            raise GllammError(f"Line {s.line} ({s.text}): '{s.lhs}' is not a latent variable or an indicator "
                              f"of one.{closest(s.lhs, latent + indicators)}")

    def covariances(self):
        """The '~~' statements: (free covariances, covariances fixed at 0) of latent variables, by index pairs;
        variances and residual variances only record their modifiers."""
        latent, indicators = self.latent, self.indicators
        free_pairs, zero_pairs = set(), set()
        naming_level = LevelSpec(self.level_name, tuple(latent), ((0,),), naming="syntax")
        for s in self.statements:
            if s.op != "~~":
                continue
            for term in s.rhs:
                if s.lhs in latent and term.name in latent:
                    a, b = sorted((latent.index(s.lhs), latent.index(term.name)))
                    if a == b:
                        self.modifier(term, naming_level.covariance_name(a, a))
                    elif term.value == 0:
                        zero_pairs.add((a, b))
                    else:
                        free_pairs.add((a, b))
                        if term.value is not None or term.label is not None:
                            self.modifier(term, naming_level.covariance_name(b, a))
                elif s.lhs == term.name and s.lhs in indicators:
                    self._residual_variance(s, term)
                else:
                    raise GllammError(f"Line {s.line} ({s.text}): covariances between responses or between a "
                                      "response and a latent variable are not available; add a latent variable for "
                                      "them.")
        return free_pairs, zero_pairs

    def _residual_variance(self, s, term):
        """'x ~~ v*x': a response's residual variance (none between levels, none for families without one)."""
        if self.between:
            if term.value != 0:
                raise GllammError(f"Line {s.line} ({s.text}): between-level residual variances are written "
                                  f"'{s.lhs} ~~ 0*{s.lhs}' (the GLLAMM form has none); add a between-level "
                                  "factor for a cluster-level residual.")
        elif family_of(self.family, s.lhs).has_dispersion:
            self.modifier(term, f"{s.lhs}~~{s.lhs}")
        else:
            raise GllammError(f"Line {s.line} ({s.text}): a {family_of(self.family, s.lhs).name} response has no "
                              "residual variance.")


def pad_loadings(loadings: tuple, n_columns: int) -> tuple:
    """Loadings that span all Z columns (a loading fixed at 0 on the last one if needed), so the loading
    matrix has one column per indicator even when a level's latent variables measure only some of them."""
    if max(l.column for l in loadings) < n_columns - 1:
        loadings = loadings + (Loading(0, n_columns - 1, 0.0, ""),)
    return loadings


def family_of(family, indicator: str):
    """The family of one indicator (its member of a MixedFamily)."""
    if family.name == "mixed":
        return family.members[family.labels.index(indicator)]
    return family


def syntax_levels(blocks, indicators, clusters, factor_scale, family, data, fix, labels):
    """The LevelSpec of every level block (unit level first), the covariates of the structural model (one list for
    all levels), the covariate effects on responses and each level's covariates; regressions on a latent variable of
    the level above resolved into cross-level paths. ``fix`` and ``labels`` collect the syntax's modifiers."""
    names_at = [[s.lhs for s in block if s.op == "=~"] for block in blocks] + [[]]
    within = blocks[0]
    level, covariates, response_effects, cross = build_level(within, indicators, "unit", factor_scale, family, data,
                                                              fix, labels, between=False, outer_latent=names_at[1])
    levels, crosses, level_covariates = [level], [cross], [None]
    for k, block in enumerate(blocks[1:], start=1):
        outer, outer_covariates, outer_effects, cross = build_level(
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
    levels = [replace(lv, loadings=pad_loadings(lv.loadings, len(indicators))) for lv in levels]
    return levels, covariates, response_effects, level_covariates
