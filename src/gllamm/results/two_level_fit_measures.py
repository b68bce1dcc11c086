"""Fit measures of two-level SEMs with continuous indicators, as lavaan reports them for ``sem(..., cluster=)``.

Unit i of cluster j (n_j units; N units and J clusters in all) has p indicators y_ij = mu + b_j + w_ij with
b_j ~ N(0, Sigma_B) and w_ij ~ N(0, Sigma_W). Cluster j's responses then have the log-likelihood

    l_j = -(n_j p / 2) log 2 pi - (p / 2) log n_j - ((n_j - 1) / 2) log|Sigma_W| - tr(Sigma_W^-1 S_j) / 2
          - log|V_j| / 2 - (ybar_j - mu)' V_j^-1 (ybar_j - mu) / 2,    V_j = Sigma_B + Sigma_W / n_j,

with S_j the cluster's within cross-products about its mean ybar_j. The unrestricted (saturated) model has mu,
Sigma_W and Sigma_B free (p + p(p+1) parameters), the baseline model the same with both matrices diagonal
(variables uncorrelated at both levels: 3p parameters, so baseline.df = p(p-1)); both are fitted here by ML
(Newton's method with exact derivatives); with missing responses by ML on the observed responses
(``two_level_missing``; lavaan's ``missing="ml"``), units without any observed response left out. With l the
model's log-likelihood and k its free parameters:

    chisq = 2 (l_sat - l),  df = p + p(p+1) - k,  CFI, TLI as for one level, RMSEA with N the number of units,
    srmr_within  = sqrt(mean over i <= j of (r(S_W)_ij - r(Sigma_W,model)_ij)^2),   r(.) the correlations,
    srmr_between = the same of the between matrices,   srmr = srmr_within + srmr_between  (lavaan's definitions),

the model's between matrix made positive definite first as lavaan does (eigenvalues below 1e-6 times the
largest raised to it). The model-implied matrices are Sigma_W = A_1 A_1' + Theta and Sigma_B = A_2 A_2', A_l the
loadings of the standardised disturbances at level l (the GLLAMM form: no residual variances between clusters).
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from scipy import optimize

NAMES = ("npar", "chisq", "df", "pvalue", "baseline.chisq", "baseline.df", "baseline.pvalue", "cfi", "tli", "logl",
         "unrestricted.logl", "aic", "bic", "ntotal", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "rmsea.pvalue",
         "srmr", "srmr_within", "srmr_between")


def is_two_level_sem(result) -> bool:
    """A model written in syntax with two levels of continuous latent variables (within units, between clusters)."""
    spec = result.spec
    return hasattr(spec.formula, "text") and len(spec.levels) == 2 and spec.discrete_level is None \
        and result.options.get("group") is None


def two_level_reason(result) -> str | None:
    """Why the two-level fit measures do not apply to this two-level fit (None when they do)."""
    from .fit_measures import NO_SATURATED_MODEL, has_covariates, indicator_data_reason

    spec = result.spec
    if not spec.family.exact_gaussian:
        return NO_SATURATED_MODEL
    if has_covariates(spec):
        return "fit measures of two-level models with covariates are not available yet"
    return indicator_data_reason(result, (result.options.get("cluster"),))


def two_level_fit_measures(result) -> pd.Series:
    """lavaan's fit measures of a two-level SEM (see the module docstring)."""
    from .fit_measures import _chi_square_measures, _rmsea

    reason = two_level_reason(result)
    if reason is not None:
        series = pd.Series(np.nan, index=list(NAMES), name="fit measures")
        series.attrs["note"] = reason
        return series
    indicators = result.design.response_name.split(", ")
    frame = result.design.model_frame
    Y = frame[indicators].to_numpy(dtype=float)
    cluster = frame[result.options["cluster"]].to_numpy()
    keep = ~np.isnan(Y).all(axis=1)  # units without an observed response carry no information (lavaan's ntotal)
    Y, cluster = Y[keep], cluster[keep]
    if np.isnan(Y).any():
        from .two_level_missing import unrestricted_two_level_missing as unrestricted
    else:
        unrestricted = unrestricted_two_level
    _, S_within, S_between, saturated = unrestricted(Y, cluster)
    baseline = sum(unrestricted_two_level(column[~np.isnan(column)][:, None], cluster[~np.isnan(column)])[3]
                   for column in Y.T)  # (variables independent at both levels: each on its observed units)
    N, p = Y.shape
    values = _chi_square_measures(result, saturated, baseline, p, N, saturated_params=p + p * (p + 1),
                                  baseline_df=p * (p - 1))
    values.update(_rmsea(values["chisq"], values["df"], N))
    within, between = implied_two_level(result, indicators)
    values["srmr_within"] = _correlation_rmr(S_within, within)
    values["srmr_between"] = _correlation_rmr(S_between, _force_positive_definite(between))
    values["srmr"] = values["srmr_within"] + values["srmr_between"]
    return pd.Series({name: float(values[name]) for name in NAMES}, name="fit measures")


