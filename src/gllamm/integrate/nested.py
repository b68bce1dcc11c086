"""Nested levels of latent variables: adaptive quadrature at each level, innermost first.

For a top-level unit k with level-2 units j and rows i (two levels of latent variables),

    L_k = int phi(u3) prod_j [ int phi(u2) prod_i f(y_i | eta0_i + a2_i'u2 + a3_i'u3) du2 ] du3,

and every further level adds one more integral outside, the same way (a four-level model:
int phi(u4) prod_k [ int phi(u3) prod_j [ int phi(u2) ... du2 ] du3 ] du4).

The recursion: at every node u_top of the top level's rule the levels below form a problem of the
same kind with one level fewer, whose units are copied once per node ("virtual" units n * U + j,
node-major, so segment sums stay sorted) and whose rows carry the shift a_top' u_top. At the bottom
the level-2 integrals use adaptive Gauss-Hermite quadrature with modes and curvatures per virtual unit
(cluster_integral.py, with differentiated Newton steps). Every higher level's rule is adapted as in
gllamm: its location and scale are the posterior mean and Cholesky factor of the posterior covariance
of u at that level (given the nodes of the levels above), found by iterating the quadrature (in
``nested_adaptation``, not differentiated); they are inputs of the likelihood, which is then an exact
function of theta for given nodes. The adaptation state is nested the same way:
(location (U, q), scale (U, q, q), state of the level below), with the level-2 modes at the bottom.

The level-2 latent variables may instead be discrete (latent classes of level-2 units inside a
normal level-3 effect): the inner integral is then the exact sum over classes,
sum_c pi_jc prod_i f(y_i | eta0_i + a2_i'e_c + a3_i'u3), and needs no modes (``discrete`` =
(locations, log pi (U2, C), allowed (U2, C))).

Layout: row chunks belong to level-2 units (``chunk_cluster``), sorted by their higher units; each
``UpperLevel`` holds the rows' loadings on that level's standardised latent variables and the pointer
from the units of the level below to its own units (sorted).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp

from . import small_linalg
from .cluster_integral import ClusterModel, Integration, find_modes, log_cluster_integrals, posterior_moments
from .discrete import class_terms
from .rules import normalised_weights, rule_of, weighted_logsumexp


class UpperLevel(NamedTuple):
    """A level above level 2: rows' loadings (q, chunks, W) on its standardised latent variables, the pointer
    (units below,) from the units of the level below to its units, its number of units, and the sampling
    weights of its units (None: 1), which raise each unit's integral to its weight within the level above."""

    loadings: jax.Array
    parent: jax.Array
    n_units: int
    weight: jax.Array | None = None


def outer_nodes(location, scale, integration: Integration, q3: int):
    """Outer nodes u3 (U3, K3, q3) = location + sqrt(2) S x of the integration's rule, with log |weights| (plus
    |x|^2), log|S| per unit and the weights' signs (None: all positive)."""
    nodes, log_w, sign = rule_of(integration, q3)
    u3 = location[:, None, :] + jnp.sqrt(2.0) * jnp.einsum("ukl,nl->unk", scale, jnp.asarray(nodes))
    log_det = jnp.sum(jnp.log(jnp.abs(jnp.diagonal(scale, axis1=-2, axis2=-1))), axis=-1)
    return u3, jnp.asarray(log_w + np.sum(nodes**2, axis=1)), log_det, sign


def top_of_chunks(base: ClusterModel, uppers) -> jax.Array:
    """The top-level unit of every row chunk, through the levels' pointers."""
    unit = base.chunk_cluster
    for level in uppers:
        unit = level.parent[unit]
    return unit


