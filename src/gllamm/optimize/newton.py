"""Maximise a log-likelihood with a trust-region Newton method and exact derivatives.

Newton steps use the exact Hessian, with eigenvalues of -H floored so that
every step is an ascent direction, inside a trust region that adapts to how
well the quadratic model predicted the change. Convergence:

* the Hessian of the log-likelihood is negative definite, and
* the Newton decrement  g' (-H)^{-1} g  is below ``tol`` (the log-likelihood
  is within about tol/2 of its local maximum).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class OptimizationResult:
    """Outcome of a maximisation, with the iteration log."""

    theta: np.ndarray
    loglik: float
    gradient: np.ndarray
    hessian: np.ndarray
    converged: bool
    iterations: int
    message: str
    seconds: float
    log: list = field(default_factory=list)

    @property
    def newton_decrement(self) -> float:
        """g' (-H)^{-1} g at the estimates (about twice the possible further gain in log L)."""
        try:
            return float(self.gradient @ np.linalg.solve(-self.hessian, self.gradient))
        except np.linalg.LinAlgError:
            return float("inf")


def assess_convergence(gradient: np.ndarray, hessian: np.ndarray, tol: float) -> tuple[bool, str]:
    """(converged, message) from the gradient and Hessian of the log-likelihood."""
    if gradient.size == 0:
        return True, "no free parameters"
    if not (np.all(np.isfinite(gradient)) and np.all(np.isfinite(hessian))):
        return False, "the log-likelihood, its gradient or Hessian is not finite at the estimates"
    eigenvalues = np.linalg.eigvalsh(-0.5 * (hessian + hessian.T))
    if eigenvalues.min() <= 1e-10 * max(1.0, eigenvalues.max()):
        return False, (
            "the Hessian is not negative definite at the estimates (smallest eigenvalue of -H = "
            f"{eigenvalues.min():.3g}): some parameters are not identified or lie on a boundary (e.g. a variance of 0)"
        )
    decrement = float(gradient @ np.linalg.solve(-hessian, gradient))
    if decrement > tol:
        return False, f"the gradient is not small (Newton decrement {decrement:.3g} > {tol:g}, max |gradient| {np.abs(gradient).max():.3g})"
    return True, f"converged (max |gradient| {np.abs(gradient).max():.2g}, Newton decrement {decrement:.2g})"


_STALL = 10  # iterations without a worthwhile gain before giving up


def newton_step(gradient: np.ndarray, hessian: np.ndarray, radius: float) -> tuple[np.ndarray, float]:
    """Modified Newton step for maximisation, restricted to a trust region.

    With -H = V diag(lambda) V', eigenvalues are floored at a small positive
    value (so the step is an ascent direction even where H is not negative
    definite), s = V diag(1/lambda+) V' g, and s is shortened to ``radius``.
    Returns the step and the predicted increase g's - s'(-H)s/2.
    """
    eigenvalues, vectors = np.linalg.eigh(-0.5 * (hessian + hessian.T))
    floor = max(1e-8, 1e-8 * np.abs(eigenvalues).max())
    modified = np.where(eigenvalues > floor, eigenvalues, np.maximum(np.abs(eigenvalues), floor))
    step = vectors @ ((vectors.T @ gradient) / modified)
    length = np.linalg.norm(step)
    if length > radius:
        step *= radius / length
    predicted = float(gradient @ step - 0.5 * step @ (-hessian) @ step)
    return step, predicted


def maximize(value_and_grad, hessian, theta0, *, max_iter: int = 200, tol: float = 1e-8,
             verbose: bool = False) -> OptimizationResult:
    """Maximise f by trust-region Newton, given callables ``value_and_grad(theta)`` and ``hessian(theta)``.

    Each iteration takes the modified Newton step of ``newton_step``; the
    trust radius grows after good agreement between predicted and actual
    increase and shrinks after poor agreement or a failed (non-finite or
    decreasing) step, which is then retried from the same point.
    """
    start = time.perf_counter()
    log: list[dict] = []

    def evaluate(theta):
        value, grad = value_and_grad(theta)
        return float(value), np.asarray(grad, dtype=float)

    def sym_hessian(theta):
        h = np.asarray(hessian(theta), dtype=float)
        return 0.5 * (h + h.T)

    theta = np.asarray(theta0, dtype=float).copy()
    value, grad = evaluate(theta)
    if verbose:
        print(f"Iteration   0: log likelihood = {value:.6f}")
    if not np.isfinite(value):
        raise FloatingPointError("The log-likelihood is not finite at the starting values.")
    h = sym_hessian(theta)
    radius = max(1.0, np.linalg.norm(theta))
    iterations, converged, message = 0, False, ""
    while iterations < max_iter:
        converged, message = assess_convergence(grad, h, tol)
        if converged:
            break
        iterations += 1
        for _ in range(60):
            step, predicted = newton_step(grad, h, radius)
            new_value, new_grad = evaluate(theta + step)
            actual = new_value - value
            if np.isfinite(new_value) and np.all(np.isfinite(new_grad)) and actual >= -1e-12 * max(1.0, abs(value)):
                break
            radius = 0.25 * np.linalg.norm(step)
        else:
            message = "no step increased the log-likelihood; " + message
            break
        agreement = actual / predicted if predicted > 0 else 1.0
        if agreement > 0.75 and np.linalg.norm(step) >= 0.99 * radius:
            radius *= 2.0
        elif agreement < 0.25:
            radius = 0.25 * np.linalg.norm(step)
        theta, value, grad = theta + step, new_value, new_grad
        h = sym_hessian(theta)
        entry = dict(iteration=iterations, loglik=value, max_abs_gradient=float(np.abs(grad).max()),
                     step=float(np.linalg.norm(step)), seconds=time.perf_counter() - start)
        log.append(entry)
        if verbose:
            print(f"Iteration {iterations:3d}: log likelihood = {value:.6f}   max|gradient| = {entry['max_abs_gradient']:.3g}")
        if abs(actual) < 1e-14 * max(1.0, abs(value)) and np.linalg.norm(step) < 1e-12 * max(1.0, np.linalg.norm(theta)):
            converged, message = assess_convergence(grad, h, tol)
            break
        if len(log) > _STALL and value - log[-1 - _STALL]["loglik"] < 1e-10 * max(1.0, abs(value)):
            # creeping towards a boundary (e.g. a probability of 0): no further gain worth having
            converged, message = assess_convergence(grad, h, tol)
            if not converged:
                message = f"stopped: the last {_STALL} iterations raised the log-likelihood by less than 1e-10 " \
                          f"relative; " + message
            break
    else:
        converged, message = assess_convergence(grad, h, tol)
        if not converged:
            message = f"iteration limit ({max_iter}) reached; " + message
    return OptimizationResult(theta, value, grad, h, converged, iterations, message,
                              time.perf_counter() - start, log)
