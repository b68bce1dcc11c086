"""Choice sets: multinomial logit over the alternatives of a set.

Rows come in sets of K consecutive slots (alternatives; padded slots are unavailable).
With linear predictors eta_a of the available alternatives and y_a = 1 for the chosen one,

    log P(chosen) = sum_a y_a eta_a - n log sum_{a available} exp(eta_a),   n = sum_a y_a,

assigned to slots as y_a (eta_a - logsumexp), so sums over rows give the set's log probability.
Nominal responses (one set per observation, category-specific coefficients), discrete choice
(alternative-specific covariates) and exploded rankings (one set per ranking stage) all reduce to this.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax.scipy.special import logsumexp


def _sets(x, K: int):
    return x.reshape(x.shape[:-1] + (x.shape[-1] // K, K))


def choice_log_probability(y, eta, available, K: int):
    """Per-slot y_a (eta_a - log sum_available exp eta); eta (..., W) with W a multiple of K."""
    e, a = _sets(eta, K), _sets(jnp.broadcast_to(available, eta.shape), K)
    lse = logsumexp(jnp.where(a > 0, e, -jnp.inf), axis=-1, keepdims=True)
    return (_sets(jnp.broadcast_to(y, eta.shape), K) * (e - lse)).reshape(eta.shape)


def choice_derivatives(y, eta, available, K: int):
    """d/d eta_a = y_a - n p_a per slot (..., W) and the within-set Hessian -n (diag p - p p') (..., W/K, K, K)."""
    e, a = _sets(eta, K), _sets(jnp.broadcast_to(available, eta.shape), K)
    ys = _sets(jnp.broadcast_to(y, eta.shape), K)
    masked = jnp.where(a > 0, e, -jnp.inf)
    p = jnp.exp(masked - logsumexp(masked, axis=-1, keepdims=True))
    n = jnp.sum(ys, axis=-1, keepdims=True)
    d1 = (ys - n * p).reshape(eta.shape)
    d2 = -n[..., None] * (p[..., :, None] * jnp.eye(K) - p[..., :, None] * p[..., None, :])
    return d1, d2
