"""Zero-inflated counts: a structural zero with probability pi_i = logit^-1(z_i), z_i = w_i' gamma, else a count
from the family (Poisson or negative binomial) with mean mu_i:

    log f(0)     = log[pi_i + (1 - pi_i) f_c(0 | mu_i)]  = logaddexp(log pi_i, log(1 - pi_i) + log f_c(0 | mu_i)),
    log f(y > 0) = log(1 - pi_i) + log f_c(y | mu_i),

with log pi = -softplus(-z) and log(1 - pi) = -softplus(z), so neither is rounded. The family's kernels leave out
-log y! (added as a constant), which is 0 at y = 0: the same constant serves the mixture.

Derivatives in eta (the random effects enter the count part only): with r = P(count zero | y = 0, eta)
= (1 - pi) f_c(0) / f(0), d log f(0) = r k', d2 log f(0) = r k'' + r (1 - r) k'^2 (k = log f_c(0)).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from . import negative_binomial
from .links import softplus


def zero_inflated_log_density(y, count_log_density, zero_logit):
    """log f(y) of the mixture from the count part's log f_c(y) (kernel) and z = logit P(structural zero)."""
    log_pi, log_not_pi = -softplus(-zero_logit), -softplus(zero_logit)
    return jnp.where(y == 0, jnp.logaddexp(log_pi, log_not_pi + count_log_density), log_not_pi + count_log_density)


def zero_inflated_derivatives(y, count_log_density, d1, d2, zero_logit):
    """First and second derivatives in eta of the mixture's log f(y) from the count part's (closed form)."""
    log_pi, log_not_pi = -softplus(-zero_logit), -softplus(zero_logit)
    count_share = jnp.exp(log_not_pi + count_log_density - jnp.logaddexp(log_pi, log_not_pi + count_log_density))
    zero = y == 0
    r = jnp.where(zero, count_share, 1.0)
    return r * d1, r * d2 + jnp.where(zero, r * (1.0 - r) * d1 * d1, 0.0)


def count_zero_probability_numpy(name: str, mu, dispersion=None):
    """f_c(0 | mu) of the count part on the host: e^-mu (Poisson), (theta / (theta + mu))^theta (NB2, dispersion
    theta), (1 + alpha)^(-mu / alpha) (NB1, dispersion alpha)."""
    mu = np.asarray(mu, dtype=float)
    if name == "poisson":
        return np.exp(-mu)
    return np.exp(negative_binomial.log_density_numpy(name, np.zeros_like(mu), mu, dispersion))
