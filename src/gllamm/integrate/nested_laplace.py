"""Laplace approximation for nested levels: one joint mode per top-level unit (as lme4's nAGQ = 1).

For a top-level unit k the integrand over all its latent variables u (its own u_top and those of every
unit below it, at every level) is

    g_k(u) = sum_i w_i log f(y_i | eta0_i + sum_l a_li' u_l[unit of row i at level l]) - sum |u|^2 / 2,

and log L_k ~ g_k(u*) - (1/2) log det(-H_k) at the joint mode u*. Given its ancestors, the latent
variables of different units of one level are independent, so -H_k is nested block-arrow shaped and is
reduced level by level, innermost first: every level-2 unit j holds the negative Hessian of its rows over
(u2_j, and all its ancestors' u) = [[P, C], [C', R]]; eliminating u2_j leaves R - C' P^{-1} C on the
ancestors, which is summed into the level-3 unit (plus that unit's prior identity), and so on up to the
top. Then

    log det(-H_k) = sum over every unit below and at k of log det P_unit (the reduced pivot blocks),

and a Newton step solves the top block and substitutes back down: d_l = P^{-1} (g_l - C d_ancestors).
Modes are found without differentiation (damped Newton per top unit); the likelihood applies
differentiated Newton steps from them, which gives exact derivatives of the approximation (as in
cluster_integral.py). Unlike adaptive quadrature this is not exact as the number of nodes grows: for
binary responses with few observations per unit the integrand is far from Gaussian and the Laplace
log-likelihood (and the variance estimates) are biased towards zero variance.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from . import small_linalg
from .cluster_integral import _STEP_SIZES, ClusterModel


def _up(x, level):
    """Sum values of the units below ``level`` (U_below, ...) into its units (U, ...)."""
    return jax.ops.segment_sum(x, level.parent, num_segments=level.n_units, indices_are_sorted=True)


def _chunk_units(base: ClusterModel, uppers):
    """The unit of every row chunk at each level (level 2 first)."""
    units = [base.chunk_cluster]
    for level in uppers:
        units.append(level.parent[units[-1]])
    return units


def _eta(base: ClusterModel, uppers, u):
    """Linear predictors of the rows at the latent values u (one array per level, level 2 first)."""
    eta = base.eta(u[0])
    for level, unit, values in zip(uppers, _chunk_units(base, uppers)[1:], u[1:]):
        eta = eta + jnp.einsum("kcm,ck->cm", level.loadings, values[unit])
    return eta


def joint_value(base: ClusterModel, uppers, u):
    """g_k(u) per top-level unit (U_top,)."""
    eta = _eta(base, uppers, u)
    value = base.per_cluster(jnp.sum(base.weight * base.row_kernel(eta), axis=-1)) - 0.5 * jnp.sum(u[0] ** 2, -1)
    for level, values in zip(uppers, u[1:]):
        value = _up(value, level) - 0.5 * jnp.sum(values * values, axis=-1)
    return value


def _eliminate(base: ClusterModel, uppers, u, clamp: bool):
    """Reduce -H and the gradient level by level.

    Returns the pivots of every level below the top as (P^{-1} C, P^{-1} g_own, P^{-1}), the top block's inverse
    and gradient (H_top^{-1}, g_top), and log det(-H) = sum log det P + log det H_top per top unit. The blocks are
    positive definite (clamped curvatures, or at a maximum) and small: inverted by ``small_linalg`` (batched LAPACK
    calls inside XLA's CPU thread pool can deadlock it when the batch is split over threads, jaxlib 0.10).
    """
    loadings = jnp.concatenate([base.loadings] + [level.loadings for level in uppers], axis=0)  # (Q, chunks, W)
    d1, d2 = base.row_derivatives(_eta(base, uppers, u))
    d1, d2 = base.weight * d1, base.weight * d2
    if clamp:
        d2 = jnp.minimum(d2, 0.0)
    g = base.per_cluster(jnp.einsum("kcm,cm->ck", loadings, d1))
    H = -base.per_cluster(jnp.einsum("kcm,lcm,cm->ckl", loadings, loadings, d2))
    pivots, log_det = [], jnp.zeros(g.shape[0])
    for index, level in enumerate(uppers):
        q = u[index].shape[-1]
        g = g.at[:, :q].add(-u[index])
        H = H.at[:, :q, :q].add(jnp.eye(q))
        P, C = H[:, :q, :q], H[:, :q, q:]
        P_inverse, P_log_det = small_linalg.inverse_and_log_det_spd(P)
        solved_C = jnp.einsum("jkl,jlm->jkm", P_inverse, C)
        solved_g = jnp.einsum("jkl,jl->jk", P_inverse, g[:, :q])
        pivots.append((solved_C, solved_g, P_inverse))
        log_det = _up(log_det + P_log_det, level)
        H = _up(H[:, q:, q:] - jnp.einsum("jkl,jkm->jlm", C, solved_C), level)
        g = _up(g[:, q:] - jnp.einsum("jkl,jk->jl", C, solved_g), level)
    g = g - u[-1]
    H_inverse, H_log_det = small_linalg.inverse_and_log_det_spd(H + jnp.eye(u[-1].shape[-1]))
    return pivots, (H_inverse, g), log_det + H_log_det


def joint_newton_step(base, uppers, u, clamp: bool):
    """The Newton step for the joint modes (one array per level), by block elimination and substitution."""
    pivots, (H_inverse, g), _ = _eliminate(base, uppers, u, clamp)
    steps = [jnp.einsum("jkl,jl->jk", H_inverse, g)]
    chain = steps[0]  # per unit of the current level: its own step, then its ancestors'
    for level, (solved_C, solved_g, _) in zip(reversed(uppers), reversed(pivots)):
        rest = chain[level.parent]
        own = solved_g - jnp.einsum("jkl,jl->jk", solved_C, rest)
        steps.insert(0, own)
        chain = jnp.concatenate([own, rest], axis=-1)
    return steps


def _to_levels(values, uppers):
    """Per-top-unit values (U_top, ...) spread to the units of every level, level 2 first."""
    out = [values]
    for level in reversed(uppers):
        out.insert(0, out[0][level.parent])
    return out


def joint_modes(base, uppers, start, max_iter: int = 100, tol: float = 1e-10):
    """Damped Newton for the joint modes (one array per level) from ``start``; step sizes per top unit."""
    step_sizes = jnp.asarray(_STEP_SIZES)

    def body(state):
        u, it, _ = state
        d = joint_newton_step(base, uppers, u, clamp=True)
        values = jax.vmap(lambda s: joint_value(base, uppers, [a + s * b for a, b in zip(u, d)]))(step_sizes)
        current = joint_value(base, uppers, u)
        best = jnp.argmax(values, axis=0)
        chosen = jnp.where(jnp.max(values, axis=0) > current, step_sizes[best], 0.0)  # (U_top,)
        new = [a + s[:, None] * b for a, s, b in zip(u, _to_levels(chosen, uppers), d)]
        change = jnp.max(jnp.stack([jnp.max(jnp.abs(a - b)) for a, b in zip(new, u)]))
        return tuple(new), it + 1, change

    def cond(state):
        return (state[1] < max_iter) & (state[2] > tol)

    u, _, _ = jax.lax.while_loop(cond, body, (tuple(start), 0, jnp.asarray(jnp.inf)))
    return u


def nested_laplace(base, uppers, modes, newton_steps: int = 1):
    """log L_k ~ g_k(u*) - (1/2) log det(-H_k) per top-level unit (U_top,)."""
    u = [jax.lax.stop_gradient(x) for x in modes]
    for _ in range(newton_steps):  # differentiated steps: exact implicit derivatives of the joint mode
        u = [a + b for a, b in zip(u, joint_newton_step(base, uppers, u, clamp=False))]
    log_det = _eliminate(base, uppers, u, clamp=False)[2]
    return joint_value(base, uppers, u) - 0.5 * log_det


def joint_posterior(base, uppers, modes):
    """Conditional modes and covariances from the inverse joint negative Hessian, per level (level 2 first):
    Cov(u_top) = H_top^{-1}; below, Cov(u_l) = P^{-1} + P^{-1} C Sigma_anc C' P^{-1} with Sigma_anc the joint
    covariance of the unit's ancestors (lme4's conditional variances)."""
    u = list(modes)
    pivots, (chain, _), _ = _eliminate(base, uppers, u, clamp=False)  # chain: the joint covariance of a unit's
    # own u and its ancestors' (at the top, H_top^{-1})
    levels = [(u[-1], chain)]
    for index in reversed(range(len(uppers))):
        level, (solved_C, _, P_inverse) = uppers[index], pivots[index]
        rest = chain[level.parent]
        cross = -jnp.einsum("jkl,jlm->jkm", solved_C, rest)
        own = P_inverse - jnp.einsum("jkm,jlm->jkl", cross, solved_C)
        levels.insert(0, (u[index], own))
        chain = jnp.concatenate([jnp.concatenate([own, cross], axis=-1),
                                 jnp.concatenate([jnp.swapaxes(cross, -1, -2), rest], axis=-1)], axis=-2)
    return levels