def inner_model(base: ClusterModel, outer_loadings, parent, u3, unit3_of_chunk=None) -> ClusterModel:
    """The level-2 integrands at every outer node: virtual units n * U2 + j (node-major)."""
    n_units2 = base.n_clusters
    k3 = u3.shape[1]
    if unit3_of_chunk is None:
        unit3_of_chunk = parent[base.chunk_cluster]  # (chunks,)
    shift = jnp.einsum("kcm,cnk->ncm", outer_loadings, u3[unit3_of_chunk])  # (K3, chunks, W)
    chunks, width = base.eta0.shape
    eta0 = (base.eta0[None] + shift).reshape(k3 * chunks, width)
    loadings = jnp.broadcast_to(base.loadings[:, None], (base.loadings.shape[0], k3) + base.loadings.shape[1:])
    loadings = loadings.reshape(base.loadings.shape[0], k3 * chunks, width)
    chunk_unit = (jnp.arange(k3)[:, None] * n_units2 + base.chunk_cluster[None, :]).reshape(-1)
    return ClusterModel(
        lambda eta: _retile(base.row_kernel(_untile(eta, k3, chunks))),
        lambda eta: tuple(_retile(d) for d in base.row_derivatives(_untile(eta, k3, chunks))),
        eta0, _tiled(base.weight, k3), loadings, chunk_unit, k3 * n_units2, set_size=base.set_size,
    )


def _untile(eta, k3, chunks):
    """(K3*chunks, ..., W) -> (chunks, K3, ..., W), the base kernel's layout (rows first and last)."""
    return jnp.moveaxis(eta.reshape((k3, chunks) + eta.shape[1:]), 0, 1)


def _retile(values):
    """(chunks, K3, ..., W) -> (K3*chunks, ..., W)."""
    moved = jnp.moveaxis(values, 1, 0)
    return moved.reshape((moved.shape[0] * moved.shape[1],) + moved.shape[2:])


def _tiled(x, k3: int):
    """Per-unit arrays (U2, ...) repeated for every outer node: (K3*U2, ...), node-major."""
    return jnp.tile(x, (k3,) + (1,) * (x.ndim - 1))


def _below_top(base: ClusterModel, uppers, u, discrete, unit_weight):
    """The problem below the top level at every top node u (U_top, K, q): rows and every lower level copied
    once per node (node-major), the rows shifted by their top-level loadings times u."""
    k = u.shape[1]
    top = uppers[-1]
    inner = inner_model(base, top.loadings, None, u, top_of_chunks(base, uppers))
    lower = tuple(UpperLevel(_tiled(level.loadings.swapaxes(0, 1), k).swapaxes(0, 1),
                             (jnp.arange(k)[:, None] * level.n_units + level.parent[None, :]).reshape(-1),
                             k * level.n_units, None if level.weight is None else _tiled(level.weight, k))
                  for level in uppers[:-1])
    if discrete is not None:
        locations, log_pi, allowed = discrete
        discrete = (locations, _tiled(log_pi, k), _tiled(allowed, k))
    return inner, lower, discrete, None if unit_weight is None else _tiled(unit_weight, k)


def _unit_log_values(base, uppers, integration, state, newton_steps, discrete, unit_weight):
    """log L of every unit of the highest level in ``uppers`` (of the level-2 units when there is none)."""
    if not uppers:
        if discrete is None:
            values = log_cluster_integrals(base, integration, state, newton_steps)
        else:
            values = logsumexp(class_terms(base, *discrete), axis=-1)
        return values if unit_weight is None else unit_weight * values
    location, scale, inner_state = state
    q = uppers[-1].loadings.shape[0]
    u, log_w, log_det, sign = outer_nodes(location, scale, integration, q)
    values = _node_values(base, uppers, u, integration, inner_state, newton_steps, discrete, unit_weight)
    values = values - 0.5 * jnp.sum(u * u, axis=-1)
    return 0.5 * q * (jnp.log(2.0) - jnp.log(2 * jnp.pi)) + log_det + weighted_logsumexp(log_w + values, sign)


