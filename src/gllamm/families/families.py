"""Conditional distributions of a response given the linear predictor.

Each family gives the log density log f(y | eta) as a JAX function of the
linear predictor eta, split as  kernel(y, eta, log_dispersion) + constant(y),
where the constant (binomial coefficients, log y! ...) does not depend on
parameters and is computed once on the host.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln as jgammaln

from ..errors import GllammError, check_choice
from .links import LINK_ALIASES, Link
from .misclassification import misclassified_derivatives, misclassified_log_density, observed_probability
from .multinomial import choice_derivatives, choice_log_probability
from .negative_binomial import nb1_derivatives, nb1_kernel, nb2_derivatives, nb2_kernel
from .ordinal import interval_derivatives, interval_log_probability

FAMILY_LINKS = {
    "gaussian": ("identity", "log", "reciprocal"),
    "binomial": ("logit", "probit", "cloglog", "log", "identity"),
    "poisson": ("log", "identity"),
    "negbin": ("log",),
    "negbin1": ("log",),
    "gamma": ("reciprocal", "log", "identity"),
    "ordinal": ("logit", "probit", "cloglog"),
    "multinomial": ("logit",),
}
FAMILY_ALIASES = {"normal": "gaussian", "gauss": "gaussian", "bernoulli": "binomial", "logit": "binomial",
                  "ologit": "ordinal", "cumulative": "ordinal", "mlogit": "multinomial", "nominal": "multinomial",
                  "categorical": "multinomial", "nbinom2": "negbin", "negative_binomial": "negbin", "nb2": "negbin",
                  "nbinom1": "negbin1", "nb1": "negbin1"}
CANONICAL = {"gaussian": "identity", "binomial": "logit", "poisson": "log", "gamma": "reciprocal", "negbin": "log",
             "negbin1": "log", "ordinal": "logit",
             "multinomial": "logit"}


@dataclass(frozen=True)
class Family:
    """A response distribution with its link.

    Families and their log densities (mu = g^{-1}(eta)):

    * gaussian:  -log(sigma) - log(2 pi)/2 - (y - mu)^2 / (2 sigma^2); dispersion log(sigma)
    * binomial:  y log p + (n - y) log(1 - p) + log C(n, y), p = F(eta / s); s = 1 unless the
                 scale is modelled (scaled probit/logit); the "dispersion" slot holds log s
    * poisson:   y log mu - mu - log y!; no dispersion
    * gamma:     nu log(nu y / mu) - nu y / mu - log y - log Gamma(nu), nu = 1/phi; dispersion log(phi)
    * negbin:    NB2, Var(y) = mu + mu^2/theta; dispersion log(1/theta), reported as theta (negative_binomial.py)
    * negbin1:   NB1, Var(y) = mu (1 + alpha); dispersion log(alpha), reported as alpha
    * ordinal:   log[F((kappa_y - eta)/s) - F((kappa_{y-1} - eta)/s)] (see ordinal.py); y is the
                 0-based category, the "dispersion" slot holds log s (0 unless the scale is modelled)
    """

    name: str
    link: Link
    sensitivity: float = 1.0  # binomial responses observed with error (misclassification.py): P(y* = 1 | y = 1)
    specificity: float = 1.0  # P(y* = 0 | y = 0)

    @property
    def misclassified(self) -> bool:
        """A binary response observed with known sensitivity and specificity below 1 (a composite link)."""
        return self.name == "binomial" and (self.sensitivity, self.specificity) != (1.0, 1.0)

    @property
    def has_dispersion(self) -> bool:
        """True for families with a residual variance or dispersion parameter."""
        return self.name in ("gaussian", "gamma", "negbin", "negbin1")

    @property
    def dispersion_name(self) -> str:
        """Name of the dispersion parameter in result tables."""
        return {"gaussian": "var(Residual)", "gamma": "dispersion", "negbin": "theta", "negbin1": "alpha"}.get(self.name, "")

    @property
    def counts(self) -> bool:
        """True for count families (Poisson and negative binomial)."""
        return self.name in ("poisson", "negbin", "negbin1")

    @property
    def exact_gaussian(self) -> bool:
        """True when the conditional log density is quadratic in eta (Laplace is exact)."""
        return self.name == "gaussian" and self.link.name == "identity"

    def kernel(self, y, eta, trials, log_dispersion, cuts=None, choice=None):
        """Parameter-dependent part of log f(y | eta), elementwise.

        ``cuts`` = (lower, upper, n_categories): the thresholds around each row's
        category, for ordinal responses only.
        """
        if self.name == "multinomial":  # choice = (available, set size K): see multinomial.py
            return choice_log_probability(y, eta, *choice)
        if self.name == "ordinal":
            lower, upper, n_categories = cuts
            return interval_log_probability(self.link, y, n_categories, lower, upper, eta, log_dispersion)
        if self.name == "gaussian":
            mu = self.link.inverse(eta)
            return -log_dispersion - 0.5 * jnp.log(2 * jnp.pi) - 0.5 * (y - mu) ** 2 * jnp.exp(-2 * log_dispersion)
        if self.misclassified:
            return misclassified_log_density(self.link, y, eta, trials, self.sensitivity, self.specificity)
        if self.name == "binomial":  # log_dispersion: log of the latent-response scale (0 unless modelled)
            eta = eta * jnp.exp(-log_dispersion)
            log_p, log_q = self.link.log_probabilities(eta)
            value = y * log_p + (trials - y) * log_q
            if self.link.name in ("log", "identity"):  # outside (0, 1): log density -inf, with zero gradient
                return jnp.where(self.link.binary_valid(eta), value, -jnp.inf)
            return value
        if self.name == "poisson":
            if self.link.name == "identity":  # mu = eta > 0
                valid = eta > 0.0
                mu = jnp.where(valid, eta, 1.0)
                return jnp.where(valid, y * jnp.log(mu) - mu, -jnp.inf)
            return y * eta - jnp.exp(eta)
        if self.name == "negbin":
            return nb2_kernel(y, eta, log_dispersion)
        if self.name == "negbin1":
            return nb1_kernel(y, eta, log_dispersion)
        if self.name == "gamma":
            nu = jnp.exp(-log_dispersion)
            if self.link.name == "log":
                log_mu, ratio = eta, y * jnp.exp(-eta)
                valid = True
            else:  # a non-positive mean has density 0 (log density -inf, with zero gradient)
                mu = self.link.inverse(eta)
                valid = mu > 0
                mu = jnp.where(valid, mu, 1.0)
                log_mu, ratio = jnp.log(mu), y / mu
            value = nu * (-log_dispersion + jnp.log(y) - log_mu) - nu * ratio - jnp.log(y) - jgammaln(nu)
            return jnp.where(valid, value, -jnp.inf)
        raise AssertionError(self.name)

    def kernel_derivatives(self, y, eta, trials, log_dispersion, cuts=None, choice=None):
        """First and second derivatives of kernel(y, eta) in eta, in closed form (elementwise).

        Used for the per-cluster Newton iterations; closed forms keep the
        differentiated graph (and compile time) small.
        """
        if self.name == "multinomial":  # second derivatives per set: (..., W/K, K, K)
            return choice_derivatives(y, eta, *choice)
        if self.name == "ordinal":
            lower, upper, n_categories = cuts
            return interval_derivatives(self.link, y, n_categories, lower, upper, eta, log_dispersion)
        if self.misclassified:
            return misclassified_derivatives(self.link, y, eta, trials, self.sensitivity, self.specificity)
        if self.name == "binomial":
            scale = jnp.exp(-log_dispersion)
            a1, a2, b1, b2 = self.link.log_probability_derivatives(eta * scale)
            return (y * a1 + (trials - y) * b1) * scale, (y * a2 + (trials - y) * b2) * scale * scale
        if self.name == "poisson":
            if self.link.name == "identity":
                mu = jnp.where(eta > 0.0, eta, 1.0)
                return y / mu - 1.0, -y / (mu * mu)
            mu = jnp.exp(eta)
            return y - mu, -mu
        if self.name == "negbin":
            return nb2_derivatives(y, eta, log_dispersion)
        if self.name == "negbin1":
            return nb1_derivatives(y, eta, log_dispersion)
        mu, m1, m2 = self.link.mean_derivatives(eta)
        if self.name == "gaussian":
            precision = jnp.exp(-2 * log_dispersion)
            return (y - mu) * m1 * precision, ((y - mu) * m2 - m1 * m1) * precision
        if self.name == "gamma":
            nu = jnp.exp(-log_dispersion)
            if self.link.name == "log":
                ratio = y * jnp.exp(-eta)
                return nu * (ratio - 1.0), -nu * ratio
            dl = nu * (y - mu) / (mu * mu)
            d2l = nu * (1.0 / (mu * mu) - 2.0 * y / (mu * mu * mu))
            return dl * m1, d2l * m1 * m1 + dl * m2
        raise AssertionError(self.name)

    def constant(self, y: np.ndarray, trials: np.ndarray) -> np.ndarray:
        """Parameter-free part of log f(y | eta), computed once on the host."""
        y = np.asarray(y, dtype=float)
        if self.name == "binomial":
            trials = np.asarray(trials, dtype=float)
            if np.all(trials == 1.0):
                return np.zeros_like(y)
            table = _log_factorials(int(trials.max()))
            return table[trials.astype(int)] - table[y.astype(int)] - table[(trials - y).astype(int)]
        if self.counts:
            return -_log_factorials(int(y.max()))[y.astype(int)]
        return np.zeros_like(y)

    def mean(self, eta):
        """Conditional mean E(y | eta) per trial (a probability for binomial; observed with error: se F(eta) +
        (1 - sp)(1 - F(eta)))."""
        return observed_probability(self, self.link.inverse(eta))

    @property
    def bounded_mean(self) -> bool:
        """The link can put the mean outside its parameter space: binomial log or identity, Poisson identity,
        gamma identity or reciprocal (``eta_in_domain`` says where it stays inside)."""
        return (self.name == "binomial" and self.link.name in ("log", "identity")) or \
            (self.name in ("poisson", "gamma") and self.link.name in ("identity", "reciprocal"))

    def eta_in_domain(self, eta) -> np.ndarray:
        """Where the mean h(eta) is in the family's parameter space (host side)."""
        eta = np.asarray(eta, dtype=float)
        if not self.bounded_mean:
            return np.ones(eta.shape, dtype=bool)
        if self.name == "binomial" and self.link.name == "log":
            return eta < 0
        if self.name == "binomial":
            return (eta > 0) & (eta < 1)
        return eta > 0

    @property
    def pad_eta(self) -> float:
        """The linear predictor of padded rows (weight 0): inside the link's domain."""
        if self.name == "binomial" and self.link.name == "log":
            return -1.0
        if self.name == "binomial" and self.link.name == "identity":
            return 0.5
        return 1.0

    @property
    def pad_value(self) -> float:
        """A response value with finite log density, used in padded rows (weight 0)."""
        return 1.0 if self.name == "gamma" else 0.0

    def validate(self, y: np.ndarray, trials: np.ndarray | None, column: str) -> None:
        """Raise GllammError if y is outside the support of the family."""
        if self.name == "binomial":
            if np.any(y < 0):
                raise GllammError(f"Binomial response '{column}' has negative values; it must be a 0/1 indicator or a count of successes.")
            if trials is None:
                if np.any(y > 1):
                    raise GllammError(
                        f"Binomial response '{column}' has values above 1 but no number of trials was given. "
                        f"Use cbind(successes, failures) ~ ... or trials='column' for counts, or recode '{column}' as 0/1."
                    )
            else:
                if np.any(trials <= 0):
                    raise GllammError(f"Binomial number of trials for '{column}' must be positive.")
                if np.any(y > trials):
                    bad = int(np.sum(y > trials))
                    raise GllammError(f"Binomial response '{column}' exceeds its number of trials in {bad} rows.")
        elif self.counts:
            what = "Poisson" if self.name == "poisson" else "Negative binomial"
            if np.any(y < 0):
                raise GllammError(f"{what} response '{column}' has negative counts ({int(np.sum(y < 0))} rows); counts must be >= 0.")
            if np.any(y != np.round(y)):
                raise GllammError(f"{what} response '{column}' has non-integer values; counts must be whole numbers.")
        elif self.name == "gamma":
            if np.any(y <= 0):
                raise GllammError(f"Gamma response '{column}' must be strictly positive ({int(np.sum(y <= 0))} rows are not).")


def _log_factorials(n: int) -> np.ndarray:
    """log k! for k = 0..n (whole-number responses are validated before this is used)."""
    return np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, n + 1, dtype=float)))])


def make_family(family: str | Family, link: str | None = None) -> Family:
    """Build a Family from names, using the canonical link when ``link`` is None: families "gaussian",
    "binomial", "poisson", "negbin", "negbin1", "gamma", "ordinal", "multinomial"; links "identity", "log",
    "reciprocal", "logit", "probit", "cloglog" (those the family allows)."""
    if isinstance(family, Family):
        return family if link is None else make_family(family.name, link)
    name = FAMILY_ALIASES.get(str(family).lower(), str(family).lower())
    name = check_choice("family", name, FAMILY_LINKS)
    link_name = CANONICAL[name] if link is None else LINK_ALIASES.get(str(link).lower(), str(link).lower())
    all_links = sorted({l for links in FAMILY_LINKS.values() for l in links})
    check_choice("link", link_name, all_links)
    if link_name not in FAMILY_LINKS[name]:
        raise GllammError(
            f"Link '{link_name}' is not available for family '{name}'. Choose one of: {', '.join(FAMILY_LINKS[name])}."
        )
    return Family(name, Link(link_name))
