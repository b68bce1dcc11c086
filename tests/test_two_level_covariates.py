"""Fit measures of two-level SEMs with covariates of within- and of between-level latent variables against lavaan (tests/reference/
multilevel_fit_measures_covariates.json, made by tests/reference/r/multilevel_fit_measures_covariates.R,
lavaan 0.6-14):

    model <- "level: 1\\n fw =~ y1 + y2 + y3\\n fw ~ x1 + x2 + x3\\n level: 2\\n fb =~ y1 + y2 + y3\\n y1 ~~ 0*y1 ..."
    fitMeasures(sem(model, data = d, cluster = "cluster"))
    # chisq 220.0222 (9 df), baseline.chisq 2235.2461 (15 df), cfi 0.904955, tli 0.841592, rmsea 0.096844,
    # srmr 0.159768 = within 0.015106 + between 0.144661, unrestricted.logl -12079.01428, logl -12189.02541
    # with "fb ~ w1 + w2" at level 2 instead: chisq 221.7103 (7 df), baseline.chisq 1380.0097 (12 df),
    # cfi 0.843049, rmsea 0.110766, srmr 0.126753 = within 0.025180 + between 0.101573

lavaan's h1 is the model of y given x (fixed.x): its EM stops 1.1e-4 (7e-5) short of the maximum, so chisq is checked
against lavaan's plus twice that shortfall, and the level SRMRs from lavaan's own h1 matrices."""

import numpy as np
import pytest

import gllamm
from gllamm.results.two_level_covariates import (_negative_loglik, _statistics, joint_covariance,
                                                 unrestricted_two_level_given_x)
from gllamm.results.two_level_fit_measures import _correlation_rmr, _force_positive_definite, implied_two_level
from reference_cases import load_reference

ITEMS, COVARIATES = ["y1", "y2", "y3"], ["x1", "x2", "x3"]


@pytest.fixture(scope="module")
def reference():
    return load_reference("multilevel_fit_measures_covariates")


def test_the_likelihood_is_the_stacked_normal_of_y_given_x():
    """Brute force at a point that is not the maximum: each cluster's responses are one normal vector with mean
    mu + Gamma x_ij per unit and covariance I kron Sigma_W + 11' kron Sigma_B."""
    import jax
    from scipy import stats

    from gllamm.results.two_level_unrestricted import _unpack

    data = gllamm.datasets.load("twolevel")
    data = data[data["cluster"] <= 30]
    Y, X, cluster = data[ITEMS].to_numpy(), data[COVARIATES].to_numpy(), data["cluster"].to_numpy()
    z = np.array([0.1, -0.2, 0.3, 0.2, 0.4, -0.1, 0.3, 0.5, 0.0, 0.6, 0.2, 0.5, -0.3, 0.1, 0.4,
                  0.5, 0.4, 0.2, 0.3, 0.3, 0.1, 0.3, 0.2, 0.1])
    mu, within, between = (np.asarray(v) for v in _unpack(z[:15], 3))
    gamma = z[15:].reshape(3, 3)
    total = 0.0
    for code in np.unique(cluster):
        rows, xs = Y[cluster == code], X[cluster == code]
        n = len(rows)
        covariance = np.kron(np.eye(n), within) + np.kron(np.ones((n, n)), between)
        total += stats.multivariate_normal((mu + xs @ gamma.T).reshape(-1), covariance).logpdf(rows.reshape(-1))
    value = jax.jit(_negative_loglik, static_argnums=(2, 3))(z, _statistics(Y, X, cluster), 3, 3)
    assert -float(value) == pytest.approx(total, abs=1e-8)


@pytest.mark.slow  # a two-level fit and the unrestricted model's programs (15 s cold); CI runs it
@pytest.mark.parametrize("case", ["within", "between"])
def test_fit_measures_equal_lavaans(reference, case):
    from gllamm.results.covariate_fit_measures import covariate_effects
    from gllamm.results.two_level_fit_measures import _covariate_covariances

    reference = reference[case]
    data = gllamm.datasets.load("twolevel")
    result = gllamm.fit(reference["model"], data, cluster="cluster")
    assert result.converged and result.loglik == pytest.approx(reference["loglik"], abs=1e-6)
    measures, expected = result.fit_measures(), reference["fit"]
    shortfall = measures["unrestricted.logl"] - expected["unrestricted.logl"]
    assert 0 <= shortfall < 1e-3  # lavaan's EM stops short (module docstring)
    assert measures["chisq"] == pytest.approx(expected["chisq"] + 2 * shortfall, abs=1e-4)
    assert measures["baseline.chisq"] == pytest.approx(expected["baseline.chisq"] + 2 * shortfall, abs=1e-4)
    for name in ("npar", "df", "baseline.df", "cfi", "tli", "logl", "aic", "bic", "ntotal", "rmsea",
                 "rmsea.ci.lower", "rmsea.ci.upper"):
        assert measures[name] == pytest.approx(expected[name], rel=1e-4), name
    covariates = COVARIATES if case == "within" else ["w1", "w2"]
    Y, X, cluster = data[ITEMS].to_numpy(), data[covariates].to_numpy(), data["cluster"].to_numpy()
    _, own_within, own_between, gamma, _ = unrestricted_two_level_given_x(Y, X, cluster)
    S_xx, S_ww = _covariate_covariances(X, cluster, 3 if case == "within" else 0)
    within, between = implied_two_level(result, ITEMS)
    between = _force_positive_definite(between)
    if case == "within":  # x in lavaan's within matrices, with their covariance over units
        own_within, within = (joint_covariance(own_within, gamma, S_xx),
                              joint_covariance(within, covariate_effects(result, ITEMS, covariates, 0), S_xx))
    else:  # w in the between matrices, with their covariance over clusters
        own_between, between = (joint_covariance(own_between, gamma, S_ww),
                                joint_covariance(between, covariate_effects(result, ITEMS, covariates, 1), S_ww))
    assert np.abs(own_within - np.array(reference["h1_within_cov"])).max() < 2e-3
    assert np.abs(own_between - np.array(reference["h1_between_cov"])).max() < 2e-3
    assert np.abs(within - np.array(reference["implied_within_cov"])).max() < 1e-4
    assert np.abs(between - np.array(reference["implied_between_cov"])).max() < 1e-4
    assert _correlation_rmr(np.array(reference["h1_within_cov"]), within) == \
        pytest.approx(expected["srmr_within"], abs=1e-6)
    assert _correlation_rmr(np.array(reference["h1_between_cov"]), between) == \
        pytest.approx(expected["srmr_between"], abs=1e-6)
    assert abs(measures["srmr_within"] - expected["srmr_within"]) < 1e-5
    assert abs(measures["srmr_between"] - expected["srmr_between"]) < 2e-4  # (lavaan's h1, module docstring)
