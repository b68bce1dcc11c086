"""Fit measures of two-level SEMs against lavaan (tests/reference/multilevel_fit_measures.json, made by
tests/reference/r/multilevel_fit_measures.R):

    fit <- sem("level: 1\\n fw =~ y1 + y2 + y3\\n level: 2\\n fb =~ y1 + y2 + y3\\n y1 ~~ 0*y1\\n ...", data = d,
               cluster = "cluster")
    fitMeasures(fit)   # chisq 215.2907, df 3, baseline.chisq 1365.8696 (df 6), cfi 0.843889, tli 0.687778,
                       # rmsea 0.168242 [0.149596, 0.187672], srmr 0.176239 = within 0.025112 + between 0.151127,
                       # unrestricted.logl -12513.70251
    lavInspect(fit, "h1")   # the unrestricted model's within and between covariance matrices

lavaan's unrestricted model (EM) stops slightly short of its maximum: gllamm's Newton fit of the same model
reaches a log-likelihood 1.2e-4 higher, which moves chisq by 2e-4 and srmr_between by 9e-5. The SRMRs are
therefore checked from lavaan's own h1 matrices (1e-6), and gllamm's h1 against lavaan's within the EM's
tolerance."""

import numpy as np
import pytest

import gllamm
from gllamm.results.two_level_fit_measures import _correlation_rmr, _force_positive_definite, implied_two_level
from gllamm.results.two_level_unrestricted import _negative_loglik, _unpack, unrestricted_two_level
from reference_cases import load_reference

ITEMS = ["y1", "y2", "y3"]


@pytest.fixture(scope="module")
def reference():
    return load_reference("multilevel_fit_measures")["basic"]


@pytest.fixture(scope="module")
def two_level(reference):
    return gllamm.fit(reference["model"], gllamm.datasets.load("twolevel"), cluster="cluster")


@pytest.mark.slow  # 5 s: a two-level fit; CI runs it (python -m pytest -m slow)
def test_fit_measures_equal_lavaans(two_level, reference):
    measures, expected = two_level.fit_measures(), reference["fit"]
    assert abs(two_level.loglik - reference["loglik"]) < 1e-4
    assert measures["chisq"] == pytest.approx(expected["chisq"], abs=1e-3)
    assert measures["baseline.chisq"] == pytest.approx(expected["baseline.chisq"], abs=1e-3)
    for name in ("npar", "df", "baseline.df", "cfi", "tli", "logl", "aic", "bic", "ntotal", "rmsea",
                 "rmsea.ci.lower", "rmsea.ci.upper"):
        assert measures[name] == pytest.approx(expected[name], rel=1e-4), name
    assert measures["srmr"] == pytest.approx(measures["srmr_within"] + measures["srmr_between"], rel=1e-12)
    assert "within" in two_level.summary() and f"{measures['srmr_within']:.4f}" in two_level.summary()


@pytest.mark.slow  # shares the two-level fit; CI runs it (python -m pytest -m slow)
def test_level_srmr_from_lavaans_unrestricted_matrices(two_level, reference):
    within, between = implied_two_level(two_level, ITEMS)
    assert _correlation_rmr(np.array(reference["h1_within_cov"]), within) == \
        pytest.approx(reference["fit"]["srmr_within"], abs=1e-5)
    assert _correlation_rmr(np.array(reference["h1_between_cov"]), _force_positive_definite(between)) == \
        pytest.approx(reference["fit"]["srmr_between"], abs=1e-6)


def test_the_unrestricted_model_is_lavaans_h1_or_better(reference):
    data = gllamm.datasets.load("twolevel")
    Y, cluster = data[ITEMS].to_numpy(), data["cluster"].to_numpy()
    mu, within, between, loglik = unrestricted_two_level(Y, cluster)
    assert np.abs(within - np.array(reference["h1_within_cov"])).max() < 2e-3
    assert np.abs(between - np.array(reference["h1_between_cov"])).max() < 2e-3
    lavaan_h1 = reference["fit"]["unrestricted.logl"]
    assert lavaan_h1 - 1e-8 < loglik < lavaan_h1 + 1e-3
    # independent check of the likelihood: brute force over the clusters' stacked responses
    from scipy import stats

    total = 0.0
    for code in np.unique(cluster):
        rows = Y[cluster == code]
        n = len(rows)
        covariance = np.kron(np.eye(n), within) + np.kron(np.ones((n, n)), between)
        total += stats.multivariate_normal(np.tile(mu, n), covariance).logpdf(rows.reshape(-1))
    assert total == pytest.approx(loglik, abs=1e-6)


def test_likelihood_formula_at_lavaans_h1(reference):
    """The sufficient-statistic log-likelihood at lavaan's h1 estimates is lavaan's unrestricted.logl."""
    from gllamm.results.two_level_unrestricted import _cluster_statistics

    data = gllamm.datasets.load("twolevel")
    Y, cluster = data[ITEMS].to_numpy(), data["cluster"].to_numpy()
    statistics = {k: v for k, v in _cluster_statistics(Y, cluster).items() if k not in ("means", "counts")}
    W, B = np.array(reference["h1_within_cov"]), np.array(reference["h1_between_cov"])
    L_W, L_B = np.linalg.cholesky(W), np.linalg.cholesky(B)
    L_W[np.diag_indices(3)] = np.log(np.diag(L_W))
    rows, cols = np.tril_indices(3)
    mean = np.add(reference["h1_between_mean"], reference["h1_within_mean"])  # lavaan splits the mean by level
    z = np.concatenate([mean, L_W[rows, cols], L_B[rows, cols]])
    assert np.allclose(_unpack(z, 3)[1], W) and np.allclose(_unpack(z, 3)[2], B)
    assert -float(_negative_loglik(z, statistics, 3)) == pytest.approx(reference["fit"]["unrestricted.logl"], abs=1e-6)


@pytest.mark.slow  # a new fit (7 s); CI runs it
def test_two_level_models_without_these_measures_say_why(reference):
    model = reference["model"].replace("fw =~ y1 + y2 + y3", "fw =~ y1 + y2 + y3\n y1 ~ x1")
    result = gllamm.fit(model, gllamm.datasets.load("twolevel"), cluster="cluster")
    measures = result.fit_measures()
    assert measures.isna().all() and "direct effects on indicators" in measures.attrs["note"]
    assert "srmr_within" in measures.index
