"""Responses without error (``x ~~ 0*x``): exact, against lavaan (tests/reference/exact_indicators.json, made by
tests/reference/r/exact_indicators.R with lavaan 0.6-14) and the closed-form normal posterior."""

import json
import pathlib
import warnings

import numpy as np
import pytest

import gllamm
from gllamm import GllammError

REFERENCE = json.loads((pathlib.Path(__file__).parent / "reference" / "exact_indicators.json").read_text())


def _estimate(rows, lhs, op, rhs=""):
    return next(r for r in rows if r["lhs"] == lhs and r["op"] == op and r["rhs"] == rhs)


@pytest.fixture(scope="module")
def holzinger():
    return gllamm.datasets.load("holzinger")


@pytest.fixture(scope="module")
def missing_covariate(holzinger):
    """x7 regressed on x4, x4 missing for a third of the children (lavaan: missing='ml', fixed.x=FALSE)."""
    data = holzinger.copy()
    data.loc[data.id % 3 == 0, "x4"] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gllamm.DataWarning)  # (the missing responses are announced)
        result = gllamm.fit("X =~ 1*x4 + x7\nx4 ~~ 0*x4", data)
    return data, result


def test_an_error_free_indicator_matches_lavaan(holzinger):
    """cfa('visual =~ x1 + x2 + x3; x1 ~~ 0*x1'): logLik -1366.187400809, loadings 0.2998973 (SE 0.0555043),
    0.4269083 (0.0501253), var(visual) 1.3583698 (0.1107260)."""
    reference = REFERENCE["cfa"]
    result = gllamm.fit("visual =~ x1 + x2 + x3\nx1 ~~ 0*x1", holzinger)
    assert result.converged
    assert result.loglik == pytest.approx(reference["loglik"], abs=1e-6)
    rows = reference["estimates"]
    for name, (lhs, op, rhs) in {"visual=~x2": ("visual", "=~", "x2"), "visual=~x3": ("visual", "=~", "x3"),
                                 "visual~~visual": ("visual", "~~", "visual"), "x2~~x2": ("x2", "~~", "x2"),
                                 "x3~~x3": ("x3", "~~", "x3")}.items():
        row = _estimate(rows, lhs, op, rhs)
        assert result.params[name] == pytest.approx(row["est"], rel=1e-5), name
        assert result.se[name] == pytest.approx(row["se"], rel=1e-3), name
    table = result.table()
    assert table.loc["x1~~x1", "estimate"] == 0.0
    assert table.loc["x1~~x1", ["se", "z", "p", "ci_lower", "ci_upper"]].isna().all()  # fixed: not estimated
    measures = result.fit_measures()
    for name in ("chisq", "df", "cfi", "rmsea", "srmr"):
        assert measures[name] == pytest.approx(reference["fit_measures"][name], rel=1e-5, abs=1e-8), name


def test_a_missing_covariate_is_integrated_out_as_lavaan_does(missing_covariate):
    """sem('x7 ~ x4', missing='ml', fixed.x=FALSE): logLik -755.394907772, slope 0.2579593 (SE 0.0624505),
    var(x4) 1.3521119 (0.1358006), residual var(x7) 1.0931662 (0.0924783), mean(x4) 3.1429419 (0.0815558)."""
    _, result = missing_covariate
    reference = REFERENCE["missing_covariate"]
    rows = reference["estimates"]
    assert result.converged
    assert result.loglik == pytest.approx(reference["loglik"], abs=1e-6)
    for name, (lhs, op, rhs) in {"X=~x7": ("x7", "~", "x4"), "X~~X": ("x4", "~~", "x4"),
                                 "x7~~x7": ("x7", "~~", "x7"), "x4~1": ("x4", "~1", "")}.items():
        row = _estimate(rows, lhs, op, rhs)
        assert result.params[name] == pytest.approx(row["est"], rel=1e-5), name
        assert result.se[name] == pytest.approx(row["se"], rel=1e-3), name
    # lavaan's intercept is of x7 given x4; gllamm's x7~1 is the mean of x7: a + b mean(x4)
    intercept = _estimate(rows, "x7", "~1")["est"]
    expected_mean = intercept + _estimate(rows, "x7", "~", "x4")["est"] * _estimate(rows, "x4", "~1")["est"]
    assert result.params["x7~1"] == pytest.approx(expected_mean, rel=1e-5)


def test_the_latent_covariate_is_predicted_from_the_normal_posterior(missing_covariate):
    """Where x4 is observed, X equals x4 - mean(x4) with posterior SD 0; where it is missing, X | x7 is normal with
    mean lambda psi (x7 - mu7) / (lambda^2 psi + sigma^2) and variance psi sigma^2 / (lambda^2 psi + sigma^2)."""
    data, result = missing_covariate
    p = result.params
    scores = result.empirical_bayes()
    observed = data.x4.notna().to_numpy()
    np.testing.assert_allclose(scores["X"].to_numpy()[observed], (data.x4 - p["x4~1"]).to_numpy()[observed],
                               atol=1e-8)
    assert np.all(scores["sd(X)"].to_numpy()[observed] < 1e-6)
    lam, psi, sigma2 = p["X=~x7"], p["X~~X"], p["x7~~x7"]
    total = lam ** 2 * psi + sigma2
    mean = lam * psi * (data.x7 - p["x7~1"]) / total
    np.testing.assert_allclose(scores["X"].to_numpy()[~observed], mean.to_numpy()[~observed], rtol=1e-8)
    np.testing.assert_allclose(scores["sd(X)"].to_numpy()[~observed], np.sqrt(psi * sigma2 / total), rtol=1e-8)


def test_a_saved_fit_with_an_error_free_indicator_loads(missing_covariate, tmp_path):
    _, result = missing_covariate
    path = tmp_path / "missing_covariate.gllamm"
    result.save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gllamm.DataWarning)
        loaded = gllamm.load(path)
    assert loaded.loglik == pytest.approx(result.loglik, abs=1e-10)
    assert loaded.params["x4~~x4"] == 0.0
    np.testing.assert_allclose(loaded.empirical_bayes().to_numpy(), result.empirical_bayes().to_numpy(), atol=1e-10)


def test_a_zero_variance_outside_the_exact_gaussian_integral_is_refused(holzinger):
    data = holzinger.assign(high=(holzinger.x7 > holzinger.x7.median()).astype(int))
    with pytest.raises(GllammError, match=r"'x4 ~~ 0\*x4'.*Gaussian.*small positive value"):
        gllamm.fit("X =~ 1*x4 + high\nx4 ~~ 0*x4", data, family={"x4": "gaussian", "high": "binomial"})
