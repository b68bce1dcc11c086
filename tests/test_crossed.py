"""Crossed random effects (integrate/crossed.py): exact for Gaussian responses, joint Laplace otherwise.

References (lme4; R calls in the JSON files, scripts in tests/reference/r/):
- penicillin_ml.json: lmer(diameter ~ 1 + (1|plate) + (1|sample), REML=FALSE)
  (refs_fit_measures_crossed_nb_profile.R, from ../shared/reference);
- penicillin_reml.json: the same with REML=TRUE (reml_and_crossed.R);
- verbagg_crossed.json: glmer(r2 ~ ... + (1|id) + (1|item), binomial) (reml_and_crossed.R). glmer's Laplace stops
  short: its log-likelihood is 0.0011 below the exact Laplace at its own estimates (an independent dense numpy
  Laplace at those estimates gives -4067.91644, glmer reports -4067.91754), so the fit is checked against the
  dense computation to 1e-8 and against glmer to 2e-3.
Independent computations: dense numpy marginal likelihoods y ~ N(X beta, Z G Z' + sigma^2 I) and dense Laplace
approximations (all random effects in one Hessian) at the fitted estimates.
"""

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

import gllamm
from gllamm.errors import GllammError
from reference_cases import load_reference, varcorr_name


def _check_lmer(result, ref):
    assert result.converged
    assert abs(result.loglik - ref["loglik"]) < 1e-6
    for name, value in ref["fixef"].items():
        assert abs(result.params[name] - value) < 1e-5, name
        assert abs(result.se[name] / ref["fixef_se"][name] - 1) < 1e-3, name
    for row in ref["varcorr"]:
        assert abs(result.params[varcorr_name(row)] / row["vcov"] - 1) < 2e-4, row


def test_penicillin_crossed_ml_matches_lmer():
    result = gllamm.fit("diameter ~ 1 + (1|plate) + (1|sample)", gllamm.datasets.load("penicillin"))
    _check_lmer(result, load_reference("penicillin_ml"))
    assert result.integration.method == "exact"
    assert "Crossed:      plate (24 units) x sample (6 units)" in result.summary()


@pytest.mark.slow
def test_penicillin_crossed_reml_matches_lmer():
    result = gllamm.fit("diameter ~ 1 + (1|plate) + (1|sample)", gllamm.datasets.load("penicillin"), reml=True)
    _check_lmer(result, load_reference("penicillin_reml"))


def _crossed_data(seed=2, persons=40, items=12, slopes=False, binary=False):
    rng = np.random.default_rng(seed)
    person, item = np.meshgrid(np.arange(persons), np.arange(items), indexing="ij")
    person, item = person.ravel(), item.ravel()
    keep = rng.uniform(size=person.size) < 0.8  # unbalanced
    person, item = person[keep], item[keep]
    x = rng.normal(size=person.size)
    eta = 0.5 + 0.8 * x + rng.normal(scale=0.9, size=persons)[person] + rng.normal(scale=0.6, size=items)[item]
    if slopes:
        eta = eta + rng.normal(scale=0.4, size=persons)[person] * x
    y = rng.binomial(1, expit(eta)) if binary else eta + rng.normal(scale=0.7, size=eta.size)
    return pd.DataFrame(dict(y=y.astype(float), x=x, person=person, item=item))


def _random_design(data, result, slopes):
    """Z G^1/2 columns (rows x q) of the fitted random effects: person intercept (and slope), item intercept."""
    p = result.params
    persons, items = data.person.max() + 1, data.item.max() + 1
    rows = np.arange(len(data))
    if slopes:
        G = np.array([[p["var((Intercept)|person)"], p["cov((Intercept),x|person)"]],
                      [p["cov((Intercept),x|person)"], p["var(x|person)"]]])
        L = np.linalg.cholesky(G)
        Z = np.zeros((len(data), 2 * persons + items))
        zp = np.column_stack([np.ones(len(data)), data.x]) @ L  # (rows, 2)
        Z[rows, 2 * data.person] = zp[:, 0]
        Z[rows, 2 * data.person + 1] = zp[:, 1]
        Z[rows, 2 * persons + data.item] = np.sqrt(p["var((Intercept)|item)"])
    else:
        Z = np.zeros((len(data), persons + items))
        Z[rows, data.person] = np.sqrt(p["var((Intercept)|person)"])
        Z[rows, persons + data.item] = np.sqrt(p["var((Intercept)|item)"])
    return Z


