"""Simulation from a fitted model (gllamm's gllasim) and the parametric bootstrap.

A draw: u_j ~ N(0, I), b_j = L u_j, eta_ij = x_ij'beta + offset_ij + z_ij'b_j, and
y_ij from the response family with mean h(eta_ij) (and the fitted dispersion).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import GllammError
from ..families import negative_binomial
from ..families.misclassification import observed_probability
from ..syntax.model_syntax import ModelSyntax


_REPORTED_POWER = {"gaussian": 2, "negbin": -1}  # variance = sigma^2; NB2's theta = 1/alpha


def _draw_response(family, mu, trials, dispersion, rng):
    """Responses with conditional mean mu given the reported dispersion (variance, gamma's 1/shape, theta, alpha)."""
    if family.name == "gaussian":
        return rng.normal(mu, np.sqrt(dispersion))
    if family.name == "binomial":
        return rng.binomial(trials.astype(int), np.clip(mu, 0, 1)).astype(float)
    if family.name == "poisson":
        return rng.poisson(mu).astype(float)
    if family.name in ("negbin", "negbin1"):
        return negative_binomial.draw(family.name, mu, dispersion, rng)
    shape = 1.0 / dispersion
    return rng.gamma(shape, mu / shape)


def simulate(result, seed=None, theta=None, return_latent: bool = False):
    """One simulated data set: the fitted model frame with the response replaced.

    theta: parameters in the internal parameterisation (default: the estimates).
    Returns the frame, and with return_latent=True also the drawn latent variables (one row per cluster;
    with nested levels or crossed factors a dict {level name: DataFrame}).
    """
    from ..options import check_seed

    rng = np.random.default_rng(check_seed(seed))
    design, spec = result.design, result.spec
    params = result.table_spec.unpack(np.asarray(result.theta if theta is None else theta, dtype=float))
    if spec.crossed:  # every factor's effects drawn independently
        from .crossed_effects import crossed_draws

        eta, draws = crossed_draws(result, params, rng)
        frame = _with_response(result, _draw_responses(result, params, eta, rng))
        return (frame, draws) if return_latent else frame
    eta, b, drawn_class, loadings = _first_level_draws(result, params, rng)
    if spec.family.name == "multinomial":  # category or ranking draws given the latent draws b
        from .multinomial_predict import simulate_multinomial

        def eta_of(X, Z, offset, codes):
            value = X @ np.asarray(params.beta) + offset
            return value + np.einsum("nk,nk->n", Z @ loadings.T, b[codes]) if spec.levels else value

        frame = simulate_multinomial(result, eta_of, rng)
        return _with_latent(frame, b, [], design, spec) if return_latent else frame
    eta, higher = _higher_level_draws(result, params, rng, eta)
    frame = _with_response(result, _draw_responses(result, params, eta, rng))
    if return_latent:
        frame, latent = _with_latent(frame, b, higher, design, spec)
        if drawn_class is not None:
            latent.insert(0, "class", drawn_class + 1)
        return frame, latent
    return frame


def _first_level_draws(result, params, rng):
    """(eta with the first level's latent variables drawn, their draws b per cluster, each cluster's drawn class
    (latent classes; None otherwise), the loadings Lambda of the first level)."""
    from ..objective import latent_structure

    design, spec, table = result.design, result.spec, result.table_spec
    loadings = None
    eta = design.X @ np.asarray(params.beta) + design.offset
    b = np.zeros((design.n_clusters, 0))
    drawn_class = None
    if result.integration.method == "discrete":  # a class per cluster from pi_jc (known classes kept), b = e_class
        from ..integrate.discrete import class_log_probabilities

        data = design.data()
        log_pi = np.asarray(class_log_probabilities(params.class_logits, data["class_covariates"]))
        probabilities = np.where(np.asarray(data["class_allowed"]), np.exp(log_pi), 0.0)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        drawn_class = (rng.random((design.n_clusters, 1)) > np.cumsum(probabilities, axis=1)).sum(axis=1)
        loadings = np.asarray(params.loadings[0])
        b = np.asarray(params.locations[0])[drawn_class]
        eta = eta + np.einsum("nk,nk->n", design.Z @ loadings.T, b[design.cluster_codes])
    elif spec.levels:
        loadings, M, ML = (np.asarray(x) for x in latent_structure(table, params))
        u = rng.standard_normal((design.n_clusters, ML.shape[1]))
        b = u @ ML.T
        if spec.levels[0].covariate_paths:
            b = b + design.cluster_covariates @ (M @ np.asarray(params.covariate_effects[0])).T
        products = spec.levels[0].products
        if products:  # latent interactions of exogenous latent variables eta_a = (L u)_a
            zeta = u @ np.asarray(params.cholesky[0]).T
            gamma = np.asarray(params.products[0])
            extra = np.zeros_like(b)
            for k, product in enumerate(products):
                term = gamma[k] * zeta[:, product.a] * zeta[:, product.b]
                if product.response:
                    eta = eta + design.Z[:, product.lhs] * term[design.cluster_codes]
                else:
                    extra[:, product.lhs] += term
            b = b + extra @ M.T
        eta = eta + np.einsum("nk,nk->n", design.Z @ loadings.T, b[design.cluster_codes])
    return eta, b, drawn_class, loadings


def _higher_level_draws(result, params, rng, eta):
    """(eta with the latent variables of the levels above the first drawn, their draws per level)."""
    from ..objective import latent_structure, level_key

    design, spec, table = result.design, result.spec, result.table_spec
    # levels above the first: disturbances drawn level by level, then eta_l = M_l (Gamma_l w_l +
    # B_l,l+1 eta_l+1 + L_l u_l) composed from the top down
    draws = [rng.standard_normal((len(design.unit_labels(k)), spec.levels[k].dim)) for k in range(1, len(spec.levels))]
    higher, above = [], None
    for level_index in reversed(range(1, len(spec.levels))):
        outer_loadings, M3, outer_ML = (np.asarray(x) for x in latent_structure(table, params, level_index))
        top = draws[level_index - 1] @ outer_ML.T
        if spec.levels[level_index].covariate_paths:
            w = np.asarray(design.chunks.arrays[level_key("w_outer", level_index)])
            top = top + w @ (M3 @ np.asarray(params.covariate_effects[level_index])).T
        if spec.levels[level_index].cross_paths:
            parent = np.asarray(design.chunks.arrays[level_key("parent", level_index + 1)])
            top = top + (above @ (M3 @ np.asarray(params.cross_effects[level_index])).T)[parent]
        Z_outer = design.Z_levels[level_index] if len(design.Z_levels) > 1 else design.Z
        eta = eta + np.einsum("nk,nk->n", Z_outer @ outer_loadings.T, top[design.level_codes(level_index)])
        higher.insert(0, top)
        above = top
    if len(spec.levels) > 1 and spec.levels[0].cross_paths:  # eta2 += M2 B23 eta3: through the level-2 loadings
        inner_loadings, M2, _ = (np.asarray(x) for x in latent_structure(table, params, 0))
        through = higher[0] @ (M2 @ np.asarray(params.cross_effects[0])).T  # (level-3 units, q2)
        eta = eta + np.einsum("nk,nk->n", design.Z @ inner_loadings.T, through[design.level_codes(1)])
    return eta, higher


def _draw_responses(result, params, eta, rng) -> np.ndarray:
    """Responses drawn from each row's family given eta (and the fitted dispersion, scale and thresholds)."""
    from ..families.links import inverse_link_numpy

    design, spec = result.design, result.spec
    index = design.dispersion_index if design.dispersion_index is not None else np.zeros(len(eta), dtype=int)
    log_dispersion = np.asarray(params.log_dispersion)[index]
    if spec.scale_names:  # log s_i = v_i' alpha
        log_dispersion = design.scale_matrix @ np.asarray(params.scale)
    if spec.family.name == "binomial":  # P(y = 1) = F(eta / s)
        eta = eta * np.exp(-log_dispersion)
    if spec.family.name == "ordinal":  # y* = eta + s e, y = 1 + #{k: kappa_k < y*}
        from .predict import cumulative_probabilities, row_thresholds, threshold_shift

        shift = None if params.threshold_effects is None else threshold_shift(result, gamma=params.threshold_effects)
        kappa, _ = row_thresholds(spec, design, params.thresholds, len(eta), shift)
        cumulative = cumulative_probabilities(spec.family.link.name, kappa, eta[:, None],
                                              np.exp(-log_dispersion)[:, None])
        y = np.sum(rng.uniform(size=(len(eta), 1)) > cumulative, axis=1)
    elif spec.family.name == "mixed":  # each row from its own family
        y = np.empty(len(eta))
        for k, member in enumerate(spec.family.members):
            own = design.member == k
            if member.name == "ordinal":  # y* = eta + e against the row's item thresholds
                from .predict import cumulative_probabilities, row_thresholds

                kappa, _ = row_thresholds(spec, design, params.thresholds, len(eta))
                cumulative = cumulative_probabilities(member.link.name, kappa[own], eta[own][:, None], 1.0)
                y[own] = np.sum(rng.uniform(size=(int(own.sum()), 1)) > cumulative, axis=1)
                continue
            mu = inverse_link_numpy(member.link.name, eta[own])
            dispersion = np.exp(_REPORTED_POWER.get(member.name, 1) * log_dispersion[own])
            y[own] = _draw_response(member, mu, design.trials[own], dispersion, rng)
    else:
        mu = observed_probability(spec.family, inverse_link_numpy(spec.family.link.name, eta))
        dispersion = np.exp(_REPORTED_POWER.get(spec.family.name, 1) * log_dispersion)
        y = _draw_response(spec.family, mu, design.trials, dispersion, rng)
    if spec.zero_inflation_names:  # a structural zero with probability pi_i = logit^-1(w_i' gamma)
        from .zero_inflation_predict import structural_zero_probability

        pi = structural_zero_probability(result, gamma=params.zero_inflation)
        y = np.where(rng.uniform(size=len(y)) < pi, 0.0, y)
    return y


def _with_response(result, y) -> pd.DataFrame:
    """The model frame with the drawn responses written into the response column(s) (ordinal labels as the data
    had them; in wide syntax data each indicator's column, cluster-level items for every unit of their cluster)."""
    design, spec = result.design, result.spec
    frame = design.model_frame.copy()
    if spec.family.name == "ordinal" and not isinstance(spec.formula, ModelSyntax):
        original = frame[spec.formula.response]
        labels = np.asarray(spec.categories)[y]
        y = (pd.Categorical(labels, categories=list(spec.categories), ordered=True)
             if isinstance(original.dtype, pd.CategoricalDtype) else labels.astype(int))
    formula = spec.formula
    if isinstance(formula, ModelSyntax):  # wide data: write each response back to its indicator column
        item = np.argmax(design.Z, axis=1)
        own_categories = dict(spec.threshold_groups)
        for j, name in enumerate(formula.indicators):
            rows = item == j
            values = y[rows]
            if name in own_categories:  # ordinal item: category codes -> the item's own categories
                categories = list(own_categories[name])
                labels = np.asarray(categories, dtype=object)[values.astype(int)]
                if isinstance(frame[name].dtype, pd.CategoricalDtype):
                    frame.loc[design.row_index[rows], name] = labels
                    continue
                values = labels.astype(float)
            frame.loc[design.row_index[rows], name] = values
        cluster = result.options.get("cluster")
        clusters = [cluster] if isinstance(cluster, str) else list(cluster or [])
        if clusters and len(spec.levels) > 1:  # cluster-level items (one row per cluster): every unit gets it
            def measured(level):
                return {l.column for l in level.loading_list if not (l.value == 0.0 and not l.name)}

            below = measured(spec.levels[0])
            for level, column in zip(spec.levels[1:], clusters):
                own = measured(level) - below
                below |= measured(level)
                for j, name in enumerate(formula.indicators):
                    rows = item == j
                    if j in own and rows.any():
                        values = pd.Series(y[rows], index=frame.loc[design.row_index[rows], column].to_numpy())
                        frame[name] = frame[column].map(values).to_numpy()
    elif formula.cbind:
        first, second = formula.cbind
        if first not in frame:
            raise GllammError(f"Cannot simulate: the cbind() successes '{first}' is not a plain column.")
        frame[first] = y
        if second in frame:
            frame[second] = design.trials - y
    elif formula.response in frame:
        frame[formula.response] = y
    else:
        raise GllammError(f"Cannot simulate the response expression '{formula.response}'; use a plain column.")
    return frame


def _with_latent(frame, b, higher, design, spec):
    """(frame, drawn latent variables): a DataFrame per cluster, or {level: DataFrame} for nested levels
    (``higher``: the draws of the levels above the first)."""
    if not spec.levels:
        return frame
    latent = pd.DataFrame(b, index=pd.Index(design.cluster_labels, name=spec.levels[0].name),
                          columns=list(spec.levels[0].latent_names))
    if higher:
        out = {spec.levels[0].name: latent}
        for index, draws in enumerate(higher, start=1):
            level = spec.levels[index]
            out[level.name] = pd.DataFrame(draws, index=pd.Index(design.unit_labels(index), name=level.name),
                                           columns=list(level.latent_names))
        return frame, out
    return frame, latent


def refit(result, frame: pd.DataFrame, **changes):
    """Fit the same model (same options, weights, offsets) to another frame with the same rows."""
    from ..options import OPTION_NAMES

    if result.model is None:
        raise GllammError("This result does not hold the model it was fitted from (it was made by hand); fit it with "
                          "gllamm.fit to refit it.")

    options = {k: v for k, v in result.options.items() if k in OPTION_NAMES}
    if options.get("classes") is not None:  # latent classes: the same classes (and integration), from the estimates
        if options.get("method") in ("discrete", "exact"):
            options.pop("method"), options.pop("nip", None)
        options.pop("information", None)
        if result.options.get("class_target"):
            options["classes"] = {result.options["class_target"]: options["classes"]}
    if options.get("family") == "mixed":  # the mapping {response: (family, link)}
        import json

        options["family"] = {k: tuple(v) for k, v in json.loads(result.options["families"]).items()}
        options["link"] = None
    if "sensitivity" in result.options:  # a misclassified binary response: the same known error rates
        options["misclassification"] = {k: result.options[k] for k in ("sensitivity", "specificity")}
    design = result.design
    if isinstance(result.spec.formula, ModelSyntax):
        options.pop("scale_weights", None)
        options.update(weights=result.design.weights_argument, cluster_weights=result.design.cluster_weights_argument,
                       level_weights=result.design.level_weights_argument)
        options.update(_frequency_weights(result, options), **changes)
        return result.model.refit(frame, options)
    options.pop("factor_scale", None)
    options.update(weights=design.weights_argument, offset=design.offset_argument,
                   trials=design.trials if options.get("trials") is not None else None,
                   cluster_weights=design.cluster_weights_argument, top_weights=design.top_weights_argument,
                   level_weights=design.level_weights_argument)
    options.update(_frequency_weights(result, options), **changes)
    return result.model.refit(frame, options)


def _frequency_weights(result, options: dict) -> dict:
    """A fit to collapsed data refits with its counts as frequency weights (not as sampling weights)."""
    if not result.options.get("frequency_weighted"):
        return {}
    return {"frequency_weights": options.get("weights"), "weights": None}
