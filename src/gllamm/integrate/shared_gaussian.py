"""Exact integration of Gaussian identity-link clusters that share their rows' pattern.

With Gaussian responses and identity link, g_c(u) = sum_i w_i log f(y_i | eta0_i + a_i'u) - |u|^2/2
is quadratic in u. Writing r_i = y_i - eta0_i, D = diag(w_i / sigma_i^2) and A = (a_1 ... a_n) (q x n),

    log int exp(g_c(u)) du - (q/2) log 2 pi = sum_i w_i log f(y_i | eta0_i) + G_c' K^{-1} G_c / 2 - log|K| / 2,
    K = I + A D A',   G_c = A D r_c,

the Laplace formula at the exact mode u_c = K^{-1} G_c. Here the same integral is computed in its marginal
form,

    log L_c = log N(r_c; 0, Sigma) + sum_i [(1 - w_i)/2 log(2 pi sigma_i^2) - log(w_i)/2],
    Sigma = A'A + T,  T = diag(sigma_i^2 / w_i),

(lavaan's): the form above subtracts quantities of size r'Dr from each other, which for a residual variance
of 1e-8 (an indicator measured almost without error) loses every digit, while Sigma stays well conditioned and
takes a variance of exactly 0 (a degenerate normal: the indicator equals its latent part) as it is.
Clusters whose rows have the same pattern (the
same loadings' covariates Z, weights, residual variances: a factor model's units with the same items
observed, a repeated-measures design's subjects) have the same A and D, hence the same K: one q x q inverse
and log-determinant per pattern serve all its clusters (of Sigma: the same), and only the residuals r_c differ.
They come from a
loop of elimination steps (``small_linalg.inverse_and_log_det_spd``): differentiated twice, an unrolled
Cholesky factor and triangular solves made a 9-item CFA's Hessian program of 7,900 optimised instructions
instead of 4,600, which took 1.6 times as long to load.
The general path (``log_cluster_integrals``) instead takes a Newton step and factorises K once per
cluster, which for a 9-item, 3-factor model costs 7 times more in the Hessian.

``mark_row_patterns`` finds the patterns once, from the design's arrays, when there are few of them
(at most a quarter of the clusters), and records them as the data keys ``ROW_PATTERN`` (each cluster's
pattern) and ``PATTERN_CHUNK`` (a cluster of each pattern); their presence is a static part of the
programs' argument structure.

Clusters identical in everything but their responses (the same rows of covariates too: a CFA's units with
the same items observed, a balanced repeated-measures design's subjects) go further: with r_c = rbar + e_c
about their weighted mean response and sum_c w_c e_c = 0, the sum of their log L_c is

    n [log L(rbar) - tr(D S) / 2 + tr(K^{-1} A D S D A') / 2],   n = sum_c w_c,  S = sum_c w_c e_c e_c' / n,

the terms of a covariance-structure program (lavaan's sample moments). ``collapse_identical_clusters`` makes
the arrays of such a design's groups (one cluster each: the mean response, weight n, and a root F of S,
F F' = S, as ``PATTERN_SCATTER``), on which every fitting program (value, gradient, Hessian) runs at a cost
that no longer grows with the number of clusters; per-cluster results (predictions, robust standard errors)
use the design's own arrays.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..design.array_keys import ROW_KEYS_AXIS1
from . import small_linalg

ROW_PATTERN = "row_pattern"  # (clusters,) the pattern of each cluster's rows
PATTERN_CHUNK = "pattern_chunk"  # (patterns,) the chunk (= cluster) that represents each pattern
PATTERN_SCATTER = "pattern_scatter"  # (clusters, width, width) root F of the responses' mean scatter, F F' = S
PATTERN_KEYS = (ROW_PATTERN, PATTERN_CHUNK, PATTERN_SCATTER)
ZERO_DISPERSION = "zero_dispersion"  # (n_dispersions,) bool: residual variances fixed at 0 (design/exact_indicators.py)
CONDITION_ON_EXACT = "condition_on_exact_rows"  # () bool: integrate given those rows (integrate/exact_conditioning.py)
WHOLE_DESIGN_KEYS = (ZERO_DISPERSION, CONDITION_ON_EXACT)  # arrays of the whole design, not per cluster: kept as they are by collapses
_ROW_STRUCTURE = ("Z", "weight", "dispersion_index", "V")  # what A and D are made of besides parameters
_MAX_PATTERN_SHARE = 0.25  # more patterns than this share of the clusters: the per-cluster path
_OWN_PER_CLUSTER = frozenset({"y", "cluster_weight", "chunk_cluster", ROW_PATTERN, PATTERN_CHUNK})


def _chunk_axis_first(key: str, value) -> np.ndarray:
    """A design array with its chunk (here = cluster) axis first (row arrays X, Z, T, V have it second)."""
    values = np.asarray(value, dtype=float)
    return np.moveaxis(values, 1, 0) if key in ROW_KEYS_AXIS1 else values


def few_groups(columns: list, n_clusters: int, share: float = _MAX_PATTERN_SHARE):
    """(first cluster of each group, each cluster's group) of the clusters with equal rows in ``columns``
    (arrays (clusters, ...)), or None when there are more than ``share`` as many groups as clusters.
    Rows are compared as whole byte strings (5 times faster than ``np.unique(axis=0)``, which compares them
    column by column)."""
    table = np.ascontiguousarray(np.concatenate(columns, axis=1))
    rows = table.view(np.dtype((np.void, table.dtype.itemsize * table.shape[1]))).reshape(-1)
    _, first, group = np.unique(rows, return_index=True, return_inverse=True)
    return (first, group.reshape(-1)) if len(first) <= share * n_clusters else None


def cluster_groups(arrays: dict, skip, extra_columns: tuple = ()):
    """``few_groups`` of the clusters by every array but those in ``skip`` (and ``extra_columns``): (first cluster
    of each group, each cluster's group), or None when some array is not per cluster or the groups are many."""
    n_clusters = np.shape(arrays["cluster_weight"])[0]
    columns = list(extra_columns)
    for key, value in arrays.items():
        if key in skip or key in WHOLE_DESIGN_KEYS:
            continue
        values = _chunk_axis_first(key, value)
        if values.shape[:1] != (n_clusters,):  # (an array that is not per cluster: keep the design as it is)
            return None
        values = values.reshape(n_clusters, -1)
        columns.append(values[:, np.any(values != values[:1], axis=0)])  # (columns the same for all tell nothing)
    return few_groups(columns, n_clusters)


def first_of_groups(arrays: dict, first: np.ndarray, skip) -> dict:
    """Every array but those in ``skip`` at the first cluster of each group (on the host: nothing compiled)."""
    return {key: value if key in WHOLE_DESIGN_KEYS else
            np.asarray(value)[:, first] if key in ROW_KEYS_AXIS1 else np.asarray(value)[first]
            for key, value in arrays.items() if key not in skip}


def mark_row_patterns(arrays: dict, every_cluster: bool = False) -> None:
    """Add ``ROW_PATTERN`` and ``PATTERN_CHUNK`` to a single-level design's (host) arrays when every cluster is one
    chunk and the chunks fall into few patterns of the arrays that make A and D (Z, weights, residual variance
    indexes, scale covariates V); with ``every_cluster``, however many patterns there are (the marginal form
    is then the only one that is exact: responses without error, ``design/exact_indicators.py``)."""
    n_clusters = np.shape(arrays["cluster_weight"])[0]
    chunk_cluster = np.asarray(arrays["chunk_cluster"])
    if n_clusters < 1 or not np.array_equal(chunk_cluster, np.arange(n_clusters)) or "parent" in arrays:
        return
    columns = []
    for key in _ROW_STRUCTURE:
        if key in arrays:
            columns.append(_chunk_axis_first(key, arrays[key]).reshape(n_clusters, -1))
    groups = few_groups(columns, n_clusters, 1.0 if every_cluster else _MAX_PATTERN_SHARE)
    if groups is not None:
        first, pattern = groups
        arrays[ROW_PATTERN] = np.asarray(pattern, dtype=np.int32)
        arrays[PATTERN_CHUNK] = np.asarray(first, dtype=np.int32)


def collapse_identical_clusters(arrays: dict) -> dict | None:
    """The arrays of the groups of clusters identical in everything but their responses (see the module
    docstring), or None when the design has no row patterns or more than a quarter as many groups as clusters.

    Each group is one cluster: its first cluster's arrays, the weighted mean response ybar, the cluster weight
    n = sum_c w_c, and ``PATTERN_SCATTER`` F (width x width) with F F' = sum_c w_c (y_c - ybar)(y_c - ybar)' / n.
    """
    if ROW_PATTERN not in arrays or PATTERN_SCATTER in arrays:
        return None
    groups = cluster_groups(arrays, _OWN_PER_CLUSTER, (np.asarray(arrays[ROW_PATTERN], dtype=float)[:, None],))
    if groups is None:
        return None
    first, group = groups
    n_groups = len(first)
    weight = np.asarray(arrays["cluster_weight"], dtype=float)
    y = np.asarray(arrays["y"], dtype=float)
    total = np.bincount(group, weight, minlength=n_groups)
    share = weight / np.where(total > 0, total, 1.0)[group]  # w_c / n of its group
    mean = np.zeros((n_groups, y.shape[1]))
    np.add.at(mean, group, share[:, None] * y)
    deviation = y - mean[group]
    scatter = np.zeros((n_groups, y.shape[1], y.shape[1]))
    np.add.at(scatter, group, share[:, None, None] * deviation[:, :, None] * deviation[:, None, :])
    values, vectors = np.linalg.eigh(scatter)
    root = vectors * np.sqrt(np.clip(values, 0.0, None))[:, None, :]  # F F' = S (S is positive semidefinite)
    collapsed = first_of_groups(arrays, first, _OWN_PER_CLUSTER)
    index = np.arange(n_groups, dtype=np.int32)
    collapsed.update({"y": mean, "cluster_weight": total, "chunk_cluster": index, ROW_PATTERN: index,
                      PATTERN_CHUNK: index, PATTERN_SCATTER: root})
    return jax.device_put(collapsed)


def shared_log_integrals(model, y, pattern, pattern_chunk, scatter_root=None) -> jnp.ndarray:
    """log L_c without the response constants (clusters,) for Gaussian identity-link clusters with few row
    patterns (``mark_row_patterns``): one chunk per cluster, so rows of chunk c are cluster c's.

    Computed from the marginal covariance of a cluster's responses (see the module docstring's "marginal form"),
    log N(r_c; 0, Sigma) with Sigma = A'A + T, T = diag(sigma_i^2 / w_i), plus the weights' constants: one
    inverse and log-determinant of Sigma per pattern. With ``scatter_root`` (``collapse_identical_clusters``)
    each cluster stands for a group of identical ones: log L(ybar) - tr(Sigma^{-1} S)/2, which times the
    group's weight n is the group's sum."""
    _, d2 = model.row_derivatives(model.eta0)  # -1 / sigma_i^2 (identity link)
    used = model.weight > 0
    weight = jnp.where(used, model.weight, 1.0)
    precision = jnp.where(used, -d2, 1.0)  # 1 / sigma^2, +inf for a residual variance of 0
    tau = jnp.where(used, 1.0 / (weight * precision), 1.0)  # sigma^2 / w; rows not used: 1 (and r = 0, a = 0)
    if model.exact_rows is not None:  # responses without error (design/exact_indicators.py): sigma^2 = 0, w = 1
        tau = jnp.where(model.exact_rows, 0.0, tau)
    log_2pi = jnp.log(2.0 * jnp.pi)
    unit = jnp.where(used & (weight != 1.0), 0.5 * (1.0 - weight) * (log_2pi - jnp.log(precision)) - 0.5 * jnp.log(weight),
                     0.0)  # log of f^w relative to N(r; a'u, sigma^2 / w): 0 for w = 1
    unit = unit + jnp.where(used, 0.0, 0.5 * log_2pi)  # (the unit normal of an unused row taken out again)
    residual = jnp.where(used, y - model.eta0, 0.0)
    a = jnp.where(used[None], model.loadings, 0.0)[:, pattern_chunk, :]  # (q, patterns, width)
    width = residual.shape[-1]
    covariance = jnp.einsum("kpw,kpv->pwv", a, a) + tau[pattern_chunk][:, :, None] * jnp.eye(width, dtype=a.dtype)
    inverse, log_det = small_linalg.inverse_and_log_det_spd(covariance)  # (patterns, width, width), (patterns,)
    inverse = inverse[pattern]
    values = jnp.sum(unit, axis=-1) - 0.5 * width * log_2pi - 0.5 * log_det[pattern] \
        - 0.5 * jnp.einsum("cw,cwv,cv->c", residual, inverse, residual)
    if scatter_root is not None:  # each cluster is its group's mean (pattern = chunk = cluster)
        root = jnp.where(used[:, :, None], scatter_root, 0.0)
        values = values - 0.5 * jnp.einsum("cwj,cwv,cvj->c", root, inverse, root)  # tr(Sigma^{-1} S)
    return values


def marginal_posterior(model) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Posterior means (clusters, q) and covariances (clusters, q, q) of u for Gaussian identity-link clusters of one
    chunk each, from the marginal form: with u ~ N(0, I) and r_c = A'u + e, e ~ N(0, T),

        E(u | r_c) = A Sigma^{-1} r_c,   Cov(u | r_c) = I - A Sigma^{-1} A',   Sigma = A'A + T,

    which holds for rows without error (T_ii = 0, ``model.exact_rows``), where the curvature form (I + A D A')^{-1}
    has D infinite."""
    mean, cov, _ = marginal_normal(model)
    return mean, cov


def marginal_normal(model) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
    """(E(u | r_c), Cov(u | r_c), log N(r_c; 0, Sigma_c)) of Gaussian identity-link clusters of one chunk each (see
    ``marginal_posterior``), over the rows with weight > 0; rows without error (``model.exact_rows``) have T_ii = 0."""
    d1, d2 = model.row_derivatives(model.eta0)  # (y - eta0) / sigma^2 and -1 / sigma^2 (identity link)
    used = model.weight > 0
    weight = jnp.where(used, model.weight, 1.0)
    precision = jnp.where(used, -d2, 1.0)
    residual = jnp.where(used, d1 / precision, 0.0)
    tau = jnp.where(used, 1.0 / (weight * precision), 1.0)
    if model.exact_rows is not None:
        tau = jnp.where(model.exact_rows, 0.0, tau)
    a = jnp.where(used[None], model.loadings, 0.0)  # (q, clusters, width)
    width = residual.shape[-1]
    covariance = jnp.einsum("kcw,kcv->cwv", a, a) + tau[:, :, None] * jnp.eye(width, dtype=a.dtype)
    inverse, log_det = small_linalg.inverse_and_log_det_spd(covariance)  # (unused rows: 1 on the diagonal)
    gain = jnp.einsum("kcw,cwv->ckv", a, inverse)  # A Sigma^{-1}
    mean = jnp.einsum("ckv,cv->ck", gain, residual)
    cov = jnp.eye(a.shape[0], dtype=a.dtype) - jnp.einsum("ckv,lcv->ckl", gain, a)
    log_density = -0.5 * (jnp.sum(used, axis=-1) * jnp.log(2.0 * jnp.pi) + log_det
                          + jnp.einsum("cw,cwv,cv->c", residual, inverse, residual))
    return mean, cov, log_density
