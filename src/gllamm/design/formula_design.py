"""build_design: an lme4-style formula on a data frame -> (ModelSpec, Design), in stages.

    columns used -> complete rows -> response -> fixed part, offset, weights -> grouping levels
    -> choice sets (multinomial) -> scale and threshold covariates -> chunked arrays (+ the levels above)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import GllammError, check_choice
from ..families import Family
from ..spec import ModelSpec
from ..syntax import FormulaSpec
from .data_checks import check_frame
from .design import Design, _check_rank, _evaluate, _group_columns, _make_chunks, _rename_intercept, model_matrix
from .crossed_factors import add_crossed_arrays, check_crossed_options
from .formula_columns import complete_cases, formula_columns, option_columns
from .formula_levels import first_level_weights, grouping_levels, per_unit_weights
from .formula_multinomial import Rows, as_choice_sets
from .formula_response import formula_response
from .zero_inflation_design import zero_inflation_matrix


def build_design(formula: FormulaSpec, data: pd.DataFrame, family: Family, *, weights=None, offset=None, trials=None,
                 cluster_weights=None, top_weights=None, level_weights: dict | None = None, scale_weights: str = "none",
                 chunk_width: int | None = None, scale: str | None = None, family_by: str | None = None,
                 discrete: bool = False, base=None, choice_set: str | None = None, nominal: str | None = None,
                 zero_inflation: str | None = None) -> tuple[ModelSpec, Design]:
    """Build the ModelSpec and Design for an lme4-style formula on a data frame.

    Rows with a missing value in any used column are dropped (with a
    DataWarning saying how many), as lme4 does; in choice/ranking data (``choice_set=``)
    the whole choice set of such a row is dropped, and a missing rank means "not ranked".
    """
    check_frame(data)
    columns = formula_columns(formula, data, family, family_by, choice_set, nominal, scale, zero_inflation)
    options = option_columns(data, weights, offset, trials, cluster_weights, top_weights, level_weights)
    used = columns.used(family_by, choice_set)
    complete, n_dropped = complete_cases(data, used, columns, options, choice_set)
    cc = data.loc[complete]
    response = formula_response(formula, cc, family, columns.mapping, family_by, columns.scale_formula, choice_set,
                                base, options.kept("trials", complete))
    family = response.family
    X_frame = model_matrix(formula.fixed, cc, na_action="raise")
    X, fixed_names = _fixed_part(X_frame, len(cc), family, choice_set)
    total_offset = _offset(formula, cc, options.kept("offset", complete))
    row_weights = _row_weights(options.kept("weights", complete), len(cc))
    levels = grouping_levels(formula, cc, family, discrete)
    if levels.crossed:
        check_crossed_options(levels, family, options, choice_set)
    rows = Rows(response.y, response.trials, X, fixed_names, total_offset, row_weights, list(levels.Z_levels),
                levels.codes, levels.labels)
    per_cluster_weights = first_level_weights(options.kept("cluster_weights", complete), levels)
    if family.name == "multinomial":  # choice sets of K slots (categories, or alternatives per ranking stage)
        as_choice_sets(rows, response, levels, choice_set, columns.scale_formula, levels.keys)
    elif base is not None:
        raise GllammError("base= applies to family='multinomial'.")
    V, scale_names, scale_spec = _scale_matrix(columns.scale_formula, cc, family)
    T, threshold_covariates, threshold_spec = _threshold_matrix(columns.threshold_formula, cc, rows.fixed_names)
    ZI, zero_names, zero_spec = zero_inflation_matrix(columns.zero_inflation_formula, cc, levels)
    spec = ModelSpec(formula, family, tuple(rows.fixed_names), tuple(levels.levels), categories=response.categories,
                     threshold_covariates=threshold_covariates, scale_names=scale_names,
                     dispersion_names=response.dispersion_names, dispersion_families=response.dispersion_families,
                     set_size=rows.set_size, crossed=levels.crossed, zero_inflation_names=zero_names)
    rows.weights = _scale_level1_weights(rows.weights, rows.codes, scale_weights)
    _check_level_weight_options(options, levels)
    Z, chunks = _first_level_chunks(rows, levels, family, response, (V, T, ZI), chunk_width, per_cluster_weights)
    if levels.parent is not None:
        _levels_above(chunks, rows, levels, options, complete, per_cluster_weights)
    return spec, Design(
        y=rows.y, trials=rows.trials, X=rows.X, Z=Z, offset=rows.offset, weights=rows.weights,
        cluster_codes=rows.codes, cluster_labels=rows.labels, chunks=chunks, row_index=cc.index,
        data_rows=np.flatnonzero(np.asarray(complete)), data_index=data.index,
        n_dropped=n_dropped, response_name=formula.response, fixed_model_spec=X_frame.model_spec,
        random_model_specs=tuple(levels.random_specs),
        group_columns=tuple(_group_columns(levels.group) if levels.groups else []),
        cluster_weights=per_cluster_weights, model_frame=cc[used].copy(),
        offset_argument=options.kept("offset", complete), weights_argument=options.kept("weights", complete),
        cluster_weights_argument=options.kept("cluster_weights", complete),
        top_weights_argument=options.kept("top_weights", complete),
        level_weights_argument={name: values[complete] for name, values in options.level_weights.items()} or None,
        level_units={lv.name: int(levels.keys[lv.name].nunique()) for lv in levels.levels},
        top_labels=None if levels.top_labels is None else np.asarray(levels.top_labels),
        middle_labels=tuple(np.asarray(m[1]) for m in levels.middle) if len(levels.groups) > 2 else (),
        Z_levels=tuple(rows.Z_levels), scale_matrix=V, scale_model_spec=scale_spec,
        threshold_matrix=T, threshold_model_spec=threshold_spec, zero_inflation_matrix=ZI,
        zero_inflation_model_spec=zero_spec, crossed_codes=tuple(levels.factor_codes),
        crossed_labels=tuple(levels.factor_labels),
        dispersion_index=response.dispersion_index, member=response.member, set_size=rows.set_size,
        choice=rows.choice if choice_set is not None else None,
        nominal_categories=tuple(response.nominal[1]) if response.nominal is not None else (),
        nominal_base=response.nominal[2] if response.nominal is not None else 0,
    )


def _first_level_chunks(rows, levels, family, response, row_matrices, chunk_width, per_cluster_weights):
    """(the first level's Z, the chunked row arrays of the likelihood; the crossed factors' arrays added);
    ``row_matrices``: the rows' scale, threshold and zero-inflation covariates (each None when not modelled)."""
    V, T, ZI = row_matrices
    Z = rows.Z_levels[0] if rows.Z_levels and not levels.crossed else np.zeros((len(rows.y), 0))
    categories = response.categories
    chunks = _make_chunks(rows.y, rows.trials, rows.X, Z, rows.offset, rows.weights, rows.codes, len(rows.labels),
                          family, rows.chunk_width or chunk_width, per_cluster_weights if levels.parent is None else None,
                          scale_matrix=V, dispersion_index=response.dispersion_index, member=response.member,
                          available=rows.available, threshold_matrix=T,
                          threshold_rows=(np.zeros(len(rows.y), int), np.full(len(rows.y), len(categories)))
                          if categories else None, row_patterns=not levels.crossed, zero_inflation_matrix=ZI)
    if levels.crossed:
        add_crossed_arrays(chunks, levels)
    return Z, chunks


