"""Profile-likelihood confidence intervals (lme4's confint(method="profile")).

For a parameter psi = psi(theta) (a reported parameter, or an SD or correlation of variance components) the
profile log-likelihood is l_p(c) = max { l(theta) : psi(theta) = c }, and with the signed root

    z(c) = sign(c - psi_hat) sqrt(2 (l(theta_hat) - l_p(c)))

the interval at level 1 - alpha is { c : |z(c)| <= z_(1 - alpha/2) }: its ends are the roots of z(c) = -+z_(1-alpha/2),
found by the secant method (regula falsi once bracketed) to |Delta c| < 1e-6 (1 + |c|). Each l_p(c) is maximised by
Newton's method on the Lagrange conditions g(theta) = lambda grad psi, psi(theta) = c, with the exact Hessian of l
and of psi, warm-started from the previous point of the same end. A variance or SD whose profile stays above the
critical value down to 0 has lower end 0 (a correlation: -1 or 1), as lme4 reports.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import GllammError, check_level

IDENTITY, SQUARE_ROOT, CORRELATION = 0, 1, 2


def _targets(names: list[str], sd: bool) -> list[tuple[str, int, int, int, int]]:
    """(name, kind, i, j, k) per interval: the reported parameter i itself, or (sd=True) sqrt of a variance i, and the
    correlation cov_i / sqrt(var_j var_k) in place of a covariance whose variances are reported."""
    index = {name: i for i, name in enumerate(names)}
    out = []
    for i, name in enumerate(names):
        if sd and name.startswith("var("):
            out.append((f"sd({name[4:]}", SQUARE_ROOT, i, i, i))
        elif sd and name.startswith("cov(") and "|" in name:
            pair, group = name[4:-1].split("|")
            first, second = pair.split(",", 1)
            j, k = index.get(f"var({first}|{group})"), index.get(f"var({second}|{group})")
            out.append((f"cor({name[4:]}", CORRELATION, i, j, k) if j is not None and k is not None
                       else (name, IDENTITY, i, i, i))
        else:
            out.append((name, IDENTITY, i, i, i))
    return out


def _psi_programs(table):
    """Jitted (theta, target) -> psi, its gradient and its Hessian in theta."""
    import jax
    import jax.numpy as jnp

    def psi(theta, target):
        values = table.reported(theta)
        kind, i, j, k = target[0], target[1], target[2], target[3]
        correlation = values[i] / jnp.sqrt(jnp.abs(values[j] * values[k]))
        return jnp.where(kind == IDENTITY, values[i],
                         jnp.where(kind == SQUARE_ROOT, jnp.sqrt(jnp.abs(values[i])), correlation))

    return jax.jit(psi), jax.jit(jax.grad(psi)), jax.jit(jax.hessian(psi))


class _Likelihood:
    """log L, gradient and Hessian over the free parameters phi (theta = offset + M phi) of a fitted model."""

    def __init__(self, result):
        from ..estimate.iterations import _Modes, fitting_arrays
        from ..estimate.priors import prior_penalty
        from ..optimize.shared_programs import SharedPrograms
        from ..spec.constraints import build_constraints

        table, integration = result.table_spec, result.integration
        self.constraints = build_constraints(table, result.options.get("fix"), result.options.get("equal"))
        self.objective = SharedPrograms(table, integration)
        self.data = fitting_arrays(result.design, integration)
        self.modes = _Modes(self.objective, self.data, bool(table.spec.levels) and integration.needs_modes, False)
        self.psi, self.psi_grad, self.psi_hessian = _psi_programs(table)
        self.penalty = prior_penalty(result.options.get("priors"), table)  # a MAP fit: the log posterior's profile

    def theta(self, phi):
        return self.constraints.theta(phi)

    def value(self, phi) -> float:
        """log L (plus the log prior of a MAP fit) at phi (no derivatives: the step checks)."""
        theta = self.theta(phi)
        value = float(self.objective.value(theta, self.data, self.modes(theta)))
        return value + (0.0 if self.penalty is None else self.penalty.value(theta))

    def derivatives(self, phi):
        theta = self.theta(phi)
        M = self.constraints.matrix
        modes = self.modes(theta)
        value, grad = self.objective.value_and_grad(theta, self.data, modes)
        value, grad = float(value), np.asarray(grad)
        hessian = M.T @ np.asarray(self.objective.hessian(theta, self.data, modes, M))
        if self.penalty is not None:
            prior, prior_grad, prior_hessian = self.penalty(theta)
            value, grad, hessian = value + prior, grad + prior_grad, hessian + M.T @ prior_hessian @ M
        return value, M.T @ grad, 0.5 * (hessian + hessian.T)

    def constraint(self, phi, target):
        theta, M = self.theta(phi), self.constraints.matrix
        return (float(self.psi(theta, target)), M.T @ np.asarray(self.psi_grad(theta, target)),
                M.T @ np.asarray(self.psi_hessian(theta, target)) @ M)


def _constrained_maximum(likelihood: _Likelihood, target, c: float, phi, lam: float, max_iter: int = 40):
    """(l_p(c), phi, lambda): Newton's method on g - lambda j = 0, psi - c = 0 from (phi, lambda), each step halved
    while it makes log L not finite."""
    for _ in range(max_iter):
        value, g, H = likelihood.derivatives(phi)
        psi, j, Q = likelihood.constraint(phi, target)
        n = len(phi)
        K = np.zeros((n + 1, n + 1))
        K[:n, :n], K[:n, n], K[n, :n] = H - lam * Q, -j, j
        residual = np.concatenate([g - lam * j, [psi - c]])
        step = np.linalg.lstsq(K, -residual, rcond=None)[0]
        decrement = abs(step[:n] @ (g - lam * j)) + abs(psi - c) / (1.0 + abs(c))
        scale = 1.0
        while scale > 1e-6 and not np.isfinite(likelihood.value(phi + scale * step[:n])):
            scale /= 2
        phi, lam = phi + scale * step[:n], lam + scale * step[n]
        if decrement < 1e-10:
            break
    return likelihood.value(phi), phi, lam


def _end(likelihood, target, estimate: float, se: float, peak: float, phi_hat, quantile: float, sign: int,
         limits: tuple[float, float]) -> float:
    """One end of the interval: the root of z(c) = sign * quantile beyond the estimate."""
    phi, lam = phi_hat.copy(), 0.0

    def z(c):
        nonlocal phi, lam
        value, phi_new, lam_new = _constrained_maximum(likelihood, target, c, phi, lam)
        if np.isfinite(value):
            phi, lam = phi_new, lam_new
        return sign * np.sqrt(max(2.0 * (peak - value), 0.0)) if np.isfinite(value) else sign * np.inf

    lower_limit, upper_limit = limits
    inside = (estimate, 0.0)
    step = quantile * (se if np.isfinite(se) and se > 0 else max(abs(estimate), 1.0) * 0.1)
    c = estimate + sign * step
    outside = None
    for _ in range(60):
        if c <= lower_limit or c >= upper_limit:  # the profile may stay below the critical value up to the limit
            edge = lower_limit if c <= lower_limit else upper_limit
            near = edge + (1e-8 * max(abs(estimate), 1.0)) * (1 if edge == lower_limit else -1)
            if abs(z(near)) < quantile:
                return edge
            c = near
        value = z(c)
        if abs(value) >= quantile:
            outside = (c, value)
            break
        inside = (c, value)
        slope = (value - 0.0) / (c - estimate) if c != estimate else 1.0
        c = c + max(min((sign * quantile - value) / slope, 4 * step), -4 * step) * 1.1 if slope else c + sign * step
    if outside is None:
        raise GllammError(f"The profile of {target} did not reach the critical value; the likelihood is flat there.")
    for _ in range(100):  # regula falsi (Illinois) between inside and outside
        (c0, z0), (c1, z1) = inside, outside
        c = c1 - (z1 - sign * quantile) * (c1 - c0) / (z1 - z0)
        value = z(c)
        if abs(value) < quantile:
            inside = (c, value)
        else:
            outside = (c, value)
        if abs(outside[0] - inside[0]) < 1e-6 * (1 + abs(c)) or abs(abs(value) - quantile) < 1e-9:
            return c
    return c


def profile_intervals(result, level: float = 0.95, sd: bool = False) -> pd.DataFrame:
    """Profile-likelihood intervals (lower, upper) of every reported parameter, or with ``sd=True`` of the SDs and
    correlations of the variance components in place of variances and covariances (as lme4 prints them)."""
    from scipy import stats
    check_level(level)
    if not result.converged:
        raise GllammError("Profile intervals need a converged fit (the profile starts at the maximum); "
                          f"this fit did not converge: {result.message}")
    quantile = float(stats.norm.ppf(0.5 + level / 2))
    likelihood = _Likelihood(result)
    phi_hat = likelihood.constraints.phi(np.asarray(result.theta))
    peak, _, hessian = likelihood.derivatives(phi_hat)
    names = list(result.params.index)
    fixed = set((result.options.get("fix") or {}).keys())
    rows = {}
    for name, kind, i, j, k in _targets(names, sd):
        if names[i] in fixed:
            rows[name] = (np.nan, np.nan)
            continue
        target = np.array([kind, i, j, k])
        estimate = likelihood.constraint(phi_hat, target)[0]
        se = _delta_se(likelihood, phi_hat, target, hessian)
        limits = _limits(names[i], kind)
        rows[name] = tuple(_end(likelihood, target, estimate, se, peak, phi_hat, quantile, sign, limits)
                           for sign in (-1, 1))
    return pd.DataFrame(rows, index=["lower", "upper"]).T


def _delta_se(likelihood, phi_hat, target, hessian) -> float:
    """The delta-method SE of psi at the estimates, sqrt(j' (-H)^-1 j): the first step of the search for an end."""
    _, j, _ = likelihood.constraint(phi_hat, target)
    try:
        return float(np.sqrt(max(j @ np.linalg.solve(-hessian, j), 0.0)))
    except np.linalg.LinAlgError:
        return np.nan


def _limits(name: str, kind: int) -> tuple[float, float]:
    """Where the parameter's space ends: variances and SDs at 0, correlations at -+1."""
    if kind == CORRELATION:
        return -1.0, 1.0
    left, tilde, right = name.partition("~~")
    variance = name.startswith("var(") or (tilde and left.strip() == right.strip()) or kind == SQUARE_ROOT
    return (0.0, np.inf) if variance else (-np.inf, np.inf)
