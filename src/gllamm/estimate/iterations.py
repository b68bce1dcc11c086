"""The Newton iterations of a fit: the arrays they run on, the programs they load, their layout over devices,
and the maximisation over the free parameters (with Fisher scoring first for linear Gaussian models)."""

from __future__ import annotations

from dataclasses import replace

import jax
import numpy as np

from ..integrate.equal_clusters import collapse_equal_clusters
from ..integrate.shared_gaussian import PATTERN_SCATTER, collapse_identical_clusters
from ..integrate.two_level_gaussian import mark_two_level
from ..objective_programs import make_objective, nodes_per_row, settled_modes
from ..optimize import OptimizationResult, maximize
from ..optimize.quadrature_check import finer, needs_check
from ..optimize.shared_programs import SharedPrograms
from ..parallel import PartitionedObjective, all_finite, check_same_model, make_layout, sum_over_processes
from ..spec.constraints import Constraints


def distinct_clusters(fit_data: dict | None, design) -> dict:
    """{"distinct_clusters": n} when the iterations ran on n < all clusters (equal ones fitted as one), else {}."""
    if fit_data is None or fit_data["cluster_weight"].shape[0] == design.data()["cluster_weight"].shape[0]:
        return {}
    return {"distinct_clusters": int(fit_data["cluster_weight"].shape[0])}


def fitting_arrays(design, integration) -> dict:
    """The arrays the iterations run on: with exact integration, groups of clusters identical but for their
    responses collapsed into one each (``collapse_identical_clusters``: same likelihood, less work), or at two
    levels the closed form of units of one shape (``mark_two_level``); otherwise clusters equal in everything,
    responses included, fitted as one with their summed weight (``collapse_equal_clusters``)."""
    data = design.data()
    if integration.method == "exact" and "parent" in data:
        collapsed = mark_two_level(data)  # (two-level SEM on complete data: the closed form)
    elif integration.method == "exact":
        collapsed = collapse_identical_clusters(data)
    else:
        collapsed = collapse_equal_clusters(data)
    return data if collapsed is None else collapsed


_JOINT_WORK = 400  # groups x parameters up to which the Hessian is computed with every gradient


def joint_derivatives(data: dict, n_params: int) -> bool:
    """Whether the iterations take value, gradient and Hessian from one program (``value_grad_hessian``), so that
    one stored program is loaded instead of two: for clusters collapsed into a few groups
    (``collapse_identical_clusters``), whose Hessian costs little more than their gradient. (A 9-item CFA's
    one group: 0.5-1 ms a call against 0.3-0.7 ms for value and gradient alone; 11 groups of a 31-parameter
    SEM: 2.2 against 0.8 ms; 74 groups: 13 against 0.7 ms, at each of the 8 or so Fisher scoring steps.)"""
    return PATTERN_SCATTER in data and data["cluster_weight"].shape[0] * n_params <= _JOINT_WORK


def prefetch_programs(table, integration, design, constraints, fisher_scoring: bool, data: dict) -> None:
    """Load (or compile) the programs of the iterations and of the quadrature check in the background while
    start values are found."""
    objective = SharedPrograms(table, integration)
    theta = np.zeros(constraints.matrix.shape[0])
    scoring = ()
    if fisher_scoring:
        from ..results.information import information_call

        scoring = (information_call(table, design, theta),)
    objective.prefetch(theta, data, objective.mode_start(data), constraints.matrix, before_hessian=scoring,
                       joint=joint_derivatives(data, len(theta)))
    if needs_check(integration, table.spec):  # the quadrature check after the fit: a finer rule's log L
        SharedPrograms(table, finer(integration, table.spec)).prefetch_value(theta, data)


def layout_for(table, integration, design, devices, chunk_size, top_keys=()):
    """The parts-of-clusters layout of a fit (None: all on one device in one piece)."""
    layout = make_layout(design, nodes_per_row(table, integration), devices, chunk_size, top_keys)
    if jax.process_count() > 1:
        check_same_model(repr((table, integration)))
    return layout


def layout_options(layout, design, spec, chunk_size) -> dict:
    """What a result records of its layout; with several processes the counts of all processes' data."""
    options = {} if chunk_size is None else dict(chunk_size=int(chunk_size))
    if layout is not None:
        options.update(devices=layout.n_devices, parts=layout.n_parts, processes=jax.process_count())
        if layout.multi_process:  # this process holds only its own clusters
            options.update(nobs=int(sum_over_processes(design.n_obs)),
                           groups={name: int(sum_over_processes(n)) for name, n in _groups(spec, design).items()})
    return options


def _groups(spec, design) -> dict:
    """Units per level of this design (this process's share with several processes)."""
    if design.level_units:
        return dict(design.level_units)
    return {level.name: design.n_clusters for level in spec.levels}


def summed_expected_information(table, design, theta) -> np.ndarray:
    """Fisher information of a Gaussian identity-link model, summed over the processes' clusters."""
    from ..results.information import expected_information

    return sum_over_processes(expected_information(table, design, theta))


_SCORING_TOL = 1e-2  # Newton decrement at which Fisher scoring hands over to Newton


