"""A binary response observed with known sensitivity and specificity (composite link, families/misclassification.py):
the likelihood against a brute-force integral, and recovery of a simulation's truth."""

import numpy as np
import pandas as pd
import pytest
from scipy import integrate
from scipy.special import expit

import gllamm
from gllamm.errors import GllammError

SE, SP = 0.85, 0.95


def _simulate(n_clusters=150, size=8, seed=11):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_clusters), size)
    x = rng.normal(size=g.size)
    b = rng.normal(scale=1.0, size=n_clusters)[g]
    status = rng.random(g.size) < expit(-0.5 + 1.0 * x + b)
    observed = np.where(status, rng.random(g.size) < SE, rng.random(g.size) > SP).astype(float)
    return pd.DataFrame({"y": observed, "x": x, "g": g})


def _brute_force_loglik(data, beta0, beta1, variance):
    """sum_j log int prod_i pi_ij^y (1 - pi_ij)^(1 - y) phi(b; 0, variance) db, pi = se p + (1 - sp)(1 - p)."""
    total = 0.0
    for _, cluster in data.groupby("g"):
        y, x = cluster.y.to_numpy(), cluster.x.to_numpy()

        def integrand(b):
            p = expit(beta0 + beta1 * x + b)
            pi = SE * p + (1 - SP) * (1 - p)
            return np.exp(np.sum(y * np.log(pi) + (1 - y) * np.log1p(-pi))) * np.exp(-0.5 * b * b / variance) \
                / np.sqrt(2 * np.pi * variance)

        total += np.log(integrate.quad(integrand, -12 * np.sqrt(variance), 12 * np.sqrt(variance),
                                       epsabs=0, epsrel=1e-11, limit=200)[0])
    return total


@pytest.mark.slow
def test_misclassified_binary_response_likelihood_and_recovery(tmp_path):
    data = _simulate()
    res = gllamm.fit("y ~ x + (1 | g)", data, family="binomial", nip=12,
                     misclassification={"sensitivity": SE, "specificity": SP})
    assert res.converged
    p = res.params
    assert res.loglik == pytest.approx(_brute_force_loglik(data, p["(Intercept)"], p["x"], p["var((Intercept)|g)"]),
                                       abs=1e-5)
    truth = {"(Intercept)": -0.5, "x": 1.0, "var((Intercept)|g)": 1.0}
    for name, value in truth.items():
        assert abs(p[name] - value) < 2.5 * res.bse[name], name
    naive = gllamm.fit("y ~ x + (1 | g)", data, family="binomial", nip=12)
    assert naive.params["x"] < p["x"]  # ignoring the misclassification attenuates the effect
    assert "sensitivity 0.85 and specificity 0.95" in str(res.summary())
    again = res.refit(data)  # (bootstrap and simulation studies refit: with the same error rates)
    assert again.loglik == pytest.approx(res.loglik, abs=1e-9) and again.options["sensitivity"] == SE
    loaded = gllamm.load(res.save(tmp_path / "misclassified.gllamm"))
    assert loaded.family == res.family and loaded.loglik == res.loglik
    np.testing.assert_allclose(res.predict(data.iloc[:3]).to_numpy(),
                               SE * expit(p["(Intercept)"] + p["x"] * data.x[:3]) + (1 - SP) * (
                                   1 - expit(p["(Intercept)"] + p["x"] * data.x[:3])), rtol=1e-10)


def test_misclassification_needs_a_binary_response_and_sensible_values():
    data = _simulate(n_clusters=10)
    with pytest.raises(GllammError, match="for binary"):
        gllamm.fit("y ~ x + (1 | g)", data, family="poisson", misclassification={"sensitivity": 0.9,
                                                                               "specificity": 0.9})
    with pytest.raises(GllammError, match="sensitivity \\+ specificity > 1"):
        gllamm.fit("y ~ x + (1 | g)", data, family="binomial", misclassification={"sensitivity": 0.4,
                                                                                "specificity": 0.5})