def _node_values(base, uppers, u, integration, inner_state, newton_steps, discrete, unit_weight):
    """sum over each top unit's children of their log L at every top node: (U_top, K)."""
    below = _below_top(base, uppers, u, discrete, unit_weight)
    values = _unit_log_values(below[0], below[1], integration, inner_state, newton_steps, below[2], below[3])
    if below[1] and below[1][-1].weight is not None:  # the children's own sampling weights
        values = below[1][-1].weight * values
    k = u.shape[1]
    per_child = values.reshape(k, -1).T  # (children, K)
    return jax.ops.segment_sum(per_child, uppers[-1].parent, num_segments=uppers[-1].n_units,
                               indices_are_sorted=True)


def outer_log_values(inner: ClusterModel, integration: Integration, inner_modes, parent, n_units3: int,
                     k3: int, newton_steps: int, discrete=None, unit_weight=None):
    """sum_j w_j log L_j(u3_n) per top unit and node (U3, K3) from the level-2 integrands ``inner`` at every
    node; w_j level-2 sampling weights (default 1)."""
    if discrete is None:
        values = log_cluster_integrals(inner, integration, inner_modes, newton_steps)  # (K3*U2,)
    else:
        values = logsumexp(inner_class_terms(inner, discrete, k3), axis=-1)
    per_unit2 = values.reshape(k3, -1).T  # (U2, K3)
    if unit_weight is not None:
        per_unit2 = unit_weight[:, None] * per_unit2
    return jax.ops.segment_sum(per_unit2, parent, num_segments=n_units3, indices_are_sorted=True)


def inner_class_terms(inner: ClusterModel, discrete, k3: int):
    """log pi_jc + log f(y_j | e_c, u3_n) for every virtual unit (n, j) and class: (K3*U2, C)."""
    locations, log_pi, allowed = discrete
    return class_terms(inner, locations, _tiled(log_pi, k3), _tiled(allowed, k3))


def nested_log_integrals(base, uppers, integration, state, newton_steps: int = 1, discrete=None,
                         unit_weight=None):
    """log L_k for every top-level unit (U_top,), given the (stopped) adaptation state."""
    state = jax.tree_util.tree_map(jax.lax.stop_gradient, state)
    return _unit_log_values(base, tuple(uppers), integration, state, newton_steps, discrete, unit_weight)


def _posterior_weights(log_w, values, u, sign=None):
    """Posterior weights p_kn of the nodes (U, K) and the posterior mean and covariance of u."""
    weights = normalised_weights(log_w + values - 0.5 * jnp.sum(u * u, axis=-1), sign)
    mean = jnp.einsum("un,unk->uk", weights, u)
    centred = u - mean[:, None, :]
    return weights, mean, jnp.einsum("un,unk,unl->ukl", weights, centred, centred)


def _adapt(base, uppers, integration, state, iterations, discrete, unit_weight):
    """The adaptation state of a (sub)problem: level-2 modes at the bottom, above them each level's location
    and scale iterated to the posterior mean and covariance of its u. Levels between the top and level 2 take
    one step per step of the level above (their state is carried over, so they converge along with it)."""
    if not uppers:
        return state if discrete is not None else find_modes(base, state)
    q = uppers[-1].loadings.shape[0]

    def inner_adapted(location, scale, inner_state):
        u, log_w, _, sign = outer_nodes(location, scale, integration, q)
        below = _below_top(base, uppers, u, discrete, unit_weight)
        return u, (log_w, sign), _adapt(*below[:2], integration, inner_state, 1, *below[2:])

    def step(state, _):
        location, scale, inner_state = state
        u, (log_w, sign), inner_state = inner_adapted(location, scale, inner_state)
        values = _node_values(base, uppers, u, integration, inner_state, 0, discrete, unit_weight)
        _, mean, cov = _posterior_weights(log_w, values, u, sign)
        return (mean, small_linalg.cholesky(cov + 1e-10 * jnp.eye(q)), inner_state), None

    (location, scale, inner_state), _ = jax.lax.scan(step, state, None, length=iterations)
    return location, scale, inner_adapted(location, scale, inner_state)[2]  # lower levels at the final nodes


