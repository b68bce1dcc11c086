"""Model comparison tables: anova (lme4's anova of nested fits), compare (estimates side by side) and one Wald
test per formula term. Numbers are checked against their definitions: 2 (l1 - l0), the chi-square tail from
scipy, Self and Liang's 50:50 mixture for one variance at 0, and the joint Wald test of a factor's dummies."""

import numpy as np
import pytest
from scipy import stats

import gllamm

CBPP = "cbind(incidence, size - incidence) ~ C(period)"


@pytest.fixture(scope="module")
def fits():
    data = gllamm.datasets.load("cbpp")
    return {"glm": gllamm.fit(CBPP, data, family="binomial"),
            "mixed": gllamm.fit(CBPP + " + (1 | herd)", data, family="binomial"),
            "intercept": gllamm.fit("cbind(incidence, size - incidence) ~ 1 + (1 | herd)", data, family="binomial")}


def test_anova_is_the_likelihood_ratio_test(fits):
    table = gllamm.anova(fits["mixed"], fits["intercept"], names=["period", "null"])
    assert list(table.index) == ["null", "period"]  # ordered by complexity
    chisq = 2 * (fits["mixed"].loglik - fits["intercept"].loglik)
    assert table.loc["period", "Chisq"] == pytest.approx(chisq, rel=1e-12)
    assert table.loc["period", "Df"] == 3
    assert table.loc["period", "Pr(>Chisq)"] == pytest.approx(stats.chi2.sf(chisq, 3), rel=1e-12)
    assert table.loc["period", "note"] == ""
    assert table.loc["null", "AIC"] == pytest.approx(fits["intercept"].aic)
    assert table.loc["period", "BIC"] == pytest.approx(fits["mixed"].bic)
    assert table.loc["period", "deviance"] == pytest.approx(-2 * fits["mixed"].loglik)
    assert np.isnan(table.loc["null", "Chisq"])


def test_a_variance_at_zero_gets_the_mixture(fits):
    table = gllamm.anova(fits["glm"], fits["mixed"])
    chisq = 2 * (fits["mixed"].loglik - fits["glm"].loglik)
    naive = stats.chi2.sf(chisq, 1)
    assert table.loc["m2", "Pr(>Chisq)"] == pytest.approx(naive / 2, rel=1e-12)
    assert "var((Intercept)|herd) tested at 0" in table.loc["m2", "note"]
    assert table.loc["m2", "Pr(>Chisq)"] == pytest.approx(
        gllamm.lr_test(fits["glm"], fits["mixed"], boundary=True)["p"], rel=1e-12)


def test_anova_refuses_fits_of_other_data(fits):
    data = gllamm.datasets.load("cbpp")
    fewer = gllamm.fit(CBPP, data.iloc[:50], family="binomial")
    with pytest.raises(gllamm.GllammError, match="use different rows"):
        gllamm.anova(fewer, fits["mixed"])
    other = gllamm.fit("cbind(size - incidence, incidence) ~ C(period)", data, family="binomial")
    with pytest.raises(gllamm.GllammError, match="model different responses"):
        gllamm.anova(other, fits["mixed"])
    with pytest.raises(gllamm.GllammError, match="two or more fits"):
        gllamm.anova(fits["mixed"])
    with pytest.raises(gllamm.GllammError, match="one distinct name per fit"):
        gllamm.anova(fits["glm"], fits["mixed"], names=["a"])


def test_compare_shows_estimates_and_ses_side_by_side(fits):
    table = gllamm.compare(fits["glm"], fits["mixed"], names=["GLM", "GLMM"])
    assert list(table.columns) == ["GLM", "GLMM"]
    se = fits["mixed"].se["C(period)[T.2]"]
    assert table.loc["C(period)[T.2]", "GLMM"] == f"{fits['mixed'].params['C(period)[T.2]']:.3f} ({se:.3f})"
    assert table.loc["var((Intercept)|herd)", "GLM"] == ""
    assert table.loc["log-likelihood", "GLM"] == f"{fits['glm'].loglik:.3f}"
    assert "<table" in table.to_html() and "GLMM" in table.to_string()


def test_wald_test_per_term_is_the_joint_test_of_its_columns(fits):
    result = fits["mixed"]
    tests = result.wald_test_terms()
    dummies = [name for name in result.params.index if name.startswith("C(period)")]
    joint = result.wald_test(dummies)
    assert tests.loc["C(period)", "df"] == 3
    assert tests.loc["C(period)", "chi2"] == pytest.approx(joint["chi2"], rel=1e-12)
    b = result.params[dummies].to_numpy()
    V = result.vcov.loc[dummies, dummies].to_numpy()
    assert tests.loc["C(period)", "chi2"] == pytest.approx(b @ np.linalg.solve(V, b), rel=1e-10)
    z = result.params["(Intercept)"] / result.se["(Intercept)"]
    assert tests.loc["(Intercept)", "chi2"] == pytest.approx(z ** 2, rel=1e-10)


@pytest.mark.slow  # 3 s: starts two processes; CI runs it (python -m pytest -m slow)
def test_parallel_bootstrap_gives_the_serial_replicates(fits):
    """Replicate b uses child b of SeedSequence(seed): the same table whatever the number of processes."""
    serial = fits["mixed"].bootstrap(n_boot=6, seed=11, progress=False)
    parallel = fits["mixed"].bootstrap(n_boot=6, seed=11, n_jobs=2, progress=False)
    assert serial.shape == (6 - serial.attrs["failed"], 5)
    np.testing.assert_allclose(parallel.to_numpy(), serial.to_numpy(), rtol=1e-10)
    assert parallel.attrs["failed"] == serial.attrs["failed"]
    with pytest.raises(gllamm.GllammError, match="top level of a module"):
        fits["mixed"].bootstrap(lambda r: r.params, n_boot=2, n_jobs=2)
    with pytest.raises(gllamm.GllammError, match="n_jobs must be"):
        fits["mixed"].bootstrap(n_boot=2, n_jobs=0)


def test_bootstrap_intervals_are_percentiles_of_the_replicates(fits):
    result = fits["mixed"]
    intervals = result.conf_int(method="bootstrap", n_boot=20, seed=3)
    replicates = result.bootstrap(n_boot=20, seed=3, progress=False)
    np.testing.assert_allclose(intervals["lower"], replicates.quantile(0.025), rtol=1e-12)
    np.testing.assert_allclose(intervals["upper"], replicates.quantile(0.975), rtol=1e-12)
    assert intervals.attrs["n_boot"] == 20 and list(intervals.index) == list(result.params.index)
