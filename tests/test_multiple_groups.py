"""Multiple groups and measurement invariance against lavaan 0.6-14: the configural CFA by school
(tests/reference/mg_configural.json, from ../shared/reference) and metric, scalar and strict invariance
(tests/reference/measurement_invariance.json, made by tests/reference/r/measurement_invariance.R)."""

import json
import pathlib
import warnings

import numpy as np
import pandas as pd
import pytest

import gllamm
from gllamm import GllammError

REFERENCE = pathlib.Path(__file__).parent / "reference"
CONFIGURAL = json.loads((REFERENCE / "mg_configural.json").read_text())
INVARIANCE = json.loads((REFERENCE / "measurement_invariance.json").read_text())
MODEL = INVARIANCE["model"]
STEPS = {"configural": None, "metric": ["loadings"], "scalar": ["loadings", "intercepts"],
         "strict": ["loadings", "intercepts", "residuals"]}


@pytest.fixture(scope="module")
def fits():
    data = gllamm.datasets.load("holzinger")
    return {step: gllamm.fit(MODEL, data, group="school", group_equal=equal) for step, equal in STEPS.items()}


def _name(row) -> str:
    g, lhs, op, rhs = row["group"], row["lhs"], row["op"], row["rhs"]
    if op == "~1":
        return f"{lhs}.g{g}~1"
    if op == "~~" and lhs != rhs:
        return f"{rhs}.g{g}~~{lhs}.g{g}"
    return f"{lhs}.g{g}{op}{rhs}.g{g}"


def test_the_configural_model_equals_lavaans(fits):
    result = fits["configural"]
    assert result.converged
    assert result.loglik == pytest.approx(CONFIGURAL["loglik"], abs=1e-5)
    checked = 0
    for row in CONFIGURAL["params"]:
        if row["op"] not in ("=~", "~~", "~1") or row["se"] in (0, "NA"):
            continue
        name = _name(row)
        if name not in result.params.index:  # (a covariance is named with its variables the other way round)
            name = f"{row['lhs']}.g{row['group']}~~{row['rhs']}.g{row['group']}"
        assert result.params[name] == pytest.approx(row["est"], rel=1e-4, abs=1e-5), name
        assert result.se[name] == pytest.approx(row["se"], rel=2e-3), name
        checked += 1
    assert checked == 60


@pytest.mark.parametrize("step", ["metric", "scalar", "strict"])
def test_invariance_steps_equal_lavaans(fits, step):
    reference = INVARIANCE["fits"][step]
    result = fits[step]
    assert result.converged
    assert result.loglik == pytest.approx(reference["loglik"], abs=1e-5)
    assert result.n_params == reference["npar"]
    for row in reference["latent_means_group2"]:  # free in the second group once intercepts are equal
        if row["se"]:
            name = f"{row['lhs']}.g2~_mean.g2"
            assert result.params[name] == pytest.approx(row["est"], abs=1e-5)
            assert result.se[name] == pytest.approx(row["se"], rel=2e-3)


def test_chi_square_differences_equal_lavaans_anova(fits):
    metric = gllamm.lr_test(fits["metric"], fits["configural"])
    scalar = gllamm.lr_test(fits["scalar"], fits["metric"])
    assert metric["statistic"] == pytest.approx(INVARIANCE["chisq_diff"][1], abs=1e-4) and metric["df"] == 6
    assert scalar["statistic"] == pytest.approx(INVARIANCE["chisq_diff"][2], abs=1e-4) and scalar["df"] == 6


def test_two_copies_of_the_data_give_the_single_group_fit_twice():
    data = gllamm.datasets.load("holzinger")
    single = gllamm.fit(MODEL, data)
    doubled = pd.concat([data.assign(copy="a"), data.assign(copy="b")], ignore_index=True)
    grouped = gllamm.fit(MODEL, doubled, group="copy")
    assert grouped.loglik == pytest.approx(2 * single.loglik, abs=1e-6)
    for name, value in single.params.items():
        common = name.replace("~1", "").split("~~")[0].split("=~")[0]
        for k in (1, 2):
            renamed = name.replace(common, f"{common}.g{k}") if name.endswith("~1") else None
            if renamed and renamed in grouped.params:
                assert grouped.params[renamed] == pytest.approx(value, rel=1e-6)