def _fixed_part(X_frame, n_rows: int, family, choice_set) -> tuple[np.ndarray, list[str]]:
    """X and the fixed effects' names; ordinal responses and choice sets have no intercept (the thresholds take its
    place; a common intercept cancels within a choice set); X of full column rank."""
    fixed_names = _rename_intercept(X_frame.columns)
    X = np.asarray(X_frame, dtype=float)
    if X.shape[1] == 0:
        X = np.zeros((n_rows, 0))
    if (family.name == "ordinal" or choice_set is not None) and "(Intercept)" in fixed_names:
        keep = [j for j, name in enumerate(fixed_names) if name != "(Intercept)"]
        X, fixed_names = X[:, keep], [fixed_names[j] for j in keep]
    _check_rank(X, fixed_names, "fixed-effects")
    return X, fixed_names


def _offset(formula, cc: pd.DataFrame, offset_values: np.ndarray | None) -> np.ndarray:
    """The formula's offset() terms plus offset= on the complete rows."""
    total = np.zeros(len(cc))
    for expression in formula.offsets:
        total += np.asarray(_evaluate(expression, cc), dtype=float)
    if offset_values is not None:
        total += offset_values
    return total


def _row_weights(values: np.ndarray | None, n_rows: int) -> np.ndarray:
    """weights= on the complete rows (1 when not given): non-negative, not all 0."""
    weights = np.ones(n_rows) if values is None else values
    if np.any(weights < 0):
        raise GllammError(f"weights= must be non-negative; {int(np.sum(weights < 0))} rows have negative weights.")
    if len(weights) and not np.any(weights > 0):
        raise GllammError("weights= are 0 in every row kept, so no row contributes to the likelihood.")
    return weights


