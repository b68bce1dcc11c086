"""Equal latent covariance matrices across groups (group_equal with "lv.variances" and "lv.covariances") against
lavaan 0.6-14 (tests/reference/lv_covariances.json, made by tests/reference/r/lv_covariances.R):

    cfa(model, HolzingerSwineford1939, group = "school",
        group.equal = c("loadings", "intercepts", "residuals", "lv.variances", "lv.covariances"))
    # logLik -3717.965590, npar 33, chisq 187.3875 on 75 df
    cfa(model, HolzingerSwineford1939, group = "school", group.equal = c("lv.variances", "lv.covariances"))
    # logLik -3685.006589, npar 54, chisq 121.4695 on 54 df

With scaled rows the covariance matrix is (row scales d, the correlations' Cholesky factor's rows v), one-to-one, so
equal covariance matrices are equal d's and x's: linear constraints."""

import json
import pathlib

import pytest

import gllamm
from reference_cases import assert_latent_covariances_match
from gllamm import GllammError

REFERENCE = json.loads((pathlib.Path(__file__).parent / "reference" / "lv_covariances.json").read_text())
KINDS = ["loadings", "intercepts", "residuals", "lv.variances", "lv.covariances"]


@pytest.mark.parametrize("case", ["strict_lv", "lv_only"])
def test_equal_latent_covariance_matrices_match_lavaan(case):
    reference = REFERENCE[case]
    fit = gllamm.fit(REFERENCE["model"], gllamm.datasets.load("holzinger"), group="school",
                     group_equal=reference["group_equal"])
    assert fit.converged
    assert fit.loglik == pytest.approx(reference["loglik"], abs=1e-6)
    assert fit.n_params == reference["npar"]
    measures = fit.fit_measures()
    assert measures["chisq"] == pytest.approx(reference["chisq"], abs=1e-3) and measures["df"] == reference["df"]
    assert_latent_covariances_match(fit, reference["latent_covariances"])
    latent = ("visual", "textual", "speed")
    for a in latent:
        for b in latent:
            if f"{a}.g1~~{b}.g1" in fit.params:
                assert fit.params[f"{a}.g1~~{b}.g1"] == pytest.approx(fit.params[f"{a}.g2~~{b}.g2"], abs=1e-10)


@pytest.mark.slow  # two more fits of the three-factor model (5 s); CI runs it (python -m pytest -m slow)
def test_every_parameter_equal_across_groups_is_the_single_group_fit():
    """All kinds equal (means too): each group's model is the same, so the fit is the single-group fit of the data."""
    data = gllamm.datasets.load("holzinger")
    single = gllamm.fit(REFERENCE["model"], data)
    grouped = gllamm.fit(REFERENCE["model"], data, group="school", group_equal=KINDS + ["means"])
    assert grouped.converged and grouped.loglik == pytest.approx(single.loglik, abs=1e-6)
    assert grouped.n_params == single.n_params
    for name, value in single.params.items():
        for k in (1, 2):
            renamed = "~~".join(f"{part}.g{k}" for part in name.split("~~")) if "~~" in name else \
                "=~".join(f"{part}.g{k}" for part in name.split("=~")) if "=~" in name else \
                name.replace("~1", f".g{k}~1")
            assert grouped.params[renamed] == pytest.approx(value, abs=1e-4), renamed


@pytest.mark.parametrize("options, message", [
    (dict(group_equal=["lv.covariances"]), r"'lv.covariances' is taken together with 'lv.variances'"),
    (dict(group_equal=["lv.variances", "lv.covariances"], group_partial=["visual~~textual"]),
     r"group_partial= 'visual~~textual'.*as a whole"),
    (dict(group_equal=["lv.variances"], fix={"visual.g1~~textual.g1": 0.3}),
     r"fix=\{'visual.g1~~textual.g1'.*fixed in the model syntax"),
])
def test_covariance_equalities_that_cannot_be_imposed_are_explained(options, message):
    with pytest.raises(GllammError, match=message):
        gllamm.fit(REFERENCE["model"], gllamm.datasets.load("holzinger"), group="school", **options)
