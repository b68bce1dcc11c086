"""The unrestricted two-level normal model on complete data (lavaan's h1 of ``sem(..., cluster=)``), fitted by ML.

Unit i of cluster j (n_j units; N units and J clusters in all) has p indicators y_ij = mu + b_j + w_ij with
b_j ~ N(0, Sigma_B) and w_ij ~ N(0, Sigma_W). Cluster j's responses then have the log-likelihood

    l_j = -(n_j p / 2) log 2 pi - (p / 2) log n_j - ((n_j - 1) / 2) log|Sigma_W| - tr(Sigma_W^-1 S_j) / 2
          - log|V_j| / 2 - (ybar_j - mu)' V_j^-1 (ybar_j - mu) / 2,    V_j = Sigma_B + Sigma_W / n_j,

with S_j the cluster's within cross-products about its mean ybar_j: a function of the pooled within cross-products
and, per distinct cluster size, of the clusters' means. mu, Sigma_W and Sigma_B are free (p + p(p+1) parameters;
Cholesky factors, the within one with log diagonal); Newton's method with a trust region on exact derivatives.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import optimize


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


def _factors(z, p: int):
    """z -> (mu, L_W, L_B): the mean and the Cholesky factors of Sigma_W (log diagonal in z) and Sigma_B."""
    import jax.numpy as jnp

    rows, cols = jnp.tril_indices(p)
    m = p * (p + 1) // 2
    L_W = jnp.zeros((p, p)).at[rows, cols].set(z[p:p + m])
    L_W = L_W - jnp.diag(jnp.diag(L_W)) + jnp.diag(jnp.exp(jnp.diag(L_W)))
    return z[:p], L_W, jnp.zeros((p, p)).at[rows, cols].set(z[p + m:])


def _unpack(z, p: int):
    """z -> (mu, Sigma_W, Sigma_B) (``_factors``)."""
    mu, L_W, L_B = _factors(z, p)
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
def _programs(function, static: tuple):
    """The jitted value-and-gradient and Hessian of ``function`` (made once per process and function)."""
    import jax

    return (jax.jit(jax.value_and_grad(function), static_argnums=static),
            jax.jit(jax.hessian(function), static_argnums=static))


def minimised(function, start: np.ndarray, *args) -> tuple[np.ndarray, float]:
    """(z, function(z, *args)) at the minimum of a negative log-likelihood of the unrestricted two-level models, by
    Newton's method with a trust region on its exact gradient and Hessian (JAX; whole-number arguments static)."""
    static = tuple(1 + i for i, a in enumerate(args) if isinstance(a, int))
    value_and_grad, hessian = _programs(function, static)
    solution = optimize.minimize(lambda z: [np.asarray(x) for x in value_and_grad(z, *args)], start, jac=True,
                                 hess=lambda z: np.asarray(hessian(z, *args)), method="trust-exact",
                                 options={"gtol": 1e-8, "maxiter": 500})
    return solution.x, float(solution.fun)


def unrestricted_two_level(Y: np.ndarray, cluster: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(mu, Sigma_W, Sigma_B, log-likelihood) of the unrestricted two-level normal model fitted by ML (Newton's
    method with a trust region on exact derivatives; lavaan's h1 of a two-level model)."""
    p = Y.shape[1]
    full = _cluster_statistics(Y, cluster)
    statistics = {k: v for k, v in full.items() if k not in ("means", "counts")}
    z, value = minimised(_negative_loglik, _start(full, p), statistics, p)
    mu, W, B = (np.asarray(x) for x in _unpack(z, p))
    return mu, W, B, -value
