"""ModelSpec + integration strategy -> pure log-likelihood functions of (theta, data, modes).

    log L(theta) = sum_c  w_c * log int prod_i f(y_ci | eta_ci)^{w_ci} phi(u) du
    eta_ci       = x_ci' beta + offset_ci + z_ci' L u

``data`` is the Design's pytree of arrays; it is always an argument of the
jitted functions, never closed over, so one compilation serves every
iteration (and, through JAX's persistent cache, later processes). ``modes``
are the per-cluster modes of the integrand at theta, from ``Objective.modes``.
"""

from __future__ import annotations

from dataclasses import replace

import jax
import jax.numpy as jnp

from .crossed_objective import crossed_model, crossed_objective_loglik
from .integrate.crossed import crossed_modes
from .integrate.discrete import class_log_probabilities, class_posterior, discrete_log_integrals
from .integrate.nested_laplace import joint_modes, nested_laplace
from .integrate.nested import (UpperLevel, inner_model, nested_adaptation, nested_class_posterior,
                               nested_log_integrals, outer_log_values)
from .integrate import (
    ClusterModel,
    Integration,
    find_modes,
    log_cluster_integrals,
    posterior_moments,
    posterior_nodes,
)
from .integrate.exact_conditioning import condition_on_exact_rows
from .integrate.two_level_gaussian import TWO_LEVEL_GAUSSIAN, two_level_log_integrals
from .integrate.padded_rules import RULE_LOG_WEIGHTS, RULE_NODES
from .integrate.shared_gaussian import (CONDITION_ON_EXACT, PATTERN_CHUNK, PATTERN_SCATTER, ROW_PATTERN,
                                       shared_log_integrals)
from .row_functions import row_dispersion, row_functions
from .spec import ParameterTable
from .spec.latent_structure import interaction_coefficients, latent_structure, latent_values  # noqa: F401


def cluster_model(table: ParameterTable, theta, data, standardized: bool = True) -> ClusterModel:
    """The integrand g_c(u) of every cluster at parameters theta.

    With standardized=False the latent coordinates are eta itself (not u with eta = M(Gamma w + L u)). With rows
    without error under a quadrature (``CONDITION_ON_EXACT``) the coordinates are v of u = m_c + P_c v, given them.
    """
    params = table.unpack(theta)
    eta0 = jnp.einsum("pcm,p->cm", data["X"], params.beta) + data["offset"]
    log_dispersion, exact_rows = row_dispersion(table, params, data)
    row_kernel, row_derivatives = row_functions(table, params, data, log_dispersion)
    eta0, loadings, quadratic = _first_level_loadings(table, params, data, eta0, standardized)
    n_units = data["parent"].shape[0] if "parent" in data else data["cluster_weight"].shape[0]
    model = ClusterModel(row_kernel, row_derivatives, eta0, data["weight"], loadings, data["chunk_cluster"], n_units,
                         set_size=table.spec.set_size, quadratic=quadratic, exact_rows=exact_rows)
    return condition_on_exact_rows(model) if CONDITION_ON_EXACT in data and standardized else model


def _first_level_loadings(table, params, data, eta0, standardized: bool):
    """(eta0 shifted by M Gamma w, each row's loadings on the standardised u (on eta with standardized=False, on the
    class locations for a discrete level), the coefficients of latent interactions or None)."""
    quadratic = None
    if table.spec.levels and table.spec.levels[0].discrete:  # latent coordinates are the class locations
        loadings = jnp.einsum("rcm,kr->kcm", data["Z"], params.loadings[0])
    elif table.spec.levels:
        level = table.spec.levels[0]
        loadings_matrix, M, ML = latent_structure(table, params)
        weighted_z = jnp.einsum("rcm,kr->kcm", data["Z"], loadings_matrix)  # sum_r z_r lambda_kr per latent k
        if level.covariate_paths and standardized:
            shift = data["w"] @ (M @ params.covariate_effects[0]).T  # (clusters, q): M Gamma w_c
            eta0 = eta0 + jnp.einsum("kcm,ck->cm", weighted_z, shift[data["chunk_cluster"]])
        loadings = jnp.einsum("kcm,kl->lcm", weighted_z, ML) if standardized else weighted_z
        if level.products and standardized:
            quadratic = interaction_coefficients(level, params, data, weighted_z, M)
    else:
        loadings = jnp.zeros((0,) + eta0.shape)
    return eta0, loadings, quadratic


