"""Fit measures of an SEM against lavaan (tests/reference/holzinger_fit.json, made by
tests/reference/r/refs_fit_measures_crossed_nb_profile.R):

    fit <- cfa("visual =~ x1 + x2 + x3\\ntextual =~ x4 + x5 + x6\\nspeed =~ x7 + x8 + x9", data = hs)
    fitMeasures(fit)   # chisq 85.3055, df 24, cfi 0.93056, tli 0.89584, rmsea 0.09212 [0.07142, 0.11368],
                       # srmr 0.06521, aic 7517.49, bic 7595.34 (npar 21: cfa() without meanstructure)

gllamm's model has the 9 intercepts too (npar 30, same chi-square and df: the means are saturated), so its aic
and bic are lavaan's plus 2 * 9 and 9 log(301)."""

import json
import pathlib

import numpy as np
import pytest

import gllamm
from reference_cases import load_reference

CFA = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"


@pytest.fixture(scope="module")
def cfa():
    return gllamm.fit(CFA, gllamm.datasets.load("holzinger"))


def test_fit_measures_equal_lavaans(cfa):
    reference = load_reference("holzinger_fit")["fit"]
    measures = cfa.fit_measures()
    assert measures["chisq"] == pytest.approx(reference["chisq"], abs=1e-3)
    for name in ("df", "pvalue", "baseline.chisq", "baseline.df", "cfi", "tli", "logl", "unrestricted.logl", "rmsea",
                 "rmsea.ci.lower", "rmsea.ci.upper", "rmsea.pvalue", "srmr", "ntotal"):
        assert measures[name] == pytest.approx(reference[name], rel=1e-4), name
    means = 9
    assert measures["npar"] == reference["npar"] + means
    assert measures["aic"] == pytest.approx(reference["aic"] + 2 * means, rel=1e-6)
    assert measures["bic"] == pytest.approx(reference["bic"] + np.log(301) * means, rel=1e-6)


def test_the_summary_shows_them(cfa):
    text = cfa.summary()
    assert "Fit measures" in text and "CFI" in text and "RMSEA" in text and "0.9306" in text


def test_models_without_a_saturated_model_say_so():
    lsat = gllamm.datasets.load("lsat7")
    result = gllamm.fit("theta =~ Q1 + Q2 + Q3 + Q4 + Q5", lsat, family="binomial", nip=20)
    measures = result.fit_measures()
    assert measures.isna().all() and "no saturated model in closed form" in measures.attrs["note"]
    formula = gllamm.fit("reaction ~ days + (1 | subject)", gllamm.datasets.load("sleepstudy"))
    assert "lavaan-style syntax" in formula.fit_measures().attrs["note"]


def test_the_standardized_solution_and_r_squared_equal_lavaans(cfa):
    """lavaan: parameterEstimates(fit, standardized = TRUE) std.lv / std.all, and inspect(fit, "r2")."""
    reference = load_reference("holzinger_fit")
    rows = {(p["lhs"], p["op"], p["rhs"]): p for p in reference["params"]}
    solution = cfa.standardized()
    compared = 0
    for _, row in solution.iterrows():
        if row.op == "~1":
            continue
        ref = rows.get((row.lhs, row.op, row.rhs)) or rows[(row.rhs, row.op, row.lhs)]
        assert row["std.all"] == pytest.approx(ref["std.all"], abs=2e-3)
        assert row["std.lv"] == pytest.approx(ref["std.lv"], abs=2e-3)
        compared += 1
    assert compared == len(reference["params"]) == 24
    first = solution.iloc[0]
    assert (first.lhs, first.op, first.rhs, first.est) == ("visual", "=~", "x1", 1.0) and first.se > 0
    r2 = cfa.r_squared()
    for name, value in reference["r2"].items():
        assert r2[name] == pytest.approx(value, abs=2e-3)
    # the delta-method SE of std.all against a finite-difference Jacobian of the same function
    from gllamm.results.standardized import _rows, _values
    import jax.numpy as jnp

    rows_spec = _rows(cfa)
    theta = np.asarray(cfa.theta)
    step = 1e-6
    jac = np.column_stack([(np.asarray(_values(cfa, rows_spec, jnp.asarray(theta + step * e))[2])
                            - np.asarray(_values(cfa, rows_spec, jnp.asarray(theta - step * e))[2])) / (2 * step)
                           for e in np.eye(len(theta))])
    se = np.sqrt(np.diag(jac @ cfa.theta_vcov @ jac.T))
    np.testing.assert_allclose(solution["se"].to_numpy()[:9], se[:9], rtol=1e-5)


