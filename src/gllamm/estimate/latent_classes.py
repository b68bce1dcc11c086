"""Fitting models with latent classes: random starts, a class-ordering rule, and NPML.

Mixture likelihoods are multimodal, so a model with C classes is maximised (trust-region
Newton, exact derivatives) from ``starts`` starting values: a deterministic one (locations
spread evenly, equal class sizes) and seeded random ones; the best is kept and all are
summarised in ``FitResult.starts``. Label switching: the classes of the chosen solution are
ordered by the location of the first latent variable, lowest first, for discrete random
effects (formula models), and by decreasing class size for latent class models (syntax);
never when classes are known for some clusters or named in constraints.

NPML (classes="npml"): starting from one mass point, the point e* maximising the Gateaux
derivative of the log-likelihood in the mixing distribution,

    D(e) = sum_j w_j [ f(y_j | e) / L_j - 1 ],

is added with a small mass and the model refitted, until D(e) <= tol everywhere on a grid
covering the locations (then no distribution puts mass where it would raise the likelihood:
the NPML estimate) or a new point does not raise the likelihood.
"""

from __future__ import annotations

import json
from dataclasses import replace

import jax
import numpy as np

from ..design.latent_classes import check_classes, discrete_model
from ..errors import ConvergenceWarning, GllammError, warn_user
from ..options import check_seed
from ..families.links import link_numpy
from ..integrate import Integration
from ..parallel import mean_over_processes, std_over_processes, sum_over_processes
from ..spec import ParameterTable
from ..results.gateaux import gateaux_derivative, gateaux_grid
from ..spec.class_parameters import class_parameters, set_segment
from ..design.exact_indicators import mark_zero_dispersions
from ..spec.constraints import build_constraints

_BOUNDARY = 12.0  # |location| beyond this on a logit/probit/log scale: a class probability or rate at 0 or 1


