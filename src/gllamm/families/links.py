"""Link functions g(mu) = eta, as inverse links mu = g^{-1}(eta) in JAX.

Binary-response links also give log P(y=1) and log P(y=0) computed stably in
terms of eta (no log of a rounded probability).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from jax.scipy.special import log_ndtr, ndtr


@jax.custom_jvp
def softplus(x):
    """log(1 + exp(x)) as max(x, 0) + log1p(exp(-|x|)) (faster than jnp.logaddexp here), with its derivative
    written out as logit^-1(x): that of max and |.| at x = 0 would be 0 instead of 1/2."""
    return jnp.maximum(x, 0.0) + jnp.log1p(jnp.exp(-jnp.abs(x)))


@softplus.defjvp
def _softplus_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    return softplus(x), jax.nn.sigmoid(x) * dx


def _log_phi(x):
    """log of the standard normal density."""
    return -0.5 * x * x - 0.5 * jnp.log(2 * jnp.pi)


def _log1mexp(a):
    """log(1 - exp(-a)) for a > 0, accurate for small and large a."""
    small = a < 0.693
    # each branch sees only inputs in its own range, so the unused one has finite gradients
    return jnp.where(small, jnp.log(-jnp.expm1(-jnp.where(small, a, 1.0))), jnp.log1p(-jnp.exp(-jnp.where(small, 1.0, a))))


@dataclass(frozen=True)
class Link:
    """A link function, identified by name; methods are pure JAX functions."""

    name: str

    def inverse(self, eta):
        """mu = g^{-1}(eta)."""
        if self.name == "identity":
            return eta
        if self.name == "log":
            return jnp.exp(eta)
        if self.name == "reciprocal":
            return 1.0 / eta
        if self.name == "logit":
            return 1.0 / (1.0 + jnp.exp(-eta))
        if self.name == "probit":
            return ndtr(eta)
        if self.name == "cloglog":
            return -jnp.expm1(-jnp.exp(eta))
        raise AssertionError(self.name)

    def mean_derivatives(self, eta):
        """(mu, dmu/deta, d2mu/deta2) for the links used with Gaussian and gamma responses."""
        if self.name == "identity":
            return eta, jnp.ones_like(eta), jnp.zeros_like(eta)
        if self.name == "log":
            mu = jnp.exp(eta)
            return mu, mu, mu
        if self.name == "reciprocal":
            mu = 1.0 / eta
            return mu, -mu * mu, 2.0 * mu * mu * mu
        raise AssertionError(self.name)

    def binary_valid(self, eta):
        """Where p = g^{-1}(eta) is a probability in (0, 1): everywhere for logit, probit and cloglog; eta < 0
        for the log link (relative risks), 0 < eta < 1 for the identity link (risk differences)."""
        if self.name == "log":
            return eta < 0.0
        if self.name == "identity":
            return (eta > 0.0) & (eta < 1.0)
        return jnp.ones(jnp.shape(eta), dtype=bool)

    def _inside(self, eta):
        """eta where it is valid, a valid stand-in elsewhere (the caller masks those rows out)."""
        return jnp.where(self.binary_valid(eta), eta, -1.0 if self.name == "log" else 0.5)

    def log_probability_derivatives(self, eta):
        """First and second derivatives in eta of log p and log(1 - p): (a1, a2, b1, b2)."""
        if self.name == "log":  # log p = eta, log(1 - p) = log(1 - e^eta)
            p = jnp.exp(self._inside(eta))
            q = 1.0 - p
            return jnp.ones_like(p), jnp.zeros_like(p), -p / q, -p / (q * q)
        if self.name == "identity":  # log p = log eta, log(1 - p) = log(1 - eta)
            p = self._inside(eta)
            q = 1.0 - p
            return 1.0 / p, -1.0 / (p * p), -1.0 / q, -1.0 / (q * q)
        if self.name == "logit":
            p = 1.0 / (1.0 + jnp.exp(-eta))
            q = 1.0 / (1.0 + jnp.exp(eta))
            return q, -p * q, -p, -p * q
        if self.name == "probit":
            mills_pos = jnp.exp(_log_phi(eta) - log_ndtr(eta))
            mills_neg = jnp.exp(_log_phi(eta) - log_ndtr(-eta))
            return mills_pos, -mills_pos * (eta + mills_pos), -mills_neg, -mills_neg * (mills_neg - eta)
        if self.name == "cloglog":
            rate = jnp.exp(eta)
            survival = jnp.exp(-rate)
            a1 = rate / jnp.expm1(rate)
            a2 = rate * survival * (1.0 - rate - survival) / (-jnp.expm1(-rate)) ** 2
            return a1, a2, -rate, -rate
        raise AssertionError(self.name)

    def log_probabilities(self, eta):
        """(log p, log(1 - p)) with p = g^{-1}(eta), for binary-response links (log and identity links: at a valid
        stand-in where p would leave (0, 1); see ``binary_valid``)."""
        if self.name == "log":
            inside = self._inside(eta)
            return inside, _log1mexp(-inside)
        if self.name == "identity":
            inside = self._inside(eta)
            return jnp.log(inside), jnp.log1p(-inside)
        if self.name == "logit":
            return -softplus(-eta), -softplus(eta)
        if self.name == "probit":
            return log_ndtr(eta), log_ndtr(-eta)
        if self.name == "cloglog":
            rate = jnp.exp(eta)
            return _log1mexp(rate), -rate
        raise AssertionError(self.name)


LINK_ALIASES = {"inverse": "reciprocal", "recip": "reciprocal"}


def link_numpy(link: str, mu):
    """eta = g(mu) in NumPy (host side, e.g. for starting values). SciPy's special functions are imported
    only for the probit link (their import costs a quarter of a second of every process)."""
    import numpy as np

    if link == "identity":
        return mu
    if link == "log":
        return np.log(mu)
    if link == "reciprocal":
        return 1.0 / mu
    if link == "logit":
        return np.log(mu) - np.log1p(-mu)
    if link == "probit":
        from scipy import special

        return special.ndtri(mu)
    if link == "cloglog":
        return np.log(-np.log1p(-mu))
    raise AssertionError(link)


def inverse_link_numpy(link: str, eta):
    """mu = g^{-1}(eta) in NumPy (host side: predictions, simulation, starting values); the inverse logit
    from e = exp(-|eta|) as 1 / (1 + e) or e / (1 + e), which neither overflows nor loses relative precision."""
    import numpy as np

    if link == "identity":
        return eta
    if link == "log":
        return np.exp(eta)
    if link == "reciprocal":
        return 1.0 / eta
    if link == "logit":
        eta = np.asarray(eta, dtype=float)
        e = np.exp(-np.abs(eta))
        return np.where(eta >= 0, 1.0 / (1.0 + e), e / (1.0 + e))[()]
    if link == "probit":
        from scipy import special

        return special.ndtr(eta)
    if link == "cloglog":
        return -np.expm1(-np.exp(eta))
    raise AssertionError(link)