@pytest.mark.slow  # (several seconds; CI runs it: python -m pytest -m slow)
def test_with_missing_responses_the_saturated_model_is_fitted_on_the_observed_data():
    """lavaan's missing="ml": the saturated model by ML on every unit's observed responses (EM here), checked
    against a direct maximisation of the same observed-data log-likelihood over means and a Cholesky factor."""
    from scipy import optimize

    from gllamm.results.fit_measures import _normal_loglik, saturated_model

    data = gllamm.datasets.load("holzinger")
    items = [f"x{i}" for i in range(1, 7)]
    rng = np.random.default_rng(1)
    for item in items:
        data.loc[rng.uniform(size=len(data)) < 0.08, item] = np.nan
    Y = data[items].to_numpy(dtype=float)
    mean, covariance, loglik = saturated_model(Y)
    p, lower = len(items), np.tril_indices(len(items))

    def minus_loglik(v):
        factor = np.zeros((p, p))
        factor[lower] = v[p:]
        return -_normal_loglik(Y, v[:p], factor @ factor.T)

    start = np.r_[mean, np.linalg.cholesky(covariance)[lower]] + 0.05
    direct = optimize.minimize(minus_loglik, start, method="BFGS", options=dict(gtol=1e-8, maxiter=5000))
    assert loglik == pytest.approx(-direct.fun, abs=1e-6)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gllamm.DataWarning)
        result = gllamm.fit("visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6", data)
    measures = result.fit_measures()
    assert measures["unrestricted.logl"] == pytest.approx(loglik, abs=1e-6)
    assert measures["chisq"] == pytest.approx(2 * (loglik - result.loglik), abs=1e-8) and measures["chisq"] > 0
    assert measures["df"] == 6 * 9 / 2 - result.n_params and 0 < measures["cfi"] <= 1


MEDIATION = CFA + """
textual ~ a*visual
speed ~ b*textual + c*visual
indirect := a*b
total := c + a*b"""


def test_defined_parameters_by_the_delta_method():
    """indirect := a*b, total := c + a*b: the estimates are those functions of the labelled paths, and their SEs
    sqrt(g' V g) with the gradients written out by hand: (b, a) and (1, b, a) for (c, a, b)."""
    result = gllamm.fit(MEDIATION, gllamm.datasets.load("holzinger"))
    table = result.table()
    a, b, c = (result.params[name] for name in ("textual~visual", "speed~textual", "speed~visual"))
    names = ["textual~visual", "speed~textual", "speed~visual"]
    V = result.vcov.loc[names, names].to_numpy()
    assert table.loc["indirect", "estimate"] == pytest.approx(a * b, rel=1e-12)
    assert table.loc["total", "estimate"] == pytest.approx(c + a * b, rel=1e-12)
    g_indirect, g_total = np.array([b, a, 0.0]), np.array([b, a, 1.0])
    assert table.loc["indirect", "se"] == pytest.approx(np.sqrt(g_indirect @ V @ g_indirect), rel=1e-10)
    assert table.loc["total", "se"] == pytest.approx(np.sqrt(g_total @ V @ g_total), rel=1e-10)
    assert "Defined parameters" in result.summary() and "indirect" in result.summary()


