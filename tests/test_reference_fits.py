"""Fits of real data against R (lme4) references.

The exact R call and its output are in tests/reference/<name>.json ("call",
"loglik", "fixef", "fixef_se", "varcorr"); the Laplace references were made by
tests/reference/r/laplace_lme4.R. Tolerances: log-likelihood 1e-3, fixed effects
2e-3 absolute, their SEs 2% relative, variance components 1% relative.
"""

import json
from pathlib import Path

import numpy as np
import pytest

import gllamm
from reference_cases import CASES, REFERENCE_DIR, load_reference, varcorr_name


def _check(result, ref, se_tol=0.02):
    assert result.converged, result.message
    assert abs(result.loglik - ref["loglik"]) < 1e-3
    for name, value in ref["fixef"].items():
        assert abs(result.params[name] - value) < 2e-3, name
        assert abs(result.se[name] / ref["fixef_se"][name] - 1) < se_tol, name
    for row in ref["varcorr"]:
        name = varcorr_name(row)
        assert abs(result.params[name] / row["vcov"] - 1) < 0.01, name
    assert result.nobs == ref["nobs"]


@pytest.mark.parametrize("name", list(CASES))
def test_matches_lme4(name):
    dataset, formula, options = CASES[name]
    result = gllamm.fit(formula, gllamm.datasets.load(dataset), **options)
    _check(result, load_reference(name))
    # the optimum: gradient essentially zero, Hessian negative definite
    assert np.max(np.abs(result.gradient)) < 1e-3
    assert np.all(np.linalg.eigvalsh(-np.asarray(result.theta_vcov)) < 0)


LAPLACE = {
    # R: see tests/reference/r/laplace_lme4.R (glmer nAGQ = 1)
    "laplace_contraception_slope": ("contraception", "use ~ age + urban + livch1 + livch2 + livch3 + (1 + urban | district)", "binomial"),
    "laplace_epilepsy": ("epilepsy", "y ~ lbase + trt + lbase_trt + lage + v4 + (1 | subject)", "poisson"),
}


@pytest.mark.parametrize("name", list(LAPLACE))
def test_laplace_equals_lme4_nagq1(name):
    dataset, formula, family = LAPLACE[name]
    result = gllamm.fit(formula, gllamm.datasets.load(dataset), family=family, method="laplace")
    _check(result, load_reference(name))
    assert result.integration.method == "laplace"


def test_pisa_summary_names_terms():
    dataset, formula, options = CASES["pisa"]
    result = gllamm.fit(formula, gllamm.datasets.load(dataset), **options)
    text = result.summary()
    for term in ["(Intercept)", "mn_ses", "id_school", "Log likelihood", "12 points"]:
        assert term in text
    table = result.table()
    assert list(table.columns) == ["estimate", "se", "z", "p", "ci_lower", "ci_upper"]
    assert result.n_groups == {"id_school": 148}
    components = result.variance_components()
    assert components.loc[0, "sd_cor"] == pytest.approx(0.521187860636356, rel=1e-3)