def level_key(name: str, index: int) -> str:
    """Design array of latent level ``index`` >= 1: ``Z_outer``/``parent`` for the first level above level 2,
    ``Z_outer2``/``parent2`` for the next, and so on."""
    return name if index == 1 else f"{name}{index}"


def level_reaches(table: ParameterTable, params, data):
    """Each row's loadings on the latent variables eta_l of every level (q_l, chunks, W), level 2 first.

    With eta_l = M_l (Gamma_l w_l + B_l,l+1 eta_l+1 + L_l u_l), a row loading zl_l = Lambda_l' z_l on eta_l
    directly also reaches eta_l+1 through the levels below: r_0 = zl_0, r_l = zl_l + r_l-1 M_l-1 B_l-1,l.
    """
    levels = table.spec.levels
    reaches = [jnp.einsum("rcm,kr->kcm", data["Z"], params.loadings[0])]
    for index in range(1, len(levels)):
        reach = jnp.einsum("rcm,kr->kcm", data[level_key("Z_outer", index)], params.loadings[index])
        if levels[index - 1].cross_paths:
            _, M_below, _ = latent_structure(table, params, index - 1)
            reach = reach + jnp.einsum("kcm,kl->lcm", reaches[-1], M_below @ params.cross_effects[index - 1])
        reaches.append(reach)
    return reaches


def chunk_units(data, index: int):
    """The unit of latent level ``index`` of every row chunk, through the parent pointers."""
    unit = data["chunk_cluster"]
    for level in range(1, index + 1):
        unit = data[level_key("parent", level)][unit]
    return unit


def _nested_parts(table, theta, data):
    """(level-2 integrands, the levels above as ``UpperLevel``s, innermost first).

    A row's loadings on the standardised u_l of level l >= 1 are r_l M_l L_l (``level_reaches``: a unit-level
    factor regressed on a cluster-level one carries the cluster-level disturbance to the unit's rows), and
    the covariate effects of those levels shift its linear predictor by sum_l r_l M_l Gamma_l w_l (w_l:
    ``w_outer`` for the third level, ``w_outer2``... above it, one row per unit of the level).
    """
    params = table.unpack(theta)
    base = cluster_model(table, theta, data)
    reaches = level_reaches(table, params, data)
    uppers, shift = [], 0.0
    for index in range(1, len(table.spec.levels)):
        _, M, ML = latent_structure(table, params, index)
        if table.spec.levels[index].covariate_paths:
            effects = data[level_key("w_outer", index)] @ (M @ params.covariate_effects[index]).T  # (units, q)
            shift = shift + jnp.einsum("kcm,ck->cm", reaches[index], effects[chunk_units(data, index)])
        above = level_key("parent", index + 1)
        n_units = data[above].shape[0] if above in data else data["cluster_weight"].shape[0]
        uppers.append(UpperLevel(jnp.einsum("kcm,kl->lcm", reaches[index], ML), data[level_key("parent", index)],
                                 n_units, data.get(f"unit_weight{index}")))
    return replace(base, eta0=base.eta0 + shift), tuple(uppers)


def _inner_classes(table, theta, data):
    """(locations, log pi, allowed) when the level-2 latent variables are discrete (classes), else None."""
    if not table.spec.levels[0].discrete:
        return None
    params = table.unpack(theta)
    log_pi = class_log_probabilities(params.class_logits, data["class_covariates"])
    return params.locations[0], log_pi, data["class_allowed"]


