"""The standardised solution and R-squared of a two-level SEM against lavaan (tests/reference/
standardized_two_level.json, made by tests/reference/r/standardized_two_level.R, lavaan 0.6-14):

    fit <- sem(model, data = d, cluster = "cluster")     # two within factors with a path, two between factors
    standardizedSolution(fit); standardizedSolution(fit, type = "std.lv"); inspect(fit, "r2")
    # within: f1 =~ y1 0.709, f2 ~ f1 0.746, y1 ~~ y1 0.498; between: b1 ~~ b2 0.050, y5 ~1 0.081;
    # r2 within y1 0.502, f2 0.556; between 1 for every indicator

Each level is standardised by its own implied variances (within: Lambda_W cov(eta_W) Lambda_W' + Theta; between:
Lambda_B cov(eta_B) Lambda_B', no residual variances between clusters in the GLLAMM form, as lavaan's fixed 0)."""

import json
from pathlib import Path

import pytest

import gllamm

REFERENCE = json.loads((Path(__file__).parent / "reference" / "standardized_two_level.json").read_text())


@pytest.fixture(scope="module")
def fit():
    return gllamm.fit(REFERENCE["model"], gllamm.datasets.load("twolevel"), cluster="cluster")


@pytest.mark.slow  # a two-level fit (5 s cold); CI runs it (python -m pytest -m slow)
def test_every_row_equals_lavaans(fit):
    assert fit.loglik == pytest.approx(REFERENCE["loglik"], abs=1e-4)
    solution = fit.standardized()
    checked = 0
    for row in REFERENCE["standardized"]:
        match = solution[(solution.lhs == row["lhs"]) & (solution.op == row["op"]) & (solution.rhs == row["rhs"])
                         & (solution.level == row["level"])]
        if match.empty:  # lavaan's fixed rows without a parameter here: within intercepts, latent means, between
            assert row["se"] == 0 and (row["op"] == "~1" or row["level"] == 2), row  # residual variances (0)
            continue
        found = match.iloc[0]
        assert found["std.all"] == pytest.approx(row["est.std"], abs=2e-4), row
        assert found["std.lv"] == pytest.approx(row["std.lv"], abs=2e-4), row
        if row["se"] > 0:
            assert found["se"] == pytest.approx(row["se"], rel=1e-3), row
        checked += 1
    assert checked == len(solution) == 30


@pytest.mark.slow  # shares the fit above
def test_r_squared_at_each_level_equals_lavaans(fit):
    r2 = fit.r_squared()
    for ours, theirs in (("within", "within"), ("between", "cluster")):
        assert set(r2[ours].index) == set(REFERENCE["r2"][theirs])
        for name, value in REFERENCE["r2"][theirs].items():
            assert r2[(ours, name)] == pytest.approx(value, abs=1e-5), (ours, name)