def _check_level_weight_options(options, levels) -> None:
    if options.level_weights and len(levels.groups) < 3:
        raise GllammError("level_weights= gives the weights of the levels between the first grouping level and the "
                          "top (models with three or more nested grouping factors); use cluster_weights= for the "
                          "first level and top_weights= for the top.")
    if options.top_weights is not None and levels.parent is None:
        raise GllammError("top_weights= is for models with nested levels (weights of the top-level units); "
                          "with one level use cluster_weights=.")


def _levels_above(chunks, rows, levels, options, complete, per_cluster_weights) -> None:
    """Nested levels: the Z columns of each level above the first on the chunked rows, the parent pointers of the
    units, and the weights of the top units, of the first-level units and of the levels in between."""
    import jax
    import jax.numpy as jnp

    valid = chunks.row_positions >= 0
    safe = np.where(valid, chunks.row_positions, 0)
    Z_outer = np.stack([np.where(valid, rows.Z_levels[1][safe, j], 0.0) for j in range(rows.Z_levels[1].shape[1])])
    top_weight = np.ones(len(levels.top_labels))
    if options.top_weights is not None:  # level-3 weights: one per top-level unit
        values = options.top_weights[complete]
        top_weight[levels.top_of_row] = values
        if np.any(np.abs(values - top_weight[levels.top_of_row]) > 1e-12 * np.abs(values).max()) or np.any(values < 0):
            raise GllammError(f"top_weights must be non-negative and constant within each '{levels.groups[-1]}' unit.")
    chunks.arrays.update(Z_outer=jnp.asarray(Z_outer), parent=jax.device_put(np.asarray(levels.parent, dtype=np.int32)),
                         cluster_weight=jnp.asarray(top_weight))
    for index, (_, _, above) in enumerate(levels.middle, start=2):  # levels above the third: their own pointers
        Z_level = rows.Z_levels[index]
        chunks.arrays[f"Z_outer{index}"] = jnp.asarray(
            np.stack([np.where(valid, Z_level[safe, j], 0.0) for j in range(Z_level.shape[1])]))
        chunks.arrays[f"parent{index}"] = jax.device_put(np.asarray(above, dtype=np.int32))
    if per_cluster_weights is not None:  # level-2 weights (units of the first grouping level)
        chunks.arrays["unit_weight"] = jnp.asarray(per_cluster_weights)
    for name, values in options.level_weights.items():  # weights of the levels between the first and the top
        groups = levels.groups
        if name not in groups[1:-1]:
            raise GllammError(f"level_weights= names '{name}', which is not a middle grouping level of this "
                              f"model ({', '.join(groups[1:-1]) or 'none'}); the first level's weights are "
                              f"cluster_weights= and the top level's top_weights=.")
        index = groups.index(name)
        middle = levels.middle[index - 1]
        chunks.arrays[f"unit_weight{index}"] = jnp.asarray(per_unit_weights(values[complete], middle[0],
                                                                            len(middle[1]), name))


