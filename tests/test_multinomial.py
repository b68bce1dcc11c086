"""Nominal responses (multinomial logit) with category-specific coefficients and random effects.

Without random effects the fit must equal statsmodels' MNLogit (an independent implementation);
with random effects, simulation recovery (fixed seed, within 3.5 SEs) and a per-cluster likelihood
checked by brute-force integration.
"""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import logsumexp

import gllamm


def _simulate(clusters=120, size=12, seed=6):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(clusters), size)
    x = rng.normal(size=g.size)
    u = rng.multivariate_normal([0, 0], [[0.6, 0.2], [0.2, 0.4]], size=clusters)
    eta = np.stack([np.zeros(g.size), 0.3 + 0.8 * x + u[g, 0], -0.4 - 0.5 * x + u[g, 1]], 1)
    p = np.exp(eta - logsumexp(eta, axis=1, keepdims=True))
    y = (p.cumsum(1) < rng.uniform(size=(g.size, 1))).sum(1)
    return pd.DataFrame(dict(mode=np.array(["bus", "car", "train"])[y], x=x, g=g))


def test_without_random_effects_equals_statsmodels_mnlogit():
    import statsmodels.api as sm

    data = _simulate()
    ours = gllamm.fit("mode ~ x", data, family="multinomial")
    codes = pd.Categorical(data["mode"]).codes
    theirs = sm.MNLogit(codes, sm.add_constant(data.x)).fit(disp=False, method="newton", maxiter=100)
    assert abs(ours.loglik - theirs.llf) < 1e-8
    for k, label in enumerate(["car", "train"]):
        np.testing.assert_allclose(ours.params[[f"{label}:(Intercept)", f"{label}:x"]], theirs.params.iloc[:, k],
                                   atol=1e-6)
        np.testing.assert_allclose(ours.se[[f"{label}:(Intercept)", f"{label}:x"]], theirs.bse.iloc[:, k],
                                   rtol=1e-5)
    assert ours.nobs == len(data)
    # another base category only reparameterises: same log-likelihood
    assert abs(gllamm.fit("mode ~ x", data, family="multinomial", base="train").loglik - ours.loglik) < 1e-8


@pytest.mark.slow
def test_random_intercepts_per_category_recover_and_integrate_correctly():
    data = _simulate()
    result = gllamm.fit("mode ~ x + (1 | g)", data, family="multinomial")
    assert result.converged
    truth = {"car:(Intercept)": 0.3, "car:x": 0.8, "train:(Intercept)": -0.4, "train:x": -0.5,
             "var(car:(Intercept)|g)": 0.6, "cov(car:(Intercept),train:(Intercept)|g)": 0.2,
             "var(train:(Intercept)|g)": 0.4}
    for name, value in truth.items():
        assert abs(result.params[name] - value) < 3.5 * result.se[name], name
    # cluster 0's likelihood by a brute-force 2-d grid over the category random intercepts
    p = result.params
    cov = np.array([[p["var(car:(Intercept)|g)"], p["cov(car:(Intercept),train:(Intercept)|g)"]],
                    [p["cov(car:(Intercept),train:(Intercept)|g)"], p["var(train:(Intercept)|g)"]]])
    grid = np.linspace(-6, 6, 241)
    a, b = np.meshgrid(grid, grid, indexing="ij")
    u = np.stack([a.ravel(), b.ravel()], 1)
    prior = stats.multivariate_normal(np.zeros(2), cov).pdf(u) * (grid[1] - grid[0]) ** 2
    rows = data[data.g == 0]
    log_f = np.zeros(len(u))
    for _, row in rows.iterrows():
        eta = np.stack([np.zeros(len(u)), p["car:(Intercept)"] + p["car:x"] * row.x + u[:, 0],
                        p["train:(Intercept)"] + p["train:x"] * row.x + u[:, 1]], 1)
        log_f += eta[:, ["bus", "car", "train"].index(row["mode"])] - logsumexp(eta, axis=1)
    assert abs(np.log(np.sum(np.exp(log_f) * prior)) - result.cluster_loglik().iloc[0]) < 1e-6


def test_bad_nominal_input_is_explained():
    data = _simulate(clusters=20)
    with pytest.raises(gllamm.GllammError, match="single category"):
        gllamm.fit("mode ~ x", data.assign(mode="car"), family="multinomial")
    with pytest.raises(gllamm.GllammError, match="base='plane'"):
        gllamm.fit("mode ~ x", data, family="multinomial", base="plane")
    empty = data.assign(mode=pd.Categorical(data["mode"], categories=["bus", "car", "train", "plane"]))
    with pytest.raises(gllamm.GllammError, match="no observations: plane"):
        gllamm.fit("mode ~ x", empty, family="multinomial")


def test_category_in_a_single_group_is_explained():
    data = _simulate(clusters=20)
    data.loc[data["mode"] == "train", "mode"] = "car"
    data.loc[data.index[:2], "mode"] = "train"  # 'train' only in group 0
    with pytest.raises(gllamm.GllammError, match="Category 'train' .* occurs in 1 group"):
        gllamm.fit("mode ~ x + (1 | g)", data, family="multinomial")


@pytest.mark.slow
def test_nested_levels_with_two_categories_equal_the_binomial_fit():
    """A two-category multinomial logit with random intercepts at two nested levels is the binomial logit
    three-level model; the two go through different kernels (choice sets vs binomial) and must agree."""
    rng = np.random.default_rng(6)
    S, K, n = 25, 4, 8
    school = np.repeat(np.arange(S), K * n)
    group = np.repeat(np.arange(S * K), n)
    x = rng.normal(size=S * K * n)
    eta = 0.3 + 0.7 * x + rng.normal(scale=0.6, size=S)[school] + rng.normal(scale=0.5, size=S * K)[group]
    y = rng.binomial(1, 1 / (1 + np.exp(-eta)))
    data = pd.DataFrame(dict(y=y, cat=np.where(y == 1, "b", "a"), x=x, school=school, group=group))
    binomial = gllamm.fit("y ~ x + (1 | school) + (1 | group)", data, family="binomial", nip=8)
    nominal = gllamm.fit("cat ~ x + (1 | school) + (1 | group)", data, family="multinomial", nip=8)
    assert nominal.converged and binomial.converged
    assert abs(nominal.loglik - binomial.loglik) < 1e-6
    pairs = {"b:(Intercept)": "(Intercept)", "b:x": "x", "var(b:(Intercept)|school)": "var((Intercept)|school)",
             "var(b:(Intercept)|group)": "var((Intercept)|group)"}
    for mine, theirs in pairs.items():
        assert abs(nominal.params[mine] - binomial.params[theirs]) < 1e-5, mine
        assert abs(nominal.se[mine] - binomial.se[theirs]) < 1e-4, mine
