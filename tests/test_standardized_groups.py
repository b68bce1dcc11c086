"""The standardised solution and R-squared of a multiple-group MIMIC model with a direct effect against lavaan
(tests/reference/standardized_groups_covariates.json, made by tests/reference/r/standardized_groups_covariates.R,
lavaan 0.6-14):

    model <- "visual =~ x1 + x2 + x3\\n textual =~ x4 + x5 + x6\\n visual + textual ~ ageyr + sex\\n x4 ~ ageyr"
    fit <- sem(model, HolzingerSwineford1939, group = "school")     # logLik -2466.644771
    standardizedSolution(fit); standardizedSolution(fit, type = "std.lv"); inspect(fit, "r2")

Every group's covariates are standardised by that group's own sample covariance (lavaan's fixed.x), e.g.
ageyr ~~ sex: std.all -0.163510 (Pasteur), -0.183889 (Grant-White); visual ~ sex in Pasteur: std.all -0.257..."""

import json
from pathlib import Path

import pytest

import gllamm

REFERENCE = json.loads((Path(__file__).parent / "reference" / "standardized_groups_covariates.json").read_text())
COVARIATES = ("ageyr", "sex")


@pytest.fixture(scope="module")
def fit():
    return gllamm.fit(REFERENCE["model"], gllamm.datasets.load("holzinger"), group="school")


def _ours(name: str, group: int) -> str:
    return name if name in COVARIATES else f"{name}.g{group}"


@pytest.mark.slow  # a two-group fit with covariates (4 s cold); CI runs it (python -m pytest -m slow)
def test_every_row_equals_lavaans(fit):
    assert fit.loglik == pytest.approx(REFERENCE["loglik"], abs=1e-4)
    solution = fit.standardized()
    checked = 0
    for row in REFERENCE["standardized"]:
        g = row["group"]
        lhs, rhs = _ours(row["lhs"], g), _ours(row["rhs"], g) if row["rhs"] else ""
        if row["op"] == "~~" and row["lhs"] in COVARIATES:  # the group's covariate rows carry its suffix
            lhs, rhs = f"{row['lhs']}.g{g}", f"{row['rhs']}.g{g}"
        match = solution[(solution.lhs == lhs) & (solution.op == row["op"]) & (solution.rhs == rhs)]
        if match.empty and row["op"] == "~~":
            match = solution[(solution.lhs == rhs) & (solution.op == "~~") & (solution.rhs == lhs)]
        if match.empty:  # lavaan's rows without a parameter here: latent and covariate means
            assert row["op"] == "~1" and row["lhs"] in ("visual", "textual") + COVARIATES, row
            continue
        found = match.iloc[0]
        assert found["std.all"] == pytest.approx(row["est.std"], abs=2e-3), (lhs, row["op"], rhs)
        assert found["std.lv"] == pytest.approx(row["std.lv"], abs=2e-3), (lhs, row["op"], rhs)
        if row["se"] > 0:
            assert found["se"] == pytest.approx(row["se"], rel=1e-3), (lhs, row["op"], rhs)
        checked += 1
    assert checked == len(solution) == 58  # per group: 6 loadings, 4 paths, 1 direct effect, 3 covariate rows,
    #                                        6 residual variances, 3 latent (co)variances, 6 intercepts


@pytest.mark.slow  # shares the fit above
def test_r_squared_equals_lavaans(fit):
    r2 = fit.r_squared()
    for g, label in enumerate(REFERENCE["groups"], start=1):
        for name, value in REFERENCE["r2"][label].items():
            assert r2[f"{name}.g{g}"] == pytest.approx(value, abs=1e-4), (label, name)
    assert len(r2) == 16
