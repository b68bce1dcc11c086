"""gllamm.build_model -> Model -> Model.fit: the same fit as gllamm.fit, options checked where they belong."""

import numpy as np
import pytest

import gllamm
from gllamm import GllammError
from gllamm.options import EstimationOptions


@pytest.fixture(scope="module")
def contraception():
    return gllamm.datasets.load("contraception")


def test_a_model_fitted_in_two_steps_equals_gllamm_fit(contraception):
    model = gllamm.build_model("use ~ age + urban + (1 | district)", contraception, family="binomial")
    assert isinstance(model, gllamm.Model) and not model.syntax
    two_steps = model.fit(nip=12)
    one_step = gllamm.fit("use ~ age + urban + (1 | district)", contraception, family="binomial", nip=12)
    assert two_steps.loglik == one_step.loglik
    np.testing.assert_array_equal(two_steps.theta, one_step.theta)
    assert two_steps.model is model
    again = model.fit(EstimationOptions(nip=12))
    assert again.loglik == one_step.loglik


def test_options_go_to_their_stage(contraception):
    with pytest.raises(GllammError, match=r"nip: options of the estimation; give them to Model.fit\(\)"):
        gllamm.build_model("use ~ age + (1 | district)", contraception, family="binomial", nip=3)
    model = gllamm.build_model("use ~ age + (1 | district)", contraception, family="binomial")
    with pytest.raises(GllammError, match=r"family: options of the model, fixed when it was built"):
        model.fit(family="poisson")
    with pytest.raises(GllammError, match="Unknown option 'tool'.*tol"):
        model.fit(tool=1e-6)
    with pytest.raises(GllammError, match="Unknown option 'nipp'.*nip"):
        gllamm.fit("use ~ age + (1 | district)", contraception, family="binomial", nipp=3)
    with pytest.raises(GllammError, match="max_iter must be a whole number"):
        EstimationOptions(max_iter=-1)


def test_a_syntax_model_keeps_its_constraints_and_definitions():
    model = gllamm.build_model("visual =~ x1 + a*x2 + a*x3\n ratio := a / 2", gllamm.datasets.load("holzinger"))
    assert model.syntax
    assert model.implied_equal and model.definitions
    result = model.fit()
    assert result.params["visual=~x2"] == pytest.approx(result.params["visual=~x3"], abs=1e-12)
    assert result.table().loc["ratio", "estimate"] == pytest.approx(result.params["visual=~x2"] / 2, rel=1e-12)


def test_a_result_keeps_its_options_as_given(contraception):
    result = gllamm.fit("use ~ age + urban + (1 | district)", contraception, family="binomial", nip=12, tol=1e-9)
    assert result.estimation == EstimationOptions(nip=12, tol=1e-9)
    assert result.model.model_options.family == "binomial"
    shown = result.settings().set_index("option")
    assert shown.loc["nip", "value"] == 12 and shown.loc["nip", "stage"] == "estimation"
    assert shown.loc["family", "stage"] == "model"
    assert "method" not in shown.index  # (defaults are not listed)
