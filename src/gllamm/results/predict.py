"""Predictions, residuals and per-cluster log-likelihood contributions.

For row i of cluster j with fixed part eta0_i = x_i'beta + offset_i:

* ``type="linear"``: eta0_i (latent="zero": the disturbances of the latent variables at 0, so latent
  variables regressed on covariates keep their covariate effects M Gamma w) or eta0_i + z_i' E(b_j | y_j)
  (latent="eb", the EB values of the latent variables; products of them for latent interactions);
* ``type="mean"`` with latent="zero" or "eb": h(linear predictor), the conditional mean;
* ``type="mean"`` with latent="marginal": the population-averaged mean
  int h(eta0_i + z_i' b) phi(b; 0, Psi) db, by Gauss-Hermite quadrature
  (``nip`` points per dimension, 40 by default: many, since this integrand is not peaked).

Means are per trial for binomial responses (probabilities). For ordinal responses
``type="probability"`` gives P(y = k) for every category k (a DataFrame with one
column per category): F((kappa_k - eta)/s) - F((kappa_{k-1} - eta)/s), averaged over
the latent distribution with latent="marginal".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import GllammError
from ..families.links import inverse_link_numpy
from ..families.misclassification import observed_probability
from ..integrate import product_rule
from .new_data import model_matrix_for
from .node_chunks import row_slices


def _model_columns(model_spec, newdata: pd.DataFrame, names, prefix: str = "") -> np.ndarray:
    """The columns ``names`` (as reported, e.g. "(Intercept)", "scale:x") of the model matrix that a
    formulaic ModelSpec builds for new data."""
    from ..design.design import _rename_intercept

    frame = model_matrix_for(model_spec, newdata)
    columns = [prefix + n for n in _rename_intercept(frame.columns)]
    return np.asarray(frame, dtype=float)[:, [columns.index(n) for n in names]]


def _design_for(result, newdata, offset, select_fixed: bool = True):
    """X, Z, offset and cluster positions (-1 = unseen cluster) for the fitted or new data."""
    design = result.design
    if newdata is None:
        return design.X, design.Z, design.offset, design.cluster_codes
    if design.fixed_model_spec is None:
        raise GllammError("Predictions for new data need a formula model; for syntax models predict the fitted data.")
    if not isinstance(newdata, pd.DataFrame):
        raise GllammError("newdata must be a pandas DataFrame.")
    if select_fixed:  # the model's fixed effects only (ordinal models drop the intercept)
        X = _model_columns(design.fixed_model_spec, newdata, result.spec.fixed_names)
    else:
        X = np.asarray(model_matrix_for(design.fixed_model_spec, newdata), dtype=float)
    Z = np.concatenate([np.zeros((len(newdata), 0))] + [np.asarray(model_matrix_for(s, newdata), dtype=float)
                                                         for s in design.random_model_specs], axis=1)
    total_offset = np.zeros(len(newdata))
    from ..design.design import _evaluate

    for expression in result.spec.formula.offsets:
        total_offset += np.asarray(_evaluate(expression, newdata), dtype=float)
    if offset is not None:
        total_offset += np.asarray(newdata[offset] if isinstance(offset, str) else offset, dtype=float)
    codes = _unit_codes(newdata, list(design.group_columns), design.cluster_labels)
    return X, Z, total_offset, codes


def _syntax_newdata(result, newdata: pd.DataFrame, latent: str):
    """The fit at its estimates on new (wide) data of a model written in syntax: predictions and EB values
    for the new units. EB needs their responses; for latent="zero"/"marginal" absent indicator columns are
    filled with a valid value (the predictions do not depend on them)."""
    if not isinstance(newdata, pd.DataFrame):
        raise GllammError("newdata must be a pandas DataFrame.")
    frame = result.design.model_frame
    missing = [c for c in frame.columns if c not in newdata.columns]
    indicators = set(result.design.response_name.split(", "))
    if missing and (latent == "eb" or not set(missing) <= indicators):
        need = "every indicator and covariate (EB values come from the new units' responses)" if latent == "eb" \
            else "every covariate"
        raise GllammError(f"newdata lacks the column(s) {missing}; give {need}.")
    newdata = newdata.assign(**{c: frame[c].dropna().iloc[0] for c in missing})
    return result.refit(newdata, start=result, max_iter=0, weights=None, cluster_weights=None)


def _unit_codes(newdata: pd.DataFrame, columns: list[str], labels) -> np.ndarray:
    """Position of each new row's unit among the fitted ``labels`` (-1 for units not in the fit)."""
    codes = np.full(len(newdata), -1)
    if columns and all(c in newdata.columns for c in columns):
        keys = newdata[columns].astype(str).agg(":".join, axis=1) if len(columns) > 1 else newdata[columns[0]]
        lookup = {label: i for i, label in enumerate(labels)}
        codes = np.array([lookup.get(k, -1) for k in keys])
    return codes