def _scale_matrix(scale: str | None, frame: pd.DataFrame, family: Family):
    """V, the names "scale:v" and the formulaic spec of the level-1 log-scale model log s_i = v_i' alpha.

    Gaussian and gamma responses keep the intercept (it replaces the residual SD/dispersion);
    ordinal and binary responses drop it: their scale is fixed at 1 for v = 0 (identification).
    """
    if scale is None:
        return None, (), None
    if family.counts:
        kind = "Poisson" if family.name == "poisson" else "negative binomial"
        raise GllammError(f"scale= models the level-1 scale, which a {kind} count response does not have (its variance "
                          "is fixed by the mean and, for the negative binomial, the dispersion).")
    if family.name == "binomial" and family.link.name in ("log", "identity"):
        raise GllammError(f"scale= models the SD of a latent response, which the binomial {family.link.name} link "
                          "does not have; use link='probit' or 'logit' for a scaled binary model.")
    matrix = model_matrix(scale, frame, na_action="raise")
    names = _rename_intercept(matrix.columns)
    V = np.asarray(matrix, dtype=float)
    if family.name in ("ordinal", "binomial"):
        keep = [j for j, n in enumerate(names) if n != "(Intercept)"]
        V, names = V[:, keep], [names[j] for j in keep]
        if not names:
            raise GllammError(f"scale='{scale}' has no covariates; for a {family.name} response the scale is "
                              "identified only relative to a reference (give covariates, e.g. scale='~ x').")
    _check_rank(V, names, "scale")
    return V, tuple(f"scale:{n}" for n in names), matrix.model_spec


def _threshold_matrix(nominal: str | None, frame: pd.DataFrame, fixed_names):
    """T (rows, n_t), the covariate names and the formulaic spec of kappa_ik = kappa_k + t_i' gamma_k.

    The intercept is left out (the thresholds kappa_k are the intercepts); a covariate may not
    also be in the fixed part, where its effect would not be identified.
    """
    if nominal is None:
        return None, (), None
    matrix = model_matrix(nominal, frame, na_action="raise")
    names = _rename_intercept(matrix.columns)
    keep = [j for j, n in enumerate(names) if n != "(Intercept)"]
    T, names = np.asarray(matrix, dtype=float)[:, keep], [names[j] for j in keep]
    if not names:
        raise GllammError(f"nominal='{nominal}' has no covariates; give the covariates whose effects differ "
                          "between thresholds, e.g. nominal='~ x'.")
    both = sorted(set(names) & set(fixed_names))
    if both:
        raise GllammError(f"{', '.join(both)} is in both the formula and nominal=: its effect on every threshold "
                          "already includes the common (proportional-odds) effect; remove it from the formula.")
    _check_rank(T, names, "nominal (threshold covariates)")
    return T, tuple(names), matrix.model_spec


def _scale_level1_weights(weights: np.ndarray, codes: np.ndarray, method: str) -> np.ndarray:
    """Scale level-1 weights within clusters (Rabe-Hesketh & Skrondal 2006, Pfeffermann et al. 1998).

    "none": as given; "size": w_ij n_j / sum_i w_ij (sum to the cluster size);
    "effective": w_ij sum_i w_ij / sum_i w_ij^2 (sum to the effective cluster size).
    """
    method = check_choice("scale_weights", method, ("none", "size", "effective"))
    if method == "none":
        return weights
    total = np.bincount(codes, weights=weights)
    if method == "size":
        factor = np.bincount(codes) / np.where(total > 0, total, 1)
    else:
        factor = total / np.where(total > 0, np.bincount(codes, weights=weights**2), 1)
    return weights * factor[codes]
