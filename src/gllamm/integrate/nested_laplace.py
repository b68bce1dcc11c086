"""Laplace approximation for two nested levels: one joint mode per top-level unit (as lme4's nAGQ = 1).

For top-level unit k with level-2 units j, the integrand over u = (u3_k, u2_j for j in k) is

    g_k(u) = sum_j [ sum_i w_i log f(y_i | eta0_i + a2_i'u2_j + a3_i'u3_k) - |u2_j|^2 / 2 ] - |u3_k|^2 / 2,

and log L_k ~ g_k(u*) - (1/2) log det(-H_k) at the joint mode u*. The negative Hessian -H_k has an arrow
structure: blocks A_jj (q2 x q2) per level-2 unit, A_j3 (q2 x q3) coupling each to u3, and A_33. So

    log det(-H_k) = sum_j log det A_jj + log det S_k,     S_k = A_33 - sum_j A_3j A_jj^{-1} A_j3,

and a Newton step solves S_k d3 = g3 - sum_j A_3j A_jj^{-1} g_j, then d_j = A_jj^{-1} (g_j - A_j3 d3).
Modes are found without differentiation (damped Newton per top unit); the likelihood applies
differentiated Newton steps from them, which gives exact derivatives of the approximation (as in
cluster_integral.py). Unlike adaptive quadrature this is not exact as the number of nodes grows: for
binary responses with few observations per unit the integrand is far from Gaussian and the Laplace
log-likelihood (and the variance estimates) are biased towards zero variance.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .cluster_integral import _STEP_SIZES, ClusterModel


def _to_top(x, parent, n_units3: int):
    """Sum level-2 values (U2, ...) into their top-level units (U3, ...)."""
    return jax.ops.segment_sum(x, parent, num_segments=n_units3, indices_are_sorted=True)


def joint_value(base: ClusterModel, outer, parent, n_units3: int, u2, u3):
    """g_k(u) per top-level unit (U3,)."""
    unit3 = parent[base.chunk_cluster]
    eta = base.eta(u2) + jnp.einsum("kcm,ck->cm", outer, u3[unit3])
    rows = base.per_cluster(jnp.sum(base.weight * base.row_kernel(eta), axis=-1)) - 0.5 * jnp.sum(u2 * u2, axis=-1)
    return _to_top(rows, parent, n_units3) - 0.5 * jnp.sum(u3 * u3, axis=-1)


def _blocks(base: ClusterModel, outer, parent, n_units3: int, u2, u3, clamp: bool):
    """Gradients (g2, g3) and negative-Hessian blocks (A22, A23, A33) at (u2, u3)."""
    unit3 = parent[base.chunk_cluster]
    a2, a3 = base.loadings, outer
    eta = base.eta(u2) + jnp.einsum("kcm,ck->cm", a3, u3[unit3])
    d1, d2 = base.row_derivatives(eta)
    d1, d2 = base.weight * d1, base.weight * d2
    if clamp:
        d2 = jnp.minimum(d2, 0.0)
    g2 = base.per_cluster(jnp.einsum("kcm,cm->ck", a2, d1)) - u2
    g3 = _to_top(base.per_cluster(jnp.einsum("kcm,cm->ck", a3, d1)), parent, n_units3) - u3
    A22 = -base.per_cluster(jnp.einsum("kcm,lcm,cm->ckl", a2, a2, d2)) + jnp.eye(a2.shape[0])
    A23 = -base.per_cluster(jnp.einsum("kcm,lcm,cm->ckl", a2, a3, d2))
    A33 = -_to_top(base.per_cluster(jnp.einsum("kcm,lcm,cm->ckl", a3, a3, d2)), parent, n_units3) \
        + jnp.eye(a3.shape[0])
    return g2, g3, A22, A23, A33


def _schur(A22, A23, A33, parent, n_units3):
    """A22^{-1} A23 per level-2 unit and S = A33 - sum_j A32 A22^{-1} A23 per top unit."""
    solved = jnp.linalg.solve(A22, A23)  # (U2, q2, q3)
    reduction = _to_top(jnp.einsum("jkl,jkm->jlm", A23, solved), parent, n_units3)
    return solved, A33 - reduction


def joint_newton_step(base, outer, parent, n_units3, u2, u3, clamp: bool):
    """The Newton step (d2, d3) for the joint mode, by block elimination."""
    g2, g3, A22, A23, A33 = _blocks(base, outer, parent, n_units3, u2, u3, clamp)
    solved, S = _schur(A22, A23, A33, parent, n_units3)
    g2_solved = jnp.linalg.solve(A22, g2[..., None])[..., 0]  # A22^{-1} g2
    rhs3 = g3 - _to_top(jnp.einsum("jkl,jk->jl", A23, g2_solved), parent, n_units3)
    d3 = jnp.linalg.solve(S, rhs3[..., None])[..., 0]
    d2 = g2_solved - jnp.einsum("jkl,jl->jk", solved, d3[parent])
    return d2, d3


def joint_modes(base, outer, parent, n_units3, start, max_iter: int = 100, tol: float = 1e-10):
    """Damped Newton for the joint modes (u2, u3) from ``start``; step sizes chosen per top-level unit."""
    steps = jnp.asarray(_STEP_SIZES)

    def body(state):
        u2, u3, it, _ = state
        d2, d3 = joint_newton_step(base, outer, parent, n_units3, u2, u3, clamp=True)
        values = jax.vmap(lambda s: joint_value(base, outer, parent, n_units3, u2 + s * d2, u3 + s * d3))(steps)
        current = joint_value(base, outer, parent, n_units3, u2, u3)
        best = jnp.argmax(values, axis=0)
        chosen = jnp.where(jnp.max(values, axis=0) > current, steps[best], 0.0)  # (U3,)
        new2, new3 = u2 + chosen[parent][:, None] * d2, u3 + chosen[:, None] * d3
        change = jnp.maximum(jnp.max(jnp.abs(new2 - u2)), jnp.max(jnp.abs(new3 - u3)))
        return new2, new3, it + 1, change

    def cond(state):
        return (state[2] < max_iter) & (state[3] > tol)

    u2, u3 = start
    u2, u3, _, _ = jax.lax.while_loop(cond, body, (u2, u3, 0, jnp.asarray(jnp.inf)))
    return u2, u3


def nested_laplace(base, outer, parent, n_units3, modes, newton_steps: int = 1):
    """log L_k ~ g_k(u*) - (1/2) log det(-H_k) per top-level unit (U3,)."""
    u2, u3 = (jax.lax.stop_gradient(x) for x in modes)
    for _ in range(newton_steps):  # differentiated steps: exact implicit derivatives of the joint mode
        d2, d3 = joint_newton_step(base, outer, parent, n_units3, u2, u3, clamp=False)
        u2, u3 = u2 + d2, u3 + d3
    _, _, A22, A23, A33 = _blocks(base, outer, parent, n_units3, u2, u3, clamp=False)
    _, S = _schur(A22, A23, A33, parent, n_units3)
    log_det = _to_top(jnp.linalg.slogdet(A22)[1], parent, n_units3) + jnp.linalg.slogdet(S)[1]
    return joint_value(base, outer, parent, n_units3, u2, u3) - 0.5 * log_det


def joint_posterior(base, outer, parent, n_units3, modes):
    """Conditional modes and the covariances from the inverse joint negative Hessian: Cov(u3) = S^{-1},
    Cov(u2_j) = A_jj^{-1} + A_jj^{-1} A_j3 S^{-1} A_3j A_jj^{-1} (lme4's conditional variances)."""
    u2, u3 = modes
    _, _, A22, A23, A33 = _blocks(base, outer, parent, n_units3, u2, u3, clamp=False)
    solved, S = _schur(A22, A23, A33, parent, n_units3)
    cov3 = jnp.linalg.inv(S)
    cov2 = jnp.linalg.inv(A22) + jnp.einsum("jkl,jlm,jnm->jkn", solved, cov3[parent], solved)
    return u3, cov3, u2, cov2