def _discrete_parts(table: ParameterTable, theta, data):
    """(cluster model, locations (C, q), log pi (clusters, C)) of a model with latent classes."""
    params = table.unpack(theta)
    log_pi = class_log_probabilities(params.class_logits, data["class_covariates"])
    return cluster_model(table, theta, data), params.locations[0], log_pi


def _within_class_model(table: ParameterTable, theta, data):
    """Continuous latent variables (level 0) within latent classes (level 1): the level-0 integrands of
    every (unit, class) pair, with the class's locations added to the linear predictor.

    Returns (inner model with virtual units c * U + u, parent, number of top units, log pi (top, C),
    the level-0 model of the rows).
    """
    params = table.unpack(theta)
    base = cluster_model(table, theta, data)
    outer = jnp.einsum("rcm,kr->kcm", data["Z_outer"], params.loadings[1])  # rows' loadings on the class locations
    parent, n_top = data["parent"], data["cluster_weight"].shape[0]
    locations = params.locations[1]
    u_classes = jnp.broadcast_to(locations[None], (n_top,) + locations.shape)
    log_pi = class_log_probabilities(params.class_logits, data["class_covariates"])
    return inner_model(base, outer, parent, u_classes), parent, n_top, log_pi, base


def _within_class_terms(parts, integration, data, modes, newton_steps):
    """log pi_kc + log L_k(c) per top unit and class (top, C) from the parts of ``_within_class_model``;
    -inf for classes a unit cannot have."""
    inner, parent, n_top, log_pi, _ = parts
    values = outer_log_values(inner, integration.inner, jax.lax.stop_gradient(modes), parent, n_top,
                              integration.classes, newton_steps)
    return jnp.where(data["class_allowed"], log_pi + values, -jnp.inf)


def within_class_posterior(table: ParameterTable, integration: Integration, theta, data, modes):
    """Posterior means (U, q) and covariances (U, q, q) of the standardised continuous latent variables of a
    model with classes: E(u | y) = sum_c P(c | y) E(u | y, c), and likewise for second moments."""
    parts = _within_class_model(table, theta, data)
    inner, parent, _, _, base = parts
    terms = _within_class_terms(parts, integration, data, modes, 0)
    p = jnp.exp(terms - jax.scipy.special.logsumexp(terms, axis=-1, keepdims=True))  # (top, C)
    mean, cov = posterior_moments(inner, integration.inner, modes)
    C, U = integration.classes, base.n_clusters
    mean, cov = mean.reshape(C, U, -1), cov.reshape((C, U) + cov.shape[1:])
    weights = p[parent].T  # (C, U)
    m = jnp.einsum("cu,cuk->uk", weights, mean)
    second = jnp.einsum("cu,cukl->ukl", weights, cov + mean[..., :, None] * mean[..., None, :])
    return m, second - m[:, :, None] * m[:, None, :]


def latent_posterior(table: ParameterTable, integration: Integration, theta, data, modes):
    """Posterior means (clusters, q) and covariances (clusters, q, q) of the latent variables eta themselves,
    by the fit's quadrature nodes: exact for latent interactions, where eta is not linear in u."""
    model = cluster_model(table, theta, data)
    u, weights = posterior_nodes(model, integration, modes)
    eta = latent_values(table, table.unpack(theta), model.standard(u), data["w"][:, None, :])
    mean = jnp.einsum("cn,cnk->ck", weights, eta)
    centred = eta - mean[:, None, :]
    return mean, jnp.einsum("cn,cnk,cnl->ckl", weights, centred, centred)


