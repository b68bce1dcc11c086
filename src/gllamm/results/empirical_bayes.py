"""Empirical Bayes prediction of the latent variables.

With eta_j = M (Gamma w_j + L u_j), M = (I - B)^{-1} (b_j = L u_j for random effects) and the posterior p(u_j | y_j) proportional to
prod_i f(y_ij | u_j) phi(u_j) at the estimates:

* kind="mean": posterior means E(b_j | y_j) = L E(u_j | y_j) and posterior
  covariances L Cov(u_j | y_j) L', by the fit's (adaptive) quadrature;
* kind="mode": posterior modes L u_j* with the curvature-based covariance
  L (-H_j)^{-1} L' (lme4's conditional modes and conditional variances);
* kind="ml": maximum likelihood estimates of each cluster's effects, maximising
  prod_i f(y_ij | b_j) alone (no prior), with SEs from its curvature (seed: "Assigning values").

For Gaussian responses with identity link the two coincide and are exact.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


from ..errors import DataWarning, GllammError, check_choice, warn_user
from .eb_frame import eb_frame as _frame


def empirical_bayes(result, kind: str = "mean") -> pd.DataFrame:
    """Posterior means (or modes) and SDs (and correlations) of the latent variables, one row per cluster."""
    kind = check_choice("kind", kind, ("mean", "mode", "ml"))
    if result.spec.discrete_level is not None:
        return _discrete(result, kind)
    if result.spec.crossed:
        from .crossed_effects import crossed_empirical_bayes

        return crossed_empirical_bayes(result, kind)
    if len(result.spec.levels) >= 2:
        return _nested(result, kind)
    objective, data, modes = result._evaluation()
    if kind == "ml":
        from ..integrate.shared_gaussian import ZERO_DISPERSION

        if ZERO_DISPERSION in data:
            raise GllammError("kind='ml' (the latent values maximising the responses' likelihood alone) is not "
                              "available with a response without error (a residual variance fixed at 0), which fixes "
                              "them where observed; use kind='mean' or 'mode'.")
        means, covs = (np.array(x) for x in objective.conditional_ml(result.theta, data, np.zeros_like(modes)))
        sds = np.sqrt(np.abs(np.diagonal(covs, axis1=1, axis2=2)))
        scale = np.nanmedian(sds, axis=0)
        bad = ~np.all(np.isfinite(means), axis=1) | np.any(sds > 1e3 * np.maximum(scale, 1e-300), axis=1)
        if bad.any():
            warn_user(f"The maximum likelihood estimate does not exist (it is infinite) for {int(bad.sum())} "
                      f"clusters, e.g. all responses equal; they are reported as NaN.", DataWarning)
            means[bad], covs[bad] = np.nan, np.nan
        return _frame(result, means, covs)
    if result.spec.levels[0].products:  # latent interactions: eta is not linear in u
        return _frame(result, *_interaction_moments(result, objective, data, modes, kind))
    function = objective.posterior if kind == "mean" else objective.posterior_modes
    u_mean, u_cov = (np.asarray(x) for x in function(result.theta, data, modes))
    from ..objective import latent_structure

    params = result.table_spec.unpack(np.asarray(result.theta))
    _, M, ML = (np.asarray(x) for x in latent_structure(result.table_spec, params))
    means = u_mean @ ML.T
    if result.spec.levels[0].covariate_paths:
        means = means + np.asarray(data["w"]) @ (M @ np.asarray(params.covariate_effects[0])).T
    covs = np.einsum("kr,crs,ls->ckl", ML, u_cov, ML)
    return _frame(result, means, covs)


def _interaction_moments(result, objective, data, modes, kind: str):
    """EB of latent variables with interactions: posterior means and covariances of eta by quadrature
    (kind="mean"), or eta at the posterior mode of u with the delta-method covariance J (-H)^{-1} J'."""
    import jax

    from ..objective import latent_values

    if kind == "mean":
        return tuple(np.asarray(x) for x in objective.latent_posterior(result.theta, data, modes))
    table = result.table_spec
    params = table.unpack(np.asarray(result.theta))
    u_mode, u_cov = objective.posterior_modes(result.theta, data, modes)

    def eta(u, w):
        return latent_values(table, params, u, w)

    means = jax.vmap(eta)(u_mode, data["w"])
    jacobian = jax.vmap(jax.jacfwd(eta))(u_mode, data["w"])
    jacobian, u_cov = np.asarray(jacobian), np.asarray(u_cov)
    return np.asarray(means), np.einsum("ckq,cqr,clr->ckl", jacobian, u_cov, jacobian)


