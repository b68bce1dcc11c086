"""The jitted programs of a model: ``make_objective(table, integration)`` -> ``Objective``, the log-likelihood, its
gradient and Hessian, the per-cluster modes and the posterior summaries, each a ``CachedFunction`` (compiled once per
model structure and argument shapes, kept on disk between processes). The functions they compile are in
objective.py; ``data`` is always an argument, never closed over, so one compilation serves every iteration.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np

from .integrate import Integration, find_modes, posterior_mode_curvature, posterior_moments
from .integrate.nested import nested_posterior
from .integrate.nested_laplace import joint_posterior
from .integrate.rules import rule_of
from .objective import (_nested_parts, class_probabilities, cluster_logliks, cluster_model, conditional_log_densities,
                        latent_posterior, level_key, loglik, modes, outer_posterior, within_class_posterior)
from .runtime.compiled_cache import CachedFunction
from .spec import ParameterTable


@dataclass(frozen=True)
class Objective:
    """Jitted log-likelihood functions for one model structure and integration strategy."""

    table: ParameterTable
    integration: Integration
    modes: callable  # (theta, data, start) -> modes
    value: callable  # (theta, data, modes) -> log L
    value_and_grad: callable
    hessian: callable
    value_grad_hessian: callable  # (theta, data, modes) -> (log L, gradient, Hessian), one program
    cluster_values: callable
    reported: callable  # theta -> (reported parameters, d reported / d theta)
    cluster_scores: callable  # (theta, data, modes) -> d log L_c / d theta, (clusters, params)
    posterior: callable  # (theta, data, modes) -> standardised posterior means, covariances
    latent_posterior: callable  # (theta, data, modes) -> posterior means, covariances of eta (by quadrature)
    posterior_modes: callable  # (theta, data, modes) -> modes and inverse curvature
    conditional_ml: callable  # (theta, data, start) -> ML estimates of u per cluster and inverse curvature
    nested_posterior: callable  # (theta, data, state) -> [(means, covariances) of u per level], level 2 first
    class_probabilities: callable  # (theta, data, modes) -> posterior class probabilities (clusters, C)
    outer_posterior: callable  # (theta, data, modes) -> posterior moments of a normal level over classes
    within_class_posterior: callable  # (theta, data, modes) -> posterior moments of continuous u within classes
    conditional_log_densities: callable  # (theta, data, points) -> log f(y_j | eta = e) (clusters, n)

    def prefetch(self, theta, data, modes, directions, before_hessian=(), joint: bool = False) -> None:
        """Start loading, in the background, the stored programs of the iterations, or compiling those not
        stored yet, so that loading and compiling overlap the work before their first call (and each other):
        modes, value and gradient, the CachedFunction calls
        ``before_hessian`` ((function, args), e.g. Fisher scoring's expected information), in the order of first
        use; the Hessian, the largest, starts first when Newton needs it from the first iteration (none of
        ``before_hessian``) and last otherwise; the reported parameters' at the end. ``joint``: the iterations
        use ``value_grad_hessian`` (first) instead of the value-and-gradient and Hessian programs."""
        calls = [(self.modes, (theta, data, modes))] if self.integration.needs_modes else []
        if joint:
            calls += [(self.value_grad_hessian, (theta, data, modes)), *before_hessian]
        else:
            hessian = (self.hessian, (theta, data, modes, directions))
            calls += [(self.value_and_grad, (theta, data, modes)), *before_hessian]
            calls = calls + [hessian] if before_hessian else [hessian] + calls
        for function, args in calls + [(self.reported, (theta,))]:
            function.prefetch(*args, compile_missing=True)

    def prefetch_value(self, theta, data, gradient: bool = False) -> None:
        """Start loading or compiling, in the background, the programs of one log-likelihood evaluation: the
        modes (where the rule needs them) and the value (e.g. the quadrature check's finer rule), or with
        ``gradient`` the value-and-gradient program that gives it."""
        modes = self.mode_start(data)
        calls = [(self.modes, (theta, data, modes))] if self.integration.needs_modes else []
        for function, args in calls + [(self.value_and_grad if gradient else self.value, (theta, data, modes))]:
            function.prefetch(*args, compile_missing=True)

    def mode_start(self, data):
        """Starting modes: zeros; for nested levels every higher level's location/scale and the level-2 modes.

        Placed on the device like the modes the jitted functions return: a host array would be an
        uncommitted argument, and the first call would compile a second program for the later calls."""
        return jax.device_put(self._zero_modes(data), jax.local_devices()[0])

    def _zero_modes(self, data):
        levels = self.table.spec.levels
        if self.table.spec.crossed:  # all effects of all factors jointly
            return np.zeros(sum(data[f"crossed_units{k}"].shape[0] * level.dim for k, level in enumerate(levels)))
        if self.integration.within_classes and self.table.spec.discrete_index == 1:
            return np.zeros((self.integration.classes * data["parent"].shape[0], levels[0].dim))
        if len(levels) >= 2:
            units = [data[level_key("parent", index)].shape[0] for index in range(1, len(levels))]
            units.append(data["cluster_weight"].shape[0])
            if self.integration.joint_mode:  # joint modes (u2, u3, ...)
                return tuple(np.zeros((n, level.dim)) for n, level in zip(units, levels))
            return _nested_start(units, [level.dim for level in levels], self.integration)
        q = sum(level.dim for level in levels)
        return np.zeros((data["cluster_weight"].shape[0], q))


def _nested_start(units, dims, integration: Integration, copies: int = 1):
    """Zero adaptation state of nested quadrature: (location 0, scale I, state below) from the top level down,
    the units of every lower level copied once per node of the levels above; level-2 modes at the bottom."""
    if len(units) == 1:
        return np.zeros((copies * units[0], dims[0]))
    n, q = copies * units[-1], dims[-1]
    below = _nested_start(units[:-1], dims[:-1], integration, copies * rule_of(integration, q).size)
    return np.zeros((n, q)), np.broadcast_to(np.eye(q), (n, q, q)).copy(), below


def _conditional_ml(table, theta, data, start):
    """Per-cluster maximisers eta_j of the conditional log-likelihood (no prior) and their inverse curvature."""
    model = replace(cluster_model(table, theta, data, standardized=False), prior=0.0)
    u = find_modes(model, start, max_iter=200)
    return posterior_mode_curvature(model, u)


def settled_modes(objective, theta, data, modes, rounds: int = 20):
    """Repeat the (warm-started) adaptation while its state still moves: a first evaluation far from the
    start values (e.g. start= with max_iter=0, or post-estimation from zero modes) must not use a
    half-adapted quadrature rule."""
    for _ in range(rounds):
        again = objective.modes(theta, data, modes)
        change = max(float(jnp.max(jnp.abs(a - b))) for a, b in zip(jax.tree_util.tree_leaves(again),
                                                                    jax.tree_util.tree_leaves(modes)))
        modes = again
        if not change > 1e-8:
            break
    return modes


_HESSIAN_BUDGET = 4_000_000  # rows x quadrature nodes x tangents evaluated together in the Hessian


def _loglik_for_second_derivatives(table: ParameterTable, integration: Integration):
    """(theta, data, modes) -> log L with the mode-finding Newton steps the Hessian needs: one already gives the
    exact mode of a quadratic (Gaussian) integrand, two otherwise."""

    def f2(theta, data, m):
        return loglik(table, integration, theta, data, m, newton_steps=1 if integration.method == "exact" else 2)

    return f2


def hessian_function(table: ParameterTable, integration: Integration):
    """(theta, data, modes, directions=None) -> Hessian H of log L, or H D for the columns of ``directions`` D.

    With constraints theta = offset + D phi only the k free directions are needed
    (D' H D is the Hessian in phi). The products (forward over reverse) run in
    batches of tangents: all at once (as jax.hessian does) would hold k copies of
    every (rows x nodes) intermediate; batches keep the peak memory near a budget.
    """

    grad = jax.grad(_loglik_for_second_derivatives(table, integration))
    nodes = nodes_per_row(table, integration)

    def hessian(theta, data, m, directions=None):
        if directions is None:
            directions = jnp.eye(theta.shape[0], dtype=theta.dtype)
        k = directions.shape[1]
        batch = int(max(1, min(k, _HESSIAN_BUDGET // max(1, data["y"].size * nodes))))

        def product(v):
            return jax.jvp(lambda t: grad(t, data, m), (theta,), (v,))[1]

        return jax.lax.map(product, directions.T, batch_size=batch).T  # (n_theta, k)

    return hessian


def value_grad_hessian_function(table: ParameterTable, integration: Integration):
    """(theta, data, modes) -> (log L, gradient, Hessian) from one program: forward-mode derivatives of the
    gradient, with the value and gradient computed once alongside. Its program is the size of the Hessian's
    alone, so where the Hessian costs about what the gradient does (Gaussian clusters collapsed into their
    groups' moments) the iterations load one stored program instead of two."""

    value_and_grad = jax.value_and_grad(_loglik_for_second_derivatives(table, integration))

    def value_grad_hessian(theta, data, m):
        def gradient_and_value(t):
            value, grad = value_and_grad(t, data, m)
            return grad, (value, grad)

        hessian, (value, grad) = jax.jacfwd(gradient_and_value, has_aux=True)(theta)
        return value, grad, hessian

    return value_grad_hessian


def nodes_per_row(table: ParameterTable, integration: Integration) -> int:
    """Quadrature nodes (integrand evaluations) per data row: the memory and work multiplier."""
    single = integration.method in ("laplace", "exact", "none")
    if integration.method == "discrete":
        return integration.nip
    if integration.within_classes:
        continuous = next(level for level in table.spec.levels if not level.discrete)
        return integration.classes * (1 if single else rule_of(integration, continuous.dim).size)
    if single:
        return 1
    return int(np.prod([rule_of(integration, level.dim).size for level in table.spec.levels]))


def _mode_rule(table: ParameterTable, integration: Integration) -> Integration:
    """The rule the modes program is keyed by: at one level of continuous latent variables the modes of g_c do
    not depend on the quadrature rule, so adaptive quadrature with any number of points, its finer check rule
    and Laplace share one modes program (``Integration("adaptive", 0)``)."""
    spec = table.spec
    single = len(spec.levels) == 1 and not spec.crossed and not integration.within_classes \
        and spec.discrete_level is None
    if single and integration.method in ("adaptive", "laplace", "ghq") and not integration.reml:
        return Integration("adaptive", 0)
    return integration


@lru_cache(maxsize=64)
def _modes_program(table: ParameterTable, rule: Integration):
    """The jitted per-cluster modes (theta, data, start) -> modes, once per structure and ``_mode_rule``."""

    def mode_fn(theta, data, start):
        return modes(table, rule, theta, data, start)

    return CachedFunction("modes", jax.jit(mode_fn), repr((table, rule)))


@lru_cache(maxsize=64)
def reported_program(table: ParameterTable):
    """The jitted theta -> (reported parameters, d reported / d theta), once per structure: it does not depend on
    the integration rule, so every rule's programs share it."""
    return CachedFunction("reported", jax.jit(lambda theta: (table.reported(theta), jax.jacfwd(table.reported)(theta))),
                          repr(table))


@lru_cache(maxsize=64)
def make_objective(table: ParameterTable, integration: Integration) -> Objective:
    """The compiled programs of one model structure (``table``) and integration rule (built once, cached): the
    log-likelihood log L(theta) = sum_j w_j log L_j(theta), its exact gradient and Hessian, the per-cluster modes
    and posterior summaries, as an ``Objective`` whose functions take (theta, data arrays, modes)."""

    def f(theta, data, m):
        return loglik(table, integration, theta, data, m)

    def per_cluster(theta, data, m):
        return cluster_logliks(table, integration, theta, data, m)

    structure = repr((table, integration))
    hessian = hessian_function(table, integration)

    def cached(name, function):
        return CachedFunction(name, jax.jit(function), structure)

    return Objective(
        table=table,
        integration=integration,
        modes=_modes_program(table, _mode_rule(table, integration)),
        value=cached("value", f),
        value_and_grad=cached("value_and_grad", jax.value_and_grad(f)),
        hessian=cached("hessian", hessian),
        value_grad_hessian=cached("value_grad_hessian", value_grad_hessian_function(table, integration)),
        cluster_values=cached("cluster_values", per_cluster),
        reported=reported_program(table),
        cluster_scores=cached("cluster_scores", jax.jacfwd(per_cluster)),
        posterior=cached("posterior", lambda theta, data, m: posterior_moments(
            cluster_model(table, theta, data), integration, m)),
        latent_posterior=cached("latent_posterior", lambda theta, data, m: latent_posterior(
            table, integration, theta, data, m)),
        posterior_modes=cached("posterior_modes", lambda theta, data, m: posterior_mode_curvature(
            cluster_model(table, theta, data), m)),
        conditional_ml=cached("conditional_ml", lambda theta, data, start: _conditional_ml(table, theta, data, start)),
        nested_posterior=cached("nested_posterior", lambda theta, data, state: (
            joint_posterior(*_nested_parts(table, theta, data), state) if integration.joint_mode
            else nested_posterior(*_nested_parts(table, theta, data), integration, state, data.get("unit_weight")))),
        class_probabilities=cached("class_probabilities", lambda theta, data, m: class_probabilities(
            table, integration, theta, data, m)),
        outer_posterior=cached("outer_posterior", lambda theta, data, m: outer_posterior(
            table, integration, theta, data, m)),
        within_class_posterior=cached("within_class_posterior", lambda theta, data, m: within_class_posterior(
            table, integration, theta, data, m)),
        conditional_log_densities=cached("conditional_log_densities", lambda theta, data, points:
                                         conditional_log_densities(table, theta, data, points)),
    )
