"""Each family and link recovers known parameters from data simulated with a fixed seed.

Tolerance: every reported parameter (fixed effects, random-intercept variance,
dispersion) within 4 standard errors of its true value, and the estimated SEs
within a factor of 2 of the Monte Carlo scale implied by the design (a
sanity bound, not the test's main point).
"""

import numpy as np
import pandas as pd
import pytest

import gllamm

N_CLUSTERS, PER_CLUSTER = 250, 8


def _frame(seed):
    rng = np.random.default_rng(seed)
    cluster = np.repeat(np.arange(N_CLUSTERS), PER_CLUSTER)
    x = rng.normal(size=cluster.size)
    return rng, cluster, x


def _simulate(family, link, seed=1):
    rng, cluster, x = _frame(seed)
    truth = {}
    if family == "gaussian":
        b0, b1, tau, sigma = {"identity": (1.0, 0.5, 0.7, 1.0), "log": (1.0, 0.3, 0.3, 0.5),
                              "reciprocal": (2.0, 0.3, 0.2, 0.05)}[link]
        eta = b0 + b1 * x + rng.normal(scale=tau, size=N_CLUSTERS)[cluster]
        mu = {"identity": eta, "log": np.exp(eta), "reciprocal": 1 / eta}[link]
        y = rng.normal(mu, sigma)
        truth["var(Residual)"] = sigma**2
        frame = pd.DataFrame(dict(y=y, x=x, g=cluster))
        options = {}
    elif family == "binomial":
        b0, b1, tau = -0.3, 0.8, 0.9
        eta = b0 + b1 * x + rng.normal(scale=tau, size=N_CLUSTERS)[cluster]
        p = {"logit": 1 / (1 + np.exp(-eta)), "probit": __import__("scipy").stats.norm.cdf(eta),
             "cloglog": 1 - np.exp(-np.exp(eta))}[link]
        trials = rng.integers(1, 4, size=x.size) if link == "logit" else np.ones(x.size, dtype=int)
        y = rng.binomial(trials, p)
        frame = pd.DataFrame(dict(y=y, x=x, g=cluster, n=trials))
        options = {"trials": "n"} if link == "logit" else {}
    elif family == "poisson":
        b0, b1, tau = 0.5, 0.3, 0.5
        eta = b0 + b1 * x + rng.normal(scale=tau, size=N_CLUSTERS)[cluster]
        y = rng.poisson(np.exp(eta))
        frame = pd.DataFrame(dict(y=y, x=x, g=cluster))
        options = {}
    else:  # gamma
        b0, b1, tau, shape = {"log": (1.0, 0.3, 0.4, 5.0), "reciprocal": (1.0, 0.2, 0.1, 5.0),
                              "identity": (3.0, 0.5, 0.5, 10.0)}[link]
        eta = b0 + b1 * x + rng.normal(scale=tau, size=N_CLUSTERS)[cluster]
        mu = {"log": np.exp(eta), "reciprocal": 1 / eta, "identity": eta}[link]
        y = rng.gamma(shape, mu / shape)
        truth["dispersion"] = 1 / shape
        frame = pd.DataFrame(dict(y=y, x=x, g=cluster))
        options = {}
    truth.update({"(Intercept)": b0, "x": b1, "var((Intercept)|g)": tau**2})
    return frame, truth, options


CASES = [("gaussian", "identity"), ("gaussian", "log"), ("gaussian", "reciprocal"),
         ("binomial", "logit"), ("binomial", "probit"), ("binomial", "cloglog"),
         ("poisson", "log"), ("gamma", "log"), ("gamma", "reciprocal"), ("gamma", "identity")]


@pytest.mark.parametrize("family,link", CASES)
def test_recovers_simulated_parameters(family, link):
    frame, truth, options = _simulate(family, link)
    result = gllamm.fit("y ~ x + (1 | g)", frame, family=family, link=link, nip=8, **options)
    assert result.converged, result.message
    for name, value in truth.items():
        estimate, se = result.params[name], result.se[name]
        assert np.isfinite(se) and se > 0
        assert abs(estimate - value) < 4 * se, (name, estimate, value, se)


@pytest.mark.slow  # ~35 s
def test_random_slope_recovery_and_uncorrelated_terms():
    rng, cluster, x = _frame(7)
    L = np.linalg.cholesky(np.array([[0.5, 0.15], [0.15, 0.3]]))
    b = rng.normal(size=(N_CLUSTERS, 2)) @ L.T
    eta = -0.2 + 0.6 * x + b[cluster, 0] + b[cluster, 1] * x
    y = rng.binomial(1, 1 / (1 + np.exp(-eta)))
    frame = pd.DataFrame(dict(y=y, x=x, g=cluster))
    result = gllamm.fit("y ~ x + (1 + x | g)", frame, family="binomial", nip=6)
    assert result.converged
    truth = {"(Intercept)": -0.2, "x": 0.6, "var((Intercept)|g)": 0.5, "var(x|g)": 0.3, "cov((Intercept),x|g)": 0.15}
    for name, value in truth.items():
        assert abs(result.params[name] - value) < 4 * result.se[name], name
    # (1 + x || g): the covariance is fixed at zero, so no cov parameter is reported
    diagonal = gllamm.fit("y ~ x + (1 + x || g)", frame, family="binomial", nip=6)
    assert "cov((Intercept),x|g)" not in diagonal.params.index
    assert diagonal.loglik < result.loglik + 1e-6
