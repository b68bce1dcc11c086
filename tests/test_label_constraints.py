"""Constraints between labels in model syntax, as lavaan writes them: 'a == b' makes the labelled parameters equal
(the same model as one shared label), 'a == 0.5' fixes them."""

import pytest

import gllamm
from gllamm import GllammError


@pytest.fixture(scope="module")
def holzinger():
    return gllamm.datasets.load("holzinger")


def test_an_equality_of_labels_is_a_shared_label(holzinger):
    constrained = gllamm.fit("visual =~ x1 + a*x2 + b*x3\n a == b", holzinger)
    shared = gllamm.fit("visual =~ x1 + a*x2 + a*x3", holzinger)
    free = gllamm.fit("visual =~ x1 + x2 + x3", holzinger)
    assert constrained.loglik == pytest.approx(shared.loglik, abs=1e-9)
    assert constrained.params["visual=~x2"] == pytest.approx(constrained.params["visual=~x3"], abs=1e-12)
    assert constrained.n_params == free.n_params - 1
    assert constrained.loglik < free.loglik


def test_a_label_equal_to_a_number_is_fixed(holzinger):
    result = gllamm.fit("visual =~ x1 + a*x2 + x3\n a == 0.5", holzinger)
    assert result.params["visual=~x2"] == 0.5
    assert result.table().loc["visual=~x2", ["se", "z"]].isna().all()


@pytest.mark.parametrize("syntax, message", [
    ("visual =~ x1 + a*x2 + x3\n a == bb", r"'bb' is not a label of the model.*Labels: a"),
    ("visual =~ x1 + a*x2 + b*x3\n a == 2*b", r"A constraint is written 'a == b'"),
])
def test_constraints_that_cannot_be_taken_are_explained(holzinger, syntax, message):
    with pytest.raises(GllammError, match=message):
        gllamm.fit(syntax, holzinger)
