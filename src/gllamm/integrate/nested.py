"""Two nested levels of latent variables: adaptive quadrature at each level, innermost first.

For a top-level unit k (level 3) with level-2 units j and rows i,

    L_k = int phi(u3) prod_j [ int phi(u2) prod_i f(y_i | eta0_i + a2_i'u2 + a3_i'u3) du2 ] du3.

The inner integrals are evaluated at every outer node u3_n with adaptive
Gauss-Hermite quadrature (modes and curvatures per (j, n), as in
cluster_integral.py, with differentiated Newton steps). The outer rule is
adapted as in gllamm: its location and scale are the posterior mean and
Cholesky factor of the posterior covariance of u3, found by iterating the
quadrature (in ``nested_adaptation``, not differentiated); they are inputs of
the likelihood, which is then an exact function of theta for given nodes.

The level-2 latent variables may instead be discrete (latent classes of level-2 units inside a
normal level-3 effect): the inner integral is then the exact sum over classes,
sum_c pi_jc prod_i f(y_i | eta0_i + a2_i'e_c + a3_i'u3), and needs no modes (``discrete`` =
(locations, log pi (U2, C), allowed (U2, C))).

Layout: row chunks belong to level-2 units (``chunk_cluster``), sorted by
their level-3 unit (``parent``); the inner problems for all outer nodes are
stacked node-major, virtual unit n * U2 + j, so segment sums stay sorted.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp

from .cluster_integral import ClusterModel, Integration, find_modes, log_cluster_integrals, posterior_moments
from .discrete import class_terms
from .gauss_hermite import product_rule


def outer_nodes(location, scale, nip: int, q3: int):
    """Outer nodes u3 (U3, K3, q3) = location + sqrt(2) S x, with log weights and log|S| per unit."""
    nodes, log_w = product_rule(nip, q3)
    u3 = location[:, None, :] + jnp.sqrt(2.0) * jnp.einsum("ukl,nl->unk", scale, jnp.asarray(nodes))
    log_det = jnp.sum(jnp.log(jnp.abs(jnp.diagonal(scale, axis1=-2, axis2=-1))), axis=-1)
    return u3, jnp.asarray(log_w + np.sum(nodes**2, axis=1)), log_det


def inner_model(base: ClusterModel, outer_loadings, parent, u3) -> ClusterModel:
    """The level-2 integrands at every outer node: virtual units n * U2 + j (node-major)."""
    n_units2 = base.n_clusters
    k3 = u3.shape[1]
    unit3_of_chunk = parent[base.chunk_cluster]  # (chunks,)
    shift = jnp.einsum("kcm,cnk->ncm", outer_loadings, u3[unit3_of_chunk])  # (K3, chunks, W)
    chunks, width = base.eta0.shape
    eta0 = (base.eta0[None] + shift).reshape(k3 * chunks, width)

    def tile(x):
        return jnp.broadcast_to(x[None], (k3,) + x.shape).reshape((k3 * x.shape[0],) + x.shape[1:])

    loadings = jnp.broadcast_to(base.loadings[:, None], (base.loadings.shape[0], k3) + base.loadings.shape[1:])
    loadings = loadings.reshape(base.loadings.shape[0], k3 * chunks, width)
    chunk_unit = (jnp.arange(k3)[:, None] * n_units2 + base.chunk_cluster[None, :]).reshape(-1)
    return ClusterModel(
        lambda eta: _retile(base.row_kernel(_untile(eta, k3, chunks))),
        lambda eta: tuple(_retile(d) for d in base.row_derivatives(_untile(eta, k3, chunks))),
        eta0, tile(base.weight), loadings, chunk_unit, k3 * n_units2, set_size=base.set_size,
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


def inner_class_terms(inner: ClusterModel, discrete, k3: int):
    """log pi_jc + log f(y_j | e_c, u3_n) for every virtual unit (n, j) and class: (K3*U2, C)."""
    locations, log_pi, allowed = discrete
    return class_terms(inner, locations, _tiled(log_pi, k3), _tiled(allowed, k3))


def outer_log_values(inner: ClusterModel, integration: Integration, inner_modes, parent, n_units3: int,
                     k3: int, newton_steps: int, discrete=None, unit_weight=None):
    """sum_j w_j log L_j(u3_n) per top unit and node: (U3, K3); w_j level-2 sampling weights (default 1)."""
    if discrete is None:
        values = log_cluster_integrals(inner, integration, inner_modes, newton_steps)  # (K3*U2,)
    else:
        values = logsumexp(inner_class_terms(inner, discrete, k3), axis=-1)
    n_units2 = values.shape[0] // k3
    per_unit2 = values.reshape(k3, n_units2).T  # (U2, K3)
    if unit_weight is not None:
        per_unit2 = unit_weight[:, None] * per_unit2
    return jax.ops.segment_sum(per_unit2, parent, num_segments=n_units3, indices_are_sorted=True)


def nested_log_integrals(base, outer_loadings, parent, n_units3, integration, state, newton_steps: int = 1,
                         discrete=None, unit_weight=None):
    """log L_k for every top-level unit (U3,), given the (stopped) adaptation state."""
    location, scale, inner_modes = (jax.lax.stop_gradient(x) for x in state)
    q3 = outer_loadings.shape[0]
    u3, log_w, log_det = outer_nodes(location, scale, integration.nip, q3)
    inner = inner_model(base, outer_loadings, parent, u3)
    values = outer_log_values(inner, integration, inner_modes, parent, n_units3, u3.shape[1], newton_steps,
                              discrete, unit_weight)
    values = values - 0.5 * jnp.sum(u3 * u3, axis=-1)
    return 0.5 * q3 * (jnp.log(2.0) - jnp.log(2 * jnp.pi)) + log_det + logsumexp(log_w + values, axis=-1)


def nested_adaptation(base, outer_loadings, parent, n_units3, integration, state, iterations: int = 6,
                      discrete=None, unit_weight=None):
    """Iterate the outer location/scale to the posterior mean/covariance of u3 (not differentiated)."""
    q3 = outer_loadings.shape[0]

    def step(state, _):
        location, scale, inner_modes = state
        u3, log_w, _ = outer_nodes(location, scale, integration.nip, q3)
        inner = inner_model(base, outer_loadings, parent, u3)
        if discrete is None:
            inner_modes = find_modes(inner, inner_modes)
        values = outer_log_values(inner, integration, inner_modes, parent, n_units3, u3.shape[1], 0, discrete,
                                  unit_weight)
        log_p = log_w + values - 0.5 * jnp.sum(u3 * u3, axis=-1)
        weights = jnp.exp(log_p - logsumexp(log_p, axis=-1, keepdims=True))
        mean = jnp.einsum("un,unk->uk", weights, u3)
        centred = u3 - mean[:, None, :]
        cov = jnp.einsum("un,unk,unl->ukl", weights, centred, centred) + 1e-10 * jnp.eye(q3)
        return (mean, jnp.linalg.cholesky(cov), inner_modes), None

    state, _ = jax.lax.scan(step, state, None, length=iterations)
    # final inner modes at the final outer nodes
    location, scale, inner_modes = state
    if discrete is None:
        u3, _, _ = outer_nodes(location, scale, integration.nip, q3)
        inner_modes = find_modes(inner_model(base, outer_loadings, parent, u3), inner_modes)
    return location, scale, inner_modes


def nested_class_posterior(base, outer_loadings, parent, n_units3, integration, state, discrete, unit_weight=None):
    """Level-2 units with latent classes inside a normal level-3 effect u3: P(c | y) of every level-2 unit,
    sum_n p_kn P(c | y_j, u3_n) with p_kn the posterior weights of the outer nodes, and the posterior means
    (U3, q3) and covariances (U3, q3, q3) of u3, sum_n p_kn u3_n and likewise."""
    location, scale, inner_modes = state
    q3 = outer_loadings.shape[0]
    u3, log_w, _ = outer_nodes(location, scale, integration.nip, q3)
    k3 = u3.shape[1]
    inner = inner_model(base, outer_loadings, parent, u3)
    terms = inner_class_terms(inner, discrete, k3)  # (K3*U2, C)
    per_unit = logsumexp(terms, axis=-1).reshape(k3, -1).T
    if unit_weight is not None:
        per_unit = unit_weight[:, None] * per_unit
    values = jax.ops.segment_sum(per_unit, parent, num_segments=n_units3, indices_are_sorted=True)
    log_p = log_w + values - 0.5 * jnp.sum(u3 * u3, axis=-1)
    weights = jnp.exp(log_p - logsumexp(log_p, axis=-1, keepdims=True))  # (U3, K3)
    given_node = jnp.exp(terms - logsumexp(terms, axis=-1, keepdims=True)).reshape(k3, base.n_clusters, -1)
    mean3 = jnp.einsum("un,unk->uk", weights, u3)
    centred = u3 - mean3[:, None, :]
    cov3 = jnp.einsum("un,unk,unl->ukl", weights, centred, centred)
    return jnp.einsum("nj,njc->jc", weights[parent].T, given_node), mean3, cov3


def nested_posterior(base, outer_loadings, parent, n_units3, integration, state, unit_weight=None):
    """Posterior means and covariances of the standardised latent variables at both levels.

    Level 3: the adapted outer rule's weights p_kn give E(u3 | y_k) and Cov(u3 | y_k).
    Level 2: E(u2 | y) = sum_n p_kn E(u2 | y_j, u3_n), and likewise for second moments.
    """
    location, scale, inner_modes = state
    q3 = outer_loadings.shape[0]
    u3, log_w, _ = outer_nodes(location, scale, integration.nip, q3)
    k3 = u3.shape[1]
    inner = inner_model(base, outer_loadings, parent, u3)
    values = outer_log_values(inner, integration, inner_modes, parent, n_units3, k3, 0, None, unit_weight)
    log_p = log_w + values - 0.5 * jnp.sum(u3 * u3, axis=-1)
    weights = jnp.exp(log_p - logsumexp(log_p, axis=-1, keepdims=True))  # (U3, K3)
    mean3 = jnp.einsum("un,unk->uk", weights, u3)
    centred = u3 - mean3[:, None, :]
    cov3 = jnp.einsum("un,unk,unl->ukl", weights, centred, centred)
    node_mean, node_cov = posterior_moments(inner, integration, inner_modes)  # (K3*U2, q2), (K3*U2, q2, q2)
    n_units2 = base.n_clusters
    node_mean = node_mean.reshape(k3, n_units2, -1)
    node_cov = node_cov.reshape((k3, n_units2) + node_cov.shape[1:])
    unit_weights = weights[parent].T  # (K3, U2)
    mean2 = jnp.einsum("nj,njk->jk", unit_weights, node_mean)
    second = jnp.einsum("nj,njkl->jkl", unit_weights, node_cov + node_mean[..., :, None] * node_mean[..., None, :])
    cov2 = second - mean2[:, :, None] * mean2[:, None, :]
    return mean3, cov3, mean2, cov2
