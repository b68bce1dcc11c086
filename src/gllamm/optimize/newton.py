"""Maximise a log-likelihood with a trust-region Newton method and exact derivatives.

SciPy's ``trust-exact`` (Moré-Sorensen) takes Newton steps with the exact
Hessian inside a trust region, so it copes with indefinite Hessians far from
the optimum. Convergence is then judged by gllamm itself:

* the Hessian of the log-likelihood is negative definite, and
* the Newton decrement  g' (-H)^{-1} g  is below ``tol`` (the log-likelihood
  is within about tol/2 of its local maximum).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import scipy.optimize


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
        try:
            return float(self.gradient @ np.linalg.solve(-self.hessian, self.gradient))
        except np.linalg.LinAlgError:
            return float("inf")


def assess_convergence(gradient: np.ndarray, hessian: np.ndarray, tol: float) -> tuple[bool, str]:
    """(converged, message) from the gradient and Hessian of the log-likelihood."""
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


def maximize(value_and_grad, hessian, theta0, *, max_iter: int = 200, tol: float = 1e-8,
             verbose: bool = False, names=None) -> OptimizationResult:
    """Maximise f given jitted ``value_and_grad(theta)`` and ``hessian(theta)`` callables (theta as NumPy)."""
    start = time.perf_counter()
    cache: dict = {}
    log: list[dict] = []

    def evaluate(theta):
        key = theta.tobytes()
        if key not in cache:
            value, grad = value_and_grad(theta)
            cache.clear()
            cache[key] = (float(value), np.asarray(grad, dtype=float))
        return cache[key]

    def fun(theta):
        value, grad = evaluate(theta)
        if not np.isfinite(value):
            return np.inf, np.zeros_like(grad)
        return -value, -grad

    def hess(theta):
        h = -np.asarray(hessian(theta), dtype=float)
        return 0.5 * (h + h.T)

    def callback(intermediate_result):
        value, grad = evaluate(intermediate_result.x)
        entry = dict(iteration=len(log) + 1, loglik=value, max_abs_gradient=float(np.abs(grad).max()),
                     seconds=time.perf_counter() - start)
        log.append(entry)
        if verbose:
            print(f"Iteration {entry['iteration']:3d}: log likelihood = {value:.6f}   max|gradient| = {entry['max_abs_gradient']:.3g}")

    theta0 = np.asarray(theta0, dtype=float)
    value0, _ = evaluate(theta0)
    if verbose:
        print(f"Iteration   0: log likelihood = {value0:.6f}")
    if not np.isfinite(value0):
        raise FloatingPointError("The log-likelihood is not finite at the starting values.")
    result = scipy.optimize.minimize(fun, theta0, jac=True, hess=hess, method="trust-exact",
                                     callback=callback, options=dict(maxiter=max_iter, gtol=1e-9))
    theta = np.asarray(result.x, dtype=float)
    value, grad = evaluate(theta)
    h = np.asarray(hessian(theta), dtype=float)
    h = 0.5 * (h + h.T)
    converged, message = assess_convergence(grad, h, tol)
    if not converged and result.nit >= max_iter:
        message = f"iteration limit ({max_iter}) reached; " + message
    return OptimizationResult(theta, value, grad, h, converged, int(result.nit), message,
                              time.perf_counter() - start, log)