def class_probabilities(table: ParameterTable, integration: Integration, theta, data, modes):
    """Posterior class probabilities of every cluster (clusters, C), by Bayes' rule."""
    if integration.within_classes and table.spec.discrete_index == 1:
        terms = _within_class_terms(_within_class_model(table, theta, data), integration, data, modes, 0)
        return jnp.exp(terms - jax.scipy.special.logsumexp(terms, axis=-1, keepdims=True))
    if len(table.spec.levels) == 2:  # classes of level-2 units inside a normal level-3 effect
        return nested_class_posterior(*_nested_parts(table, theta, data), integration, modes,
                                      _inner_classes(table, theta, data), data.get("unit_weight"))[0]
    model, locations, log_pi = _discrete_parts(table, theta, data)
    return class_posterior(model, locations, log_pi, data["class_allowed"])


def outer_posterior(table: ParameterTable, integration: Integration, theta, data, modes):
    """Posterior means (U3, q3) and covariances of the standardised normal top-level latent variables u3
    of a model whose level-2 units have latent classes."""
    return nested_class_posterior(*_nested_parts(table, theta, data), integration, modes,
                                  _inner_classes(table, theta, data), data.get("unit_weight"))[1:]


def conditional_log_densities(table: ParameterTable, theta, data, points):
    """log f(y_j | eta = e) for every cluster and point e (clusters, n) with points (n, q): latent values
    plugged into the response model (the Gateaux derivative of NPML and class profiles use them)."""
    model, _, _ = _discrete_parts(table, theta, data)
    constant = model.per_cluster(jnp.sum(data["weight"] * data["constant"], axis=-1))
    u = jnp.broadcast_to(points[None], (model.n_clusters,) + points.shape)
    return model.log_density_at_nodes(u) + constant[:, None]


def cluster_logliks(table: ParameterTable, integration: Integration, theta, data, modes, newton_steps: int = 1):
    """Per-cluster marginal log-likelihood contributions (clusters,).

    newton_steps: differentiated Newton steps from the modes (2 where second derivatives are taken).
    """
    if integration.method == "discrete":
        model, locations, log_pi = _discrete_parts(table, theta, data)
        constant = model.per_cluster(jnp.sum(data["weight"] * data["constant"], axis=-1))
        return discrete_log_integrals(model, locations, log_pi, data["class_allowed"]) + constant
    if integration.within_classes and table.spec.discrete_index == 1:
        parts = _within_class_model(table, theta, data)
        _, parent, n_top, _, base = parts
        terms = _within_class_terms(parts, integration, data, modes, newton_steps)
        constant = base.per_cluster(jnp.sum(data["weight"] * data["constant"], axis=-1))
        constant = jax.ops.segment_sum(constant, parent, num_segments=n_top, indices_are_sorted=True)
        return jax.scipy.special.logsumexp(terms, axis=-1) + constant
    if table.spec.crossed:
        return crossed_objective_loglik(table, integration, theta, data, modes, newton_steps)
    if len(table.spec.levels) >= 2:
        base, uppers = _nested_parts(table, theta, data)
        constant = base.per_cluster(jnp.sum(data["weight"] * data["constant"], axis=-1))
        if "unit_weight" in data:  # level-2 sampling weights raise each unit's integral to its weight
            constant = data["unit_weight"] * constant
        for level in uppers:
            constant = jax.ops.segment_sum(constant, level.parent, num_segments=level.n_units,
                                           indices_are_sorted=True)
            if level.weight is not None:
                constant = level.weight * constant
        if TWO_LEVEL_GAUSSIAN in data:  # (the iterations' arrays of a two-level SEM on complete data)
            return two_level_log_integrals(base, uppers[0], data["y"]) + constant
        if integration.joint_mode:  # one joint mode per top-level unit (lme4's nAGQ = 1)
            return nested_laplace(base, uppers, modes, newton_steps) + constant
        return nested_log_integrals(base, uppers, integration, modes, newton_steps,
                                    _inner_classes(table, theta, data), data.get("unit_weight")) + constant
    model = cluster_model(table, theta, data)
    constant = model.per_cluster(jnp.sum(data["weight"] * data["constant"], axis=-1))
    if model.q == 0:
        values = model.per_cluster(jnp.sum(model.weight * model.row_kernel(model.eta0), axis=-1)) + constant
        if "parent" in data:  # no latent variables, nested data: sum units into top-level clusters
            values = jax.ops.segment_sum(values, data["parent"], num_segments=data["cluster_weight"].shape[0],
                                         indices_are_sorted=True)
        return values
    if integration.method == "exact" and ROW_PATTERN in data and model.quadratic is None and model.set_size == 1:
        # one covariance per pattern of rows (no modes needed)
        return shared_log_integrals(model, data["y"], data[ROW_PATTERN], data[PATTERN_CHUNK],
                                    data.get(PATTERN_SCATTER)) + constant
    rule = (data[RULE_NODES], data[RULE_LOG_WEIGHTS]) if RULE_NODES in data else None  # (a padded rule)
    return log_cluster_integrals(model, integration, modes, newton_steps, rule) + constant