@pytest.mark.parametrize("options, message", [
    (dict(group="school", group_equal=["loading"]), r"group_equal= 'loading' is not a kind of parameter.*loadings"),
    (dict(group="sex", group_equal=["loadings"], group_partial=["visual=~x7"]), r"group_partial= names"),
    (dict(group="schol"), r"group= names 'schol'.*school"),
    (dict(group_equal=["loadings"]), r"group_equal= and group_partial= go with group="),
])
def test_group_options_that_cannot_be_taken_are_explained(options, message):
    with pytest.raises(GllammError, match=message):
        gllamm.fit(MODEL, gllamm.datasets.load("holzinger"), **options)


def test_a_group_with_too_few_units_and_formula_models_are_refused():
    data = gllamm.datasets.load("holzinger")
    tiny = data.assign(g=["small" if i < 2 else "big" for i in range(len(data))])
    with pytest.raises(GllammError, match=r"fewer than 3 units"):
        gllamm.fit(MODEL, tiny, group="g")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(GllammError, match=r"group= \(multiple groups\) is for models in lavaan-style syntax"):
            gllamm.fit("x1 ~ x2 + (1 | school)", data, group="sex")


def test_fit_measures_of_groups_equal_lavaans(fits):
    """lavaan's fitMeasures of the configural fit (mg_configural.json) and chisq/df of the invariance steps."""
    measures = fits["configural"].fit_measures()
    reference = CONFIGURAL["fit"]
    assert measures["chisq"] == pytest.approx(reference["chisq"], abs=1e-3)
    for name in ("df", "cfi", "tli", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "rmsea.pvalue", "srmr",
                 "baseline.chisq", "unrestricted.logl", "aic", "bic"):
        assert measures[name] == pytest.approx(reference[name], rel=1e-4), name
    for step in ("metric", "scalar", "strict"):
        measures = fits[step].fit_measures()
        assert measures["chisq"] == pytest.approx(INVARIANCE["fits"][step]["chisq"], abs=1e-3), step
        assert measures["df"] == INVARIANCE["fits"][step]["df"], step
        for name in ("cfi", "rmsea", "srmr"):  # (srmr with the mean residuals once intercepts are equal)
            assert measures[name] == pytest.approx(INVARIANCE["fits"][step][name], rel=1e-4), (step, name)


def test_the_standardized_solution_of_groups_equals_lavaans(fits):
    """std.all of every loading, (co)variance and intercept of the configural fit, group by group (mg_configural)."""
    solution = fits["configural"].standardized()
    checked = 0
    for row in CONFIGURAL["params"]:
        if row["op"] not in ("=~", "~~", "~1") or (row["op"] == "~1" and row["lhs"] in ("visual", "textual", "speed")):
            continue
        g = row["group"]
        lhs, rhs = f"{row['lhs']}.g{g}", f"{row['rhs']}.g{g}" if row["rhs"] else ""
        match = solution[(solution.lhs == lhs) & (solution.op == row["op"]) & (solution.rhs == rhs)]
        if match.empty:
            match = solution[(solution.lhs == rhs) & (solution.op == row["op"]) & (solution.rhs == lhs)]
        assert float(match["std.all"].iloc[0]) == pytest.approx(row["std.all"], abs=2e-3), (lhs, row["op"], rhs)
        checked += 1
    assert checked == 66  # (per group: 9 loadings, 9 residual variances, 6 latent (co)variances, 9 intercepts)


@pytest.mark.parametrize("case", ["equal", "fixed"])
def test_group_specific_modifiers_equal_lavaans(case):
    """c(a, a)*x2 and c(0.5, NA)*x2 in a two-school CFA (tests/reference/group_labels.json, made by
    tests/reference/r/group_labels.R: cfa(model, data = hs, group = "school", meanstructure = TRUE))."""
    reference = json.loads((REFERENCE / "group_labels.json").read_text())[case]
    result = gllamm.fit(reference["model"], gllamm.datasets.load("holzinger"), group="school")
    assert result.loglik == pytest.approx(reference["loglik"], abs=1e-5)
    assert result.n_params == reference["npar"]
    for row in reference["x2_loading"]:
        name = f"visual.g{row['group']}=~x2.g{row['group']}"
        if row["se"] == 0:
            assert name not in result.params.index or result.params[name] == pytest.approx(row["est"])
        else:
            assert result.params[name] == pytest.approx(row["est"], abs=1e-4)


def test_group_specific_modifiers_need_one_per_group_and_group():
    data = gllamm.datasets.load("holzinger")
    with pytest.raises(gllamm.GllammError, match="gives 3 modifiers for 2 groups"):
        gllamm.fit("visual =~ x1 + c(a, b, c)*x2 + x3", data, group="school")
    with pytest.raises(gllamm.GllammError, match="add group="):
        gllamm.fit("visual =~ x1 + c(a, b)*x2 + x3", data)