def implied_two_level(result, indicators: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(Sigma_W, Sigma_B) of the indicators implied by the model: A_1 A_1' + Theta and A_2 A_2'."""
    from ..objective import latent_structure

    table = result.table_spec
    params = table.unpack(np.asarray(result.theta))
    matrices = []
    for k in range(2):
        loadings, _, ML = (np.asarray(x) for x in latent_structure(table, params, k))
        A = loadings.T @ ML
        matrices.append(A @ A.T)
    residual = np.exp(2 * np.asarray(params.log_dispersion))
    theta = [residual[list(result.spec.dispersions).index(f"{name}~~{name}")] for name in indicators]
    return matrices[0] + np.diag(theta), matrices[1]


def _correlation_rmr(observed: np.ndarray, implied: np.ndarray) -> float:
    """sqrt(mean over i <= j of (r_obs - r_implied)^2), correlations from the two covariance matrices."""
    def correlations(matrix):
        sd = np.sqrt(np.diag(matrix))
        return matrix / np.outer(sd, sd)

    lower = np.tril_indices(observed.shape[0])
    return float(np.sqrt(np.mean((correlations(observed) - correlations(implied))[lower] ** 2)))


def _force_positive_definite(matrix: np.ndarray, tol: float = 1e-6) -> np.ndarray:
    """Eigenvalues below tol times the largest raised to it (lavaan's lav_matrix_symmetric_force_pd)."""
    if matrix.shape[0] == 1:
        return np.maximum(matrix, tol)
    values, vectors = np.linalg.eigh(matrix)
    largest = abs(values[-1])
    values = np.where(values / largest < tol, tol * largest, values)
    return (vectors * values) @ vectors.T


def _cluster_statistics(Y: np.ndarray, cluster: np.ndarray) -> dict:
    """Sufficient statistics: pooled within cross-products, and per distinct cluster size s the number of clusters
    J_s, the sum of their means b_s and of their mean cross-products A_s."""
    codes, cluster_index = np.unique(cluster, return_inverse=True)
    counts = np.bincount(cluster_index)
    means = np.zeros((len(codes), Y.shape[1]))
    np.add.at(means, cluster_index, Y)
    means /= counts[:, None]
    centred = Y - means[cluster_index]
    sizes, size_index = np.unique(counts, return_inverse=True)
    first = np.zeros((len(sizes), Y.shape[1]))
    np.add.at(first, size_index, means)
    second = np.zeros((len(sizes), Y.shape[1], Y.shape[1]))
    np.add.at(second, size_index, np.einsum("jp,jq->jpq", means, means))
    return {"within": centred.T @ centred, "sizes": sizes.astype(float), "clusters": np.bincount(size_index).astype(float),
            "first": first, "second": second, "N": float(len(Y)), "J": float(len(codes)),
            "log_sizes": float(np.sum(np.log(counts))), "means": means, "counts": counts}


def _unpack(z, p: int):
    """z -> (mu, Sigma_W, Sigma_B): Cholesky factors, the within one with log diagonal."""
    import jax.numpy as jnp

    rows, cols = jnp.tril_indices(p)
    m = p * (p + 1) // 2
    mu = z[:p]
    L_W = jnp.zeros((p, p)).at[rows, cols].set(z[p:p + m])
    L_W = L_W - jnp.diag(jnp.diag(L_W)) + jnp.diag(jnp.exp(jnp.diag(L_W)))
    L_B = jnp.zeros((p, p)).at[rows, cols].set(z[p + m:])
    return mu, L_W @ L_W.T, L_B @ L_B.T


def _negative_loglik(z, statistics, p: int):
    """-sum_j l_j of the module docstring, from the cluster statistics."""
    import jax.numpy as jnp

    from ..integrate.small_linalg import inverse_and_log_det_spd

    mu, W, B = _unpack(z, p)
    s = statistics
    value = -0.5 * s["N"] * p * jnp.log(2 * jnp.pi) - 0.5 * p * s["log_sizes"]
    value = value - 0.5 * (s["N"] - s["J"]) * jnp.linalg.slogdet(W)[1] - 0.5 * jnp.trace(jnp.linalg.solve(W, s["within"]))
    V = B[None] + W[None] / s["sizes"][:, None, None]
    cross = s["second"] - jnp.einsum("sp,q->spq", s["first"], mu) - jnp.einsum("p,sq->spq", mu, s["first"]) \
        + s["clusters"][:, None, None] * jnp.outer(mu, mu)[None]
    V_inverse, V_log_det = inverse_and_log_det_spd(V)  # (one per cluster size; no batched LAPACK call)
    value = value - 0.5 * jnp.sum(s["clusters"] * V_log_det)
    value = value - 0.5 * jnp.sum(jnp.einsum("spq,sqp->s", V_inverse, cross))
    return -value


def _start(statistics: dict, p: int) -> np.ndarray:
    """Moment estimates: mu the mean of the cluster means, Sigma_W the pooled within covariance, Sigma_B the
    covariance of the cluster means less Sigma_W / (mean size), made positive definite."""
    s = statistics
    within = s["within"] / (s["N"] - s["J"])
    means = s["means"]
    between = np.cov(means.T, bias=True).reshape(p, p) - within / s["counts"].mean()
    values, vectors = np.linalg.eigh(between)
    between = (vectors * np.maximum(values, 0.05 * np.diag(within).min())) @ vectors.T
    L_W, L_B = np.linalg.cholesky(within), np.linalg.cholesky(between)
    rows, cols = np.tril_indices(p)
    L_W[np.diag_indices(p)] = np.log(np.diag(L_W))
    return np.concatenate([means.mean(axis=0), L_W[rows, cols], L_B[rows, cols]])


@functools.cache
def _programs():
    """The jitted value-and-gradient and Hessian of the negative log-likelihood (made once per process)."""
    import jax

    return (jax.jit(jax.value_and_grad(_negative_loglik), static_argnums=2),
            jax.jit(jax.hessian(_negative_loglik), static_argnums=2))


def unrestricted_two_level(Y: np.ndarray, cluster: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(mu, Sigma_W, Sigma_B, log-likelihood) of the unrestricted two-level normal model fitted by ML (Newton's
    method with a trust region on exact derivatives; lavaan's h1 of a two-level model)."""
    p = Y.shape[1]
    full = _cluster_statistics(Y, cluster)
    statistics = {k: v for k, v in full.items() if k not in ("means", "counts")}
    value_and_grad, hessian = _programs()
    solution = optimize.minimize(lambda z: [np.asarray(x) for x in value_and_grad(z, statistics, p)],
                                 _start(full, p), jac=True, hess=lambda z: np.asarray(hessian(z, statistics, p)),
                                 method="trust-exact", options={"gtol": 1e-8, "maxiter": 500})
    mu, W, B = (np.asarray(x) for x in _unpack(solution.x, p))
    return mu, W, B, -float(solution.fun)
