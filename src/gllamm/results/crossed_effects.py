"""Post-estimation of crossed random effects: conditional modes and variances (lme4's ranef and condVar),
predictions, and draws.

With u the standardised effects of every factor and h(u) = -log f(y | u) + u'u/2 (integrate/crossed.py), the
conditional modes u_hat maximise exp(-h) and the conditional covariance is H(u_hat)^-1: exactly the posterior
mean and covariance for Gaussian identity-link responses, the Laplace approximation otherwise (lme4's). Each
factor k's effects are b_kj = M_k L_k u_kj; the blocks of H^-1 of one unit come from solves H x = e (one per
effect, in batches).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import DataWarning, GllammError, warn_user


def _moments_program(table, exact: bool):
    """A jitted (theta, data) -> (u_hat split by factor, per factor the (n_k, p_k, p_k) blocks of H^-1)."""
    import jax
    import jax.numpy as jnp

    from ..crossed_objective import crossed_model
    from ..integrate.crossed import crossed_modes, factor_hessian, newton_step

    def moments(theta, data):
        model = crossed_model(table, theta, data)
        q = sum(model.sizes)
        zero = jnp.zeros(q, theta.dtype)
        u = newton_step(model, zero) if exact else crossed_modes(model, zero)  # (one step: the mode of a quadratic h)
        _, d = model.gradient_and_curvature(u)
        factored = factor_hessian(model, d)
        blocks, start = [], 0
        for n, p in zip(model.units, model.dims):
            def column(index, start=start, p=p):
                x = factored.solve(jnp.zeros(q, theta.dtype).at[start + index].set(1.0))
                return jax.lax.dynamic_slice(x, (start + (index // p) * p,), (p,))

            blocks.append(jax.lax.map(column, jnp.arange(n * p), batch_size=64).reshape(n, p, p))
            start += n * p
        return model.split(u), blocks

    return jax.jit(moments)


def crossed_empirical_bayes(result, kind: str) -> dict:
    """{factor: DataFrame of the conditional modes of its effects (one row per unit) and their SDs/correlations}."""
    from ..objective import latent_structure
    from .eb_frame import eb_frame

    if kind == "ml":
        raise GllammError("ML estimates of crossed random effects are not defined here (without the prior the "
                          "factors' effects add up in the linear predictor); use kind='mean' or 'mode'.")
    exact = result.integration.method == "exact"
    if kind == "mean" and not exact:
        warn_user("Crossed random effects: the posterior means are approximated by the conditional modes with "
                  "the inverse curvature as their covariance (the Laplace approximation; lme4's ranef and condVar).",
                  DataWarning)
    modes, blocks = _moments_program(result.table_spec, exact)(np.asarray(result.theta), result.design.data())
    params = result.table_spec.unpack(np.asarray(result.theta))
    out = {}
    for k, level in enumerate(result.spec.levels):
        ML = np.asarray(latent_structure(result.table_spec, params, k)[2])
        means = np.asarray(modes[k]) @ ML.T
        covs = np.einsum("kr,crs,ls->ckl", ML, np.asarray(blocks[k]), ML)
        out[level.name] = eb_frame(result, means, covs, k, result.design.crossed_labels[k])
    return out


def _row_parts(result, newdata):
    """(each row's fixed part eta0, per factor its loading rows A_k (rows, p_k) on the effects b_k, and its unit
    (-1: not in the fit)) for the fitted or new rows."""
    from ..design.design import _group_columns
    from ..objective import latent_structure
    from .predict import _design_for, _unit_codes

    design, spec = result.design, result.spec
    params = result.table_spec.unpack(np.asarray(result.theta))
    if newdata is None:
        eta, Z_levels, codes = design.X @ result.fixed_effects.to_numpy() + design.offset, design.Z_levels, \
            list(design.crossed_codes)
    else:
        X, Z, total_offset, _ = _design_for(result, newdata, None)
        widths = np.cumsum([0] + [Z_level.shape[1] for Z_level in design.Z_levels])
        Z_levels = [Z[:, widths[k]:widths[k + 1]] for k in range(len(spec.levels))]
        codes = [_unit_codes(newdata, _group_columns(level.name), design.crossed_labels[k])
                 for k, level in enumerate(spec.levels)]
        eta = X @ result.fixed_effects.to_numpy() + total_offset
    loadings = [np.asarray(Z_levels[k]) @ np.asarray(latent_structure(result.table_spec, params, k)[0]).T
                for k in range(len(spec.levels))]
    return eta, loadings, codes, params


def crossed_prediction(result, type: str, latent: str, nip: int, newdata=None, offset=None,
                       count_zero: bool = False) -> np.ndarray:
    """Linear predictor or mean of crossed-factor models: effects at 0, at their conditional modes (units not in
    the fit at 0), or integrated out (each row's random part a_i'u is N(0, sum_k |L_k' M_k' A_ik|^2): one
    Gauss-Hermite rule in that direction is exact)."""
    from ..integrate import product_rule
    from ..objective import latent_structure
    from .predict import _category_probabilities, _mean

    if offset is not None and newdata is not None:
        raise GllammError("offset= for new data of a crossed model: put offset() in the formula instead.")
    eta, loadings, codes, params = _row_parts(result, newdata)
    if latent == "eb":
        effects = crossed_empirical_bayes(result, "mode")
        for k, level in enumerate(result.spec.levels):
            values = effects[level.name].iloc[:, : level.dim].to_numpy()
            known = codes[k] >= 0
            eta = eta + np.where(known, np.einsum("nk,nk->n", loadings[k], values[np.where(known, codes[k], 0)]), 0)
    if type == "linear":
        return eta
    ordinal = result.family.name == "ordinal"
    if latent != "marginal":
        return _category_probabilities(result, eta, newdata=newdata) if ordinal else \
            _mean(result, eta, 0.0, count_zero=count_zero)
    spread = np.sqrt(sum(np.sum((loadings[k] @ np.asarray(latent_structure(result.table_spec, params, k)[2])) ** 2,
                                axis=1) for k in range(len(loadings))))
    nodes, log_w = product_rule(nip, 1)
    weights = np.exp(log_w) / np.sqrt(np.pi)
    at_nodes = eta[:, None] + spread[:, None] * np.sqrt(2.0) * nodes[:, 0][None, :]
    if ordinal:
        return _category_probabilities(result, at_nodes, weights, 0.0, newdata)
    return _mean(result, at_nodes, np.zeros(len(eta)), count_zero=count_zero) @ weights


def crossed_draws(result, params, rng) -> tuple[np.ndarray, dict]:
    """(eta with every factor's effects drawn, {factor: DataFrame of the draws b_kj = M_k L_k u_kj})."""
    from ..objective import latent_structure

    codes = result.design.crossed_codes
    eta = result.design.X @ np.asarray(params.beta) + result.design.offset
    draws = {}
    for k, level in enumerate(result.spec.levels):
        Lambda, _, ML = (np.asarray(x) for x in latent_structure(result.table_spec, params, k))
        labels = result.design.crossed_labels[k]
        b = rng.standard_normal((len(labels), level.dim)) @ ML.T
        eta = eta + np.einsum("nk,nk->n", np.asarray(result.design.Z_levels[k]) @ Lambda.T, b[codes[k]])
        draws[level.name] = pd.DataFrame(b, index=pd.Index(labels, name=level.name), columns=list(level.latent_names))
    return eta, draws
