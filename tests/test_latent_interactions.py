"""Interactions of continuous latent variables (f3 ~ f1:f2): beyond gllamm (issue: discrete latent variables).

The product of two exogenous factors makes the integrand non-Gaussian in the latent variables, so the
model is integrated by adaptive quadrature (never the exact linear-Gaussian shortcut). Reference: the
likelihood of each unit computed here by brute-force Gauss-Hermite quadrature over (f1, f2, zeta3),
independently of gllamm, and recovery of simulated values.
"""

import numpy as np
import pandas as pd
import pytest
from scipy.special import logsumexp

import gllamm

MODEL = """f1 =~ x1 + x2 + x3
f2 =~ x4 + x5 + x6
f3 =~ x7 + x8 + x9
f3 ~ f1 + f2 + f1:f2"""
TRUTH = {"f3~f1": 0.5, "f3~f2": 0.4, "f3~f1:f2": 0.3, "f1~~f2": 0.3, "f3~~f3": 0.36}


def simulate(n=500, seed=1):
    rng = np.random.default_rng(seed)
    f1, f2 = rng.multivariate_normal([0, 0], [[1, 0.3], [0.3, 1]], size=n).T
    f3 = 0.5 * f1 + 0.4 * f2 + 0.3 * f1 * f2 + rng.normal(scale=0.6, size=n)
    columns = {}
    for k, (f, lam) in enumerate([(f1, [1, .8, .9]), (f2, [1, .7, 1.1]), (f3, [1, .9, .8])]):
        for j in range(3):
            columns[f"x{3 * k + j + 1}"] = lam[j] * f + rng.normal(scale=0.5, size=n)
    return pd.DataFrame(columns)


@pytest.fixture(scope="module")
def fitted():
    data = simulate()
    return data, gllamm.fit(MODEL, data, nip=7)


@pytest.mark.slow  # (several seconds; CI runs it: python -m pytest -m slow)
def test_latent_interaction_recovers_the_product_effect(fitted):
    _, res = fitted
    assert res.converged and res.integration.method == "adaptive"
    for name, value in TRUTH.items():
        assert abs(res.params[name] - value) < 3 * res.se[name], name
    assert "f3~f1:f2" in res.summary()
    # simulation draws the product: the interaction shows in the moments of the simulated indicators
    frame = res.simulate(seed=3)
    z = (frame - frame.mean()) / frame.std()
    data = fitted[0]
    observed = ((data - data.mean()) / data.std())
    third = (z.x1 * z.x4 * z.x7).mean()
    assert third > 0.1 and abs(third - (observed.x1 * observed.x4 * observed.x7).mean()) < 0.15


