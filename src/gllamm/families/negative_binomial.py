"""Negative binomial counts with a log link: NB2 (``negbin``) and NB1 (``negbin1``).

With mu = exp(eta) and the dispersion slot holding log alpha:

* NB2 (glmmTMB's ``nbinom2``, Stata's ``nbreg``): Var(y) = mu + mu^2 / theta, theta = 1/alpha,
  log f = lgamma(y + theta) - lgamma(theta) - lgamma(y + 1) + theta log(theta / (theta + mu))
          + y log(mu / (theta + mu)).
* NB1 (glmmTMB's ``nbinom1``, Stata's ``nbreg, dispersion(constant)``): Var(y) = mu (1 + alpha),
  the NB2 form with size r = mu / alpha and probability 1 / (1 + alpha):
  log f = lgamma(y + r) - lgamma(r) - lgamma(y + 1) - r log(1 + alpha) + y log(alpha / (1 + alpha)).

Both tend to the Poisson as alpha -> 0. Written with softplus(x) = log(1 + e^x) so that no logarithm of a
rounded ratio appears; -lgamma(y + 1) is the parameter-free constant.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jax.scipy.special import digamma, gammaln, polygamma

from .links import softplus


def _sigmoid(x):
    return 1.0 / (1.0 + jnp.exp(-x))


_STIRLING_FROM = 1e3  # theta above which lgamma(y + theta) - lgamma(theta) - y log theta uses Stirling's series


def _log_rising_ratio(y, theta, log_theta):
    """lgamma(y + theta) - lgamma(theta) - y log theta = log prod_{k<y} (1 + k/theta), which tends to 0 as theta
    grows: directly for theta <= 1e3, and for larger theta (where the two lgamma values are huge and cancel) from
    Stirling's series, (theta + y - 1/2) log1p(y/theta) - y + 1/(12(theta+y)) - 1/(12 theta)
    - 1/(360 (theta+y)^3) + 1/(360 theta^3) (error below 1e-18 there)."""
    large = theta > _STIRLING_FROM
    small_theta = jnp.where(large, 1.0, theta)
    direct = gammaln(y + small_theta) - gammaln(small_theta) - y * jnp.log(small_theta)
    big = jnp.where(large, theta, 2 * _STIRLING_FROM)
    z = big + y
    series = (z - 0.5) * jnp.log1p(y / big) - y + (1.0 / z - 1.0 / big) / 12.0 - (1.0 / z**3 - 1.0 / big**3) / 360.0
    return jnp.where(large, series, direct)


def nb2_kernel(y, eta, log_alpha):
    """[lgamma(y + theta) - lgamma(theta) - y log theta] + y eta - (y + theta) softplus(eta - log theta),
    theta = e^-log_alpha: the NB2 log density without -lgamma(y + 1) (theta log theta - (y + theta)
    log(theta + mu) rewritten), accurate as theta -> inf (the Poisson limit)."""
    log_theta = -log_alpha
    theta = jnp.exp(log_theta)
    return _log_rising_ratio(y, theta, log_theta) + y * eta - (y + theta) * softplus(eta - log_theta)


def nb2_derivatives(y, eta, log_alpha):
    """d/deta and d2/deta2 of the NB2 log density: y - (y + theta) s and -(y + theta) s (1 - s), s = mu/(mu + theta)."""
    theta = jnp.exp(-log_alpha)
    s = _sigmoid(eta + log_alpha)
    return y - (y + theta) * s, -(y + theta) * s * (1.0 - s)


def nb1_kernel(y, eta, log_alpha):
    """lgamma(y + r) - lgamma(r) - r log(1 + alpha) + y (log alpha - log(1 + alpha)), r = exp(eta - log alpha)."""
    r = jnp.exp(eta - log_alpha)
    log1p_alpha = softplus(log_alpha)
    return gammaln(y + r) - gammaln(r) - r * log1p_alpha + y * (log_alpha - log1p_alpha)


def nb1_derivatives(y, eta, log_alpha):
    """With dr/deta = r: d1 = r [psi(y + r) - psi(r) - log(1 + alpha)], d2 = d1 + r^2 [psi'(y + r) - psi'(r)]."""
    r = jnp.exp(eta - log_alpha)
    d1 = r * (digamma(y + r) - digamma(r) - softplus(log_alpha))
    return d1, d1 + r * r * (polygamma(1, y + r) - polygamma(1, r))


def variance(name: str, mu, dispersion):
    """Var(y | eta) given the reported dispersion (theta for NB2, alpha for NB1)."""
    return mu + mu * mu / dispersion if name == "negbin" else mu * (1.0 + dispersion)


def draw(name: str, mu, dispersion, rng):
    """Draws with mean mu: NB(size, p) with size theta, p = theta/(theta + mu) (NB2) or size mu/alpha,
    p = 1/(1 + alpha) (NB1)."""
    mu = np.asarray(mu, dtype=float)
    if name == "negbin":
        size, p = dispersion, dispersion / (dispersion + mu)
    else:
        size, p = mu / dispersion, 1.0 / (1.0 + dispersion) + 0.0 * mu
    return rng.negative_binomial(size, p).astype(float)


def log_density_numpy(name: str, y, mu, dispersion):
    """The full log density on the host (for deviance residuals)."""
    from scipy.special import gammaln as g

    y, mu = np.asarray(y, dtype=float), np.asarray(mu, dtype=float)
    if name == "negbin":
        theta = dispersion
        with np.errstate(divide="ignore", invalid="ignore"):
            out = g(y + theta) - g(theta) - g(y + 1) + theta * np.log(theta / (theta + mu)) \
                + np.where(y > 0, y * np.log(mu / (theta + mu)), 0.0)
        return out
    alpha = dispersion
    r = mu / alpha
    return g(y + r) - g(r) - g(y + 1) - r * np.log1p(alpha) + y * (np.log(alpha) - np.log1p(alpha))