def _log_scale(result, newdata) -> np.ndarray | float:
    """log s_i of the level-1 scale model per row (0 without one)."""
    spec, design = result.spec, result.design
    if not spec.scale_names:
        return 0.0
    if newdata is None:
        V = design.scale_matrix
    else:
        V = _model_columns(design.scale_model_spec, newdata, spec.scale_names, prefix="scale:")
    return V @ result.params[list(spec.scale_names)].to_numpy()


def _members(result, newdata) -> np.ndarray | None:
    """Mixed responses: each row's response type (member of the family mapping)."""
    family = result.family
    if family.name != "mixed":
        return None
    if newdata is None:
        return result.design.member
    column = result.options.get("family_by")
    if column is None or column not in newdata.columns:
        raise GllammError(f"newdata needs the response-type column '{column}' to predict mixed responses.")
    types = newdata[column].astype(str)
    unknown = sorted(set(types) - set(family.labels))
    if unknown:
        raise GllammError(f"newdata['{column}'] has response types {unknown} that the model has no family for.")
    return types.map({label: k for k, label in enumerate(family.labels)}).to_numpy()


def _expected_score(result, eta, rows, link: str) -> np.ndarray:
    """E(y) = sum_k k P(y = k | eta) for ordinal rows of mixed responses, with the categories' own (numeric)
    values k and the row's item's thresholds; eta (n,) or (n, nodes)."""
    spec = result.spec
    kappa, _ = row_thresholds(spec, result.design, result.params[list(spec.threshold_names)], len(rows))
    kappa = kappa[rows]
    width = kappa.shape[1] + 1
    scores = np.zeros((len(spec.threshold_groups), width))
    for g, (item, categories) in enumerate(spec.threshold_groups):
        try:
            scores[g, : len(categories)] = np.asarray(categories, dtype=float)
        except (TypeError, ValueError):
            raise GllammError(f"The categories of the ordinal item '{item}' are not numbers, so its mean is not "
                              "defined; use type='linear', or fit the ordinal items alone for category "
                              "probabilities.") from None
    score = scores[result.design.threshold_item[rows]]  # (n, K)
    expand = (slice(None),) + (None,) * (eta.ndim - 1)
    cumulative = cumulative_probabilities(link, kappa[expand], eta[..., None], 1.0)  # (n, [nodes,] K - 1)
    ones = np.ones(cumulative.shape[:-1] + (1,))
    probabilities = np.diff(np.concatenate([0 * ones, cumulative, ones], axis=-1), axis=-1)
    return np.sum(probabilities * score[expand], axis=-1)


def _mean(result, eta, log_scale, member=None, rows: slice | None = None, count_zero: bool = False):
    """h(eta), with P(y = 1) = F(eta / s) for binary responses with a modelled scale; per row's own link
    for mixed responses (``member``, of all rows), and the expected category value for their ordinal rows.
    ``rows``: the slice of all rows that eta holds (default all). ``count_zero``: P(y = 0 | eta) of a count
    response instead of its mean."""
    family = result.family
    if count_zero:
        return count_zero_probability(result, inverse_link_numpy(family.link.name, eta))
    if family.name == "mixed":
        out = np.empty_like(eta, dtype=float)
        positions = np.arange(len(member))[slice(None) if rows is None else rows]
        for k, f in enumerate(family.members):
            own = member[positions] == k
            if f.name == "ordinal":
                mask = np.zeros(len(member), bool)
                mask[positions[own]] = True
                out[own] = _expected_score(result, eta[own], mask, f.link.name)
            else:
                out[own] = inverse_link_numpy(f.link.name, eta[own])
        return out
    if family.name == "binomial":
        eta = eta * np.exp(-np.reshape(log_scale, np.shape(log_scale) + (1,) * (np.ndim(eta) - np.ndim(log_scale))))
    return observed_probability(family, inverse_link_numpy(family.link.name, eta))


