"""Two levels of normal latent variables over Gaussian identity-link responses of one shape: the closed form.

When every level-2 unit has the same p responses with the same loadings on its own latent variables u_W and on
its cluster's u_B (a two-level SEM on complete data, as lavaan fits it), a unit's responses are
y_i = mu_i + A_W'u_Wi + A_B'u_B + e_i, so a cluster's n units are jointly normal with

    Cov = I_n (x) W + 1 1' (x) B,   W = A_W'A_W + T (within),   B = A_B'A_B (between),

whose inverse is I (x) W^-1 + (1 1' / n) (x) ((W + n B)^-1 - W^-1) and determinant |W|^(n-1) |W + n B|. With
residuals r_i = y_i - mu_i, their sum s and sum of squares and products Q over the cluster's units,

    log L_c = -1/2 [ n p log(2 pi) + (n - 1) log|W| + log|W + n B| + tr(W^-1 Q) + s'((W + n B)^-1 - W^-1) s / n ].

This is the likelihood the joint mode gives (nested_laplace.py, exact for these models), without a mode, a
pivot per unit or a Newton step: one p x p matrix per cluster. The iterations use it (``mark_two_level``); the
design's own arrays (predictions, EB) keep the general form.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from . import small_linalg

TWO_LEVEL_GAUSSIAN = "two_level_gaussian"  # () bool: the closed form applies (mark_two_level)
_SAME_IN_EVERY_UNIT = ("Z", "Z_outer", "weight", "dispersion_index", "V", "trials")


def mark_two_level(arrays: dict) -> dict | None:
    """The arrays with ``TWO_LEVEL_GAUSSIAN`` set when the closed form applies, else None: two levels of latent
    variables (units in clusters, no unit weights), every unit one chunk of rows, and the arrays that make A_W,
    A_B and T equal in every unit, with every response present (weights 1). (The caller has checked the family:
    Gaussian with the identity link, no latent interactions.)"""
    if "parent" not in arrays or "parent2" in arrays or any(k.startswith("unit_weight") for k in arrays):
        return None
    n_units = np.shape(arrays["parent"])[0]
    if n_units < 2 or not np.array_equal(np.asarray(arrays["chunk_cluster"]), np.arange(n_units)):
        return None
    if not np.all(np.asarray(arrays["weight"]) == 1.0):
        return None
    for key in _SAME_IN_EVERY_UNIT:
        if key in arrays:
            value = np.asarray(arrays[key])
            unit_axis = 1 if key in ("Z", "Z_outer", "V") else 0
            first = np.take(value, [0], axis=unit_axis)
            if not np.array_equal(value, np.broadcast_to(first, value.shape)):
                return None
    marked = dict(arrays)
    marked[TWO_LEVEL_GAUSSIAN] = jnp.asarray(True)
    return marked


def two_level_log_integrals(base, upper, y) -> jnp.ndarray:
    """log L_c of every cluster (the module docstring) from the level-2 integrand ``base`` (one chunk per unit)
    and the level above ``upper`` (its loadings and the units' clusters)."""
    _, d2 = base.row_derivatives(base.eta0[:1])  # -1 / sigma^2 of the first unit's rows (the same in every unit)
    a_w, a_b = base.loadings[:, 0, :], upper.loadings[:, 0, :]  # (q_W, p), (q_B, p)
    p = y.shape[-1]
    within = a_w.T @ a_w + jnp.diag(-1.0 / d2[0])
    between = a_b.T @ a_b
    residual = y - base.eta0  # (units, p)
    clusters = upper.n_units
    n = jax.ops.segment_sum(jnp.ones(residual.shape[0], residual.dtype), upper.parent, clusters, indices_are_sorted=True)
    s = jax.ops.segment_sum(residual, upper.parent, clusters, indices_are_sorted=True)
    Q = jax.ops.segment_sum(residual[:, :, None] * residual[:, None, :], upper.parent, clusters,
                            indices_are_sorted=True)
    within_inverse, within_log_det = small_linalg.inverse_and_log_det_spd(within)
    total_inverse, total_log_det = small_linalg.inverse_and_log_det_spd(within[None] + n[:, None, None] * between[None])
    quadratic = jnp.einsum("kl,clk->c", within_inverse, Q) \
        + jnp.einsum("ck,ckl,cl->c", s, total_inverse - within_inverse[None], s) / n
    return -0.5 * (n * p * jnp.log(2.0 * jnp.pi) + (n - 1.0) * within_log_det + total_log_det + quadratic)
