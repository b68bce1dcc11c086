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


# --- under a quadrature: the seeds' missing-covariate model with a binary disease --------------------------------
DISEASE_MODEL = """
xi =~ 1*x + 1*w + d
x ~~ 0*x
d ~ age
"""
DISEASE_FAMILIES = {"x": "gaussian", "w": "gaussian", "d": "binomial"}


def _disease_data(n: int = 400, seed: int = 3):
    """Exposure xi ~ N(2, 1), its error-prone measure w for everyone, the exposure itself (x) for a validation third,
    a binary disease with logit P = -3 + 1.2 xi + 0.5 age."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    age, xi = rng.normal(size=n), 2.0 + rng.normal(size=n)
    w = 0.3 + xi + rng.normal(scale=np.sqrt(0.6), size=n)
    d = (rng.uniform(size=n) < 1.0 / (1.0 + np.exp(3.0 - 1.2 * xi - 0.5 * age))).astype(float)
    x = np.where(rng.uniform(size=n) < 0.3, xi, np.nan)
    return pd.DataFrame(dict(d=d, x=x, w=w, age=age))


@pytest.fixture(scope="module")
def disease():
    data = _disease_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gllamm.DataWarning)  # (x is missing for most units, by design)
        result = gllamm.fit(DISEASE_MODEL, data, family=DISEASE_FAMILIES)
    return data, result


def _unit_integrands(data, params):
    """For every unit, z -> log f(w, d | xi - mu = z) + log phi(z; psi), and the observed z (NaN where x is missing)."""
    from scipy import stats

    mx, mw, b0, ba, lam, psi, theta = (params[k] for k in ("x~1", "w~1", "d~1", "d~age", "xi=~d", "xi~~xi", "w~~w"))

    def integrand(j):
        def log_f(z):
            eta = b0 + ba * data.age[j] + lam * z
            return (data.d[j] * eta - np.logaddexp(0.0, eta) + stats.norm.logpdf(data.w[j], mw + z, np.sqrt(theta))
                    + stats.norm.logpdf(z, 0.0, np.sqrt(psi)))
        return log_f

    return [integrand(j) for j in range(len(data))], (data.x - mx).to_numpy()


@pytest.mark.slow
def test_a_binary_disease_given_a_partly_observed_exposure_has_the_exact_log_likelihood(disease):
    """Where x is observed the unit's likelihood is the integrand at xi = x (no integral); elsewhere a 1-D integral,
    here by scipy's adaptive quadrature, independent of gllamm's rule."""
    from scipy import integrate

    data, result = disease
    assert result.converged and result.quadrature_check.passed
    integrands, observed = _unit_integrands(data, result.params)
    total = 0.0
    for log_f, z in zip(integrands, observed):
        if np.isfinite(z):
            total += log_f(z)
        else:
            total += np.log(integrate.quad(lambda t: np.exp(log_f(t)), -12, 12, epsabs=1e-14, epsrel=1e-12)[0])
    assert result.loglik == pytest.approx(total, abs=1e-6)  # (AGQ with 8 points is 3.6e-8 off on 500 such units)
    assert result.params["xi=~d"] == pytest.approx(1.2, abs=3 * result.se["xi=~d"])  # the simulation's truth


@pytest.mark.slow
def test_the_exposure_is_predicted_exactly_where_it_was_measured(disease):
    """EB: xi - mu equals x - mu with SD 0 where x is observed; elsewhere the posterior mean and SD by quadrature
    (checked against scipy's for the first units without x)."""
    from scipy import integrate

    data, result = disease
    eb = result.empirical_bayes()
    integrands, observed = _unit_integrands(data, result.params)
    seen = np.isfinite(observed)
    np.testing.assert_allclose(eb["xi"].to_numpy()[seen], observed[seen], atol=1e-10)
    np.testing.assert_allclose(eb["sd(xi)"].to_numpy()[seen], 0.0, atol=1e-6)
    for j in np.flatnonzero(~seen)[:5]:
        moments = [integrate.quad(lambda t: t**k * np.exp(integrands[j](t)), -12, 12, epsabs=1e-14)[0] for k in range(3)]
        mean = moments[1] / moments[0]
        assert eb["xi"].iloc[j] == pytest.approx(mean, abs=1e-5)
        assert eb["sd(xi)"].iloc[j] == pytest.approx(np.sqrt(moments[2] / moments[0] - mean**2), abs=1e-5)


@pytest.mark.slow
def test_quadrature_given_error_free_rows_equals_the_exact_gaussian_integral(missing_covariate):
    """All-Gaussian responses declared as mixed families are integrated by adaptive quadrature conditioned on x4;
    the integrand is then Gaussian in the remaining direction, so the rule is exact: the same fit as the marginal
    normal form."""
    data, exact = missing_covariate
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gllamm.DataWarning)
        quadrature = gllamm.fit("X =~ 1*x4 + x7\nx4 ~~ 0*x4", data, family={"x4": "gaussian", "x7": "gaussian"})
    assert quadrature.integration.method == "adaptive"
    assert quadrature.loglik == pytest.approx(exact.loglik, abs=1e-8)
    np.testing.assert_allclose(quadrature.params.to_numpy(), exact.params.to_numpy(), atol=1e-6)
    np.testing.assert_allclose(quadrature.empirical_bayes().to_numpy(), exact.empirical_bayes().to_numpy(), atol=1e-6)


@pytest.mark.slow
def test_a_saved_quadrature_fit_with_an_error_free_indicator_loads(disease, tmp_path):
    _, result = disease
    result.save(tmp_path / "disease.gllamm")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gllamm.DataWarning)
        loaded = gllamm.load(tmp_path / "disease.gllamm")
    assert loaded.loglik == pytest.approx(result.loglik, abs=1e-10)
    np.testing.assert_allclose(loaded.empirical_bayes().to_numpy(), result.empirical_bayes().to_numpy(), atol=1e-10)


@pytest.mark.parametrize("options", [dict(classes=2), dict(chunk_size=100)])
def test_a_zero_variance_the_integration_cannot_take_is_refused(options):
    data = _disease_data(n=200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gllamm.DataWarning)
        with pytest.raises(GllammError, match=r"(exactly 0|'x ~~ 0\*x').*(small positive value|chunk_size)"):
            gllamm.fit(DISEASE_MODEL, data, family=DISEASE_FAMILIES, **options)


def test_maximum_likelihood_latent_values_are_refused_with_an_error_free_response(missing_covariate):
    _, result = missing_covariate
    with pytest.raises(GllammError, match=r"kind='ml'.*without error.*kind='mean'"):
        result.empirical_bayes("ml")
