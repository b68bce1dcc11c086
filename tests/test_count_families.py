"""Negative binomial counts (NB2 ``negbin``, NB1 ``negbin1``) with random effects and as indicators.

References (glmmTMB, Laplace; salamanders data bundled as gllamm.datasets "salamanders"):
- salamanders_nb2.json: glmmTMB(count ~ minedno + cover + (1|site), family=nbinom2); "dispersion" is theta.
  Script: tests/reference/r/refs_fit_measures_crossed_nb_profile.R (copied from ../shared/reference).
- salamanders_nb1.json: glmmTMB(..., family=nbinom1); "sigma" is alpha (Var = mu (1 + alpha)).
  Script: tests/reference/r/count_families.R.
"""

import numpy as np
import pandas as pd
import pytest
from scipy.special import gammaln, roots_hermite

import gllamm
from gllamm.errors import GllammError
from reference_cases import load_reference

FORMULA = "count ~ minedno + cover + (1|site)"


@pytest.fixture(scope="module")
def salamanders():
    return gllamm.datasets.load("salamanders")


def _check_against_glmmtmb(result, ref, dispersion_name, dispersion_value):
    assert result.converged
    assert abs(result.loglik - ref["loglik"]) < 1e-3
    for name, value in ref["fixef"].items():
        assert abs(result.params[name] - value) < 2e-3, name
        assert abs(result.se[name] / ref["fixef_se"][name] - 1) < 0.02, name
    assert abs(result.params[dispersion_name] / dispersion_value - 1) < 1e-3
    assert abs(result.params["var((Intercept)|site)"] / ref["var_site"] - 1) < 2e-3


def test_nb2_matches_glmmtmb(salamanders):
    ref = load_reference("salamanders_nb2")
    result = gllamm.fit(FORMULA, salamanders, family="negbin", method="laplace")
    _check_against_glmmtmb(result, ref, "theta", ref["dispersion"])
    assert "NB2, Var = mu + mu^2/theta" in result.summary()


@pytest.mark.slow
def test_nb1_matches_glmmtmb(salamanders):
    ref = load_reference("salamanders_nb1")
    result = gllamm.fit(FORMULA, salamanders, family="negbin1", method="laplace")
    _check_against_glmmtmb(result, ref, "alpha", ref["sigma"])


def test_nb2_with_huge_theta_is_the_poisson_fit(salamanders):
    """theta -> inf: NB2 -> Poisson. With theta fixed at 1e9 the log-likelihoods differ by about
    sum y(y - 1) / (2 theta) ~ 3e-6 here; the fits agree within 1e-5 (log L) and 1e-4 (estimates)."""
    poisson = gllamm.fit(FORMULA, salamanders, family="poisson", method="laplace")
    negbin = gllamm.fit(FORMULA, salamanders, family="negbin", method="laplace", fix={"theta": 1e9})
    assert abs(negbin.loglik - poisson.loglik) < 1e-5
    for name in poisson.params.index:
        assert abs(negbin.params[name] - poisson.params[name]) < 1e-4, name


def _nb2_log_density(y, mu, theta):
    return gammaln(y + theta) - gammaln(theta) - gammaln(y + 1) + theta * np.log(theta / (theta + mu)) \
        + y * np.log(mu / (theta + mu))


@pytest.mark.slow
def test_nb2_count_indicators_in_model_syntax_equal_brute_force():
    """A one-factor model for three NB2 count indicators: log L at the estimates against an independent
    100-point Gauss-Hermite integral over the factor per person (numpy/scipy)."""
    rng = np.random.default_rng(3)
    n = 300
    f = rng.normal(size=n)
    loadings, intercepts, theta = np.array([1.0, 0.7, 0.5]), np.array([0.5, 1.0, 0.2]), np.array([2.0, 5.0, 1.0])
    mu = np.exp(intercepts + np.outer(f, loadings))
    y = rng.negative_binomial(theta, theta / (theta + mu))
    data = pd.DataFrame(y, columns=["y1", "y2", "y3"])
    result = gllamm.fit("f =~ y1 + y2 + y3", data, family="negbin", nip=12)
    assert result.converged
    p = result.params
    lam = np.array([1.0, p["f=~y2"], p["f=~y3"]])
    nu = np.array([p["y1~1"], p["y2~1"], p["y3~1"]])
    th = np.array([p["y1~~y1"], p["y2~~y2"], p["y3~~y3"]])
    nodes, weights = roots_hermite(100)
    sd = np.sqrt(p["f~~f"])
    eta = nu[None, None, :] + lam[None, None, :] * (np.sqrt(2) * sd * nodes)[None, :, None]  # (1, nodes, items)
    log_f = _nb2_log_density(y[:, None, :], np.exp(eta), th[None, None, :]).sum(axis=2)  # (persons, nodes)
    brute = np.sum(np.log(np.exp(log_f) @ (weights / np.sqrt(np.pi))))
    assert abs(result.loglik - brute) < 1e-6
    for true, name in zip(theta, ["y1~~y1", "y2~~y2", "y3~~y3"]):
        assert abs(np.log(p[name]) - np.log(true)) < 4 * result.se[name] / p[name], name


def test_negative_counts_and_scale_are_refused(salamanders):
    bad = salamanders.assign(count=salamanders["count"] - 1)
    with pytest.raises(GllammError, match="Negative binomial response 'count' has negative counts"):
        gllamm.fit(FORMULA, bad, family="negbin")
    with pytest.raises(GllammError, match="negative binomial count response does not have"):
        gllamm.fit(FORMULA, salamanders, family="negbin", scale="~ cover")