def count_zero_probability(result, mu) -> np.ndarray:
    """f(0 | mu) of the count part of a count response, at its fitted dispersion."""
    from ..families.zero_inflation import count_zero_probability_numpy

    spec = result.spec
    dispersion = float(result.params[spec.dispersions[0]]) if spec.dispersions else None
    return count_zero_probability_numpy(result.family.name, mu, dispersion)


def _latent_at(result, u) -> np.ndarray:
    """Latent variables eta (n, q) at standardised disturbances u (n, q), without covariate effects."""
    from ..objective import latent_values

    return np.asarray(latent_values(result.table_spec, result.table_spec.unpack(np.asarray(result.theta)), u))


def _covariate_shift(result, codes) -> np.ndarray:
    """M Gamma w of each row's cluster (rows, q): the latent variables' covariate effects (0 without)."""
    level = result.spec.levels[0]
    if not level.covariate_paths:
        return np.zeros((len(codes), level.dim))
    from ..objective import latent_structure

    params = result.table_spec.unpack(np.asarray(result.theta))
    _, M, _ = (np.asarray(x) for x in latent_structure(result.table_spec, params))
    shift = result.design.cluster_covariates @ (M @ np.asarray(params.covariate_effects[0])).T
    return shift[codes]


def _row_latent(result, Z, eta, shared: bool = False, interactions: bool = True) -> np.ndarray:
    """Each row's latent part of the linear predictor, z_i' Lambda' eta + sum_p gamma_p z_i,p eta_a eta_b
    (the response interactions y ~ f1:f2), for eta (rows, q), or (nodes, q) shared by all rows -> (rows, nodes)."""
    params = result.table_spec.unpack(np.asarray(result.theta))
    zl = Z @ np.asarray(params.loadings[0]).T  # (rows, q)
    part = zl @ eta.T if shared else np.einsum("nq,nq->n", zl, eta)
    if interactions:
        gamma = np.asarray(params.products[0]) if result.spec.levels[0].products else ()
        for p, product in enumerate(result.spec.levels[0].products):
            if product.response:
                pair = eta[:, product.a] * eta[:, product.b]
                part = part + gamma[p] * (np.outer(Z[:, product.lhs], pair) if shared else Z[:, product.lhs] * pair)
    return part


def row_thresholds(spec, design, kappa, n_rows: int, shift=None) -> tuple[np.ndarray, list[str]]:
    """Each row's thresholds (n, K_max - 1), +inf beyond its item's last one, and the category column labels.

    Items with thresholds of their own (graded response models) may differ in their categories; the
    columns are then the categories of the item with the most (positions 1..K_max for fewer)."""
    kappa = np.asarray(kappa, dtype=float)
    if not spec.threshold_groups:  # with non-proportional odds each row's kappa_k + t_i' gamma_k (``shift``)
        return np.broadcast_to(kappa, (n_rows, len(kappa))) + (0.0 if shift is None else shift), list(spec.categories)
    layout = spec.threshold_layout
    width = max(count for _, count in layout)
    table = np.full((len(layout), width), np.inf)
    for g, (start, count) in enumerate(layout):
        table[g, :count] = kappa[start : start + count]
    labels = max((c for _, c in spec.threshold_groups), key=len)
    return table[design.threshold_item], list(labels)


def cumulative_probabilities(link: str, kappa, eta, inverse_scale):
    """P(y <= k) = F((kappa_k - eta) / s), exactly 1 where kappa_k = +inf (past an item's last threshold)."""
    with np.errstate(invalid="ignore"):
        cumulative = inverse_link_numpy(link, (kappa - eta) * inverse_scale)
    return np.where(np.isinf(kappa), 1.0, cumulative)