def _nested(result, kind: str) -> dict:
    """EB means (or joint modes) and SDs at every level of a model with nested levels.

    kind="mean": posterior means and SDs by the nested adaptive quadrature; kind="mode" (and every
    Laplace fit): the joint posterior mode of each top-level unit's effects with SDs from the inverse
    joint curvature (lme4's conditional modes and conditional variances)."""
    from ..errors import GllammError
    from ..objective import latent_structure, level_key

    if kind == "ml":
        raise GllammError("For nested levels, empirical Bayes predictions are posterior means (kind='mean') or "
                          "joint posterior modes (kind='mode'); ML estimates of nested effects are not defined here: "
                          "without the prior a unit's effect and its cluster's effect add up in the linear "
                          "predictor and cannot be told apart.")
    objective, data, state = result._evaluation(nested_ok=True)
    if kind == "mode" and not result.integration.joint_mode:  # joint modes, curvature-based SDs (lme4's)
        from ..objective_programs import make_objective
        from ..integrate import Integration

        laplace = make_objective(result.table_spec, Integration("laplace", 1))
        start = laplace.mode_start(data)
        state = laplace.modes(result.theta, data, start)
        objective = laplace
    moments = [tuple(np.asarray(x) for x in level)
               for level in objective.nested_posterior(result.theta, data, state)]  # level 2 first
    params = result.table_spec.unpack(np.asarray(result.theta))
    spec, out, above = result.spec, {}, None
    for index in reversed(range(len(moments))):  # top level first: E(eta_l | y) needs E(eta_l+1 | y)
        mean, cov = moments[index]
        _, M, ML = (np.asarray(x) for x in latent_structure(result.table_spec, params, index))
        level = spec.levels[index]
        means = mean @ ML.T  # E(eta_l | y) = M_l (Gamma_l w_l + B_l,l+1 E(eta_l+1 | y) + L_l E(u_l | y))
        if level.covariate_paths:
            w = data["w"] if index == 0 else data[level_key("w_outer", index)]
            means = means + np.asarray(w) @ (M @ np.asarray(params.covariate_effects[index])).T
        if level.cross_paths:  # + M_l B_l,l+1 E(eta_l+1 | y) of the unit's cluster
            parent = np.asarray(data[level_key("parent", index + 1)])
            means = means + (above @ (M @ np.asarray(params.cross_effects[index])).T)[parent]
        out[level.name] = _frame(result, means, np.einsum("kr,crs,ls->ckl", ML, cov, ML), index,
                                 result.design.unit_labels(index))
        above = means
    return dict(reversed(out.items()))


def _discrete(result, kind: str) -> pd.DataFrame:
    """Latent classes: posterior means sum_c P(c | y_j) e_c and covariances of the locations."""
    from ..errors import GllammError
    from .latent_classes import posterior_class_probabilities

    if kind != "mean":
        raise GllammError("With latent classes the empirical Bayes prediction is the posterior mean (kind='mean'); "
                          "see class_probabilities() and modal_class() for the classes themselves.")
    if result.integration.within_classes and result.spec.discrete_index == 1:
        return _within_classes(result)
    p = posterior_class_probabilities(result).to_numpy()
    E = np.asarray(result.table_spec.unpack(np.asarray(result.theta)).locations[0])
    means = p @ E
    centred = E[None, :, :] - means[:, None, :]
    covs = np.einsum("jc,jck,jcl->jkl", p, centred, centred)
    if len(result.spec.levels) == 1:
        return _frame(result, means, covs)
    return {result.spec.levels[0].name: _frame(result, means, covs), result.spec.levels[1].name: _outer(result)}


def _outer(result) -> pd.DataFrame:
    """Classes of level-2 units inside a normal top level: EB means and SDs of the top-level latent variables."""
    from ..objective import latent_structure

    objective, data, modes = result._evaluation(nested_ok=True)
    u_mean, u_cov = (np.asarray(x) for x in objective.outer_posterior(result.theta, data, modes))
    params = result.table_spec.unpack(np.asarray(result.theta))
    _, M, ML = (np.asarray(x) for x in latent_structure(result.table_spec, params, 1))
    means = u_mean @ ML.T
    if result.spec.levels[1].covariate_paths:
        means = means + np.asarray(data["w_outer"]) @ (M @ np.asarray(params.covariate_effects[1])).T
    return _frame(result, means, np.einsum("kr,crs,ls->ckl", ML, u_cov, ML), 1, result.design.top_labels)


def _within_classes(result) -> pd.DataFrame:
    """Continuous latent variables within latent classes: posterior means and SDs averaged over the classes
    (the classes themselves: class_probabilities())."""
    from ..objective import latent_structure

    objective, data, modes = result._evaluation(nested_ok=True)
    u_mean, u_cov = (np.asarray(x) for x in objective.within_class_posterior(result.theta, data, modes))
    params = result.table_spec.unpack(np.asarray(result.theta))
    _, M, ML = (np.asarray(x) for x in latent_structure(result.table_spec, params))
    means = u_mean @ ML.T
    if result.spec.levels[0].covariate_paths:
        means = means + np.asarray(data["w"]) @ (M @ np.asarray(params.covariate_effects[0])).T
    return _frame(result, means, np.einsum("kr,crs,ls->ckl", ML, u_cov, ML))
