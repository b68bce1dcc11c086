"""Three-level random-intercept logit: adaptive quadrature at both levels against an independent
nested Gauss-Hermite computation in NumPy (many nodes, not adaptive)."""

import numpy as np
import pandas as pd
import pytest

import gllamm


def _simulate(seed=3, n3=30, n2=4, n1=4):
    rng = np.random.default_rng(seed)
    comm = np.repeat(np.arange(n3), n2 * n1)
    mom = np.repeat(np.arange(n3 * n2), n1)
    x = rng.normal(size=comm.size)
    eta = -0.3 + 0.7 * x + rng.normal(scale=0.8, size=n3)[comm] + rng.normal(scale=1.0, size=n3 * n2)[mom]
    y = rng.binomial(1, 1 / (1 + np.exp(-eta)))
    return pd.DataFrame(dict(y=y, x=x, comm=comm, mom=mom))


def brute_force_loglik(frame, beta, sd_mom, sd_comm, nodes=60):
    """sum_k log int phi(u3) prod_j int phi(u2) prod_i f(y_i | x_i'beta + sd_mom u2 + sd_comm u3) du2 du3."""
    x, w = np.polynomial.hermite.hermgauss(nodes)
    u, w = np.sqrt(2) * x, w / np.sqrt(np.pi)
    total = 0.0
    for _, community in frame.groupby("comm"):
        inner = np.zeros(nodes)  # log of the product over moms, at each outer node
        for _, family in community.groupby("mom"):
            eta = (beta[0] + beta[1] * family.x.to_numpy())[:, None, None] + sd_mom * u[None, :, None] \
                + sd_comm * u[None, None, :]
            y = family.y.to_numpy()[:, None, None]
            loglik = np.sum(y * eta - np.logaddexp(0, eta), axis=0)  # (mom node, comm node)
            inner += np.log(np.einsum("m,mn->n", w, np.exp(loglik)))
        total += np.log(np.sum(w * np.exp(inner)))
    return total


@pytest.fixture(scope="module")
def three_level():
    frame = _simulate()
    return frame, gllamm.fit("y ~ x + (1 | comm) + (1 | mom)", frame, family="binomial", nip=8)


def test_adaptive_nested_quadrature_matches_brute_force(three_level):
    frame, result = three_level
    assert result.converged
    assert result.n_groups == {"mom": 120, "comm": 30}
    beta = result.fixed_effects.to_numpy()
    reference = brute_force_loglik(frame, beta, np.sqrt(result.params["var((Intercept)|mom)"]),
                                   np.sqrt(result.params["var((Intercept)|comm)"]))
    assert abs(result.loglik - reference) < 1e-3
    assert np.max(np.abs(result.gradient)) < 1e-3


def test_nested_ids_written_with_slash_give_the_same_fit(three_level):
    frame, result = three_level
    restarted = frame.assign(mom=frame.mom % 4)  # mom ids restart within each community
    again = gllamm.fit("y ~ x + (1 | comm/mom)", restarted, family="binomial", nip=8)
    assert again.loglik == pytest.approx(result.loglik, abs=1e-8)


def test_crossed_factors_refuse_nested_quadrature(three_level):
    """Factors that are not nested are crossed (test_crossed.py fits them); adaptive quadrature, which integrates
    level by level, is refused with the reason."""
    frame, _ = three_level
    crossed = frame.assign(rater=np.arange(len(frame)) % 7)
    with pytest.raises(gllamm.GllammError, match="adaptive' is not available for crossed random effects"):
        gllamm.fit("y ~ x + (1 | comm) + (1 | rater)", crossed, family="binomial", method="adaptive")


