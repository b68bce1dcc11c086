"""Modification indices against lavaan 0.6-14 (tests/reference/modification_indices.json, made by
tests/reference/r/modification_indices.R: modindices() of the Holzinger-Swineford CFA and of an SEM with paths,
every one of the 54 candidates), and the score test's meaning: freeing a candidate raises 2 log L by about its mi."""

import json
import pathlib

import numpy as np
import pytest

import gllamm
from gllamm import GllammError

REFERENCE = json.loads((pathlib.Path(__file__).parent / "reference" / "modification_indices.json").read_text())


@pytest.fixture(scope="module")
def holzinger():
    return gllamm.datasets.load("holzinger")


def _key(row):
    return row["lhs"], row["op"], row["rhs"]


@pytest.mark.parametrize("model", ["cfa", "sem"])
def test_every_modification_index_equals_lavaans(holzinger, model):
    reference = REFERENCE[model]
    result = gllamm.fit(reference["model"], holzinger)
    assert result.loglik == pytest.approx(reference["loglik"], abs=1e-5)
    ours = {(r.lhs, r.op, r.rhs): r for r in result.modification_indices(sort=False).itertuples()}
    assert len(ours) == len(reference["modindices"]) == 54
    for row in reference["modindices"]:
        mine = ours[_key(row)]
        assert mine.mi == pytest.approx(row["mi"], rel=1e-3, abs=1e-4), _key(row)
        assert mine.epc == pytest.approx(row["epc"], rel=1e-3, abs=1e-4), _key(row)
        assert mine._6 == pytest.approx(row["sepc.all"], rel=1e-3, abs=1e-4), _key(row)  # sepc.all


def test_the_largest_index_predicts_the_gain_of_freeing_it(holzinger):
    """visual =~ x9 has mi 36.4: the model with that cross-loading free has 2 (log L1 - log L0) near it (the score
    and likelihood-ratio statistics of one parameter agree to first order)."""
    base = gllamm.fit(REFERENCE["cfa"]["model"], holzinger)
    top = base.modification_indices().iloc[0]
    assert (top.lhs, top.op, top.rhs) == ("visual", "=~", "x9")
    freed = gllamm.fit(REFERENCE["cfa"]["model"].replace("x1 + x2 + x3", "x1 + x2 + x3 + x9"), holzinger)
    assert 2 * (freed.loglik - base.loglik) == pytest.approx(top.mi, rel=0.15)
    assert freed.params["visual=~x9"] == pytest.approx(top.epc, rel=0.25)


@pytest.mark.slow
def test_orthogonal_factors_and_a_just_identified_model(holzinger):
    """lavaan 0.6-14: visual ~~ 0*textual lists the latent covariance (mi 26.552, epc 0.277, sepc.all 0.388) beside
    the cross-loadings (textual =~ x1: 31.475); a one-factor model of three items has no candidate left (0 rows)."""
    orthogonal = gllamm.fit("visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6\n visual ~~ 0*textual", holzinger)
    top = orthogonal.modification_indices().head(2)
    assert list(zip(top.lhs, top.op, top.rhs)) == [("textual", "=~", "x1"), ("visual", "~~", "textual")]
    assert top.mi.tolist() == pytest.approx([31.475, 26.552], abs=1e-3)
    assert top["sepc.all"].iloc[1] == pytest.approx(0.388, abs=1e-3)
    assert len(gllamm.fit("visual =~ x1 + x2 + x3", holzinger).modification_indices()) == 0


def test_modification_indices_are_refused_where_they_are_not_defined(holzinger):
    binary = holzinger.assign(**{f"b{i}": (holzinger[f"x{i}"] > holzinger[f"x{i}"].median()).astype(int)
                                 for i in (1, 2, 3, 4)})
    result = gllamm.fit("f =~ b1 + b2 + b3 + b4", binary, family="binomial", nip=6)
    with pytest.raises(GllammError, match="Modification indices are for .* continuous"):
        result.modification_indices()
    missing = holzinger.copy()
    missing.loc[:10, "x2"] = np.nan
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", gllamm.DataWarning)
            incomplete = gllamm.fit("visual =~ x1 + x2 + x3", missing)
    with pytest.raises(GllammError, match="missing responses"):
        incomplete.modification_indices()