@pytest.mark.slow  # (several seconds; CI runs it: python -m pytest -m slow)
def test_latent_interaction_likelihood_equals_brute_force(fitted):
    data, res = fitted
    p = res.params
    X = data.to_numpy()[:25]
    nu = np.array([p[f"x{j}~1"] for j in range(1, 10)])
    lam = np.array([1, p["f1=~x2"], p["f1=~x3"], 1, p["f2=~x5"], p["f2=~x6"], 1, p["f3=~x8"], p["f3=~x9"]])
    theta = np.array([p[f"x{j}~~x{j}"] for j in range(1, 10)])
    phi = np.array([[p["f1~~f1"], p["f1~~f2"]], [p["f1~~f2"], p["f2~~f2"]]])
    chol = np.linalg.cholesky(phi)
    # zeta3 analytically (x7-x9 are jointly normal given f1, f2), then a fine grid over (f1, f2)
    grid = np.linspace(-7, 7, 281)
    g1, g2 = np.meshgrid(grid, grid, indexing="ij")
    u = np.stack([g1.ravel(), g2.ravel()], axis=1)
    log_prior = -0.5 * np.sum(u**2, axis=1) - np.log(2 * np.pi) + 2 * np.log(grid[1] - grid[0])
    f12 = u @ chol.T
    m3 = p["f3~f1"] * f12[:, 0] + p["f3~f2"] * f12[:, 1] + p["f3~f1:f2"] * f12[:, 0] * f12[:, 1]
    mean = nu[:6] + lam[:6] * np.column_stack([f12[:, 0]] * 3 + [f12[:, 1]] * 3)
    first = np.sum(-0.5 * (np.log(2 * np.pi * theta[:6]) + (X[:, None, :6] - mean[None]) ** 2 / theta[:6]), axis=2)
    sigma = p["f3~~f3"] * np.outer(lam[6:], lam[6:]) + np.diag(theta[6:])
    resid = X[:, None, 6:] - (nu[6:] + lam[6:] * m3[:, None])[None]
    inverse = np.linalg.inv(sigma)
    second = -0.5 * (np.einsum("nki,ij,nkj->nk", resid, inverse, resid) + np.linalg.slogdet(2 * np.pi * sigma)[1])
    brute = logsumexp(first + second + log_prior, axis=1)
    ours = res.cluster_loglik().to_numpy()[:25]
    np.testing.assert_allclose(ours, brute, atol=2e-5)

    # EB: posterior means of f1, f2 and f3 = m3(f1, f2) + zeta3, E(zeta3 | x7-x9, f1, f2) by normal regression
    weights = np.exp(first + second + log_prior - brute[:, None])  # posterior over the (f1, f2) grid
    zeta3 = p["f3~~f3"] * np.einsum("i,ij,nkj->nk", lam[6:], inverse, resid)
    expected = np.stack([weights @ f12[:, 0], weights @ f12[:, 1],
                         np.sum(weights * (m3[None] + zeta3), axis=1)], axis=1)
    eb = res.empirical_bayes()
    np.testing.assert_allclose(eb[["f1", "f2", "f3"]].to_numpy()[:25], expected, atol=2e-4)
    # the product term moves E(f3 | y) away from the linear part (what a linear EB would report)
    linear = 0.5 * expected[:, 0] + 0.4 * expected[:, 1]
    assert np.max(np.abs(expected[:, 2] - linear)) > 0.05


@pytest.mark.slow  # (several seconds; CI runs it: python -m pytest -m slow)
def test_predictions_with_latent_interactions(fitted):
    """Marginal mean of x7 = nu7 + E(f3) = nu7 + gamma cov(f1, f2) (f3 = 0.5 f1 + 0.4 f2 + gamma f1 f2 + zeta3);
    the EB prediction plugs in the EB values; with the disturbances at 0 the prediction is the intercept."""
    data, res = fitted
    p = res.params
    marginal = res.predict(layout="long", latent="marginal", nip=10)
    rows = res.design.Z[:, 6] == 1  # the x7 rows
    np.testing.assert_allclose(marginal[rows], p["x7~1"] + p["f3~f1:f2"] * p["f1~~f2"], rtol=1e-8)
    eb = res.empirical_bayes()
    conditional = res.predict(layout="long", latent="eb")
    person = res.design.cluster_codes[rows]
    np.testing.assert_allclose(conditional[rows], p["x7~1"] + eb["f3"].to_numpy()[person], rtol=1e-10)
    np.testing.assert_allclose(res.predict(layout="long", latent="zero")[rows], p["x7~1"], rtol=1e-12)


@pytest.mark.parametrize("syntax, message", [
    ("f1 =~ x1 + x2 + x3\nf2 =~ x4 + x5 + x6\nf2 ~ f1:x7", "'x7' in the interaction 'f1:x7' is not a latent"),
    ("f1 =~ x1 + x2 + x3\nf2 =~ x4 + x5 + x6\nf3 =~ x7 + x8 + x9\nf2 ~ f1\nf3 ~ f1:f2", "interactions are between exogenous"),
])
def test_latent_interaction_errors(syntax, message):
    with pytest.raises(gllamm.GllammError, match=message):
        gllamm.fit(syntax, simulate(n=50))