def test_crossed_random_slopes_equal_the_dense_gaussian_likelihood():
    data = _crossed_data(slopes=True)
    result = gllamm.fit("y ~ x + (1 + x | person) + (1 | item)", data)
    assert result.converged
    Z = _random_design(data, result, slopes=True)
    V = Z @ Z.T + result.params["var(Residual)"] * np.eye(len(data))
    r = data.y - result.params["(Intercept)"] - result.params["x"] * data.x
    _, log_det = np.linalg.slogdet(V)
    dense = -0.5 * (len(data) * np.log(2 * np.pi) + log_det + r @ np.linalg.solve(V, r))
    assert abs(result.loglik - dense) < 1e-8


def _dense_laplace(y, eta0, Z):
    u = np.zeros(Z.shape[1])
    for _ in range(100):
        p = expit(eta0 + Z @ u)
        H = Z.T @ (Z * (p * (1 - p))[:, None]) + np.eye(Z.shape[1])
        step = np.linalg.solve(H, Z.T @ (y - p) - u)
        u += step
        if np.abs(step).max() < 1e-13:
            break
    eta = eta0 + Z @ u
    p = expit(eta)
    H = Z.T @ (Z * (p * (1 - p))[:, None]) + np.eye(Z.shape[1])
    return np.sum(y * eta - np.logaddexp(0, eta)) - 0.5 * u @ u - 0.5 * np.linalg.slogdet(H)[1]


@pytest.mark.slow
def test_crossed_binary_laplace_equals_the_dense_laplace():
    data = _crossed_data(binary=True)
    result = gllamm.fit("y ~ x + (1 | person) + (1 | item)", data, family="binomial")
    assert result.converged and result.integration.method == "laplace"
    eta0 = result.params["(Intercept)"] + result.params["x"] * data.x.to_numpy()
    assert abs(result.loglik - _dense_laplace(data.y.to_numpy(), eta0, _random_design(data, result, False))) < 1e-8


@pytest.mark.slow
def test_verbagg_crossed_binary_matches_glmer():
    ref = load_reference("verbagg_crossed")
    data = gllamm.datasets.load("verbagg")
    result = gllamm.fit("r2 ~ anger + male + btype_scold + btype_shout + situ_self + mode_do + (1|id) + (1|item)",
                        data, family="binomial")
    assert result.converged
    assert 0 <= result.loglik - ref["loglik"] < 2e-3  # glmer stops 0.0011 short of its own Laplace maximum
    for name, value in ref["fixef"].items():
        assert abs(result.params[name] - value) < 1e-3, name
        assert abs(result.se[name] / ref["fixef_se"][name] - 1) < 0.01, name
    for row in ref["varcorr"]:
        assert abs(result.params[varcorr_name(row)] / row["vcov"] - 1) < 2e-3, row


@pytest.mark.slow
def test_crossed_engine_on_nested_factors_equals_the_nested_laplace(monkeypatch):
    """A second factor with one level per observation is the one-factor model plus an observation-level residual
    (overdispersed counts): fitted by the crossed engine (forced) and as nested levels by the Laplace
    approximation, the same log-likelihood and estimates. (For Gaussian responses such a factor is refused: it
    cannot be told apart from the residual.)"""
    rng = np.random.default_rng(7)
    g = np.repeat(np.arange(30), 6)
    x = rng.normal(size=g.size)
    y = rng.poisson(np.exp(0.3 + 0.5 * x + rng.normal(scale=0.5, size=30)[g] + rng.normal(scale=0.4, size=g.size)))
    data = pd.DataFrame(dict(y=y, x=x, g=g, obs=np.arange(g.size)))
    nested = gllamm.fit("y ~ x + (1 | g) + (1 | obs)", data, family="poisson", method="laplace")
    assert not nested.spec.crossed
    monkeypatch.setattr("gllamm.design.formula_levels.not_nested", lambda lower, higher: True)
    crossed = gllamm.fit("y ~ x + (1 | g) + (1 | obs)", data, family="poisson")
    assert crossed.spec.crossed and crossed.converged
    assert abs(crossed.loglik - nested.loglik) < 1e-8
    for name in nested.params.index:
        assert abs(crossed.params[name] - nested.params[name]) < 1e-5, name


def test_crossed_bad_input_gets_clear_errors():
    data = _crossed_data(persons=10, items=6)
    with pytest.raises(GllammError, match="method='adaptive' is not available for crossed random effects"):
        gllamm.fit("y ~ x + (1 | person) + (1 | item)", data, method="adaptive")
    with pytest.raises(GllammError, match="nip= sets quadrature points"):
        gllamm.fit("y ~ x + (1 | person) + (1 | item)", data, nip=8)
    with pytest.raises(GllammError, match="need nested levels"):
        gllamm.fit("y ~ x + (1 | person) + (1 | item)", data, cluster_weights=np.ones(len(data)))