class _Modes:
    """theta -> the adaptive quadrature's modes (or adaptation state) at theta, warm-started from the last theta's
    and computed once per theta; from zero modes again if the warm start fails. ``settle``: adapt until the rule
    settles (an evaluation at given parameters; the iterations of a fit otherwise carry the adaptation on)."""

    def __init__(self, objective, data, needed: bool, settle: bool):
        self.objective, self.data, self.needed, self.settle = objective, data, needed, settle
        self.key, self.modes = None, objective.mode_start(data)

    def __call__(self, theta):
        if not self.needed:
            return self.modes
        key = theta.tobytes()
        if self.key != key:
            objective, data = self.objective, self.data
            modes = objective.modes(theta, data, self.modes)
            if not all_finite(modes):
                modes = objective.modes(theta, data, objective.mode_start(data))
            if self.settle:
                modes = settled_modes(objective, theta, data, modes)
            self.key, self.modes = key, modes
        return self.modes


def maximize_likelihood(table, integration, design, theta0, max_iter, tol, verbose, constraints=None,
              fisher_scoring: bool = False, layout=None, data: dict | None = None, penalty=None) -> OptimizationResult:
    """Maximise over the free parameters phi (theta = offset + M phi); returns theta-scale estimates.

    Far from the maximum the Hessian is a BFGS update (``maximize``'s quasi_newton) where the exact one is a program
    of its own and the likelihood one function of theta: not where the adaptive rule moves with the iterations (the
    gradients' changes would mix the two), nor for discrete latent variables (their first exact steps keep the fit
    near the start's optimum).

    With fisher_scoring (Gaussian identity-link models) the iterations use the expected
    information, which is cheaper than the Hessian; convergence is then confirmed with the
    exact Hessian (and Newton takes over if it is not). ``data``: the arrays the likelihood is
    computed from (default the design's; see ``fitting_arrays``). ``penalty``: a log prior (``priors.PriorPenalty``)
    added to the objective (MAP); the result's ``loglik`` is then the log-likelihood at the MAP estimates, its
    gradient and Hessian those of the log posterior.
    """
    data = design.data() if data is None else data
    if layout is not None:  # parts of clusters, scanned on each device, devices summed
        objective, data = PartitionedObjective(make_objective(table, integration), layout), layout.data(design)
    else:  # the programs of every formula of this kind (optimize/shared_programs.py)
        objective = SharedPrograms(table, integration)
    modes_at = _Modes(objective, data, bool(table.spec.levels) and integration.needs_modes, settle=max_iter == 0)

    if constraints is None:
        constraints = Constraints(np.eye(len(theta0)), np.zeros(len(theta0)))
    M = constraints.matrix

    last_hessian = {}  # the scoring phase's final Hessian is Newton's first
    joint = layout is None and joint_derivatives(data, len(theta0))

    def keep_hessian(phi, H):
        last_hessian.clear()
        if penalty is not None:
            H = H + M.T @ penalty(constraints.theta(phi))[2] @ M
        last_hessian[phi.tobytes()] = 0.5 * (H + H.T)

    def value_and_grad(phi):
        theta = constraints.theta(phi)
        if joint:  # the Hessian comes with the gradient
            value, grad, H = objective.value_grad_hessian(theta, data, modes_at(theta))
            keep_hessian(phi, M.T @ np.asarray(H) @ M)
        else:
            value, grad = objective.value_and_grad(theta, data, modes_at(theta))
        if penalty is not None:
            prior, prior_grad, _ = penalty(theta)
            value, grad = value + prior, np.asarray(grad) + prior_grad
        return value, M.T @ np.asarray(grad)

    def hessian(phi):
        if phi.tobytes() not in last_hessian:
            if joint:
                value_and_grad(phi)
            else:  # M' H M from the k products H M
                theta = constraints.theta(phi)
                keep_hessian(phi, M.T @ np.asarray(objective.hessian(theta, data, modes_at(theta), M)))
        return last_hessian[phi.tobytes()]

    phi0 = constraints.phi(theta0)
    if fisher_scoring and max_iter > 0:
        def curvature(phi):
            theta = constraints.theta(phi)
            prior_curvature = 0.0 if penalty is None else M.T @ penalty(theta)[2] @ M
            return -(M.T @ summed_expected_information(table, design, theta) @ M) + prior_curvature

        # scoring converges only linearly when the model does not fit (expected != observed information):
        # score while the steps are large, then let Newton finish quadratically
        scored = maximize(value_and_grad, curvature, phi0, max_iter=min(max_iter, 20),
                          tol=max(tol, _SCORING_TOL), verbose=verbose)
        phi0 = scored.theta  # Newton finishes from there (with its final step, at least one)
    result = maximize(value_and_grad, hessian, phi0, max_iter=max_iter, tol=tol, verbose=verbose,
                      quasi_newton=not joint and not modes_at.needed and table.spec.discrete_level is None)
    theta = constraints.theta(result.theta)
    loglik = result.loglik if penalty is None else result.loglik - penalty.value(theta)
    return replace(result, theta=theta, loglik=loglik)


def constrained_start(constraints, theta0, fix, equal):
    """Start values moved onto the constraints: equal parameters at their mean, fixed ones at their values."""
    theta0 = constraints.theta(constraints.phi(theta0)) if (fix or equal) else theta0
    if fix:
        theta0 = np.where(constraints.matrix.sum(axis=1) == 0, constraints.offset, theta0)
    return theta0
