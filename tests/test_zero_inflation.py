"""Zero-inflated Poisson and negative binomial mixed models (``zero_inflation="~ w"``).

References (glmmTMB 1.1.5, Laplace; salamanders data bundled as gllamm.datasets "salamanders"), written by
tests/reference/r/count_families.R:
- salamanders_zip.json:   glmmTMB(count ~ minedno + cover + (1|site), ziformula=~minedno, family=poisson)
                          logLik -946.918650181502
- salamanders_zinb2.json: glmmTMB(count ~ minedno + cover + (1|site), ziformula=~minedno, family=nbinom2)
                          logLik (see file); "sigma" is theta.
"""

import numpy as np
import pytest
from scipy.special import roots_hermite

import gllamm
from gllamm.errors import GllammError
from reference_cases import load_reference

FORMULA = "count ~ minedno + cover + (1|site)"


@pytest.fixture(scope="module")
def salamanders():
    return gllamm.datasets.load("salamanders")


@pytest.fixture(scope="module")
def zip_fit(salamanders):
    return gllamm.fit(FORMULA, salamanders, family="poisson", zero_inflation="~ minedno", method="laplace")


def _check(result, ref):
    assert result.converged
    assert abs(result.loglik - ref["loglik"]) < 1e-3
    for part, prefix in (("fixef", ""), ("zi", "zi:")):
        for name, value in ref[part].items():
            assert abs(result.params[prefix + name] - value) < 2e-3, name
            assert abs(result.se[prefix + name] / ref[f"{part}_se"][name] - 1) < 0.02, name
    assert abs(result.params["var((Intercept)|site)"] / ref["var_site"] - 1) < 2e-3


def test_zero_inflated_poisson_matches_glmmtmb(zip_fit):
    _check(zip_fit, load_reference("salamanders_zip"))
    assert "zero inflation" in zip_fit.summary()


@pytest.mark.slow
def test_zero_inflated_negative_binomial_matches_glmmtmb(salamanders):
    ref = load_reference("salamanders_zinb2")
    result = gllamm.fit(FORMULA, salamanders, family="negbin", zero_inflation="~ minedno", method="laplace")
    _check(result, ref)
    assert abs(result.params["theta"] / ref["sigma"] - 1) < 1e-3


@pytest.mark.slow
def test_zero_inflation_fixed_at_minus_infinity_is_the_count_model(salamanders):
    """logit pi = -40 (pi = 4e-18): the mixture is the Poisson model itself."""
    plain = gllamm.fit(FORMULA, salamanders, family="poisson", method="laplace")
    fixed = gllamm.fit(FORMULA, salamanders, family="poisson", method="laplace", zero_inflation="~ 1",
                       fix={"zi:(Intercept)": -40.0})
    assert abs(fixed.loglik - plain.loglik) < 1e-8
    for name in plain.params.index:
        assert abs(fixed.params[name] - plain.params[name]) < 1e-6, name


def test_predictions_against_direct_computation(zip_fit, salamanders):
    """mean = (1 - pi) mu, P(y = 0) = pi + (1 - pi) e^-mu, and the marginal P(y = 0) by 60-point Gauss-Hermite
    over the site effect, all from the estimates in NumPy."""
    p = zip_fit.params
    w = salamanders["minedno"].to_numpy()
    pi = 1 / (1 + np.exp(-(p["zi:(Intercept)"] + p["zi:minedno"] * w)))
    eta = p["(Intercept)"] + p["minedno"] * w + p["cover"] * salamanders["cover"].to_numpy()
    np.testing.assert_allclose(zip_fit.predict(type="count"), np.exp(eta), rtol=1e-10)
    np.testing.assert_allclose(zip_fit.predict(type="mean"), (1 - pi) * np.exp(eta), rtol=1e-10)
    np.testing.assert_allclose(zip_fit.predict(type="zero"), pi + (1 - pi) * np.exp(-np.exp(eta)), rtol=1e-10)
    x, h = roots_hermite(60)
    b = np.sqrt(2 * p["var((Intercept)|site)"]) * x
    mu = np.exp(eta[:, None] + b[None, :])
    marginal_zero = pi + (1 - pi) * (np.exp(-mu) @ h) / np.sqrt(np.pi)
    np.testing.assert_allclose(zip_fit.predict(type="zero", latent="marginal"), marginal_zero, rtol=1e-8)
    np.testing.assert_allclose(zip_fit.predict(type="mean", latent="marginal"), (1 - pi) * (mu @ h) / np.sqrt(np.pi),
                               rtol=1e-8)
    np.testing.assert_allclose(zip_fit.predict(salamanders.iloc[:5], type="zero"), zip_fit.predict(type="zero")[:5])


def test_simulated_zeros_follow_the_model(zip_fit, salamanders):
    """Share of zeros over 200 simulated data sets against the model's marginal P(y = 0) (SE ~ 0.0014)."""
    expected = zip_fit.predict(type="zero", latent="marginal").mean()
    shares = [np.mean(zip_fit.simulate(seed=s)["count"].to_numpy() == 0) for s in range(200)]
    assert abs(np.mean(shares) - expected) < 0.006


def test_zero_inflation_bad_input(salamanders):
    with pytest.raises(GllammError, match="zero_inflation= adds structural zeros to counts"):
        gllamm.fit("cover ~ minedno + (1|site)", salamanders, zero_inflation="~ minedno")
    with pytest.raises(GllammError, match="zero_inflation="):
        gllamm.fit(FORMULA, salamanders, family="poisson", zero_inflation="~ nosuch")
    with pytest.raises(GllammError, match="one-sided formula"):
        gllamm.fit(FORMULA, salamanders, family="poisson", zero_inflation="count ~ minedno")
    with pytest.raises(GllammError, match="zero_inflation= is not available with model syntax"):
        gllamm.fit("f =~ count + cover", salamanders, family="poisson", zero_inflation="~ minedno")
    with pytest.raises(GllammError, match="Deviance residuals are not defined for zero-inflated"):
        gllamm.fit(FORMULA, salamanders, family="poisson", zero_inflation="~ 1", method="laplace").residuals("deviance")