def test_refit_and_bootstrap_keep_the_constraints_once():
    """A refit of a model with shared labels (or group_equal) implies its equalities again: they must not also be
    passed on (a constraint given twice made the refit unidentified and every bootstrap replicate fail)."""
    data = gllamm.datasets.load("holzinger")
    labelled = gllamm.fit("visual =~ x1 + a*x2 + a*x3", data)
    again = labelled.refit(data)
    assert again.converged and again.n_params == labelled.n_params
    assert again.loglik == pytest.approx(labelled.loglik, abs=1e-8)
    grouped = gllamm.fit("visual =~ x1 + x2 + x3", data, group="school", group_equal=["loadings"])
    again = grouped.refit(data)
    assert again.converged and again.n_params == grouped.n_params
    assert again.loglik == pytest.approx(grouped.loglik, abs=1e-8)
    replicates = grouped.bootstrap(n_boot=3, seed=1, progress=False)  # simulated groups' copies -> one column each
    assert replicates.attrs["failed"] == 0 and replicates.shape == (3, grouped.params.size)
    assert (replicates["visual.g1=~x2.g1"] == replicates["visual.g2=~x2.g2"]).all()


MULTILEVEL_GROUPS = json.loads((pathlib.Path(__file__).parent / "reference" / "multilevel_groups.json").read_text())
# lavaan's between-level residual variances, free there, are written as one between factor per indicator (the GLLAMM
# form has no between residuals of its own); made by tests/reference/r/multilevel_groups.R (lavaan 0.6-14)
BETWEEN_RESIDUALS = ("\n r1 =~ 1*y1\n r2 =~ 1*y2\n r3 =~ 1*y3\n y1 ~~ 0*y1\n y2 ~~ 0*y2\n y3 ~~ 0*y3\n"
                     " fb ~~ 0*r1 + 0*r2 + 0*r3\n r1 ~~ 0*r2 + 0*r3\n r2 ~~ 0*r3")


@pytest.mark.slow
@pytest.mark.parametrize("case, group_equal", [("configural", None), ("loadings", ["loadings"])])
def test_multilevel_models_in_groups_of_clusters_match_lavaan(case, group_equal):
    data = gllamm.datasets.load("twolevel")
    data["g"] = np.where(data.cluster <= 100, "a", "b")
    fit = gllamm.fit(MULTILEVEL_GROUPS["model"] + BETWEEN_RESIDUALS, data, cluster="cluster", group="g",
                     group_equal=group_equal)
    reference = MULTILEVEL_GROUPS[case]
    assert fit.converged
    assert fit.loglik == pytest.approx(reference["loglik"], abs=1e-4)  # (lavaan stops at about 5e-6)
    assert fit.n_params == reference["npar"]
    rows = {(r["lhs"], r["op"], r["rhs"], r["level"], r["group"]): r for r in reference["estimates"]}
    for level, latent in ((1, "fw"), (2, "fb")):
        for k, group in enumerate(MULTILEVEL_GROUPS["group_order"], start=1):
            for item in ("y2", "y3"):
                expected = rows[(latent, "=~", item, level, group)]
                name = f"{latent}.g{k}=~{item}.g{k}"
                assert fit.params[name] == pytest.approx(expected["est"], abs=2e-3), name
                assert fit.se[name] == pytest.approx(expected["se"], rel=2e-2), name


def test_fit_measures_of_multiple_groups_with_a_covariate_equal_lavaans():
    """tests/reference/multiple_groups_covariates.json (tests/reference/r/multiple_groups_covariates.R:
    sem(model, HolzingerSwineford1939, group = "school") with visual ~ ageyr; lavaan: chisq 88.0799 on 28 df, srmr
    0.14298): per group the saturated regression of the indicators on the covariate, the SRMR over the joint (y, x)
    covariances and means (the implied means at each group's mean covariate), weighted by group size."""
    reference = json.loads((pathlib.Path(__file__).parent / "reference" / "multiple_groups_covariates.json").read_text())
    fit = gllamm.fit(reference["model"], gllamm.datasets.load("holzinger"), group="school")
    measures = fit.fit_measures()
    assert measures["chisq"] == pytest.approx(reference["fit"]["chisq"], abs=1e-3)
    for name, value in reference["fit"].items():
        assert measures[name] == pytest.approx(value, rel=1e-4), name
