"""Exact integration of Gaussian identity-link clusters that all have the same rows.

With Gaussian responses and identity link, g_c(u) = sum_i w_i log f(y_i | eta0_i + a_i'u) - |u|^2/2
is quadratic in u. Writing r_i = y_i - eta0_i, D = diag(w_i / sigma_i^2) and A = (a_1 ... a_n) (q x n),

    log int exp(g_c(u)) du - (q/2) log 2 pi = sum_i w_i log f(y_i | eta0_i) + G_c' K^{-1} G_c / 2 - log|K| / 2,
    K = I + A D A',   G_c = A D r_c,

the Laplace formula at the exact mode u_c = K^{-1} G_c. When every cluster has the same rows (the
same loadings' covariates Z, weights, residual variances: a factor model on complete data, a
repeated-measures design), A and D, hence K and its Cholesky factor, are common to all clusters:
one q x q factorisation serves them all, and only the residuals r_c differ. The general path
(``log_cluster_integrals``) instead takes a Newton step and factorises K once per cluster, which
for a 9-item, 3-factor model costs 15 times more in the Hessian.

``mark_shared_rows`` decides this once, from the design's arrays, and records it as the key
``SHARED_ROWS`` of the data (a static part of the programs' argument structure).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from . import small_linalg

SHARED_ROWS = "shared_rows"  # data key present when every cluster is one chunk with the same rows
_ROW_STRUCTURE = ("Z", "weight", "dispersion_index", "V")  # what A and D are made of besides parameters


def mark_shared_rows(arrays: dict) -> None:
    """Add ``SHARED_ROWS`` to a single-level design's arrays when every cluster is one chunk and the chunks
    agree in every array that makes A and D (Z, weights, residual variance indexes, scale covariates V)."""
    n_clusters = np.shape(arrays["cluster_weight"])[0]
    chunk_cluster = np.asarray(arrays["chunk_cluster"])
    if n_clusters < 2 or chunk_cluster.shape[0] != n_clusters or "parent" in arrays:
        return
    for key in _ROW_STRUCTURE:
        if key in arrays:
            values = np.asarray(arrays[key])
            rows = values if key in ("weight", "dispersion_index") else np.moveaxis(values, 1, 0)  # (chunks, ...)
            if not np.array_equal(rows, np.broadcast_to(rows[:1], rows.shape)):
                return
    arrays[SHARED_ROWS] = jax.device_put(np.int32(chunk_cluster.shape[0]))  # (its value: the number of clusters)


def shared_log_integrals(model) -> jnp.ndarray:
    """log L_c without the response constants (clusters,) for Gaussian identity-link clusters with common rows
    (``SHARED_ROWS``): one chunk per cluster, so rows of chunk c are cluster c's."""
    base = jnp.sum(model.weight * model.row_kernel(model.eta0), axis=-1)  # sum_i w_i log f(y_i | eta0_i)
    d1, d2 = model.row_derivatives(model.eta0)  # (y - eta0) / sigma^2, -1 / sigma^2
    a = model.loadings[:, 0, :]  # (q, width), the same for every cluster
    precision = -(model.weight * d2)[0]  # D
    K = jnp.eye(a.shape[0], dtype=a.dtype) + (a * precision) @ a.T
    root = small_linalg.cholesky(K)
    z = small_linalg.solve_lower(root, (model.weight * d1) @ a.T)  # R^{-1} G_c, (clusters, q)
    return base + 0.5 * jnp.sum(z * z, axis=-1) - jnp.sum(jnp.log(jnp.diagonal(root)))