def test_defined_parameters_survive_save_and_load(tmp_path):
    result = gllamm.fit(MEDIATION, gllamm.datasets.load("holzinger"))
    result.save(tmp_path / "mediation.gllamm")
    loaded = gllamm.load(tmp_path / "mediation.gllamm")
    np.testing.assert_allclose(loaded.table().loc[["indirect", "total"]].to_numpy(),
                               result.table().loc[["indirect", "total"]].to_numpy(), rtol=1e-10)


def test_a_definition_naming_an_unknown_label_is_refused():
    with pytest.raises(gllamm.GllammError, match="'ab' is not a label of the model.*Labels: a, b, c"):
        gllamm.fit(CFA + "\ntextual ~ a*visual\nspeed ~ b*textual + c*visual\nindirect := ab",
                   gllamm.datasets.load("holzinger"))
    with pytest.raises(gllamm.GllammError, match="only exp, log, sqrt, abs may be called"):
        gllamm.fit(CFA + "\ntextual ~ a*visual\nx := __import__('os')", gllamm.datasets.load("holzinger"))


def test_defined_parameters_equal_lavaans():
    """tests/reference/holzinger_mediation.json, made by tests/reference/r/mediation.R:
    sem(model, data = hs); parameterEstimates(fit)[op == ":="]: indirect 0.026881 (0.026282), total 0.324008
    (0.070734)."""
    reference = load_reference("holzinger_mediation")
    table = gllamm.fit(MEDIATION, gllamm.datasets.load("holzinger")).table()
    for row in reference["defined"]:
        assert table.loc[row["lhs"], "estimate"] == pytest.approx(row["est"], abs=1e-5)
        assert table.loc[row["lhs"], "se"] == pytest.approx(row["se"], rel=1e-3)


def test_the_standardized_solution_of_other_models_is_refused_with_the_reason():
    lsat = gllamm.datasets.load("lsat7")
    binary = gllamm.fit("theta =~ Q1 + Q2 + Q3 + Q4 + Q5", lsat, family="binomial", nip=20)
    with pytest.raises(gllamm.GllammError, match="continuous .* indicators \\(no saturated model"):
        binary.standardized()
    with pytest.raises(gllamm.GllammError, match="lavaan-style syntax"):
        gllamm.fit("reaction ~ days + (1 | subject)", gllamm.datasets.load("sleepstudy")).r_squared()
    with pytest.raises(gllamm.GllammError, match="Defined parameters \\(:=\\) with latent classes"):
        gllamm.fit("C =~ Q1 + a*Q2 + Q3\nd := 2*a", lsat, family="binomial", classes=2)


def test_fit_measures_with_covariates_equal_lavaans_fixed_x():
    """A MIMIC model (tests/reference/fit_measures_covariates.json, made by
    tests/reference/r/fit_measures_covariates.R): sem(model, HolzingerSwineford1939) with lavaan's default
    fixed.x = TRUE, the model as written for lavaan ('visual + textual ~ ageyr + sex'; the two factors' disturbances
    correlated by default, lavaan's auto.cov.y)."""
    reference = json.loads((pathlib.Path(__file__).parent / "reference" / "fit_measures_covariates.json").read_text())
    fit = gllamm.fit(reference["model"], gllamm.datasets.load("holzinger"))
    measures, expected = fit.fit_measures(), reference["fit"]
    assert measures["chisq"] == pytest.approx(expected["chisq"], abs=1e-3)
    for name in ("df", "pvalue", "baseline.chisq", "baseline.df", "cfi", "tli", "logl", "unrestricted.logl", "rmsea",
                 "rmsea.ci.lower", "rmsea.ci.upper", "rmsea.pvalue", "srmr", "ntotal"):
        assert measures[name] == pytest.approx(expected[name], rel=1e-4), name
    means = 6  # (the indicators' intercepts: lavaan's sem() without meanstructure does not count them)
    assert measures["npar"] == expected["npar"] + means