def with_classes(table: ParameterTable, theta, locations: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """theta with new class locations (C, q) and logits (C, n_v) (last row subtracted: the reference)."""
    level = table.spec.discrete_level
    logits = np.asarray(logits, float)
    logits = logits - logits[-1]
    theta = set_segment(table, theta, "class_logits", logits[:-1])
    values = [locations[c, k] for c, k in level.location_positions]
    return set_segment(table, theta, "locations", values)


def _base_start(spec, design, table, layout=None):
    """(fixed effects and log dispersions of the GLM start, theta with the continuous model's other starts)."""
    from .start_values import glm_start, start_values

    beta, _, log_disp, _ = glm_start(spec, design, False, layout)
    return beta, log_disp, start_values(spec, design, table, None, False, layout)


def _start(spec, design, table, rng, base) -> np.ndarray:
    """Starting theta: GLM fixed effects, locations spread over the classes, equal (or random) class sizes."""
    level = spec.discrete_level
    C, q = level.classes, level.dim
    beta, log_disp, base_theta = base
    spread = np.linspace(-1.5, 1.5, C) if C > 1 else np.zeros(1)
    if level.naming == "syntax":  # class-specific intercepts of every item, around the item's marginal mean
        E = np.zeros((C, q))
        for k, loading in enumerate(level.loading_list):
            rows = design.Z[:, loading.column] != 0
            family = spec.family.members[design.member[rows][0]] if spec.family.name == "mixed" else spec.family
            y = design.y[rows] / design.trials[rows]
            if family.name in ("binomial",):
                mean, scale = link_numpy(family.link.name, np.clip(mean_over_processes(y), 0.02, 0.98)), 1.0
            elif family.link.name == "identity":
                mean, scale = mean_over_processes(y), max(std_over_processes(y), 1e-6)
            else:
                mean, scale = link_numpy(family.link.name, max(mean_over_processes(y), 1e-3)), 0.5
            noise = spread if rng is None else rng.normal(0.0, 1.5, C)
            E[:, k] = mean + scale * noise
        if spec.dispersions and spec.family.name != "mixed" and design.dispersion_index is not None:
            within = [np.log(0.7 * max(std_over_processes(design.y[design.dispersion_index == d]), 1e-6))
                      for d in range(len(spec.dispersions))]
            base_theta = set_segment(table, base_theta, "dispersion", within)
    else:  # mass points spread over about +-1.5 residual SDs (Gaussian) or link-scale units
        residual = float(np.exp(np.mean(log_disp))) if spec.family.exact_gaussian and len(log_disp) else 1.0
        Z = design.Z_levels[spec.discrete_index] if design.Z_levels else design.Z
        spread_z = np.array([std_over_processes(Z[:, k]) for k in range(q)])
        spread_z = np.where(spread_z > 0, spread_z, 1.0)
        scale = residual / spread_z
        noise = spread[:, None] * np.ones((1, q)) if rng is None else rng.normal(0.0, 1.0, (C, q))
        E = noise * scale
        E = E - E.mean(axis=0)  # centred under equal class sizes
    logits = np.zeros((C, len(spec.class_covariates)))
    if rng is not None:
        logits[:, 0] = rng.normal(0.0, 0.5, C)
    pi = np.exp(logits[:, 0] - logits[-1, 0])
    pi = pi / pi.sum()
    E = E - np.where(np.asarray(level.centred), pi @ E, 0.0)  # centring under the start's class sizes
    theta = np.array(base_theta)
    theta[: len(beta)] = beta
    return with_classes(table, theta, E, logits)


def _order(table: ParameterTable, theta) -> np.ndarray:
    """theta with classes in the stated order (see module docstring)."""
    level = table.spec.discrete_level
    E, rho = class_parameters(table, theta)
    if level.naming == "syntax":
        pi = np.asarray(table.reference_probabilities(level, rho))
        order = np.argsort(-pi, kind="stable")
    else:
        order = np.argsort(E[:, 0], kind="stable")
    if np.array_equal(order, np.arange(len(order))):
        return np.asarray(theta)
    return with_classes(table, theta, E[order], rho[order])


def _diagnose(table, theta, objective_data, objective):
    """Messages about empty classes and boundary solutions."""
    level = table.spec.discrete_level
    E, rho = class_parameters(table, theta)
    modes = objective.modes(theta, objective_data, objective.mode_start(objective_data))
    posterior = np.asarray(objective.class_probabilities(theta, objective_data, modes))
    sizes = sum_over_processes(posterior.sum(axis=0))  # (all processes' clusters)
    notes = []
    empty = [c + 1 for c in range(level.classes) if sizes[c] < 0.5]
    if empty:
        notes.append(f"class {', '.join(map(str, empty))} is empty at the optimum (expected size "
                     f"{', '.join(f'{sizes[c - 1]:.2g}' for c in empty)} clusters): fit fewer classes")
    family = table.spec.family
    if family.name != "mixed" and family.link.name in ("logit", "probit", "cloglog", "log") and level.naming == "syntax":
        far = np.argwhere(np.abs(E) > _BOUNDARY)
        if len(far):
            c, k = far[0]
            notes.append(f"the solution is on a boundary: {level.location_name(c, k)} = {E[c, k]:.3g}, a class "
                         f"response {'probability' if family.name == 'binomial' else 'rate'} of "
                         f"{'0' if E[c, k] < 0 else ('1' if family.name == 'binomial' else 'infinity')} "
                         f"({len(far)} such locations); its SE is not meaningful")
    return notes


def class_request(classes) -> tuple[int | str, str | None]:
    """(number of classes or 'npml', the latent variable or level named) from classes=."""
    if isinstance(classes, dict):
        if len(classes) != 1:
            raise GllammError(f"classes= as a mapping names one latent variable or level, e.g. {{'C': 2}}; got {classes!r}.")
        (target, number), = classes.items()
        return check_classes(number), str(target)
    if isinstance(classes, str):
        if classes.lower() != "npml":
            raise GllammError(f"classes must be a number of classes or 'npml'; got {classes!r}.")
        return "npml", None
    return check_classes(classes), None


def class_integration(spec, method: str, nip: int | None) -> Integration:
    """Exact sum over classes; with continuous latent variables too, their rule inside every class."""
    from .integration_choice import default_nip

    classes = spec.discrete_level.classes
    if len(spec.levels) == 1:
        return Integration("discrete", classes)
    dim = next(level for level in spec.levels if not level.discrete).dim
    nip = default_nip(dim) if nip is None else int(nip)
    if spec.family.exact_gaussian and method != "ghq" and spec.discrete_index == 1:
        return Integration("exact", 1, classes)
    if spec.discrete_index == 0:  # normal top level over classes: adaptive quadrature as for nested levels
        if method != "adaptive":
            raise GllammError(f"method='{method}' is not available for nested levels; use 'adaptive'.")
        return Integration("adaptive", nip, classes)
    return Integration("laplace", 1, classes) if method == "laplace" else Integration(method, nip, classes)


def fit_classes(spec, design, data, classes, *, syntax: bool, concomitant, known_class, starts, seed, fix, equal,
                start, max_iter, tol, verbose, options, method: str = "adaptive", nip: int | None = None,
                devices: int | None = None, chunk_size: int | None = None, n_jobs: int = 1):
    """Fit the model with a discrete latent variable of ``classes`` classes (or by NPML).

    devices / chunk_size: as in ``fit`` (clusters in parts over devices and processes; not for NPML); n_jobs:
    processes the starts are shared among (estimate/parallel_starts.py).
    """
    from .iterations import (constrained_start, distinct_clusters, fitting_arrays, layout_for, layout_options,
                             maximize_likelihood)
    from .parallel_starts import start_runs
    from ..results.construction import make_result

    classes, target = class_request(classes)
    if classes == "npml" and (chunk_size is not None or (devices or 1) > 1 or jax.process_count() > 1):
        raise GllammError("NPML (classes='npml') runs on one device in one piece: its Gateaux derivative needs all "
                          "clusters; leave devices= and chunk_size= unset and use one process.")
    if classes == "npml":
        return fit_npml(spec, design, data, syntax=syntax, concomitant=concomitant, known_class=known_class,
                        fix=fix, equal=equal, max_iter=max_iter, tol=tol, verbose=verbose, options=options)
    if starts is None:
        starts = 10 if syntax else 5
    if not isinstance(starts, (int, np.integer)) or starts < 1:
        raise GllammError(f"starts must be a positive whole number of starting values; got {starts!r}.")
    spec, design = discrete_model(spec, design, data, classes, syntax=syntax, target=target,
                                  concomitant=concomitant, known_class=known_class)
    table = ParameterTable(spec)
    integration = class_integration(spec, method, nip)
    constraints = build_constraints(table, fix, equal)
    mark_zero_dispersions(table, constraints, design, integration)  # (refused inside latent classes, with the reason)
    top_keys = {"class_covariates", "class_allowed"} if spec.discrete_index == 1 else set()
    layout = layout_for(table, integration, design, devices, chunk_size, top_keys)
    candidates = _candidates(spec, design, table, layout, start, starts, seed)
    fit_data = None if layout is not None else fitting_arrays(design, integration)  # (equal clusters as one)
    runs = start_runs(table, integration, design, [constrained_start(constraints, t, fix, equal) for t in candidates],
                      max_iter, tol, verbose, constraints, layout, fit_data, n_jobs)
    finished = [r for r in runs if not isinstance(r, Exception) and np.isfinite(r.loglik)]
    if not finished:
        raise GllammError(f"No starting value gave a finite log-likelihood ({runs[0]}).")
    best = _best_run(finished)
    if known_class is None and not fix and not equal and classes > 1:
        ordered = _order(table, best.theta)
        if not np.array_equal(ordered, best.theta):
            relabelled = maximize_likelihood(table, integration, design, ordered, max_iter, tol, False, constraints,
                                             layout=layout, data=fit_data)
            best = replace(relabelled, iterations=best.iterations + relabelled.iterations,
                           log=best.log + relabelled.log)
    summary = [[float(r.loglik), bool(r.converged), int(r.iterations)] if not isinstance(r, Exception)
               else [float("nan"), False, 0] for r in runs]
    best, notes = _diagnosed(table, integration, design, best)
    options = dict(options, classes=classes, class_target=target, method=integration.method,
                   nip=int(integration.nip), concomitant=concomitant, known_class=known_class, starts=int(len(runs)),
                   seed=seed, start_summary=json.dumps(summary), fix=fix, equal=equal,
                   n_free=int(constraints.matrix.shape[1]))
    options.update(layout_options(layout, design, spec, chunk_size))
    options.update(distinct_clusters(fit_data, design))
    return make_result(spec, table, design, integration, best, options, constraints=constraints,
                        warn=max_iter > 0 and not notes)


def _candidates(spec, design, table, layout, start, starts: int, seed) -> list:
    """Starting values: ``start`` alone when given; otherwise a deterministic one (locations spread evenly, equal
    class sizes) and starts - 1 seeded random ones."""
    if start is not None:
        from .start_values import start_values

        return [start_values(spec, design, table, start, False)]
    rng = np.random.default_rng(check_seed(seed))
    base = _base_start(spec, design, table, layout)
    return [_start(spec, design, table, None, base)] + [_start(spec, design, table, rng, base)
                                                        for _ in range(starts - 1)]


def _diagnosed(table, integration, design, best):
    """(the best run with what ``_diagnose`` finds added to its message, not converged when a class is empty;
    the notes), with a ConvergenceWarning naming them."""
    from ..objective_programs import make_objective

    notes = _diagnose(table, best.theta, design.data(), make_objective(table, integration))
    if notes:
        best = replace(best, converged=False if any("empty" in n for n in notes) else best.converged,
                       message=best.message + "; " + "; ".join(notes))
        warn_user("Latent classes: " + "; ".join(notes) + ".", ConvergenceWarning)
    return best, notes


# ---- NPML ------------------------------------------------------------------------------------------
def _add_point(old, new_table, point, mass: float = 0.1) -> np.ndarray:
    """Start for C + 1 points: the fitted points and ``point`` (mass ``mass``), re-centred into the fixed effects."""
    level = old.spec.levels[0]
    E, rho = class_parameters(old.table_spec, old.theta)
    pi = np.asarray(old.table_spec.reference_probabilities(level, rho))
    E = np.vstack([E, np.asarray(point, float)[None]])
    pi = np.r_[(1 - mass) * pi, mass]
    old_names = list(old.table_spec.frame().name)
    theta = np.zeros(new_table.size)
    for row in new_table.frame().itertuples():  # parameters other than the classes carry over by name
        if row.name in old_names and row.block not in ("locations", "class_logits"):
            theta[row.position] = old.theta[old_names.index(row.name)]
    for k, name in enumerate(level.latent_names):
        if level.centred[k]:
            shift = pi @ E[:, k]
            E[:, k] -= shift
            theta[list(new_table.spec.fixed_names).index(name)] += shift
    logits = np.log(pi)[:, None] * np.eye(1, len(new_table.spec.class_covariates))
    return with_classes(new_table, theta, E, logits)


def fit_npml(spec, design, data, *, syntax, concomitant, known_class, fix, equal, max_iter, tol, verbose, options,
             gateaux_tol: float = 1e-4, max_classes: int = 30):
    """NPML: add mass points where the Gateaux derivative is largest until it is <= gateaux_tol on the grid (from
    each of the largest local maxima of the derivative, the best fit kept)."""
    if syntax or concomitant is not None or known_class is not None or fix or equal or len(spec.levels) != 1:
        raise GllammError("classes='npml' is for random effects at one level of a formula model, without "
                          "concomitant=, known_class=, fix= or equal=; give a number of classes for those.")
    from .iterations import maximize_likelihood
    from ..results.construction import make_result
    from ..objective_programs import make_objective

    current = fit_classes(spec, design, data, 1, syntax=False, concomitant=None, known_class=None, starts=1, seed=0,
                          fix=None, equal=None, start=None, max_iter=max_iter, tol=tol, verbose=verbose,
                          options=options)
    path = []
    while True:
        grid = gateaux_grid(current)
        derivative = gateaux_derivative(current, grid)
        best = int(np.argmax(derivative))
        path.append([current.spec.levels[0].classes, current.loglik, float(derivative[best])])
        if derivative[best] <= gateaux_tol or current.spec.levels[0].classes >= max_classes:
            break
        C = current.spec.levels[0].classes + 1
        new_spec, new_design = discrete_model(spec, design, data, C, syntax=False)
        table = ParameterTable(new_spec)
        integration = Integration("discrete", C)
        optimum = None
        for point in _candidate_points(grid, derivative, gateaux_tol):  # (the mixture likelihood is multimodal:
            try:  # a new point can run off to a local maximum at infinity; the next candidate may not)
                run = maximize_likelihood(table, integration, new_design, _add_point(current, table, point), max_iter, tol,
                                verbose)
            except (FloatingPointError, np.linalg.LinAlgError):
                continue
            if np.isfinite(run.loglik) and (optimum is None or run.loglik > optimum.loglik):
                optimum = run
        if optimum is None or optimum.loglik < current.loglik + 1e-6:
            break
        optimum = maximize_likelihood(table, integration, new_design, _order(table, optimum.theta), max_iter, tol, False)
        objective = make_objective(table, integration)
        notes = _diagnose(table, optimum.theta, new_design.data(), objective)
        if notes:
            optimum = replace(optimum, message=optimum.message + "; " + "; ".join(notes))
        new_options = dict(current.options, classes=C, starts=1, start_summary=json.dumps([[optimum.loglik,
                           bool(optimum.converged), int(optimum.iterations)]]),
                           n_free=int(table.size))
        current = make_result(new_spec, table, new_design, integration, optimum, new_options)
    options = dict(current.options, npml=True, npml_path=json.dumps(path))
    return replace(current, options=options)


_CANDIDATES = 3  # new mass points tried per NPML step


def _candidate_points(grid: np.ndarray, derivative: np.ndarray, tol: float) -> list[np.ndarray]:
    """Where to add a mass point (rows of the grid): on a one-dimensional grid the largest local maxima of the
    Gateaux derivative above tol, at most _CANDIDATES of them, largest first; otherwise its maximum."""
    best = int(np.argmax(derivative))
    if np.ndim(grid) != 2 or grid.shape[1] != 1:
        return [grid[best]]
    n = len(derivative)
    peaks = [k for k in range(n) if derivative[k] > tol and (k == 0 or derivative[k] >= derivative[k - 1])
             and (k == n - 1 or derivative[k] >= derivative[k + 1])]
    peaks.sort(key=lambda k: -derivative[k])
    return [grid[k] for k in peaks[:_CANDIDATES]] or [grid[best]]


def _best_run(finished: list):
    """The run kept among several starts: the highest log-likelihood, converged runs first unless an
    unconverged one is higher by more than 1e-6; runs within 1e-6 of each other (starts that reached the
    same maximum) go to the earliest start, so rounding differences (e.g. sums over devices) never decide."""
    converged = [r for r in finished if r.converged]
    top = max(r.loglik for r in finished)
    pool = converged if converged and max(r.loglik for r in converged) >= top - 1e-6 else finished
    best = max(r.loglik for r in pool)
    return next(r for r in pool if r.loglik >= best - 1e-6)
