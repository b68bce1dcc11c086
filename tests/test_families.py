"""Log densities against scipy.stats, closed-form derivatives against autodiff, with and without jit."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import gllamm
from gllamm.families.families import FAMILY_LINKS

rng = np.random.default_rng(3)


def _data(family, link):
    n = 50
    if family == "binomial":  # eta inside the link's domain: p in (0, 1)
        trials = rng.integers(1, 6, n).astype(float)
        eta = {"log": rng.uniform(-3.0, -0.05, n), "identity": rng.uniform(0.05, 0.95, n)}.get(link, rng.normal(size=n))
        return rng.integers(0, 2, n) * trials, trials, eta
    if family in ("poisson", "negbin", "negbin1"):
        eta = rng.uniform(0.2, 4.0, n) if link == "identity" else rng.normal(size=n)
        return rng.poisson(2.0, n).astype(float), np.ones(n), eta
    if family == "gamma":
        eta = rng.uniform(0.5, 2.0, n)
        return rng.gamma(3.0, 1.0, n), np.ones(n), eta
    eta = rng.uniform(0.5, 2.0, n)
    return rng.normal(1.0, 1.0, n), np.ones(n), eta


def _scipy_logpdf(family, y, trials, mu, log_dispersion):
    if family == "gaussian":
        return stats.norm.logpdf(y, mu, np.exp(log_dispersion))
    if family == "binomial":
        return stats.binom.logpmf(y, trials, mu)
    if family == "poisson":
        return stats.poisson.logpmf(y, mu)
    alpha = np.exp(log_dispersion)
    if family == "negbin":  # Var = mu + alpha mu^2: size 1/alpha, probability (1/alpha) / (1/alpha + mu)
        return stats.nbinom.logpmf(y, 1 / alpha, (1 / alpha) / (1 / alpha + mu))
    if family == "negbin1":  # Var = mu (1 + alpha): size mu/alpha, probability 1/(1 + alpha)
        return stats.nbinom.logpmf(y, mu / alpha, 1 / (1 + alpha))
    shape = np.exp(-log_dispersion)
    return stats.gamma.logpdf(y, shape, scale=mu / shape)


@pytest.mark.parametrize("family,link", [(f, l) for f, links in FAMILY_LINKS.items() for l in links
                                         if f not in ("ordinal", "multinomial")])
@pytest.mark.parametrize("use_jit", [False, True])
def test_log_density_matches_scipy(family, link, use_jit):
    fam = gllamm.make_family(family, link)
    y, trials, eta = _data(family, link)
    log_dispersion = -0.3 if fam.has_dispersion else 0.0  # binomial: a log scale != 0 would rescale eta
    kernel = jax.jit(fam.kernel) if use_jit else fam.kernel
    ours = np.asarray(kernel(y, eta, trials, log_dispersion)) + fam.constant(y, trials)
    mu = np.asarray(fam.mean(eta))
    np.testing.assert_allclose(ours, _scipy_logpdf(family, y, trials, mu, log_dispersion), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("family,link", [(f, l) for f, links in FAMILY_LINKS.items() for l in links
                                         if f not in ("ordinal", "multinomial")])
def test_closed_form_derivatives_match_autodiff(family, link):
    fam = gllamm.make_family(family, link)
    y, trials, eta = _data(family, link)
    # binomial: the scaled (s = e^-0.3) kernel; the log and identity links have no latent-response scale
    log_dispersion = 0.0 if family == "binomial" and link in ("log", "identity") else -0.3
    total = lambda e: jnp.sum(fam.kernel(y, e, trials, log_dispersion))
    d1_auto, d2_auto = jax.jvp(jax.grad(total), (jnp.asarray(eta),), (jnp.ones_like(eta),))
    d1, d2 = fam.kernel_derivatives(y, eta, trials, log_dispersion)
    np.testing.assert_allclose(d1, d1_auto, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(d2, d2_auto, rtol=1e-9, atol=1e-9)


def test_extreme_linear_predictors_stay_finite():
    eta = jnp.array([-40.0, -5.0, 0.0, 5.0, 40.0])
    for link in ("logit", "probit", "cloglog"):
        fam = gllamm.make_family("binomial", link)
        values = fam.kernel(jnp.array([0.0, 1.0, 1.0, 0.0, 1.0]), eta, 1.0, 0.0)
        assert np.all(np.isfinite(np.asarray(values))), link
        assert np.all(np.isfinite(np.asarray(fam.kernel_derivatives(jnp.ones(5), eta, 1.0, 0.0)[0]))), link


def test_unknown_family_and_link_suggest_closest():
    with pytest.raises(gllamm.GllammError, match="Did you mean 'binomial'"):
        gllamm.make_family("binomal")
    with pytest.raises(gllamm.GllammError, match="Did you mean 'probit'"):
        gllamm.make_family("binomial", "probt")
    with pytest.raises(gllamm.GllammError, match="not available for family 'poisson'"):
        gllamm.make_family("poisson", "logit")


@pytest.mark.parametrize("link,cdf", [("logit", stats.logistic.cdf), ("probit", stats.norm.cdf),
                                      ("cloglog", lambda x: -np.expm1(-np.exp(x)))])
def test_ordinal_probabilities_and_derivatives(link, cdf):
    """log P(y = k) against differences of the cdf (scipy), derivatives in eta against autodiff,
    finite values far in both tails."""
    fam = gllamm.make_family("ordinal", link)
    kappa = np.array([-1.2, 0.1, 0.9, 2.4])
    n = 60
    code = rng.integers(0, 5, n).astype(float)
    eta = rng.normal(0, 1.5, n)
    log_scale = rng.normal(0, 0.3, n)
    index = code.astype(int)
    cuts = (kappa[np.clip(index - 1, 0, 3)], kappa[np.clip(index, 0, 3)], 5)
    bounds = np.r_[-np.inf, kappa, np.inf]
    scale = np.exp(log_scale)
    expected = np.log(cdf((bounds[index + 1] - eta) / scale) - cdf((bounds[index] - eta) / scale))
    ours = np.asarray(fam.kernel(code, eta, 1.0, log_scale, cuts))
    representable = expected > -15  # where the plain difference of cdfs has not lost its digits
    assert representable.sum() > 30 and np.all(np.isfinite(ours))
    np.testing.assert_allclose(ours[representable], expected[representable], rtol=1e-9, atol=1e-12)
    total = lambda e: jnp.sum(fam.kernel(code, e, 1.0, log_scale, cuts))
    d1_auto, d2_auto = jax.jvp(jax.grad(total), (jnp.asarray(eta),), (jnp.ones_like(eta),))
    d1, d2 = fam.kernel_derivatives(code, eta, 1.0, log_scale, cuts)
    np.testing.assert_allclose(d1, d1_auto, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(d2, d2_auto, rtol=1e-8, atol=1e-9)
    far = jnp.asarray(np.where(rng.uniform(size=n) < 0.5, -40.0, 40.0))
    values = fam.kernel(code, far, 1.0, 0.0, cuts)
    gradient = jax.grad(lambda e: jnp.sum(fam.kernel(code, e, 1.0, 0.0, cuts)))(far)
    assert np.all(np.isfinite(np.asarray(values))) and np.all(np.isfinite(np.asarray(gradient)))
    # second derivatives by autodiff (as the Hessian in the parameters takes them) stay finite in every category
    grid_code = np.repeat(np.arange(5.0), 41)
    grid_eta = jnp.asarray(np.tile(np.linspace(-10, 10, 41), 5))
    grid_cuts = (kappa[np.clip(grid_code.astype(int) - 1, 0, 3)], kappa[np.clip(grid_code.astype(int), 0, 3)], 5)
    grid_total = lambda e: jnp.sum(fam.kernel(grid_code, e, 1.0, 0.0, grid_cuts))
    _, grid_d2 = jax.jvp(jax.grad(grid_total), (grid_eta,), (jnp.ones_like(grid_eta),))
    assert np.all(np.isfinite(np.asarray(grid_d2)))