def nested_adaptation(base, uppers, integration, state, iterations: int = 6, discrete=None, unit_weight=None):
    """Iterate every higher level's location/scale to the posterior mean/covariance (not differentiated)."""
    return _adapt(base, tuple(uppers), integration, state, iterations, discrete, unit_weight)


def nested_class_posterior(base, uppers, integration, state, discrete, unit_weight=None):
    """Level-2 units with latent classes inside a normal level-3 effect u3: P(c | y) of every level-2 unit,
    sum_n p_kn P(c | y_j, u3_n) with p_kn the posterior weights of the outer nodes, and the posterior means
    (U3, q3) and covariances (U3, q3, q3) of u3, sum_n p_kn u3_n and likewise."""
    (outer,) = uppers
    location, scale, _ = state
    q3 = outer.loadings.shape[0]
    u3, log_w, _, sign = outer_nodes(location, scale, integration, q3)
    k3 = u3.shape[1]
    inner = inner_model(base, outer.loadings, outer.parent, u3)
    terms = inner_class_terms(inner, discrete, k3)  # (K3*U2, C)
    per_unit = logsumexp(terms, axis=-1).reshape(k3, -1).T
    if unit_weight is not None:
        per_unit = unit_weight[:, None] * per_unit
    values = jax.ops.segment_sum(per_unit, outer.parent, num_segments=outer.n_units, indices_are_sorted=True)
    weights, mean3, cov3 = _posterior_weights(log_w, values, u3, sign)  # (U3, K3)
    given_node = jnp.exp(terms - logsumexp(terms, axis=-1, keepdims=True)).reshape(k3, base.n_clusters, -1)
    return jnp.einsum("nj,njc->jc", weights[outer.parent].T, given_node), mean3, cov3


def nested_posterior(base, uppers, integration, state, unit_weight=None):
    """Posterior means and covariances of the standardised latent variables of every level, innermost first:
    a list of (means (U, q), covariances (U, q, q)) per level.

    Top level: the adapted rule's weights p_kn give E(u | y_k) and Cov(u | y_k). Every lower level:
    E(u2 | y) = sum_n p_kn E(u2 | y, u_top,n) over the nodes of the unit's top-level unit k, and likewise
    for second moments (the conditional moments from the problem below the top, recursively).
    """
    return _posterior(base, tuple(uppers), integration, state, unit_weight)


def _posterior(base, uppers, integration, state, unit_weight):
    if not uppers:
        return [posterior_moments(base, integration, state)]
    location, scale, inner_state = state
    q = uppers[-1].loadings.shape[0]
    u, log_w, _, sign = outer_nodes(location, scale, integration, q)
    k = u.shape[1]
    values = _node_values(base, uppers, u, integration, inner_state, 0, None, unit_weight)
    weights, mean_top, cov_top = _posterior_weights(log_w, values, u, sign)  # (U_top, K)
    below = _below_top(base, uppers, u, None, unit_weight)
    conditional = _posterior(below[0], below[1], integration, inner_state, below[3])
    ancestors = _ancestors(base, uppers)
    levels = []
    for (node_mean, node_cov), top_of_unit in zip(conditional, ancestors):
        node_mean = node_mean.reshape((k, -1) + node_mean.shape[1:])
        node_cov = node_cov.reshape((k, -1) + node_cov.shape[1:])
        unit_weights = weights[top_of_unit].T  # (K, U)
        mean = jnp.einsum("nj,njk->jk", unit_weights, node_mean)
        second = jnp.einsum("nj,njkl->jkl", unit_weights,
                            node_cov + node_mean[..., :, None] * node_mean[..., None, :])
        levels.append((mean, second - mean[:, :, None] * mean[:, None, :]))
    return levels + [(mean_top, cov_top)]


def _ancestors(base, uppers):
    """The top-level unit of the units of every level below the top (level 2 first)."""
    out = []
    for i in range(len(uppers)):
        unit = jnp.arange(base.n_clusters) if i == 0 else jnp.arange(uppers[i - 1].n_units)
        for level in uppers[i:]:
            unit = level.parent[unit]
        out.append(unit)
    return out
