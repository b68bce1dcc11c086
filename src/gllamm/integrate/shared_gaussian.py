"""Exact integration of Gaussian identity-link clusters that share their rows' pattern.

With Gaussian responses and identity link, g_c(u) = sum_i w_i log f(y_i | eta0_i + a_i'u) - |u|^2/2
is quadratic in u. Writing r_i = y_i - eta0_i, D = diag(w_i / sigma_i^2) and A = (a_1 ... a_n) (q x n),

    log int exp(g_c(u)) du - (q/2) log 2 pi = sum_i w_i log f(y_i | eta0_i) + G_c' K^{-1} G_c / 2 - log|K| / 2,
    K = I + A D A',   G_c = A D r_c,

the Laplace formula at the exact mode u_c = K^{-1} G_c. Clusters whose rows have the same pattern (the
same loadings' covariates Z, weights, residual variances: a factor model's units with the same items
observed, a repeated-measures design's subjects) have the same A and D, hence the same K and Cholesky
factor: one q x q factorisation per pattern serves all its clusters, and only the residuals r_c differ.
The general path (``log_cluster_integrals``) instead takes a Newton step and factorises K once per
cluster, which for a 9-item, 3-factor model costs 7 times more in the Hessian.

``mark_row_patterns`` finds the patterns once, from the design's arrays, when there are few of them
(at most a quarter of the clusters), and records them as the data keys ``ROW_PATTERN`` (each cluster's
pattern) and ``PATTERN_CHUNK`` (a cluster of each pattern); their presence is a static part of the
programs' argument structure.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from . import small_linalg

ROW_PATTERN = "row_pattern"  # (clusters,) the pattern of each cluster's rows
PATTERN_CHUNK = "pattern_chunk"  # (patterns,) the chunk (= cluster) that represents each pattern
PATTERN_KEYS = (ROW_PATTERN, PATTERN_CHUNK)
_ROW_STRUCTURE = ("Z", "weight", "dispersion_index", "V")  # what A and D are made of besides parameters
_MAX_PATTERN_SHARE = 0.25  # more patterns than this share of the clusters: the per-cluster path


def mark_row_patterns(arrays: dict) -> None:
    """Add ``ROW_PATTERN`` and ``PATTERN_CHUNK`` to a single-level design's arrays when every cluster is one
    chunk and the chunks fall into few patterns of the arrays that make A and D (Z, weights, residual variance
    indexes, scale covariates V)."""
    n_clusters = np.shape(arrays["cluster_weight"])[0]
    chunk_cluster = np.asarray(arrays["chunk_cluster"])
    if n_clusters < 2 or not np.array_equal(chunk_cluster, np.arange(n_clusters)) or "parent" in arrays:
        return
    columns = []
    for key in _ROW_STRUCTURE:
        if key in arrays:
            values = np.asarray(arrays[key], dtype=float)
            rows = values if key in ("weight", "dispersion_index") else np.moveaxis(values, 1, 0)  # (chunks, ...)
            columns.append(rows.reshape(n_clusters, -1))
    _, first, pattern = np.unique(np.concatenate(columns, axis=1), axis=0, return_index=True, return_inverse=True)
    if len(first) <= _MAX_PATTERN_SHARE * n_clusters:
        arrays[ROW_PATTERN] = jax.device_put(np.asarray(pattern, dtype=np.int32).reshape(-1))
        arrays[PATTERN_CHUNK] = jax.device_put(np.asarray(first, dtype=np.int32))


def shared_log_integrals(model, pattern, pattern_chunk) -> jnp.ndarray:
    """log L_c without the response constants (clusters,) for Gaussian identity-link clusters with few row
    patterns (``mark_row_patterns``): one chunk per cluster, so rows of chunk c are cluster c's."""
    base = jnp.sum(model.weight * model.row_kernel(model.eta0), axis=-1)  # sum_i w_i log f(y_i | eta0_i)
    d1, d2 = model.row_derivatives(model.eta0)  # (y - eta0) / sigma^2, -1 / sigma^2
    a = model.loadings[:, pattern_chunk, :]  # (q, patterns, width)
    precision = -(model.weight * d2)[pattern_chunk]  # D of each pattern
    K = jnp.eye(a.shape[0], dtype=a.dtype) + jnp.einsum("kpw,pw,lpw->pkl", a, precision, a)
    root = small_linalg.cholesky(K)  # (patterns, q, q)
    G = jnp.einsum("cw,kcw->ck", model.weight * d1, model.loadings)  # (clusters, q)
    z = small_linalg.solve_lower(root[pattern], G)  # R^{-1} G_c
    log_det = jnp.sum(jnp.log(jnp.diagonal(root, axis1=-2, axis2=-1)), axis=-1)  # (patterns,)
    return base + 0.5 * jnp.sum(z * z, axis=-1) - log_det[pattern]
