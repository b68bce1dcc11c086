"""Predictions with standard errors and intervals (predict(se=True), get_prediction) by the delta method.

A prediction is a smooth function m_i(theta) of the parameters: the linear predictor eta_i = x_i' beta + o_i
(+ the latent part at the EB values, held fixed, for latent="eb"), the conditional mean h(eta_i), or the marginal
(population-averaged) mean over the random effects of every level (nested or crossed), whose sum a_i'u is normal
with variance |a_i|^2:

    m_i(theta) = int h(eta_i + |a_i| t) phi(t) dt  ~=  sum_k w_k h(eta_i + sqrt(2) |a_i| t_k)   (Gauss-Hermite).

With J = d m / d theta (exact, JAX forward mode) and V the covariance of theta, se_i = sqrt(J_i V J_i').
Intervals: for linear predictors and conditional means the interval of eta (eta -+ z se(eta)) mapped through h,
which stays inside the mean's range; for marginal means m -+ z se.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import GllammError, check_level


def _check_supported(result, type: str) -> None:
    spec = result.spec
    reasons = []
    if spec.discrete_level is not None:
        reasons.append("latent class models")
    if type not in ("linear", "mean"):
        reasons.append(f"type='{type}'")
    if result.family.name not in ("gaussian", "binomial", "poisson", "gamma", "negbin", "negbin1") \
            or spec.zero_inflation_names or spec.scale_names:
        reasons.append(f"family '{result.family.name}' (or zero inflation / a modelled scale)")
    if any(level.covariate_paths or level.products or level.cross_paths or level.discrete for level in spec.levels):
        reasons.append("latent variables regressed on covariates, on each other or interacting")
    if result.design.fixed_model_spec is None:
        reasons.append("models written in model syntax")
    if reasons:
        raise GllammError("predict(se=True) and marginal_effects() are available for formula models with random "
                          "effects (any levels, nested or crossed) and mean predictions of Gaussian, binomial, "
                          f"Poisson, gamma or negative binomial responses; not for {', '.join(reasons)}. Use "
                          "result.bootstrap() for the uncertainty of other predictions.")


def _prediction_function(result, X, Z_levels, offset, type: str, latent: str, nip: int):
    """theta -> the predictions (rows,) as a JAX function. A marginal mean integrates the rows' total random part
    a_i'u (a_i = the rows' loadings on every level's standardised effects): normal with variance |a_i|^2, so
    m_i = sum_k w_k h(eta_i + sqrt(2) |a_i| t_k) by 1-dimensional Gauss-Hermite quadrature."""
    import jax.numpy as jnp

    from ..spec.latent_structure import latent_structure

    table, link = result.table_spec, result.family.link
    marginal = latent == "marginal" and bool(result.spec.levels)
    nodes, weights = np.polynomial.hermite.hermgauss(nip)
    nodes, weights = jnp.asarray(np.sqrt(2.0) * nodes), jnp.asarray(weights / np.sqrt(np.pi))

    def predictions(theta):
        params = table.unpack(theta)
        eta = jnp.asarray(X) @ params.beta + jnp.asarray(offset)
        if type == "linear":
            return eta
        if not marginal:
            return link.inverse(eta)
        variance = 0.0
        for k, Z in enumerate(Z_levels):
            loadings, _, ML = latent_structure(table, params, k)
            a = jnp.asarray(Z) @ loadings.T @ ML  # (rows, q_k)
            variance = variance + jnp.sum(a * a, axis=1)
        return link.inverse(eta[:, None] + jnp.sqrt(variance)[:, None] * nodes[None, :]) @ weights

    return predictions


def _rows(result, newdata, offset):
    """X, the rows' Z of every level, and the offset of the fitted or new rows."""
    from .predict import _design_for, _nested_rows

    design, levels = result.design, result.spec.levels
    X, Z, total_offset, _ = _design_for(result, newdata, offset)
    if len(levels) <= 1:
        return X, ([Z] if levels else []), total_offset
    if newdata is None:
        return X, list(design.Z_levels), total_offset
    if result.spec.crossed:
        raise GllammError("predict(newdata, se=True) of crossed models is not available yet; predict the fitted "
                          "rows, or use result.bootstrap().")
    return X, _nested_rows(result, newdata, offset)[1], total_offset


def prediction_frame(result, newdata, type: str, latent: str, offset, nip: int, level: float) -> pd.DataFrame:
    """Columns mean (the prediction), se, lower, upper for every row (see the module docstring)."""
    from scipy import stats
    import jax

    from .new_data import complete_rows, scatter
    from .predictions import predict

    type = {"response": "mean", "link": "linear"}.get(type, type)
    _check_supported(result, type)
    check_level(level)
    rows = None
    if newdata is not None:
        rows = np.asarray(complete_rows(result, newdata))
        newdata = newdata[rows]
    X, Z, total_offset = _rows(result, newdata, offset)
    shift = 0.0
    if latent == "eb" and result.spec.levels:  # the EB part of the linear predictor, held at its value
        shift = np.asarray(predict(result, newdata, type="linear", latent="eb", offset=offset)) - \
            (X @ result.fixed_effects.to_numpy() + total_offset)
    theta = np.asarray(result.theta, dtype=float)
    z = float(stats.norm.ppf(0.5 + level / 2))

    def with_se(kind: str):  # (predictions, their delta-method SEs)
        function = _prediction_function(result, X, Z, total_offset + shift, kind, latent, nip)
        jacobian = np.asarray(jax.jacfwd(function)(theta))
        return np.asarray(function(theta)), np.sqrt(np.clip(np.einsum("ij,jk,ik->i", jacobian, result.theta_vcov,
                                                                       jacobian), 0, None))

    value, se = with_se(type)
    if type == "mean" and not (latent == "marginal" and result.spec.levels):  # the link scale's interval through h
        linear, linear_se = with_se("linear")
        ends = np.asarray(result.family.link.inverse(np.stack([linear - z * linear_se, linear + z * linear_se])))
        lower, upper = ends.min(axis=0), ends.max(axis=0)
    else:
        lower, upper = value - z * se, value + z * se
    frame = pd.DataFrame({"mean": value, "se": se, "lower": lower, "upper": upper})
    return frame if rows is None else scatter(frame, rows)