def test_empirical_bayes_at_both_levels_matches_brute_force(three_level):
    """Posterior mean of a community effect and of a mother effect by nested grid quadrature in NumPy."""
    frame, result = three_level
    eb = result.empirical_bayes()
    assert set(eb) == {"mom", "comm"} and len(eb["mom"]) == 120 and len(eb["comm"]) == 30
    beta = result.fixed_effects.to_numpy()
    s2, s3 = np.sqrt(result.params["var((Intercept)|mom)"]), np.sqrt(result.params["var((Intercept)|comm)"])
    x, w = np.polynomial.hermite.hermgauss(60)
    u, w = np.sqrt(2) * x, w / np.sqrt(np.pi)
    community = frame[frame.comm == 4]
    per_mom = []  # for each mom: integrand over (mom node, comm node)
    for _, family in community.groupby("mom"):
        eta = (beta[0] + beta[1] * family.x.to_numpy())[:, None, None] + s2 * u[None, :, None] + s3 * u[None, None, :]
        y = family.y.to_numpy()[:, None, None]
        per_mom.append(np.exp(np.sum(y * eta - np.logaddexp(0, eta), axis=0)))
    inner = np.array([np.einsum("m,mn->n", w, p) for p in per_mom])  # (moms, comm nodes)
    joint = w * np.prod(inner, axis=0)
    comm_mean = np.sum(joint * s3 * u) / np.sum(joint)
    assert abs(eb["comm"].loc[4, "(Intercept)"] - comm_mean) < 1e-4
    first_mom = community.mom.iloc[0]
    others = np.prod(inner[1:], axis=0)
    mom_mean = np.sum(w[None, :] * others[None, :] * w[:, None] * per_mom[0] * s2 * u[:, None]) / np.sum(joint)
    assert abs(eb["mom"].loc[first_mom, "(Intercept)"] - mom_mean) < 1e-4


