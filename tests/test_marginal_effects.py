"""Average marginal effects against statsmodels' get_margeff (a logit without random effects; statsmodels 0.14:
Logit(use, [1, age, urban]).get_margeff(at="overall", method="dydx")) and, for a random-intercept logit, against
differences of predict() (central differences for a slope, every row set to each level for a contrast)."""

import numpy as np
import pandas as pd
import pytest

import gllamm


def test_average_marginal_effects_equal_statsmodels():
    sm = pytest.importorskip("statsmodels.api")
    data = gllamm.datasets.load("contraception")
    ours = gllamm.fit("use ~ age + urban", data, family="binomial").marginal_effects()
    theirs = sm.Logit(data.use, sm.add_constant(data[["age", "urban"]])).fit(disp=False).get_margeff(
        at="overall", method="dydx").summary_frame()
    np.testing.assert_allclose(ours["estimate"], theirs["dy/dx"], rtol=1e-5)
    np.testing.assert_allclose(ours["std_error"], theirs["Std. Err."], rtol=1e-4)
    assert list(ours["term"]) == ["age", "urban"] and (ours["contrast"] == "dY/dX").all()


@pytest.fixture(scope="module")
def mixed():
    data = gllamm.datasets.load("contraception")
    data["area"] = pd.Categorical(np.where(data.urban == 1, "urban", "rural"))
    return gllamm.fit("use ~ age + area + (1 | district)", data, family="binomial"), data


@pytest.mark.parametrize("latent", ["marginal", "zero"])
def test_marginal_effects_are_derivatives_and_differences_of_predictions(mixed, latent):
    result, data = mixed
    effects = result.marginal_effects(latent=latent).set_index("term")
    h = 1e-3
    up = result.predict(data.assign(age=data.age + h), latent=latent).mean()
    down = result.predict(data.assign(age=data.age - h), latent=latent).mean()
    assert effects.loc["age", "estimate"] == pytest.approx((up - down) / (2 * h), rel=1e-6)
    urban = result.predict(data.assign(area=pd.Categorical(["urban"] * len(data), categories=["rural", "urban"])),
                           latent=latent).mean()
    rural = result.predict(data.assign(area=pd.Categorical(["rural"] * len(data), categories=["rural", "urban"])),
                           latent=latent).mean()
    assert effects.loc["area", "contrast"] == "urban - rural"
    assert effects.loc["area", "estimate"] == pytest.approx(urban - rural, rel=1e-8)
    assert (effects["std_error"] > 0).all() and (effects["conf_low"] < effects["estimate"]).all()


def test_a_numeric_column_in_C_gets_contrasts_of_its_levels():
    """``C(livch)`` on a numeric column: contrasts of every row set to each level (it was perturbed by +-h as a
    slope, and the shifted values were refused as unseen levels), equal to differences of predict()."""
    data = gllamm.datasets.load("contraception")
    data["livch"] = data.livch1 + 2 * data.livch2 + 3 * data.livch3
    result = gllamm.fit("use ~ age + C(livch)", data, family="binomial")
    effects = result.marginal_effects(latent="zero").set_index("contrast")
    assert list(effects.index) == ["dY/dX", "1 - 0", "2 - 0", "3 - 0"]
    base = result.predict(data.assign(livch=0)).mean()
    for level in (1, 2, 3):
        assert effects.loc[f"{level} - 0", "estimate"] == pytest.approx(
            result.predict(data.assign(livch=level)).mean() - base, rel=1e-8)


def test_marginal_effects_at_values_and_bad_names(mixed):
    result, data = mixed
    at = result.marginal_effects(variables="age", at={"age": 20.0}, latent="zero")
    prediction = result.predict(data.assign(age=20.0 + 1e-3), latent="zero").mean() - \
        result.predict(data.assign(age=20.0 - 1e-3), latent="zero").mean()
    assert at["estimate"].iloc[0] == pytest.approx(prediction / 2e-3, rel=1e-6)
    with pytest.raises(gllamm.GllammError, match="not covariates of the fixed part"):
        result.marginal_effects(variables="income")
    with pytest.raises(gllamm.GllammError, match="not a column the model uses"):
        result.marginal_effects(at={"income": 1})


@pytest.mark.slow  # 4 s: a three-level Laplace fit
def test_marginal_effects_of_nested_models_are_derivatives_of_predictions():
    from reference_cases import REFERENCE_DIR

    data = pd.read_csv(REFERENCE_DIR / "four_level.csv")
    result = gllamm.fit("y ~ x + (1 | cls) + (1 | school) + (1 | district)", data, family="binomial", method="laplace")
    effect = result.marginal_effects(variables="x")["estimate"].iloc[0]
    h = 1e-3
    up = result.predict(data.assign(x=data.x + h), latent="marginal").mean()
    down = result.predict(data.assign(x=data.x - h), latent="marginal").mean()
    assert effect == pytest.approx((up - down) / (2 * h), rel=1e-5)
