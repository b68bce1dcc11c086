"""Fit measures of two-level SEMs with missing responses against lavaan (tests/reference/
multilevel_fit_measures_missing.json, made by tests/reference/r/multilevel_fit_measures_missing.R, lavaan 0.6-14):

    d$y1[i %% 7 == 0] <- NA; d$y2[i %% 11 == 3] <- NA; d$y3[i %% 13 == 5] <- NA; d$y4[i %% 5 == 2] <- NA
    fit <- sem(model, data = d, cluster = "cluster", missing = "ml")
    fitMeasures(fit)   # basic: chisq 181.6658 (3 df), baseline.chisq 1142.8734 (6 df), cfi 0.842845, tli 0.685689,
                       #   rmsea 0.154406, srmr 0.180434 = within 0.027550 + between 0.152884, ntotal 2498
                       # paths: chisq 359.3323 (22 df), baseline.chisq 1853.6811 (30 df), cfi 0.815027,
                       #   rmsea 0.078315, srmr 0.122127 = within 0.023499 + between 0.098628, ntotal 2500
    lavInspect(fit, "h1"); lavInspect(fit, "implied")

lavaan's unrestricted model (EM) stops short of its maximum with missing responses too: gllamm's likelihood at
lavaan's h1 matrices is lavaan's unrestricted.logl (to 1e-6), and gllamm's Newton fit reaches 3e-4 (basic) and
2.1e-3 (paths) higher, which raises chisq by twice that. The level SRMRs are lavaan's own formula of its h1 and
implied matrices (checked to 1e-10), so gllamm's are checked from lavaan's h1 where the h1 matters."""

import numpy as np
import pytest

import gllamm
from gllamm.results.two_level_fit_measures import _correlation_rmr, _force_positive_definite, implied_two_level
from gllamm.results.two_level_missing import _negative_loglik, _pattern_data, unrestricted_two_level_missing
from reference_cases import load_reference

ITEMS = {"basic": ["y1", "y2", "y3"], "paths": ["y1", "y2", "y3", "y4", "y5", "y6"]}
MISSING = {"y1": (7, 0), "y2": (11, 3), "y3": (13, 5), "y4": (5, 2)}  # NA where row % m == r (as the R script)


@pytest.fixture(scope="module")
def reference():
    return load_reference("multilevel_fit_measures_missing")


@pytest.fixture(scope="module")
def data():
    frame = gllamm.datasets.load("twolevel")
    row = np.arange(len(frame))
    for column, (m, r) in MISSING.items():
        frame.loc[row % m == r, column] = np.nan
    return frame


def _lavaan_h1_vector(case: dict, p: int) -> np.ndarray:
    """lavaan's h1 (mean, Sigma_W, Sigma_B) as the parameter vector of the unrestricted model."""
    L_W = np.linalg.cholesky(np.array(case["h1_within_cov"]))
    L_W[np.diag_indices(p)] = np.log(np.diag(L_W))
    L_B = np.linalg.cholesky(np.array(case["h1_between_cov"]))
    rows, cols = np.tril_indices(p)
    mean = np.add(case["h1_between_mean"], case["h1_within_mean"])  # lavaan splits the mean by level
    return np.concatenate([mean, L_W[rows, cols], L_B[rows, cols]])


@pytest.mark.parametrize("name", ["basic", "paths"])
def test_the_likelihood_at_lavaans_h1_is_lavaans(reference, data, name):
    case, items = reference[name], ITEMS[name]
    Y, cluster = data[items].to_numpy(), data["cluster"].to_numpy()
    keep = ~np.isnan(Y).all(axis=1)
    p = len(items)
    at_lavaan = -float(_value(_lavaan_h1_vector(case, p), _pattern_data(Y[keep], cluster[keep]), p))
    assert at_lavaan == pytest.approx(case["fit"]["unrestricted.logl"], abs=1e-6)


@pytest.mark.slow  # compiles the Newton fit's programs for two shapes of data (16 s cold); CI runs it
@pytest.mark.parametrize("name", ["basic", "paths"])
def test_our_unrestricted_model_is_lavaans_h1_or_better(reference, data, name):
    case, items = reference[name], ITEMS[name]
    Y, cluster = data[items].to_numpy(), data["cluster"].to_numpy()
    mu, within, between, loglik = unrestricted_two_level_missing(Y, cluster)
    lavaan_h1 = case["fit"]["unrestricted.logl"]
    assert lavaan_h1 - 1e-8 < loglik < lavaan_h1 + 3e-3  # lavaan's EM stops short (module docstring)
    assert np.abs(within - np.array(case["h1_within_cov"])).max() < 5e-3
    assert np.abs(between - np.array(case["h1_between_cov"])).max() < 5e-3


