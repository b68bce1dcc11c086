"""The closed form of two-level Gaussian models with units of one shape (integrate/two_level_gaussian.py) against
the general exact integral by the joint mode (integrate/nested_laplace.py), and against lavaan's log-likelihood
(tests/reference/multilevel_fit_measures.json, made by tests/reference/r/multilevel_fit_measures.R)."""

import json
import pathlib

import numpy as np
import pytest

import gllamm
from gllamm.integrate.two_level_gaussian import TWO_LEVEL_GAUSSIAN, mark_two_level

REFERENCE = json.loads((pathlib.Path(__file__).parent / "reference" / "multilevel_fit_measures.json").read_text())


@pytest.fixture(scope="module")
def basic():
    return gllamm.fit(REFERENCE["basic"]["model"], gllamm.datasets.load("twolevel"), cluster="cluster")


@pytest.mark.slow
def test_the_closed_form_equals_the_joint_mode_integral_with_its_derivatives(basic):
    objective, data, modes = basic._evaluation(nested_ok=True)
    closed = mark_two_level(data)
    assert closed is not None and TWO_LEVEL_GAUSSIAN in closed
    rng = np.random.default_rng(1)
    for theta in (np.asarray(basic.theta), np.asarray(basic.theta) + 0.05 * rng.normal(size=basic.theta.size)):
        settled = objective.modes(theta, data, modes)
        value, grad = objective.value_and_grad(theta, data, settled)
        closed_value, closed_grad = objective.value_and_grad(theta, closed, settled)
        assert float(closed_value) == pytest.approx(float(value), rel=1e-12)
        np.testing.assert_allclose(np.asarray(closed_grad), np.asarray(grad), rtol=1e-8, atol=1e-8)
        hessian = np.asarray(objective.hessian(theta, data, settled))
        np.testing.assert_allclose(np.asarray(objective.hessian(theta, closed, settled)), hessian, rtol=1e-7,
                                   atol=1e-7 * np.abs(hessian).max())


def test_the_fit_equals_lavaans_log_likelihood(basic):
    assert basic.converged
    assert basic.loglik == pytest.approx(REFERENCE["basic"]["loglik"], abs=1e-4)


def test_units_of_different_shapes_keep_the_general_form():
    data = gllamm.datasets.load("twolevel").copy()
    data.loc[3, "y2"] = np.nan  # one unit without y2: its covariance differs from the others'
    with pytest.warns(gllamm.DataWarning, match="missing response"):
        model = gllamm.fit(REFERENCE["basic"]["model"], data, cluster="cluster", max_iter=0)
    _, arrays, _ = model._evaluation(nested_ok=True)
    assert mark_two_level(arrays) is None
    assert np.isfinite(model.loglik)
