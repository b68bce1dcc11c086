"""Profile-likelihood intervals against lme4 (tests/reference/sleepstudy_profile.json, cbpp_profile.json, made by
tests/reference/r/refs_fit_measures_crossed_nb_profile.R):

    confint(lmer(Reaction ~ Days + (Days|Subject), sleepstudy, REML=FALSE), method="profile")
        .sig01 [14.3815, 37.7160]  .sig02 [-0.4815, 0.6850]  .sig03 [3.8012, 8.7534]  .sigma [22.8983, 28.8580]
        (Intercept) [237.6807, 265.1295]  Days [7.3587, 13.5759]
    confint(glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, binomial, nAGQ=25),
            method="profile")
        .sig01 [0.3488, 1.1113]  (Intercept) [-1.9047, -0.9462]  period2 [-1.6161, -0.4066] ...

.sig01, .sig02, .sig03 are the SDs and the correlation of the random effects: gllamm's sd=True rows."""

import numpy as np
import pytest
from scipy import stats

import gllamm
from reference_cases import CASES, load_reference

LME4_NAMES = {".sig01": "sd((Intercept)|subject)", ".sig02": "cor((Intercept),days|subject)",
              ".sig03": "sd(days|subject)", ".sigma": "sd(Residual)", "Days": "days"}


def _assert_lme4s(intervals, reference: str, names: dict, case: str | None = None) -> None:
    """Every bound within 2e-3 of lme4's (5e-3 for SDs), the issue's acceptance."""
    rows = load_reference(reference) if case is None else load_reference(reference)[case]
    for row in rows["ci"]:
        name = names.get(row["name"], row["name"])
        tolerance = 5e-3 if name.startswith("sd(") else 2e-3
        assert intervals.loc[name, "lower"] == pytest.approx(row["lower"], abs=tolerance), name
        assert intervals.loc[name, "upper"] == pytest.approx(row["upper"], abs=tolerance), name


@pytest.fixture(scope="module")
def sleepstudy():
    return gllamm.fit("reaction ~ days + (1 + days | subject)", gllamm.datasets.load("sleepstudy"))


def test_sleepstudy_profile_intervals_equal_lme4s(sleepstudy):
    _assert_lme4s(sleepstudy.conf_int(method="profile", sd=True), "sleepstudy_profile", LME4_NAMES)


def test_the_profile_at_an_end_is_the_critical_value(sleepstudy):
    """Independent of the constrained Newton steps: refitting with the slope fixed at an end of its interval lowers
    2 log L by chi2_1(0.95) = 3.8415; a variance's interval is its SD's squared (profiles are invariant)."""
    intervals = sleepstudy.conf_int(method="profile")
    for end in ("lower", "upper"):
        fixed = gllamm.fit("reaction ~ days + (1 + days | subject)", gllamm.datasets.load("sleepstudy"),
                           fix={"days": float(intervals.loc["days", end])})
        assert 2 * (sleepstudy.loglik - fixed.loglik) == pytest.approx(stats.chi2.ppf(0.95, 1), abs=1e-5)
    sd = sleepstudy.conf_int(method="profile", sd=True)
    assert np.allclose(intervals.loc["var(Residual)"], sd.loc["sd(Residual)"] ** 2, rtol=1e-5)
    covariance = intervals.loc["cov((Intercept),days|subject)"]
    assert covariance["lower"] < sleepstudy.params["cov((Intercept),days|subject)"] < covariance["upper"]
    wald = sleepstudy.conf_int()
    assert list(intervals.index) == list(wald.index)


def test_cbpp_profile_intervals_equal_lme4s():
    dataset, formula, options = CASES["cbpp"]
    result = gllamm.fit(formula, gllamm.datasets.load(dataset), **options)
    _assert_lme4s(result.conf_int(method="profile", sd=True), "cbpp_profile", {".sig01": "sd((Intercept)|herd)"})


def test_profile_options_are_checked(sleepstudy):
    with pytest.raises(gllamm.GllammError, match="level must be a number between 0 and 1"):
        sleepstudy.conf_int(level=95, method="profile")
    with pytest.raises(gllamm.GllammError, match="sd=True is for method='profile'"):
        sleepstudy.conf_int(sd=True)
    with pytest.raises(gllamm.GllammError, match="method='profile'"):
        sleepstudy.conf_int(method="bayes")


def _nested_crossed(case: str) -> dict:
    """tests/reference/nested_crossed_profile.json (tests/reference/r/nested_crossed_profile.R): lme4's profile
    intervals of Penicillin (crossed plate x sample) and of three nested levels; .sig0k is the SD of the k-th term."""
    reference = load_reference("nested_crossed_profile")[case]
    names = {f".sig0{k}": f"sd((Intercept)|{term})" for k, term in enumerate(reference["terms"], start=1)}
    return {**names, ".sigma": "sd(Residual)"}


def test_crossed_profile_intervals_equal_lme4s():
    result = gllamm.fit("diameter ~ 1 + (1 | plate) + (1 | sample)", gllamm.datasets.load("penicillin"))
    reference = load_reference("nested_crossed_profile")["penicillin"]
    assert result.loglik == pytest.approx(reference["loglik"], abs=1e-6)
    _assert_lme4s(result.conf_int(method="profile", sd=True), "nested_crossed_profile", _nested_crossed("penicillin"),
                  case="penicillin")


@pytest.mark.slow  # 13 s: three levels by adaptive quadrature at every profile point
def test_nested_profile_intervals_equal_lme4s():
    import pandas as pd

    from reference_cases import REFERENCE_DIR

    data = pd.read_csv(REFERENCE_DIR / "four_level.csv")
    result = gllamm.fit("g ~ x + (1 | cls) + (1 | school) + (1 | district)", data)
    _assert_lme4s(result.conf_int(method="profile", sd=True), "nested_crossed_profile", _nested_crossed("nested"),
                  case="nested")


@pytest.mark.slow  # 5 s: a latent class model profiled, then refitted twice
def test_latent_class_profiles_reach_the_critical_value():
    """Two latent classes of the LSAT items: refitting with a class-specific logit fixed at an end of its interval
    lowers 2 log L by chi2_1(0.95); the class probabilities' intervals mirror each other (they sum to 1)."""
    data = gllamm.datasets.load("lsat7")
    model = "theta =~ Q1 + Q2 + Q3 + Q4 + Q5"
    result = gllamm.fit(model, data, family="binomial", classes=2)
    intervals = result.conf_int(method="profile")
    for end in ("lower", "upper"):
        fixed = gllamm.fit(model, data, family="binomial", classes=2,
                           fix={"theta1:Q1": float(intervals.loc["theta1:Q1", end])})
        assert 2 * (result.loglik - fixed.loglik) == pytest.approx(stats.chi2.ppf(0.95, 1), abs=1e-5)
    np.testing.assert_allclose(intervals.loc["P(theta2)"].to_numpy()[::-1], 1 - intervals.loc["P(theta1)"], rtol=1e-6)