def _value(z, arrays, p):
    import jax

    return jax.jit(_negative_loglik, static_argnums=2)(z, arrays, p)


def test_the_likelihood_is_the_stacked_normal_of_each_cluster(data):
    """Brute force at a point that is not the maximum: each cluster's observed responses are one normal vector with
    covariance I kron Sigma_W + 11' kron Sigma_B, restricted to the observed entries (a unit without any observed
    response included: it adds nothing)."""
    from scipy import stats

    from gllamm.results.two_level_unrestricted import _unpack

    small = data[data["cluster"] <= 40]
    Y, cluster = small[ITEMS["basic"]].to_numpy(), small["cluster"].to_numpy()
    Y[3] = np.nan
    z = np.array([0.1, -0.2, 0.3, 0.2, 0.4, -0.1, 0.3, 0.5, 0.0, 0.6, 0.2, 0.5, -0.3, 0.1, 0.4])
    mu, within, between = (np.asarray(x) for x in _unpack(z, 3))
    total = 0.0
    for code in np.unique(cluster):
        rows = Y[cluster == code]
        n = len(rows)
        covariance = np.kron(np.eye(n), within) + np.kron(np.ones((n, n)), between)
        values = rows.reshape(-1)
        seen = ~np.isnan(values)
        total += stats.multivariate_normal(np.tile(mu, n)[seen], covariance[np.ix_(seen, seen)]).logpdf(values[seen])
    keep = ~np.isnan(Y).all(axis=1)
    assert -float(_value(z, _pattern_data(Y[keep], cluster[keep]), 3)) == pytest.approx(total, abs=1e-8)


@pytest.mark.slow  # the Newton fits of the unrestricted model (12 s cold); CI runs it
def test_without_missing_values_it_is_the_sufficient_statistic_fit(data):
    from gllamm.results.two_level_unrestricted import unrestricted_two_level

    complete = gllamm.datasets.load("twolevel")
    Y, cluster = complete[ITEMS["basic"]].to_numpy(), complete["cluster"].to_numpy()
    ours, closed_form = unrestricted_two_level_missing(Y, cluster), unrestricted_two_level(Y, cluster)
    assert ours[3] == pytest.approx(closed_form[3], abs=1e-7)
    assert np.abs(ours[1] - closed_form[1]).max() < 1e-5 and np.abs(ours[2] - closed_form[2]).max() < 1e-5


@pytest.mark.slow  # two two-level fits with missing responses (30 s); CI runs it (python -m pytest -m slow)
@pytest.mark.parametrize("name", ["basic", "paths"])
def test_fit_measures_equal_lavaans(reference, data, name):
    case, items = reference[name], ITEMS[name]
    result = gllamm.fit(case["model"], data, cluster="cluster")
    assert result.converged and abs(result.loglik - case["loglik"]) < 1e-4  # (lavaan's basic fit is 2.7e-5 short)
    measures, expected = result.fit_measures(), case["fit"]
    shortfall = measures["unrestricted.logl"] - expected["unrestricted.logl"]  # lavaan's EM (module docstring)
    assert 0 <= shortfall < 3e-3
    assert measures["chisq"] == pytest.approx(expected["chisq"] + 2 * shortfall, abs=1e-3)
    assert measures["baseline.chisq"] == pytest.approx(expected["baseline.chisq"] + 2 * shortfall, abs=1e-3)
    for key in ("npar", "df", "baseline.df", "cfi", "tli", "logl", "aic", "bic", "ntotal", "rmsea",
                "rmsea.ci.lower", "rmsea.ci.upper"):
        assert measures[key] == pytest.approx(expected[key], rel=1e-4), key
    within, between = implied_two_level(result, items)
    assert np.abs(within - np.array(case["implied_within_cov"])).max() < 2e-3
    assert _correlation_rmr(np.array(case["h1_within_cov"]), within) == pytest.approx(expected["srmr_within"],
                                                                                      abs=1e-4)
    assert _correlation_rmr(np.array(case["h1_between_cov"]), _force_positive_definite(between)) == \
        pytest.approx(expected["srmr_between"], abs=1e-6)
    assert measures["srmr"] == pytest.approx(measures["srmr_within"] + measures["srmr_between"], rel=1e-12)
    assert "within" in result.summary()


def test_lavaans_level_srmr_is_our_formula_of_its_matrices(reference):
    for case in reference.values():
        if not isinstance(case, dict):
            continue
        fit = case["fit"]
        assert _correlation_rmr(np.array(case["h1_within_cov"]), np.array(case["implied_within_cov"])) == \
            pytest.approx(fit["srmr_within"], abs=1e-10)
        assert _correlation_rmr(np.array(case["h1_between_cov"]),
                                _force_positive_definite(np.array(case["implied_between_cov"]))) == \
            pytest.approx(fit["srmr_between"], abs=1e-10)