@pytest.mark.slow  # 2 multiple-group fits and their score tests
@pytest.mark.parametrize("case, equal", [("configural", None), ("scalar", ["loadings", "intercepts"])])
def test_multiple_group_modification_indices_equal_lavaans(case, equal):
    """tests/reference/mg_modification_indices.json (tests/reference/r/mg_modification_indices.R): every candidate
    of lavaan's modindices() of the school-by-school CFA, with its group (scalar: the markers' loadings too)."""
    import json

    from reference_cases import REFERENCE_DIR

    reference = json.loads((REFERENCE_DIR / "mg_modification_indices.json").read_text())
    result = gllamm.fit(reference["model"], gllamm.datasets.load("holzinger"), group="school", group_equal=equal)
    ours = result.modification_indices(sort=False).set_index(["lhs", "op", "rhs"])
    rows = reference[case]["modindices"]
    assert len(ours) == len(rows)
    for row in rows:
        g = row["group"]
        mine = ours.loc[(f"{row['lhs']}.g{g}", row["op"], f"{row['rhs']}.g{g}")]
        assert mine["group"] == g
        assert mine["mi"] == pytest.approx(row["mi"], rel=1e-2, abs=1e-4)
        assert mine["epc"] == pytest.approx(row["epc"], rel=1e-2, abs=1e-4)
        assert mine["sepc.all"] == pytest.approx(row["sepc.all"], rel=1e-2, abs=1e-4)


@pytest.mark.parametrize("case", ["mimic", "direct_only"])
def test_modification_indices_with_covariates_equal_lavaans(case):
    """Score tests of the model of y given the covariates (lavaan's fixed.x): tests/reference/
    modification_indices_covariates.json, made by tests/reference/r/modification_indices_covariates.R
    (modindices(sem(model, HolzingerSwineford1939))), for the MIMIC model (textual =~ x1: mi 14.018, epc 0.409,
    sepc.all 0.348) and a CFA with a direct effect of sex on x1. For the latter lavaan lists 'sex ~ x1' (the
    covariate regressed on the indicator it affects: a feedback loop, not a parameter of a model of y given x), which
    is no candidate here, and leaves out the cross-loading 'textual =~ x1' (x1, regressed on sex, becomes a phantom
    latent variable in lavaan's matrices), which is one here (its mi equals that of x2 ~~ x3, an equivalent model)."""
    reference = json.loads((pathlib.Path(__file__).parent / "reference" /
                            "modification_indices_covariates.json").read_text())["models"][case]
    fit = gllamm.fit(reference["model"], gllamm.datasets.load("holzinger"))
    ours = fit.modification_indices().set_index(["lhs", "op", "rhs"])
    expected = [row for row in reference["mi"] if not (row["op"] == "~" and row["lhs"] == "sex")]
    extra = set(ours.index) - {(row["lhs"], row["op"], row["rhs"]) for row in expected}
    assert extra == (set() if case == "mimic" else {("textual", "=~", "x1")})
    if case == "direct_only":
        assert ours.loc[("textual", "=~", "x1"), "mi"] == pytest.approx(ours.loc[("x2", "~~", "x3"), "mi"], rel=1e-6)
    for row in expected:
        key = (row["lhs"], row["op"], row["rhs"])
        assert ours.loc[key, "mi"] == pytest.approx(row["mi"], rel=1e-2, abs=1e-3), key
        assert ours.loc[key, "epc"] == pytest.approx(row["epc"], rel=1e-2, abs=1e-3), key
        assert ours.loc[key, "sepc.all"] == pytest.approx(row["sepc.all"], rel=1e-2, abs=1e-3), key