@pytest.mark.parametrize("case", ["mimic", "direct_only"])
def test_fit_measures_with_direct_effects_of_covariates_equal_lavaans(case):
    """Direct effects of covariates on indicators (tests/reference/fit_measures_direct_effects.json, made by
    tests/reference/r/fit_measures_direct_effects.R with sem(model, HolzingerSwineford1939)): a MIMIC model with a
    direct effect of age on x4 (lavaan: chisq 35.2127 on 15 df, srmr 0.0453), and a CFA whose only covariate is
    sex on x1 (chisq 45.7632 on 13 df, baseline.df 21). The saturated model regresses every indicator on every
    covariate; the SRMR's implied Cov(y, x) adds the direct effects to those through the factors. The standardised
    solution and R-squared too (standardizedSolution(), inspect(fit, "r2"))."""
    reference = json.loads((pathlib.Path(__file__).parent / "reference" / "fit_measures_direct_effects.json").read_text())
    expected = reference["models"][case]
    fit = gllamm.fit(expected["model"], gllamm.datasets.load("holzinger"))
    measures = fit.fit_measures()
    assert measures["chisq"] == pytest.approx(expected["fit"]["chisq"], abs=1e-3)
    for name in ("df", "pvalue", "baseline.chisq", "baseline.df", "cfi", "tli", "logl", "unrestricted.logl", "rmsea",
                 "rmsea.ci.lower", "rmsea.ci.upper", "rmsea.pvalue", "srmr", "ntotal"):
        assert measures[name] == pytest.approx(expected["fit"][name], rel=1e-4), name
    direct = next(row for row in expected["estimates"] if row["op"] == "~" and row["lhs"] in ("x1", "x4"))
    assert fit.params[f"{direct['lhs']}~{direct['rhs']}"] == pytest.approx(direct["est"], abs=1e-4)
    # standardizedSolution(): a direct effect b sd(x) / sd(y), and var(y) with the variance it adds
    table = fit.standardized().set_index(["lhs", "op", "rhs"])
    for row in expected["standardized"]:
        ours = table.loc[(row["lhs"], row["op"], row["rhs"])]
        assert ours["std.all"] == pytest.approx(row["est.std"], abs=2e-3), (row["lhs"], row["op"], row["rhs"])
        assert ours["std.lv"] == pytest.approx(row["std.lv"], abs=2e-3), (row["lhs"], row["op"], row["rhs"])
        if row["se"] > 0:
            assert ours["se"] == pytest.approx(row["se"], rel=2e-3), (row["lhs"], row["op"], row["rhs"])
    for name, value in expected["r2"].items():
        assert fit.r_squared()[name] == pytest.approx(value, abs=2e-4), name


def test_the_standardized_solution_with_covariates_equals_lavaans():
    """The MIMIC model's standardizedSolution() (std.all with its SE, std.lv) and R-squared (inspect(fit, "r2")) from
    tests/reference/fit_measures_covariates.json: paths on covariates standardised by sd(x) / sd(f), the covariates'
    own (co)variances as rows (their correlations), the factors' disturbance covariance as their correlation."""
    reference = json.loads((pathlib.Path(__file__).parent / "reference" / "fit_measures_covariates.json").read_text())
    fit = gllamm.fit(reference["model"], gllamm.datasets.load("holzinger"))
    table = fit.standardized().set_index(["lhs", "op", "rhs"])
    for row in reference["standardized"]:
        key = (row["lhs"], row["op"], row["rhs"])
        ours = table.loc[key]
        assert ours["std.all"] == pytest.approx(row["est.std"], abs=2e-3), key
        assert ours["std.lv"] == pytest.approx(row["std.lv"], abs=2e-3), key
        if row["se"] > 0:
            assert ours["se"] == pytest.approx(row["se"], rel=2e-3), key
    for name, value in reference["r2"].items():
        assert fit.r_squared()[name] == pytest.approx(value, abs=2e-4), name