def test_post_estimation_for_nested_levels(three_level, tmp_path):
    frame, result = three_level
    # cluster contributions sum to the log-likelihood; robust SEs are finite
    assert result.cluster_loglik().sum() == pytest.approx(result.loglik, abs=1e-8)
    robust = result.table(vcov="robust")
    assert np.all(np.isfinite(robust.se)) and np.all(robust.se > 0)
    # EB predictions add both levels' EB means to the linear predictor
    eb = result.empirical_bayes()
    expected = (result.predict(type="linear") + eb["mom"]["(Intercept)"].reindex(frame.mom).to_numpy()
                + eb["comm"]["(Intercept)"].reindex(frame.comm).to_numpy())
    np.testing.assert_allclose(result.predict(type="linear", latent="eb"), expected)
    # marginal probabilities integrate over both levels: compare with a 60 x 60 product rule
    x, w = np.polynomial.hermite.hermgauss(60)
    u, w = np.sqrt(2) * x, w / np.sqrt(np.pi)
    s2, s3 = np.sqrt(result.params["var((Intercept)|mom)"]), np.sqrt(result.params["var((Intercept)|comm)"])
    eta = result.predict(type="linear").to_numpy()[:5]  # (a Series on the data's index)
    grid = eta[:, None, None] + s2 * u[None, :, None] + s3 * u[None, None, :]
    direct = np.einsum("m,n,imn->i", w, w, 1 / (1 + np.exp(-grid)))
    np.testing.assert_allclose(result.predict(latent="marginal")[:5], direct, atol=1e-6)
    # cluster-robust SEs for clusters above the top level (pairs of communities)
    pairs = result.robust_vcov(cluster=(frame.comm // 2).to_numpy())
    assert np.all(np.isfinite(np.diag(pairs.to_numpy()))) and not np.allclose(pairs, result.robust_vcov())
    with pytest.raises(gllamm.GllammError, match="constant within each 'comm'"):
        result.robust_vcov(cluster=frame.mom.to_numpy())
    # simulation (with the drawn latent variables of both levels), save and load
    simulated, latent = result.simulate(seed=2, return_latent=True)
    assert set(np.unique(simulated.y)) <= {0.0, 1.0}
    assert len(latent["mom"]) == 120 and len(latent["comm"]) == 30
    loaded = gllamm.load(result.save(tmp_path / "three.gllamm"))
    np.testing.assert_array_equal(loaded.params.to_numpy(), result.params.to_numpy())
    with pytest.raises(gllamm.GllammError, match="ML estimates of nested effects"):
        result.empirical_bayes("ml")  # (kind="mode" gives the joint modes: tested below)


def test_laplace_for_nested_levels_equals_lme4_and_differs_from_quadrature(three_level):
    """method="laplace" with nested levels is lme4's nAGQ = 1 (one joint mode per community over its own
    and its mothers' effects). Reference: tests/reference/three_level_laplace.json from
    tests/reference/r/three_level_laplace.R on the same data (tests/reference/three_level_logit.csv):
    glmer(y ~ x + (1 | comm) + (1 | mom), family = binomial, nAGQ = 1) -> logLik -297.7415."""
    import json
    from pathlib import Path

    reference_dir = Path(__file__).parent / "reference"
    reference = json.loads((reference_dir / "three_level_laplace.json").read_text())
    frame = pd.read_csv(reference_dir / "three_level_logit.csv")
    np.testing.assert_allclose(frame[["y", "x"]].to_numpy(), three_level[0][["y", "x"]].to_numpy())
    laplace = gllamm.fit("y ~ x + (1 | comm) + (1 | mom)", frame, family="binomial", method="laplace")
    assert laplace.converged
    assert abs(laplace.loglik - reference["loglik"]) < 1e-3
    for name, value in reference["fixef"].items():
        assert abs(laplace.params[name] - value) < 2e-3, name
        assert abs(laplace.se[name] - reference["fixef_se"][name]) < 0.02 * reference["fixef_se"][name], name
    variances = {f"var((Intercept)|{v['grp']})": v["vcov"] for v in reference["varcorr"]}
    for name, value in variances.items():
        assert abs(laplace.params[name] - value) < 2e-3, name
    # with 4 binary responses per mother the integrand is far from Gaussian: Laplace is clearly off
    adaptive = three_level[1]
    assert adaptive.loglik - laplace.loglik > 0.5
    assert laplace.params["var((Intercept)|mom)"] < adaptive.params["var((Intercept)|mom)"]
    eb = laplace.empirical_bayes()  # conditional modes with conditional SDs, at both levels
    assert set(eb) == {"mom", "comm"} and (eb["mom"]["sd((Intercept))"] > 0).all()


def test_joint_modes_of_nested_effects_maximise_the_joint_posterior(three_level):
    """kind="mode": per community, the joint mode of (u_comm, u_mom...) maximises
    sum log f + log phi; checked against SciPy's optimiser on one community, with SDs from the inverse
    Hessian of that objective (finite differences of the analytic gradient, independent of gllamm)."""
    from scipy.optimize import minimize

    frame, result = three_level
    modes = result.empirical_bayes(kind="mode")
    beta = result.params[["(Intercept)", "x"]].to_numpy()
    s_mom, s_comm = np.sqrt(result.params["var((Intercept)|mom)"]), np.sqrt(result.params["var((Intercept)|comm)"])
    community = frame[frame.comm == 0]
    moms = np.unique(community.mom)
    index = np.searchsorted(moms, community.mom.to_numpy())
    eta0 = beta[0] + beta[1] * community.x.to_numpy()
    y = community.y.to_numpy()

    def negative(v):  # v = (b_comm, b_mom...) on the variance scale
        eta = eta0 + v[0] + v[1:][index]
        return -(np.sum(y * eta - np.logaddexp(0, eta)) - 0.5 * v[0] ** 2 / s_comm**2
                 - 0.5 * np.sum(v[1:] ** 2) / s_mom**2)

    best = minimize(negative, np.zeros(1 + len(moms)), method="BFGS", options={"gtol": 1e-10})
    np.testing.assert_allclose(modes["comm"]["(Intercept)"].iloc[0], best.x[0], atol=1e-5)
    np.testing.assert_allclose(modes["mom"]["(Intercept)"].loc[moms].to_numpy(), best.x[1:], atol=1e-5)
    hessian = np.zeros((len(best.x), len(best.x)))
    h = 1e-5
    for k in range(len(best.x)):
        step = np.zeros(len(best.x))
        step[k] = h
        hessian[:, k] = (_numeric_gradient(negative, best.x + step) - _numeric_gradient(negative, best.x - step)) / (2 * h)
    sds = np.sqrt(np.diag(np.linalg.inv(0.5 * (hessian + hessian.T))))
    np.testing.assert_allclose(modes["comm"]["sd((Intercept))"].iloc[0], sds[0], rtol=1e-3)
    np.testing.assert_allclose(modes["mom"]["sd((Intercept))"].loc[moms].to_numpy(), sds[1:], rtol=1e-3)


def _numeric_gradient(function, v, h=1e-6):
    return np.array([(function(v + h * e) - function(v - h * e)) / (2 * h) for e in np.eye(len(v))])


@pytest.mark.slow
def test_weights_at_levels_two_and_three_equal_duplicated_units(three_level):
    """Sampling weights at every level: a level-2 weight of 2 equals that mother entered twice in her community
    (her integral squared), a level-3 weight of 2 equals the community entered twice; weights of 1 change nothing."""
    frame, result = three_level
    ones = gllamm.fit("y ~ x + (1 | comm) + (1 | mom)", frame.assign(w2=1.0, w3=1.0), family="binomial", nip=8,
                      cluster_weights="w2", top_weights="w3", start=result, max_iter=0)
    assert abs(ones.loglik - result.loglik) < 1e-8
    weighted = frame.assign(w2=np.where(frame.mom == 5, 2.0, 1.0), w3=np.where(frame.comm == 3, 2.0, 1.0))
    fit_weighted = gllamm.fit("y ~ x + (1 | comm) + (1 | mom)", weighted, family="binomial", nip=8,
                              cluster_weights="w2", top_weights="w3")
    twin_mother = frame[frame.mom == 5].assign(mom=10_000)  # a second mother with the same data, same community
    twin_community = frame[frame.comm == 3].assign(comm=20_000, mom=lambda d: d.mom + 20_000)
    duplicated = pd.concat([frame, twin_mother, twin_community], ignore_index=True)
    fit_duplicated = gllamm.fit("y ~ x + (1 | comm) + (1 | mom)", duplicated, family="binomial", nip=8)
    assert abs(fit_weighted.loglik - fit_duplicated.loglik) < 1e-6
    np.testing.assert_allclose(fit_weighted.params.to_numpy(), fit_duplicated.params.to_numpy(), atol=1e-5)
    with pytest.raises(gllamm.GllammError, match="constant within each 'comm'"):
        gllamm.fit("y ~ x + (1 | comm) + (1 | mom)", frame.assign(w3=np.arange(len(frame), dtype=float)),
                   family="binomial", top_weights="w3")


def test_nested_predictions_for_new_data(three_level):
    """New data: rows of fitted units get their EB effects at both levels, a new mother in a known community
    gets only the community's, a new community nothing; marginal means integrate both levels as for the fit."""
    frame, result = three_level
    rows = frame.iloc[:12]
    np.testing.assert_allclose(result.predict(rows, type="linear", latent="eb"),
                               result.predict(type="linear", latent="eb")[:12], atol=1e-12)
    np.testing.assert_allclose(result.predict(rows, latent="marginal"), result.predict(latent="marginal")[:12],
                               atol=1e-12)
    eb = result.empirical_bayes()
    new_mother = rows.assign(mom=99_999)
    expected = result.predict(rows, type="linear") + eb["comm"]["(Intercept)"].reindex(rows.comm).to_numpy()
    np.testing.assert_allclose(result.predict(new_mother, type="linear", latent="eb"), expected, atol=1e-12)
    new_both = rows.assign(mom=99_999, comm=99_999)
    np.testing.assert_allclose(result.predict(new_both, type="linear", latent="eb"), result.predict(rows, type="linear"),
                               atol=1e-12)
