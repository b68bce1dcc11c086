"""Maximise a log-likelihood with a trust-region Newton method and exact derivatives.

Newton steps use the exact Hessian, with eigenvalues of -H floored so that
every step is an ascent direction, inside a trust region that adapts to how
well the quadratic model predicted the change. Convergence:

* the Hessian of the log-likelihood is negative definite, and
* the Newton decrement  g' (-H)^{-1} g  is below ``tol`` (the log-likelihood
  is within about tol/2 of its local maximum).

The verdicts and directions are scale-free: the definiteness test and the floor
on the eigenvalues work in the coordinates s_k = theta_k / d_k with d_k =
|H_kk|^(-1/2) (Jacobi scaling, so that -H has a unit diagonal there), and the
Newton decrement does not depend on the coordinates. (The trust region is a ball
in theta itself, whose radius adapts within a few iterations: in the scaled
coordinates the first steps of mixture models leapt to other optima.) A response
in other units, or a covariate multiplied by 1e4, changes the Hessian's entries
by many orders of magnitude but not the estimates or the verdict.
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


def jacobi_scales(hessian: np.ndarray) -> np.ndarray:
    """d_k = |H_kk|^(-1/2), the coordinate scales in which -H has a unit diagonal (1 where H_kk is 0 or not finite)."""
    diagonal = np.abs(np.diag(hessian))
    good = np.isfinite(diagonal) & (diagonal > 0)
    return np.where(good, 1.0 / np.sqrt(np.where(good, diagonal, 1.0)), 1.0)


def assess_convergence(gradient: np.ndarray, hessian: np.ndarray, tol: float) -> tuple[bool, str]:
    """(converged, message) from the gradient and Hessian of the log-likelihood: converged when -D H D (D the
    ``jacobi_scales``, so that the test does not depend on the parameters' units) is positive definite, its
    smallest eigenvalue above 1e-10 times its largest, and the Newton decrement g'(-H)^{-1}g is below tol."""
    if gradient.size == 0:
        return True, "no free parameters"
    if not (np.all(np.isfinite(gradient)) and np.all(np.isfinite(hessian))):
        return False, "the log-likelihood, its gradient or Hessian is not finite at the estimates"
    d = jacobi_scales(hessian)
    eigenvalues = np.linalg.eigvalsh(-0.5 * (hessian + hessian.T) * np.outer(d, d))
    if eigenvalues.min() <= 1e-10 * max(1.0, eigenvalues.max()):
        return False, (
            "the Hessian is not negative definite at the estimates (smallest eigenvalue of -H = "
            f"{eigenvalues.min():.3g}): some parameters are not identified or lie on a boundary (e.g. a variance of 0)"
        )
    decrement = float((d * gradient) @ np.linalg.solve(-hessian * np.outer(d, d), d * gradient))
    if decrement > tol:
        return False, f"the gradient is not small (Newton decrement {decrement:.3g} > {tol:g}, max |gradient| {np.abs(gradient).max():.3g})"
    return True, f"converged (max |gradient| {np.abs(gradient).max():.2g}, Newton decrement {decrement:.2g})"


_STALL = 10  # iterations without a worthwhile gain before giving up


def newton_step(gradient: np.ndarray, hessian: np.ndarray, radius: float) -> tuple[np.ndarray, float]:
    """Modified Newton step for maximisation, restricted to a trust region.

    In the coordinates theta_k / d_k (d the ``jacobi_scales`` of the Hessian) the gradient is D g and
    the Hessian D H D. With -D H D = V diag(lambda) V', eigenvalues are floored at a small positive value (so the
    step is an ascent direction even where H is not negative definite), s = V diag(1/lambda+) V' D g, and the
    step D s is shortened to length ``radius``. Returns the step and the predicted increase
    g'step - step'(-H)step/2.
    """
    d = jacobi_scales(hessian)
    scaled_gradient = d * gradient
    try:
        modified, vectors = _floored_eigen(hessian, d)
    except np.linalg.LinAlgError:  # (not finite, or LAPACK failed): a short steepest-ascent step instead
        step = d * d * gradient
        step *= min(1.0, radius / max(np.linalg.norm(step), 1e-300))
        return step, float(gradient @ step)
    step = d * (vectors @ ((vectors.T @ scaled_gradient) / modified))
    length = np.linalg.norm(step)
    if length > radius:
        step *= radius / length
    predicted = float(gradient @ step - 0.5 * step @ (-hessian) @ step)
    return step, predicted


def _floored_eigen(hessian: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(eigenvalues floored at a small positive value, eigenvectors) of -D H D, D = diag(d): negative curvature is
    turned into positive curvature of the same size (LinAlgError when H is not finite)."""
    eigenvalues, vectors = np.linalg.eigh(-0.5 * (hessian + hessian.T) * np.outer(d, d))
    floor = max(1e-8, 1e-8 * np.abs(eigenvalues).max())
    return np.where(eigenvalues > floor, eigenvalues, np.maximum(np.abs(eigenvalues), floor)), vectors


def maximize(value_and_grad, hessian, theta0, *, max_iter: int = 200, tol: float = 1e-8,
             verbose: bool = False, quasi_newton: bool = False) -> OptimizationResult:
    """Maximise f by trust-region Newton, given callables ``value_and_grad(theta)`` and ``hessian(theta)``.

    Each iteration takes the modified Newton step of ``newton_step``; the
    trust radius grows after good agreement between predicted and actual
    increase and shrinks after poor agreement or a failed (non-finite or
    decreasing) step, which is then retried from the same point.

    ``quasi_newton`` (for likelihoods whose Hessian costs many gradients): far from the maximum the Hessian after a
    step is the BFGS update of the last one (``bfgs_update``; made negative definite first, ``_quasi_start``) instead
    of a new exact one, as long as its Newton decrement is above ``_QUASI_SWITCH``; then the exact Hessian is
    computed again. Every verdict on convergence, and the Hessian returned, are exact.
    """
    start = time.perf_counter()
    log: list[dict] = []
    evaluate, sym_hessian = _on_host(value_and_grad, hessian)
    theta = np.asarray(theta0, dtype=float).copy()
    value, grad = evaluate(theta)
    if verbose:
        print(f"Iteration   0: log likelihood = {value:.6f}")
    if not np.isfinite(value):
        raise FloatingPointError("The log-likelihood is not finite at the starting values.")
    h, exact = sym_hessian(theta), True
    start_value = value
    radius = max(1.0, np.linalg.norm(theta))
    iterations, converged, message, polished = 0, False, "", False
    while iterations < max_iter:
        h, exact, base = _curvature_now(quasi_newton, sym_hessian, theta, grad, h, exact)
        converged, message = assess_convergence(grad, h, tol) if exact else (False, "")
        if converged:
            if polished or max_iter == 0:
                break
            polished = True  # one full Newton step more: the estimates converge quadratically, to a point that
            polish = _polish(evaluate, theta, value, grad, h)  # does not depend on the path (nor on units)
            if polish is None:
                break
            log.append(_entry(iterations, polish[1], polish[2], polish[0] - theta, start, final_newton_step=True))
            theta, value, grad = polish
            h = sym_hessian(theta)
            continue
        iterations += 1
        accepted = _accepted_step(evaluate, _next_hessian(base, grad, sym_hessian), theta, value, grad, h, radius)
        if accepted is None:
            message = "no step increased the log-likelihood to a point where it is finite and twice " \
                      "differentiable; " + message
            break
        step, predicted, new_value, new_grad, new_h, radius = accepted
        actual, length = new_value - value, np.linalg.norm(step)
        radius = _new_radius(radius, actual / predicted if predicted > 0 else 1.0, length)
        theta, value, grad, h, exact = theta + step, new_value, new_grad, new_h, base is None
        entry = _entry(iterations, value, grad, step, start)
        log.append(entry)
        if verbose:
            print(f"Iteration {iterations:3d}: log likelihood = {value:.6f}   max|gradient| = {entry['max_abs_gradient']:.3g}")
        if abs(actual) < 1e-14 * max(1.0, abs(value)) and length < 1e-12 * max(1.0, np.linalg.norm(theta)):
            h = h if exact else sym_hessian(theta)
            converged, message = assess_convergence(grad, h, tol)
            break
        if _stalled(log, value):  # creeping towards a boundary (e.g. a probability of 0): no gain worth having
            h = h if exact else sym_hessian(theta)
            converged, message = assess_convergence(grad, h, tol)
            if not converged:
                message = f"stopped: the last {_STALL} iterations raised the log-likelihood by less than 1e-10 " \
                          f"relative; " + message
            break
    else:
        h = h if exact else sym_hessian(theta)
        converged, message = assess_convergence(grad, h, tol)
        if not converged:
            message = f"iteration limit ({max_iter}) reached; " + _limit_reason(start_value, log, message)
    return OptimizationResult(theta, value, grad, h, converged, iterations, message,
                              time.perf_counter() - start, log)


_QUASI_SWITCH = 1e-4  # Newton decrement (of the approximate Hessian) below which the exact Hessian takes over


def _curvature_now(quasi_newton: bool, sym_hessian, theta, grad, h, exact: bool):
    """(Hessian at theta, whether it is exact, the start of a BFGS update for the next step or None): the exact
    Hessian is computed anew when the approximate one is near the maximum (``_quasi_start``)."""
    base = _quasi_start(grad, h) if quasi_newton else None
    if base is None and not exact:
        h, exact = sym_hessian(theta), True
        base = _quasi_start(grad, h) if quasi_newton else None
    return h, exact, base


def _next_hessian(base, grad, sym_hessian):
    """(theta, step, gradient) -> the Hessian after a step: the BFGS update of ``base`` when given, else exact."""
    if base is None:
        return lambda new_theta, step, new_grad: sym_hessian(new_theta)
    return lambda new_theta, step, new_grad: bfgs_update(base, step, new_grad - grad)


def _quasi_start(grad: np.ndarray, h: np.ndarray) -> np.ndarray | None:
    """The Hessian a BFGS update may start from, or None when the exact Hessian should be used next: h with the
    eigenvalues of -D h D (D the ``jacobi_scales``) floored as in ``newton_step`` (so negative definite; the step
    from it is the step from h), when its Newton decrement g'(-h)^{-1}g is above ``_QUASI_SWITCH`` (far from the
    maximum)."""
    if grad.size == 0 or not (np.all(np.isfinite(grad)) and np.all(np.isfinite(h))):
        return None
    d = jacobi_scales(h)
    try:
        modified, vectors = _floored_eigen(h, d)
    except np.linalg.LinAlgError:
        return None
    z = vectors.T @ (d * grad)
    if float(z @ (z / modified)) <= _QUASI_SWITCH:
        return None
    return -((vectors * modified) @ vectors.T) / np.outer(d, d)


def bfgs_update(h: np.ndarray, step: np.ndarray, grad_change: np.ndarray) -> np.ndarray:
    """The BFGS update of the negative definite approximate Hessian h of a maximised function after the step s with
    gradient change y: with A = -h and r = -y, A+ = A - A s s'A / (s'A s) + r r' / (r's) (positive definite when
    A is and r's > 0); h itself when the curvature condition r's > 0 fails."""
    A, r = -h, -grad_change
    As = A @ step
    sAs, rs = float(step @ As), float(r @ step)
    if not (sAs > 0 and rs > 1e-12 * np.linalg.norm(r) * np.linalg.norm(step)):
        return h
    return -(A - np.outer(As, As) / sAs + np.outer(r, r) / rs)


def _on_host(value_and_grad, hessian):
    """(theta -> (value, gradient) as host floats, theta -> symmetrised Hessian) from the device functions."""

    def evaluate(theta):
        value, grad = value_and_grad(theta)
        return float(value), np.asarray(grad, dtype=float)

    def sym_hessian(theta):
        h = np.asarray(hessian(theta), dtype=float)
        return 0.5 * (h + h.T)

    return evaluate, sym_hessian


def _stalled(log: list, value: float) -> bool:
    """The last _STALL iterations raised the log-likelihood by less than 1e-10 relative."""
    return len(log) > _STALL and value - log[-1 - _STALL]["loglik"] < 1e-10 * max(1.0, abs(value))


def _entry(iteration: int, value: float, grad, step, start: float, **extra) -> dict:
    """One line of the fit log."""
    return dict(iteration=iteration, loglik=value, max_abs_gradient=float(np.abs(grad).max()),
                step=float(np.linalg.norm(step)), seconds=time.perf_counter() - start, **extra)


def _accepted_step(evaluate, next_hessian, theta, value, grad, h, radius):
    """(step, predicted increase, value, gradient and Hessian after it, trust radius) of the first trust-region step
    that keeps the log-likelihood (within rounding) at a finite, twice differentiable point, the radius shrunk after
    each failure; None after 60 failures. ``next_hessian(theta, step, gradient)``: the (exact or updated) Hessian
    at the new point."""
    for _ in range(60):
        step, predicted = newton_step(grad, h, radius)
        new_value, new_grad = evaluate(theta + step)
        if np.isfinite(new_value) and np.all(np.isfinite(new_grad)) \
                and new_value - value >= -1e-12 * max(1.0, abs(value)):
            new_h = next_hessian(theta + step, step, new_grad)
            if np.all(np.isfinite(new_h)):  # (a point whose curvature is not finite is no place to go on from)
                return step, predicted, new_value, new_grad, new_h, radius
        radius = 0.25 * np.linalg.norm(step)
    return None


def _new_radius(radius: float, agreement: float, length: float) -> float:
    """The trust radius after a step of ``length`` whose actual/predicted increase is ``agreement``: doubled after
    good agreement at the boundary, a quarter of the step after poor agreement."""
    if agreement > 0.75 and length >= 0.99 * radius:
        return radius * 2.0
    if agreement < 0.25:
        return 0.25 * length
    return radius


def _limit_reason(start_value: float, log: list, message: str) -> str:
    """Why the iterations had not finished at the limit: still rising (give more iterations) or the verdict at the
    last point. A log-likelihood that still rises says nothing about identification."""
    values = [start_value] + [entry["loglik"] for entry in log]
    recent = values[-min(len(values), _STALL + 1):]
    gain = recent[-1] - recent[0]
    if len(recent) > 1 and gain > 1e-6:
        return (f"the log-likelihood was still rising (by {gain:.3g} over the last {len(recent) - 1} iterations): "
                "raise max_iter= or give better start values")
    return message


_POLISHED = 1e-20  # Newton decrement below which another step changes nothing representable


def _polish(evaluate, theta, value, grad, h):
    """(theta, value, gradient) after the full Newton step theta - H^{-1} g from a converged point, or None when
    the step is negligible or does not keep the log-likelihood (within rounding)."""
    try:
        step = np.linalg.solve(-h, grad)
    except np.linalg.LinAlgError:
        return None
    if not float(grad @ step) > _POLISHED:
        return None
    new_value, new_grad = evaluate(theta + step)
    if not (np.isfinite(new_value) and np.all(np.isfinite(new_grad))) or new_value < value - 1e-12 * max(1.0, abs(value)):
        return None
    return theta + step, new_value, new_grad