def threshold_shift(result, newdata=None, gamma=None):
    """t_i' gamma_k per row and threshold (n, K - 1) for non-proportional odds, or None; with ordered thresholds
    (``ordered_thresholds=True``) kappa_k(t_i) - kappa_k (``families.ordinal.ordered_row_thresholds``)."""
    spec, design = result.spec, result.design
    if not spec.threshold_covariates:
        return None
    if gamma is None:
        gamma = result.params[list(spec.threshold_effect_names)].to_numpy().reshape(len(spec.threshold_names), -1)
    if newdata is None:
        T = design.threshold_matrix
    else:
        T = _model_columns(design.threshold_model_spec, newdata, spec.threshold_covariates)
    shift = T @ np.asarray(gamma).T
    if spec.ordered_thresholds:
        from ..families.ordinal import ordered_row_thresholds

        kappa = result.params[list(spec.threshold_names)].to_numpy()
        return ordered_row_thresholds(kappa, shift, np) - kappa
    return shift


def _category_probabilities(result, eta, weights=None, log_scale=0.0, newdata=None, eta_at_nodes=None) -> pd.DataFrame:
    """Ordinal P(y = k | eta) per row and category; eta (n,) or (n, nodes) averaged with ``weights``; with
    ``eta_at_nodes`` (a function of a slice of rows giving their (rows, nodes) linear predictors) the average over
    the nodes is taken one slice of rows at a time (node_chunks)."""
    kappa, labels = row_thresholds(result.spec, result.design, result.params[list(result.spec.threshold_names)],
                                   eta.shape[0], threshold_shift(result, newdata))
    inverse_scale = np.exp(-np.broadcast_to(log_scale, eta.shape[:1]))

    def probabilities_of(rows, values):
        values = values[:, :, None] if values.ndim == 2 else values[:, None, None]
        cumulative = cumulative_probabilities(result.family.link.name, kappa[rows, None, :], values,
                                              inverse_scale[rows, None, None])
        ones = np.ones(cumulative.shape[:2] + (1,))
        probabilities = np.diff(np.concatenate([0 * ones, cumulative, ones], axis=2), axis=2)
        return probabilities[:, 0, :] if weights is None else np.einsum("nkc,k->nc", probabilities, weights)

    if eta_at_nodes is None:
        probabilities = probabilities_of(slice(None), eta)
    else:
        probabilities = np.concatenate([probabilities_of(rows, eta_at_nodes(rows))
                                        for rows in row_slices(eta.shape[0], len(weights))])
    return pd.DataFrame(probabilities, columns=labels)


def _level_loadings(result, Z_levels=None):
    """Per level: the rows' loadings Zl (n, q) on the latent variables and the map ML from u to them."""
    from ..objective import latent_structure

    params = result.table_spec.unpack(np.asarray(result.theta))
    out = []
    for index, Z in enumerate(result.design.Z_levels if Z_levels is None else Z_levels):
        loadings, _, ML = (np.asarray(x) for x in latent_structure(result.table_spec, params, index))
        out.append((Z @ loadings.T, ML))
    return out


def _nested_rows(result, newdata, offset):
    """eta0, Z per level and unit positions per level (-1 = not in the fit) of the fitted or new rows."""
    design = result.design
    n_levels = len(result.spec.levels)
    if newdata is None:
        eta = design.X @ result.fixed_effects.to_numpy() + design.offset
        Z_levels = list(design.Z_levels) or [design.Z, design.Z]  # syntax: item dummies, loadings per level
        return eta, Z_levels, [design.level_codes(index) for index in range(n_levels)]
    from ..design.design import _group_columns

    X, Z, total_offset, inner = _design_for(result, newdata, offset)
    widths = np.cumsum([0] + [Z_level.shape[1] for Z_level in design.Z_levels])
    codes = [inner] + [_unit_codes(newdata, _group_columns(result.spec.levels[index].name), design.unit_labels(index))
                       for index in range(1, n_levels)]
    return (X @ result.fixed_effects.to_numpy() + total_offset,
            [Z[:, widths[k]:widths[k + 1]] for k in range(n_levels)], codes)