def loglik(table: ParameterTable, integration: Integration, theta, data, modes, newton_steps: int = 1):
    """Total log-likelihood: sum over clusters weighted by cluster weights (the restricted log-likelihood
    with ``integration.reml``)."""
    value = jnp.sum(data["cluster_weight"] * cluster_logliks(table, integration, theta, data, modes, newton_steps))
    if integration.reml:
        value = value + reml_correction(table, integration, theta, data, modes)
    return value


def reml_correction(table: ParameterTable, integration: Integration, theta, data, modes):
    """l_R(theta) - l(theta) = (p/2) log(2 pi) - (1/2) log det(X' V^-1 X) (Patterson and Thompson; lme4's REML).

    For Gaussian identity-link responses log L is exactly quadratic in beta with Hessian -X' V^-1 X, so the
    information is the Hessian of the marginal log-likelihood in beta (forward over reverse derivatives of the same
    exact integral): no other form of V needed, at any number of levels. Maximising l + correction over beta and
    the covariance parameters together gives the REML estimates (the correction does not depend on beta, whose
    maximiser is then the GLS estimate). Columns of X that are all zero (padding of shared programs) are left out.
    """
    p = table.n_fixed
    if p == 0:
        return 0.0

    def of_beta(beta):
        t = jnp.concatenate([beta, theta[p:]])
        return jnp.sum(data["cluster_weight"] * cluster_logliks(table, integration, t, data, modes, 1))

    information = -jax.hessian(of_beta)(theta[:p])
    padding = jnp.all(data["X"] == 0, axis=(1, 2))
    information = information + jnp.diag(padding.astype(information.dtype))
    _, log_det = jnp.linalg.slogdet(information)
    return 0.5 * jnp.sum(~padding) * jnp.log(2 * jnp.pi) - 0.5 * log_det


def modes(table: ParameterTable, integration: Integration, theta, data, start):
    """Per-cluster modes of the integrand g_c(u) at theta, from ``start`` (clusters, q)."""
    theta = jax.lax.stop_gradient(theta)
    if integration.method == "discrete":  # exact sum: nothing to adapt
        return start
    if integration.within_classes and table.spec.discrete_index == 1:  # modes of the continuous latent variables of every (unit, class)
        inner = _within_class_model(table, theta, data)[0]
        return start if integration.method == "ghq" else find_modes(inner, start)
    if table.spec.crossed:
        if integration.method == "exact":  # the log-likelihood solves for the mode itself
            return start
        return crossed_modes(crossed_model(table, theta, data), start)
    if len(table.spec.levels) >= 2:
        if TWO_LEVEL_GAUSSIAN in data:  # the closed form needs no modes
            return start
        base, uppers = _nested_parts(table, theta, data)
        if integration.joint_mode:
            return joint_modes(base, uppers, start)
        return nested_adaptation(base, uppers, integration, start,
                                 discrete=_inner_classes(table, theta, data), unit_weight=data.get("unit_weight"))
    model = cluster_model(table, theta, data)
    if model.q == 0:
        return start
    return find_modes(model, start)
