"""The trust-region Newton maximiser (optimize/newton.py): the optimum of a smooth concave function, and the
returned Hessian (which decides convergence and gives the standard errors) is the one at the returned estimates."""

import numpy as np

from gllamm.optimize import maximize

A = np.array([0.5, 2.0, 7.0])  # f(x) = sum(a_i x_i - exp(x_i)) - (x_1 - x_2)^2 / 2: smooth, concave


def _problem():
    points = []

    def value_and_grad(x):
        d = x[0] - x[1]
        return float(np.sum(A * x - np.exp(x)) - 0.5 * d * d), A - np.exp(x) - np.array([d, -d, 0.0])

    def hessian(x):
        points.append(x.copy())
        return -np.diag(np.exp(x)) - np.array([[1.0, -1.0, 0.0], [-1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])

    return value_and_grad, hessian, points


def _optimum():
    """Newton's method on the same function to machine precision (independent of maximize)."""
    value_and_grad, hessian, _ = _problem()
    x = np.zeros(3)
    for _ in range(100):
        x = x - np.linalg.solve(hessian(x), value_and_grad(x)[1])
    return x


def test_the_optimum_and_the_hessian_at_it():
    value_and_grad, hessian, points = _problem()
    result = maximize(value_and_grad, hessian, np.zeros(3), tol=1e-12)
    assert result.converged
    # decrement g'(-H)^{-1}g < 1e-12 puts x within about sqrt(1e-12) of the optimum
    np.testing.assert_allclose(result.theta, _optimum(), rtol=0, atol=1e-6)
    np.testing.assert_array_equal(points[-1], result.theta)  # the last Hessian is at the estimates
    np.testing.assert_array_equal(result.hessian, hessian(result.theta))


def test_an_unfinished_maximisation_returns_the_hessian_at_its_last_point():
    value_and_grad, hessian, points = _problem()
    result = maximize(value_and_grad, hessian, np.zeros(3), max_iter=4, tol=1e-30)
    assert not result.converged and "iteration limit" in result.message
    np.testing.assert_array_equal(result.hessian, hessian(result.theta))


def test_a_point_whose_hessian_is_not_finite_is_never_stepped_to():
    """Where the curvature is not finite (NaN from an overflow, say) the step is refused and a shorter one tried;
    the maximiser never ends in a LinAlgError from the eigendecomposition."""
    def value_and_grad(x):
        return float(-(x[0] - 2.0) ** 2), np.array([-2.0 * (x[0] - 2.0)])

    def hessian(x):
        return np.array([[np.nan]]) if 0.9 < x[0] < 1.1 else np.array([[-2.0]])

    result = maximize(value_and_grad, hessian, np.zeros(1), tol=1e-12)
    assert np.all(np.isfinite(result.hessian))
    assert not (0.9 < result.theta[0] < 1.1)
    if not result.converged:
        assert "finite and twice differentiable" in result.message
    else:
        np.testing.assert_allclose(result.theta, [2.0], atol=1e-6)


def test_quasi_newton_steps_reach_the_same_optimum_with_fewer_hessians():
    """With quasi_newton the Hessians far from the optimum are BFGS updates; the optimum, the verdict and the
    returned (exact) Hessian are those of plain Newton, from a start far away (x = 4: f's curvature e^4 there)."""
    start = np.full(3, 4.0)
    value_and_grad, hessian, exact_points = _problem()
    plain = maximize(value_and_grad, hessian, start, tol=1e-12)
    value_and_grad, hessian, quasi_points = _problem()
    quasi = maximize(value_and_grad, hessian, start, tol=1e-12, quasi_newton=True)
    assert plain.converged and quasi.converged
    np.testing.assert_allclose(quasi.theta, _optimum(), rtol=0, atol=1e-6)
    np.testing.assert_array_equal(quasi_points[-1], quasi.theta)  # the returned Hessian is exact, at the estimates
    np.testing.assert_allclose(quasi.hessian, hessian(quasi.theta), rtol=1e-12)
    assert len(quasi_points) < len(exact_points)


def test_the_bfgs_update_meets_the_secant_condition_and_stays_negative_definite():
    from gllamm.optimize.newton import bfgs_update

    rng = np.random.default_rng(3)
    B = rng.normal(size=(4, 4))
    h = -(B @ B.T + 4 * np.eye(4))
    step = rng.normal(size=4)
    true_h = -(np.diag([1.0, 2.0, 3.0, 4.0]) + 0.5)  # a concave quadratic's Hessian: its gradient change is H s
    change = true_h @ step
    updated = bfgs_update(h, step, change)
    np.testing.assert_allclose(updated @ step, change, rtol=1e-12, atol=1e-12)  # H+ s = y
    assert np.linalg.eigvalsh(updated).max() < 0
    assert bfgs_update(h, step, -change) is h  # curvature condition fails: no update