def _nested_latent_parts(result, levels, codes):
    """Each row's latent part as  c_i + sum_l a_li' u_l  in the standardised disturbances of every level.

    With eta_l = M_l (Gamma_l w_l + B_l,l+1 eta_l+1 + L_l u_l), a row with loadings zl_l on eta_l reaches
    eta_l through r_0 = zl_0, r_l = zl_l + r_l-1 M_l-1 B_l-1,l; then a_l = r_l M_l L_l and
    c = sum_l r_l M_l Gamma_l w_l (0 for units not in the fit). Returns (c, [a_l per level])."""
    from ..objective import latent_structure, level_key

    table, spec = result.table_spec, result.spec
    params = table.unpack(np.asarray(result.theta))
    data = result.design.data()
    constant, on_u, reach = np.zeros(levels[0][0].shape[0]), [], None
    for index, ((zl, _), code) in enumerate(zip(levels, codes)):
        _, M, ML = (np.asarray(x) for x in latent_structure(table, params, index))
        reach = zl if index == 0 or not spec.levels[index - 1].cross_paths else \
            zl + reach @ M_below @ np.asarray(params.cross_effects[index - 1])
        on_u.append(reach @ ML)
        if spec.levels[index].covariate_paths:
            w = data["w"] if index == 0 else data[level_key("w_outer", index)]
            effects = np.asarray(w) @ np.asarray(params.covariate_effects[index]).T  # Gamma w per unit
            constant += np.where(code >= 0, np.einsum("nk,nk->n", reach @ M, effects[np.maximum(code, 0)]), 0.0)
        M_below = M
    return constant, on_u


def _nested_prediction(result, type, latent, nip, newdata=None, offset=None, count_zero: bool = False):
    """Predictions for nested levels, for the fitted data or new data.

    latent="zero" sets the disturbances of every level to 0 (the latent variables keep their covariate
    effects); with latent="eb" each level adds its EB prediction for units in the fit and 0 for new units (a new
    mother in a known community gets the community's EB effect); latent="marginal" integrates all levels.
    """
    eta, Z_levels, codes = _nested_rows(result, newdata, offset)
    levels = _level_loadings(result, Z_levels)
    if latent == "zero":  # disturbances at 0 at every level: only the covariate effects on the latent variables
        eta = eta + _nested_latent_parts(result, levels, codes)[0]
    if latent == "eb":
        eb = result.empirical_bayes()
        for (zl, _), level, code in zip(levels, result.spec.levels, codes):
            values = eb[level.name].iloc[:, : level.dim].to_numpy()
            known = code >= 0
            eta = eta + np.where(known, np.einsum("nk,nk->n", zl, values[np.where(known, code, 0)]), 0.0)
    if latent != "marginal":
        if type == "linear":
            return eta
        log_scale = _log_scale(result, newdata)
        return (_category_probabilities(result, eta, log_scale=log_scale, newdata=newdata)
                if result.family.name == "ordinal" else _mean(result, eta, log_scale, _members(result, newdata),
                                                               count_zero=count_zero))
    constant, on_u = _nested_latent_parts(result, levels, codes)
    # a_i'u with u ~ N(0, I) is N(0, |a_i|^2): one Gauss-Hermite rule in the row's own direction is exact
    nodes, log_w = product_rule(nip, 1)
    spread = np.sqrt(np.sum(np.concatenate(on_u, axis=1) ** 2, axis=1))
    shift = constant[:, None] + spread[:, None] * np.sqrt(2.0) * nodes[:, 0][None, :]  # (rows, nodes)
    weights = np.exp(log_w) / np.sqrt(np.pi)
    log_scale = _log_scale(result, newdata)
    if result.family.name == "ordinal":
        return _category_probabilities(result, eta[:, None] + shift, weights, log_scale, newdata)
    return _mean(result, eta[:, None] + shift, np.broadcast_to(log_scale, eta.shape),
                 _members(result, newdata), count_zero=count_zero) @ weights


def cluster_loglik(result) -> pd.Series:
    """Each cluster's contribution log L_j to the log-likelihood (before cluster weights)."""
    if result.spec.crossed:
        raise GllammError("With crossed factors the log-likelihood does not split into independent clusters: "
                          "its only term is the total, result.loglik.")
    objective, data, modes = result._evaluation(nested_ok=True)
    values = np.asarray(objective.cluster_values(result.theta, data, modes))
    top = result.spec.levels[-1].name
    labels = result.design.top_labels if len(result.spec.levels) > 1 else result.design.cluster_labels
    return pd.Series(values, index=pd.Index(labels, name=top), name="loglik")
