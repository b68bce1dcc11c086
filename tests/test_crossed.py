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
    # conditional modes and covariances: the Gaussian posterior of u, mean Z'V^-1 r and covariance I - Z'V^-1 Z
    mean_u = Z.T @ np.linalg.solve(V, r)
    cov_u = np.eye(Z.shape[1]) - Z.T @ np.linalg.solve(V, Z)
    p = result.params
    L = np.linalg.cholesky(np.array([[p["var((Intercept)|person)"], p["cov((Intercept),x|person)"]],
                                     [p["cov((Intercept),x|person)"], p["var(x|person)"]]]))
    persons = data.person.max() + 1
    eb = result.empirical_bayes()
    person = eb["person"]
    for j in (0, 7, 23):
        block = slice(2 * j, 2 * j + 2)
        np.testing.assert_allclose(person.loc[j, ["(Intercept)", "x"]], L @ mean_u[block], atol=1e-8)
        cov_b = L @ cov_u[block, block] @ L.T
        np.testing.assert_allclose(person.loc[j, ["sd((Intercept))", "sd(x)"]], np.sqrt(np.diag(cov_b)), atol=1e-8)
        np.testing.assert_allclose(person.loc[j, "corr((Intercept),x)"],
                                   cov_b[0, 1] / np.sqrt(cov_b[0, 0] * cov_b[1, 1]), atol=1e-8)
    sd_item = np.sqrt(p["var((Intercept)|item)"])
    np.testing.assert_allclose(eb["item"]["(Intercept)"], sd_item * mean_u[2 * persons:], atol=1e-8)
    np.testing.assert_allclose(eb["item"]["sd((Intercept))"],
                               sd_item * np.sqrt(np.diag(cov_u)[2 * persons:]), atol=1e-8)


def test_penicillin_conditional_modes_match_lme4_ranef():
    """ranef(condVar=TRUE) of the ML fit (tests/reference/r/crossed_ranef.R -> penicillin_ranef.json); predictions
    with the effects at their modes, integrated out (the fixed part, for a Gaussian), and for an unseen plate;
    simulated responses with the model's variance."""
    ref = load_reference("penicillin_ranef")
    pen = gllamm.datasets.load("penicillin")
    result = gllamm.fit("diameter ~ 1 + (1|plate) + (1|sample)", pen)
    eb = result.empirical_bayes()
    for factor in ("plate", "sample"):
        frame = eb[factor].loc[ref[factor]["labels"]]
        np.testing.assert_allclose(frame["(Intercept)"], ref[factor]["mode"], atol=2e-5)
        np.testing.assert_allclose(frame["sd((Intercept))"], ref[factor]["sd"], rtol=1e-4)
    mu = result.params["(Intercept)"]
    expected = mu + eb["plate"]["(Intercept)"].loc[pen.plate].to_numpy() + \
        eb["sample"]["(Intercept)"].loc[pen["sample"]].to_numpy()
    np.testing.assert_allclose(result.predict(latent="eb"), expected, rtol=1e-12)
    np.testing.assert_allclose(result.predict(latent="marginal"), mu, rtol=1e-12)
    new = pd.DataFrame({"plate": ["unseen", "a"], "sample": ["A", "A"]})
    np.testing.assert_allclose(result.predict(new, latent="eb"),
                               [mu + eb["sample"].loc["A", "(Intercept)"], expected[0]], rtol=1e-12)
    draws = [result.simulate(seed=s)["diameter"].to_numpy()[0] for s in range(400)]
    total = result.params[["var((Intercept)|plate)", "var((Intercept)|sample)", "var(Residual)"]].sum()
    assert abs(np.var(draws) / total - 1) < 0.25  # (sampling SD of the ratio about 0.07)
    frame, latent = result.simulate(seed=1, return_latent=True)
    assert set(latent) == {"plate", "sample"} and latent["plate"].shape == (24, 1)


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
    # the marginal mean of a row: E[expit(eta0 + b_person + b_item)] by a 40 x 40 Gauss-Hermite product rule
    x, w = np.polynomial.hermite.hermgauss(40)
    sp, si = np.sqrt(result.params["var((Intercept)|person)"]), np.sqrt(result.params["var((Intercept)|item)"])
    b = np.sqrt(2) * (sp * x[:, None] + si * x[None, :])
    marginal = [np.sum(w[:, None] * w[None, :] * expit(e + b)) / np.pi for e in eta0[:5]]
    np.testing.assert_allclose(result.predict(latent="marginal")[:5], marginal, rtol=1e-8)


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



def test_post_estimation_that_needs_independent_clusters_is_refused():
    result = gllamm.fit("diameter ~ 1 + (1|plate) + (1|sample)", gllamm.datasets.load("penicillin"))
    with pytest.raises(GllammError, match="Sandwich SEs need independent clusters"):
        result.robust_vcov()
    with pytest.raises(GllammError, match="does not split into independent clusters"):
        result.cluster_loglik()
