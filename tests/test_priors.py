"""Priors on variance components (MAP, penalised maximum likelihood): estimate/priors.py."""

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

import gllamm
from gllamm.errors import GllammError

MODEL = "reaction ~ days + (1 | subject)"
VAR = "var((Intercept)|subject)"


@pytest.fixture(scope="module")
def sleepstudy():
    return gllamm.datasets.load("sleepstudy")


def test_flat_priors_give_maximum_likelihood(sleepstudy):
    ml = gllamm.fit(MODEL, sleepstudy)
    flat = gllamm.fit(MODEL, sleepstudy, priors={"sd": "gamma(1, 0)", "cov": "wishart(2)"})  # log p = 0 (q = 1)
    assert flat.loglik == pytest.approx(ml.loglik, abs=1e-9)
    np.testing.assert_allclose(flat.params.values, ml.params.values, rtol=1e-7)
    np.testing.assert_allclose(flat.bse.values, ml.bse.values, rtol=1e-6)
    assert flat.options["log_posterior"] == pytest.approx(ml.loglik, abs=1e-9)


def test_map_maximises_the_profile_log_posterior(sleepstudy):
    # gamma(2, 0) on the SD: log p = log sigma. Independently: the profile log-likelihood over the variance v
    # (fits with v fixed) plus log sqrt(v), maximised over v by a scalar search
    res = gllamm.fit(MODEL, sleepstudy, priors={"sd": "gamma(2, 0)"})
    assert res.converged

    def negative_log_posterior(v):
        return -(gllamm.fit(MODEL, sleepstudy, fix={VAR: v}).loglik + 0.5 * np.log(v))

    best = minimize_scalar(negative_log_posterior, bounds=(800.0, 2500.0), method="bounded",
                           options={"xatol": 1e-3})
    assert res.params[VAR] == pytest.approx(best.x, rel=1e-5)
    assert res.options["log_posterior"] == pytest.approx(-best.fun, abs=1e-7)
    assert res.loglik == pytest.approx(gllamm.fit(MODEL, sleepstudy, fix={VAR: res.params[VAR]}).loglik, abs=1e-7)
    assert res.params[VAR] > gllamm.fit(MODEL, sleepstudy).params[VAR]  # pulled away from 0
    assert "Priors:       sd ~ gamma(2, 0)" in str(res.summary())


def test_bad_priors_are_clear_errors(sleepstudy):
    with pytest.raises(GllammError, match="the target is 'sd'"):
        gllamm.fit(MODEL, sleepstudy, priors={"variance": "gamma(2, 0)"})
    with pytest.raises(GllammError, match="no level 'school'"):
        gllamm.fit(MODEL, sleepstudy, priors={"sd:school": "gamma(2, 0)"})
    with pytest.raises(GllammError, match="one of gamma"):
        gllamm.fit(MODEL, sleepstudy, priors={"sd": "wishart(3)"})
    with pytest.raises(GllammError, match="takes 2 non-negative numbers"):
        gllamm.fit(MODEL, sleepstudy, priors={"sd": "gamma(2)"})


def _psi(params):
    cov = params["cov((Intercept),days|subject)"]
    return np.array([[params["var((Intercept)|subject)"], cov], [cov, params["var(days|subject)"]]])


def test_wishart_and_lkj_priors_on_a_covariance_matrix(sleepstudy):
    model = "reaction ~ days + (1 + days | subject)"
    ml = gllamm.fit(model, sleepstudy)
    flat = gllamm.fit(model, sleepstudy, priors={"cov": "wishart(3)", "cor": "lkj(1)"})  # q = 2: log p = 0
    np.testing.assert_allclose(flat.params.values, ml.params.values, rtol=1e-6)
    # wishart(4): log p = log|Psi| / 2; lkj(3): log p = 2 log(1 - r^2)
    res = gllamm.fit(model, sleepstudy, priors={"cov": "wishart(4)", "cor": "lkj(3)"})
    assert res.converged

    def log_prior(params):
        psi = _psi(params)
        r2 = psi[0, 1] ** 2 / (psi[0, 0] * psi[1, 1])
        return 0.5 * np.log(np.linalg.det(psi)) + 2.0 * np.log(1.0 - r2)

    assert res.options["log_posterior"] == pytest.approx(res.loglik + log_prior(res.params), abs=1e-8)
    at_ml = ml.loglik + log_prior(ml.params)
    assert res.options["log_posterior"] > at_ml  # the MAP is above the log posterior at the ML estimates
    r_ml = ml.params["cov((Intercept),days|subject)"] / np.sqrt(np.prod(np.diag(_psi(ml.params))))
    r_map = res.params["cov((Intercept),days|subject)"] / np.sqrt(np.prod(np.diag(_psi(res.params))))
    assert abs(r_map) < abs(r_ml)  # lkj(3) shrinks the correlation towards 0


def test_refits_keep_the_priors_and_profiles_are_of_the_log_posterior(sleepstudy):
    """A refit (bootstrap, simulation studies) of a MAP fit is a MAP fit; the profile interval of the variance ends
    where the log posterior, maximised with the variance fixed (fits with fix=, plus log sqrt(v)), has fallen by
    1.96^2 / 2 from its maximum."""
    res = gllamm.fit(MODEL, sleepstudy, priors={"sd": "gamma(2, 0)"})
    again = res.refit(sleepstudy)
    assert again.options["priors"] == {"sd": "gamma(2, 0)"} and again.loglik == pytest.approx(res.loglik, abs=1e-9)
    intervals = res.conf_int(method="profile")
    peak = res.options["log_posterior"]
    for end in intervals.loc[VAR]:
        at_end = gllamm.fit(MODEL, sleepstudy, fix={VAR: end}).loglik + 0.5 * np.log(end)
        assert 2 * (peak - at_end) == pytest.approx(1.959964 ** 2, abs=2e-3)
