"""Restricted maximum likelihood (REML) for Gaussian identity-link mixed models: fit(..., reml=True).

References (lme4, R calls in the JSON files):
- sleepstudy_reml.json: lmer(Reaction ~ Days + (Days|Subject)) (REML); script
  tests/reference/r/refs_fit_measures_crossed_nb_profile.R (from ../shared/reference).
- exam_reml.json, four_level_reml.json: tests/reference/r/reml_and_crossed.R.
Closed form: in a balanced one-way design the REML estimates are the ANOVA (method of moments) estimators
sigma_e^2 = MSW and sigma_a^2 = (MSB - MSW)/n when MSB > MSW.
"""

import numpy as np
import pandas as pd
import pytest

import gllamm
from gllamm.errors import GllammError
from reference_cases import load_reference, varcorr_name


def _check_lmer(result, ref, rename=str, variance_tol=2e-4):
    assert result.converged
    assert result.integration.reml
    assert abs(result.loglik - ref["loglik"]) < 1e-6
    for name, value in ref["fixef"].items():
        assert abs(result.params[rename(name)] - value) < 1e-5 * max(1.0, abs(value)), name
        assert abs(result.se[rename(name)] / ref["fixef_se"][name] - 1) < 1e-3, name
    for row in ref["varcorr"]:
        row = dict(row, grp=rename(row["grp"]), var1=rename(row["var1"]) if row["var1"] else None,
                   var2=rename(row["var2"]) if row["var2"] else None)
        assert abs(result.params[varcorr_name(row)] / row["vcov"] - 1) < variance_tol, row


@pytest.mark.slow
def test_sleepstudy_reml_matches_lmer():
    ref = load_reference("sleepstudy_reml")
    result = gllamm.fit("reaction ~ days + (1 + days | subject)", gllamm.datasets.load("sleepstudy"), reml=True)
    _check_lmer(result, ref, rename=lambda n: {"Days": "days", "Subject": "subject"}.get(n, n))
    text = result.summary()
    assert "REML criterion = 1743.6283" in text and "restricted maximum likelihood (REML)" in text


@pytest.mark.slow
def test_exam_reml_matches_lmer():
    """Unbalanced (65 schools of 2-198 pupils) random intercepts and slopes."""
    ref = load_reference("exam_reml")
    result = gllamm.fit("normexam ~ standlrt + girl + (1 + standlrt | school)", gllamm.datasets.load("exam"),
                        reml=True)
    _check_lmer(result, ref)


@pytest.mark.slow
def test_four_level_reml_matches_lmer():
    """Nested levels above the first (classes in schools in districts)."""
    ref = load_reference("four_level_reml")
    data = pd.read_csv(__import__("reference_cases").REFERENCE_DIR / "four_level.csv")
    result = gllamm.fit("g ~ x + (1 | cls) + (1 | school) + (1 | district)", data, reml=True)
    _check_lmer(result, ref)


@pytest.mark.slow
def test_balanced_one_way_reml_is_the_anova_estimator():
    rng = np.random.default_rng(4)
    k, n = 30, 6
    group = np.repeat(np.arange(k), n)
    y = 2.0 + rng.normal(scale=0.8, size=k)[group] + rng.normal(size=k * n)
    data = pd.DataFrame(dict(y=y, g=group))
    result = gllamm.fit("y ~ 1 + (1 | g)", data, reml=True)
    means = data.groupby("g")["y"].mean().to_numpy()
    msb = n * np.sum((means - y.mean()) ** 2) / (k - 1)
    msw = np.sum((y - means[group]) ** 2) / (k * (n - 1))
    assert msb > msw
    assert abs(result.params["var(Residual)"] / msw - 1) < 1e-6
    assert abs(result.params["var((Intercept)|g)"] / ((msb - msw) / n) - 1) < 1e-6
    # the GLS mean of a balanced design is the grand mean, with variance MSB / (k n)
    assert abs(result.params["(Intercept)"] - y.mean()) < 1e-8
    assert abs(result.se["(Intercept)"] / np.sqrt(msb / (k * n)) - 1) < 1e-6


@pytest.mark.slow
def test_reml_lr_test_refuses_different_fixed_effects():
    data = gllamm.datasets.load("sleepstudy")
    small = gllamm.fit("reaction ~ 1 + (1 + days | subject)", data, reml=True)
    large = gllamm.fit("reaction ~ days + (1 + days | subject)", data, reml=True)
    with pytest.raises(GllammError, match="differ in their fixed effects"):
        gllamm.lr_test(small, large)
    ml = gllamm.fit("reaction ~ days + (1 + days | subject)", data)
    with pytest.raises(GllammError, match="One fit is REML"):
        gllamm.lr_test(ml, large)


def test_reml_refused_where_it_does_not_apply():
    data = gllamm.datasets.load("contraception")
    with pytest.raises(GllammError, match="reml=True is for Gaussian responses with the identity link"):
        gllamm.fit("use ~ age + (1 | district)", data, family="binomial", reml=True)
    with pytest.raises(GllammError, match="reml must be True or False"):
        gllamm.fit("reaction ~ days + (1 | subject)", gllamm.datasets.load("sleepstudy"), reml="yes")
