"""Turn the latent variables of a model into a discrete latent variable with C classes.

* Formula models, ``y ~ x + (1 + x | g)`` with ``classes=C``: the random effects of g take
  one of C mass points (a nonparametric random-effects distribution, NPML). A latent variable
  whose covariate also has a fixed effect (the intercept, x) has centred locations
  (sum_c pi_c e_c = 0, so the fixed effect stays the mean, as in gllamm); others are free.
* Model syntax ``C =~ y1 + ... + yJ`` with ``classes=C``: the exploratory latent class model.
  The latent vector has one coordinate per item, e_cj is the class-specific intercept of item j
  (logit P(y_j = 1 | class c) for binary items; a mean for Gaussian items, a log rate for counts),
  and the items' own intercepts are dropped. ``C ~ w`` gives the class-membership model.

Class membership: pi_jc = exp(v_j' rho_c) / sum_d exp(v_j' rho_d), rho_C = 0, with v_j = (1, w_j)
the concomitant variables of cluster j (constant within clusters). ``known_class`` gives clusters
whose class is observed (1..C; missing = latent), e.g. compliance in the treatment arm of a trial.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from ..errors import GllammError, closest
from ..spec import LevelSpec, ModelSpec
from ..spec.model_spec import Loading
from .design import Design
from .syntax_levels import pad_loadings


def check_classes(classes) -> int:
    """The number of classes as a whole number >= 1."""
    if isinstance(classes, bool) or not isinstance(classes, (int, np.integer)) or classes < 1:
        raise GllammError(f"classes must be a whole number of latent classes (>= 1) or 'npml'; got {classes!r}.")
    return int(classes)


def discrete_model(spec: ModelSpec, design: Design, data: pd.DataFrame, classes: int, *, syntax: bool,
                   target: str | None = None, concomitant: str | None = None,
                   known_class: str | None = None) -> tuple[ModelSpec, Design]:
    """The model with one latent variable (syntax) or level (formula) made discrete with ``classes`` classes.

    ``target`` names the discrete latent variable when the syntax also has continuous factors (a factor
    mixture: the factors are integrated within every class), or the level of a formula model with two
    nested levels whose random effects become discrete (the inner level's stay normal, within classes).
    """
    if not spec.levels:
        raise GllammError("Latent classes need latent variables: add a random effect, e.g. (1 | g), or a "
                          "latent variable 'C =~ y1 + y2 + ...'.")
    if spec.family.name == "ordinal" or spec.threshold_groups:
        raise GllammError("Latent classes with ordinal responses are not available yet; use binary items "
                          "(family='binomial') or a Gaussian/count family.")
    if len(spec.levels) > 2:
        raise GllammError("Latent classes are available with one level of latent variables or two nested levels.")
    X, fixed_names = design.X, list(spec.fixed_names)
    import jax.numpy as jnp

    arrays = dict(design.chunks.arrays)
    if syntax:
        levels, keep, class_names, V, covariate_names, codes, units = _syntax_classes(spec, design, arrays, classes,
                                                                                      target, concomitant)
    else:
        levels, keep, class_names, V, covariate_names, codes, units = _formula_classes(spec, design, data, arrays,
                                                                                       classes, target, concomitant)
    _check_constant(V, class_names)
    allowed = _allowed_classes(known_class, data, design, classes, codes, units)
    spec = replace(spec, fixed_names=tuple(fixed_names[j] for j in keep), levels=levels,
                   covariate_names=covariate_names, class_covariates=class_names)
    _check_identified(spec, design, classes, units)
    arrays["X"] = arrays["X"][np.asarray(keep, dtype=int)] if keep else jnp.zeros((0,) + arrays["y"].shape)
    arrays["class_covariates"] = jnp.asarray(V, dtype=jnp.float64)
    arrays["class_allowed"] = jnp.asarray(allowed)
    frame = design.model_frame
    extra = [c for c in _columns(concomitant) + ([known_class] if known_class else []) if c not in frame.columns]
    if extra and frame is not None and len(frame) == len(design.row_index):
        frame = frame.copy()
        for column in extra:
            frame[column] = data.loc[design.row_index, column].to_numpy()
    design = replace(design, X=X[:, keep], chunks=replace(design.chunks, arrays=arrays), model_frame=frame)
    return spec, design


def _without(level: LevelSpec, index: int, n_columns: int) -> LevelSpec:
    """The level without latent variable ``index`` (the discrete one of a factor mixture)."""
    remap = {old: new for new, old in enumerate(k for k in range(level.dim) if k != index)}
    loadings = tuple(replace(l, latent=remap[l.latent]) for l in level.loading_list if l.latent != index)
    blocks = tuple(tuple(remap[k] for k in block if k != index) for block in level.blocks)
    return replace(level, latent_names=tuple(n for k, n in enumerate(level.latent_names) if k != index),
                   blocks=tuple(b for b in blocks if b), loadings=pad_loadings(loadings, n_columns),
                   paths=tuple(replace(p, lhs=remap[p.lhs], rhs=remap[p.rhs]) for p in level.paths),
                   covariate_paths=tuple(replace(p, lhs=remap[p.lhs]) for p in level.covariate_paths
                                         if p.lhs != index))


def _columns(expression: str | None) -> list[str]:
    if not expression:
        return []
    from .design import Formula

    return sorted(str(v) for v in Formula(expression.strip()).required_variables)


def _cluster_values(values: np.ndarray, design: Design, column: str, codes: np.ndarray, units: int) -> np.ndarray:
    """One value per unit (``codes``: each row's unit) of a row-level column, constant within units."""
    frame = pd.DataFrame({"value": values, "cluster": codes})
    varying = frame.groupby("cluster")["value"].nunique(dropna=False) > 1
    if varying.any():
        raise GllammError(f"'{column}' varies within the clusters (e.g. cluster number "
                          f"{int(np.flatnonzero(varying.to_numpy())[0]) + 1}); class membership and known classes "
                          "are properties of whole clusters.")
    first = np.zeros(units, dtype=values.dtype)
    first[codes] = values
    return first


def _concomitant_matrix(concomitant: str | None, data: pd.DataFrame, design: Design, codes, units):
    """(names, V (units, n_v)) of the class-membership model, intercept first."""
    if concomitant is None:
        return ("(Intercept)",), np.ones((units, 1))
    from .design import model_matrix

    text = concomitant.strip()
    if not text.startswith("~"):
        raise GllammError(f"concomitant= takes a one-sided formula such as '~ x1 + x2'; got {concomitant!r}.")
    for column in _columns(text):
        if column not in data.columns:
            raise GllammError(f"Concomitant variable '{column}' is not in the data.{closest(column, list(data.columns))}")
    rows = data.loc[design.row_index, _columns(text)]
    missing = [c for c in rows.columns if rows[c].isna().any()]
    if missing:
        raise GllammError(f"Concomitant variables {missing} have missing values in rows used by the model; drop "
                          "those rows first.")
    matrix = model_matrix(text, rows.reset_index(drop=True))
    names = ["(Intercept)" if n == "Intercept" else str(n) for n in matrix.columns]
    values = np.asarray(matrix, dtype=float)
    if "(Intercept)" not in names:
        names, values = ["(Intercept)"] + names, np.column_stack([np.ones(len(values)), values])
    V = np.column_stack([_cluster_values(values[:, j], design, names[j], codes, units)
                         for j in range(values.shape[1])])
    return tuple(names), V


def _check_constant(V: np.ndarray, names) -> None:
    for j, name in enumerate(names):
        if name != "(Intercept)" and np.ptp(V[:, j]) == 0:
            raise GllammError(f"Concomitant variable '{name}' is constant over the clusters, so it cannot predict "
                              "class membership; remove it from the class-membership model.")


def _allowed_classes(known_class: str | None, data: pd.DataFrame, design: Design, classes: int, codes,
                     units) -> np.ndarray:
    """(units, C) booleans: the classes each unit may belong to."""
    allowed = np.ones((units, classes), dtype=bool)
    if known_class is None:
        return allowed
    if known_class not in data.columns:
        raise GllammError(f"known_class column '{known_class}' is not in the data."
                          f"{closest(known_class, list(data.columns))}")
    values = pd.to_numeric(data.loc[design.row_index, known_class], errors="coerce").to_numpy(dtype=float)
    per_cluster = _cluster_values(values, design, known_class, codes, units)
    known = np.isfinite(per_cluster)
    bad = known & ~np.isin(per_cluster, np.arange(1, classes + 1))
    if bad.any():
        raise GllammError(f"known_class column '{known_class}' must hold class numbers 1..{classes} (or be missing "
                          f"where the class is latent); found {sorted(set(per_cluster[bad].tolist()))[:5]}.")
    allowed[known] = np.arange(1, classes + 1)[None, :] == per_cluster[known][:, None]
    return allowed


def _check_identified(spec: ModelSpec, design: Design, classes: int, units: int) -> None:
    """More classes than the distinct response patterns can identify: a clear error."""
    level = spec.discrete_level
    if level.naming == "syntax":
        patterns = pd.DataFrame({"cluster": design.cluster_codes, "y": design.y, "z": np.argmax(design.Z, axis=1)})
        distinct = patterns.sort_values(["cluster", "z"]).groupby("cluster")["y"].apply(tuple).nunique()
        what = "distinct response patterns"
    else:
        distinct, what = units, f"units of '{level.name}'"
    if classes > distinct:
        raise GllammError(f"{classes} classes cannot be identified from {distinct} {what}; fit fewer classes.")
    binary = spec.family.name == "binomial" and np.all(design.trials == 1)
    if level.naming == "syntax" and binary and not spec.fixed_names and spec.class_covariates == ("(Intercept)",) \
            and len(spec.levels) == 1:
        n_items = level.dim
        n_params = classes * n_items + classes - 1
        possible = 2 ** n_items - 1
        if n_params > possible:
            raise GllammError(f"{classes} classes of {n_items} binary items have {n_params} parameters but the "
                              f"response patterns give only {possible} free probabilities; the model is not "
                              "identified. Fit fewer classes.")


def _syntax_classes(spec, design, arrays, classes, target, concomitant):
    """Model syntax: the discrete latent variable ``target`` (class-specific intercepts of its items; membership
    regressed on its covariates) and the levels that stay normal. Returns (levels, kept fixed effects, membership
    covariate names, their matrix V, structural covariates, each row's unit of the classes, number of units)."""
    import jax.numpy as jnp

    fixed_names = list(spec.fixed_names)
    names = [name for level in spec.levels for name in level.latent_names]
    if target is None:
        if len(names) != 1:
            raise GllammError(f"The syntax defines {len(names)} latent variables ({', '.join(names)}); name the "
                              f"discrete one, e.g. classes={{'{names[0]}': {classes}}} (the others stay continuous "
                              "and are integrated within each class).")
        target = names[0]
    if target not in names:
        raise GllammError(f"classes= names '{target}', which is not a latent variable of the syntax."
                          f"{closest(target, names)} Latent variables: {', '.join(names)}.")
    position = next(i for i, level in enumerate(spec.levels) if target in level.latent_names)
    level = spec.levels[position]
    index = level.latent_names.index(target)
    if any(index in (p.lhs, p.rhs) for p in level.paths) or \
            (position == 1 and any(p.rhs == index for p in spec.levels[0].cross_paths)):
        raise GllammError(f"The discrete latent variable '{target}' cannot be in a regression on or of "
                          "another latent variable.")
    indicators = [s.strip() for s in design.response_name.split(",")]
    columns = sorted({l.column for l in level.loading_list if l.latent == index and l.name})
    items = [indicators[c] for c in columns]
    n_items = len(indicators)
    discrete = LevelSpec(level.name, tuple(items), tuple((k,) for k in range(len(items))),
                         pad_loadings(tuple(Loading(k, c, 1.0, "") for k, c in enumerate(columns)), n_items),
                         classes=classes, centred=(False,) * len(items), class_name=target, naming="syntax")
    keep = [j for j, name in enumerate(fixed_names) if name not in {f"{item}~1" for item in items}]
    own = [p for p in level.covariate_paths if p.lhs == index]
    class_names = ("(Intercept)",) + tuple(spec.covariate_names[p.rhs] for p in own)
    if concomitant is not None:
        raise GllammError(f"In model syntax write the class-membership model as '{target} ~ w1 + w2', "
                          "not concomitant=.")
    covariate_names = spec.covariate_names
    if len(spec.levels) == 2:  # classes of units or of clusters, the other level's factors stay normal
        if level.dim != 1:
            raise GllammError(f"With two levels, the level of the discrete latent variable '{target}' can hold "
                              "no other latent variables.")
        levels = tuple(discrete if i == position else lv for i, lv in enumerate(spec.levels))
        if position == 1:
            parent = np.asarray(arrays["parent"])
            codes, units = parent[design.cluster_codes], int(np.asarray(arrays["cluster_weight"]).shape[0])
            w = np.asarray(arrays["w_outer"]) if own else None
        else:
            codes, units, w = design.cluster_codes, design.n_clusters, design.cluster_covariates
    else:
        codes, units, w = design.cluster_codes, design.n_clusters, design.cluster_covariates
        if level.dim == 1:
            levels = (discrete,)
            covariate_names = ()
        else:  # a factor mixture: the other latent variables stay continuous, within every class
            levels = (_without(level, index, n_items), discrete)
            arrays.update(parent=jnp.arange(design.n_clusters, dtype=jnp.int32), Z_outer=arrays["Z"])
    V = np.column_stack([np.ones(units)] + [w[:, p.rhs] for p in own])
    return levels, keep, class_names, V, covariate_names, codes, units


def _formula_classes(spec, design, data, arrays, classes, target, concomitant):
    """A formula model: the random effects of one grouping level (the named one of two) take ``classes`` mass
    points, centred where the fixed part has the same term; membership from ``concomitant``. Returns as
    ``_syntax_classes``."""
    fixed_names = list(spec.fixed_names)
    position = len(spec.levels) - 1
    if len(spec.levels) == 2:
        names = [level.name for level in spec.levels]
        if target is None:
            raise GllammError(f"The model has two levels of random effects; name the one with classes, e.g. "
                              f"classes={{'{names[1]}': {classes}}} or classes={{'{names[0]}': {classes}}}.")
        if target not in names:
            raise GllammError(f"classes= names '{target}', which is not a grouping level of the model "
                              f"({', '.join(names)}).")
        position = names.index(target)
        if position == 1:
            parent = np.asarray(arrays["parent"])
            codes = parent[design.cluster_codes]
            units = int(np.asarray(arrays["cluster_weight"]).shape[0])
        else:
            codes, units = design.cluster_codes, design.n_clusters
    else:
        if target is not None and target != spec.levels[0].name:
            raise GllammError(f"classes= names '{target}'; the model's grouping level is "
                              f"'{spec.levels[0].name}'.")
        codes, units = design.cluster_codes, design.n_clusters
    level = spec.levels[position]
    if level.paths or level.covariate_paths:
        raise GllammError("Latent classes cannot have structural paths among latent variables.")
    centred = tuple(name in fixed_names for name in level.latent_names)
    discrete = replace(level, classes=classes, centred=centred, blocks=tuple((k,) for k in range(level.dim)))
    levels = spec.levels[:position] + (discrete,) + spec.levels[position + 1:]
    keep = list(range(len(fixed_names)))
    class_names, V = _concomitant_matrix(concomitant, data, design, codes, units)
    covariate_names = spec.covariate_names
    return levels, keep, class_names, V, covariate_names, codes, units
