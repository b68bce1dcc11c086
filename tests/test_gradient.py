"""The exact gradient (autodiff through the adaptive quadrature) against central finite differences."""

import numpy as np
import pytest

import gllamm
from gllamm.integrate import Integration


def _setup(formula, data, family, integration):
    spec, design = gllamm.build_design(gllamm.parse_formula(formula), data, gllamm.make_family(family))
    table = gllamm.ParameterTable(spec)
    objective = gllamm.make_objective(table, integration)
    return table, objective, design.data()


@pytest.mark.parametrize("method,nip", [("adaptive", 8), ("laplace", 1), ("ghq", 10)])
def test_gradient_matches_finite_differences(method, nip):
    data = gllamm.datasets.load("contraception")
    table, objective, arrays = _setup("use ~ age + urban + (1 + urban | district)", data, "binomial", Integration(method, nip))
    theta = np.array([-1.5, -0.02, 0.7, 0.6, -0.5, 0.6])

    def f(t):
        modes = objective.modes(t, arrays, objective.mode_start(arrays))
        return float(objective.value(t, arrays, modes))

    modes = objective.modes(theta, arrays, objective.mode_start(arrays))
    _, grad = objective.value_and_grad(theta, arrays, modes)
    h = 1e-5
    numeric = np.array([(f(theta + h * e) - f(theta - h * e)) / (2 * h) for e in np.eye(len(theta))])
    np.testing.assert_allclose(np.asarray(grad), numeric, rtol=1e-5, atol=1e-4)
    hess = np.asarray(objective.hessian(theta, arrays, modes))
    grad_fn = lambda t: np.asarray(objective.value_and_grad(t, arrays, objective.modes(t, arrays, objective.mode_start(arrays)))[1])
    numeric_h = np.array([(grad_fn(theta + h * e) - grad_fn(theta - h * e)) / (2 * h) for e in np.eye(len(theta))])
    np.testing.assert_allclose(hess, numeric_h, rtol=1e-4, atol=1e-2)
