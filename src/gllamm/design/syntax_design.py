"""Model syntax + wide data frame -> ModelSpec and Design (one row per response).

Each row of the wide data is a unit (level 2) and each indicator response a
level-1 row: the data are stacked to long format here, and a missing response
drops only that response. The fixed part has an intercept per indicator
(named ``x1~1``) and the covariate effects ``x1 ~ age`` (named ``x1~age``);
each latent variable multiplies the dummies of its indicators with loadings
(``f=~x2``); ``f2 ~ f1`` and ``f ~ w`` are the structural B and Gamma.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import DataWarning, GllammError, closest
from ..families import Family
from ..spec import LevelSpec, ModelSpec
from ..spec.model_spec import Loading, Path
from ..syntax.model_syntax import ModelSyntax
from .design import Design, _make_chunks


@dataclass(frozen=True)
class SyntaxConstraints:
    """Fixed values and equality groups implied by the syntax's modifiers (by reported name)."""

    fix: dict
    equal: list


def _check_column(name: str, data: pd.DataFrame, statement) -> None:
    if name not in data.columns:
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


def build_syntax_design(syntax: ModelSyntax, data: pd.DataFrame, family: Family, *,
                        factor_scale: str = "loading") -> tuple[ModelSpec, Design, SyntaxConstraints]:
    """Stack wide data and build the single-level latent variable model the syntax describes."""
    if not isinstance(data, pd.DataFrame):
        raise GllammError(f"data must be a pandas DataFrame; got {type(data).__name__}.")
    if factor_scale not in ("loading", "variance"):
        raise GllammError(f"factor_scale must be 'loading' (first loading 1) or 'variance' (factor variance 1); got {factor_scale!r}.")
    latent = list(syntax.latent_names)
    indicators = list(syntax.indicators)
    fix: dict = {}
    labels: dict[str, list[str]] = {}

    def modifier(term, name):
        if term.value is not None:
            fix[name] = term.value
        if term.label is not None:
            labels.setdefault(term.label, []).append(name)

    for s in syntax.statements:
        if s.op == "=~":
            for term in s.rhs:
                if term.name in latent:
                    raise GllammError(f"Line {s.line} ({s.text}): '{term.name}' is a latent variable; a higher-order "
                                      "factor is written as a regression of one latent variable on another.")
                _check_column(term.name, data, s)
    # ---- loadings ---------------------------------------------------------------------------
    loadings, measured = [], set()
    for s in syntax.statements:
        if s.op != "=~":
            continue
        m = latent.index(s.lhs)
        for k, term in enumerate(s.rhs):
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
    for s in syntax.statements:
        if s.op != "~":
            continue
        for term in s.rhs:
            name = f"{s.lhs}~{term.name}"
            if s.lhs in latent:
                endogenous.add(s.lhs)
                if term.name in latent:
                    paths.append(Path(latent.index(s.lhs), latent.index(term.name), name))
                else:
                    _check_column(term.name, data, s)
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
    _check_acyclic(latent, [(p.lhs, p.rhs) for p in paths], syntax.statements)
    # ---- covariances -------------------------------------------------------------------------------
    free_pairs, zero_pairs = set(), set()
    level_name = "unit"
    naming_level = LevelSpec(level_name, tuple(latent), ((0,),), naming="syntax")
    for s in syntax.statements:
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
                if family.has_dispersion:
                    modifier(term, f"{s.lhs}~~{s.lhs}")
                else:
                    raise GllammError(f"Line {s.line} ({s.text}): a {family.name} response has no residual variance.")
            else:
                raise GllammError(f"Line {s.line} ({s.text}): covariances between responses or between a response "
                                  "and a latent variable are not available; add a latent variable for them.")
    for name in latent:
        if name not in measured:
            raise GllammError(f"Latent variable '{name}' has no indicators ('{name} =~ ...').")
    blocks = _blocks(latent, endogenous, free_pairs, zero_pairs)
    unit_variance = factor_scale == "variance"
    level = LevelSpec(level_name, tuple(latent), blocks, tuple(loadings), tuple(paths), tuple(covariate_paths),
                      unit_variance=unit_variance, naming="syntax")
    for m, name in enumerate(latent):
        if not any(l.latent == m and l.value not in (None, 0.0) for l in loadings) and not unit_variance \
                and naming_level.covariance_name(m, m) not in fix:
            raise GllammError(f"Latent variable '{name}' is not identified: fix one loading (e.g. 1*{loadings[[l.latent for l in loadings].index(m)].name.split('=~')[1]}) "
                              "or its variance (factor_scale='variance').")

    # ---- stacking -------------------------------------------------------------------------------------
    person_columns = sorted(set(covariates) | {c for _, c, _ in response_effects})
    complete_person = data[person_columns].notna().all(axis=1).to_numpy() if person_columns else np.ones(len(data), bool)
    responses = data[indicators].apply(pd.to_numeric, errors="coerce") if False else data[indicators]
    for name in indicators:
        if not pd.api.types.is_numeric_dtype(responses[name]):
            raise GllammError(f"Response '{name}' is not numeric (dtype {responses[name].dtype}).")
    values = responses.to_numpy(dtype=float)
    observed = np.isfinite(values) & complete_person[:, None]
    dropped_people = int((~complete_person).sum())
    if dropped_people:
        warnings.warn(f"Dropped {dropped_people} of {len(data)} units with missing covariates "
                      f"({', '.join(person_columns)}).", DataWarning, stacklevel=3)
    missing_responses = int((~np.isfinite(values) & complete_person[:, None]).sum())
    if missing_responses:
        warnings.warn(f"{missing_responses} missing responses are left out (each unit keeps its observed responses).",
                      DataWarning, stacklevel=3)
    person, item = np.nonzero(observed)  # row-major: person by person
    keep_people = np.unique(person)
    codes = np.searchsorted(keep_people, person)
    y = values[person, item]
    n_items = len(indicators)
    fixed_names = [f"{name}~1" for name in indicators]
    columns = [(item == j).astype(float) for j in range(n_items)]
    for lhs, covariate, name in response_effects:
        columns.append((item == indicators.index(lhs)) * data[covariate].to_numpy(dtype=float)[person])
        fixed_names.append(name)
    X = np.stack(columns, axis=1)
    Z = np.stack([(item == j).astype(float) for j in range(n_items)], axis=1)
    trials = np.ones_like(y)
    family.validate(y, None, ", ".join(indicators))
    w = data[covariates].to_numpy(dtype=float)[keep_people] if covariates else None
    dispersion_names = tuple(f"{name}~~{name}" for name in indicators) if family.has_dispersion else None
    dispersion_index = item.astype(np.int32) if family.has_dispersion else None
    spec = ModelSpec(syntax, family, tuple(fixed_names), (level,), dispersion_names=dispersion_names,
                     covariate_names=tuple(covariates))
    weights = np.ones_like(y)
    offset = np.zeros_like(y)
    chunks = _make_chunks(y, trials, X, Z, offset, weights, codes, len(keep_people), family, None,
                          dispersion_index=dispersion_index, cluster_covariates=w)
    model_frame = data.iloc[keep_people][sorted(set(indicators) | set(person_columns))].copy()
    design = Design(
        y=y, trials=trials, X=X, Z=Z, offset=offset, weights=weights, cluster_codes=codes,
        cluster_labels=np.asarray(data.index[keep_people]), chunks=chunks, row_index=data.index[person],
        n_dropped=dropped_people, response_name=", ".join(indicators), group_columns=(), model_frame=model_frame,
        dispersion_index=dispersion_index, cluster_covariates=w,
    )
    equal = [tuple(names) for names in labels.values() if len(names) > 1]
    return spec, design, SyntaxConstraints(fix, equal)
