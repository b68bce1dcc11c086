"""fit(): formula -> ModelSpec/Design -> objective -> Newton maximisation -> FitResult.

Each stage is callable on its own (parse_formula, build_design, make_objective,
maximize); fit() only composes them, the way lme4's glmer() composes
glFormula, mkGlmerDevfun and optimizeGlmer.
"""

from __future__ import annotations

import json
from dataclasses import replace

import jax
import numpy as np
import pandas as pd

from . import _jax  # noqa: F401
from ._blas import one_blas_thread
from ._compiled_cache import announce_compiles
from .design import Design, build_design
from .design.identification import check_identified, check_response_varies, check_separation
from .errors import ComputationWarning, GllammError, QuadratureWarning, check_choice, closest, warn_user
from .families import Family, make_family
from .families.links import inverse_link_numpy, link_numpy
from .integrate import Integration
from .integrate.equal_clusters import collapse_equal_clusters
from .integrate.shared_gaussian import PATTERN_SCATTER, collapse_identical_clusters
from .objective import make_objective, nodes_per_row, settled_modes
from .parallel import (PartitionedObjective, all_finite, check_same_model, least_squares_over_processes, make_layout,
                       mean_over_processes, std_over_processes, sum_over_processes)
from .optimize import OptimizationResult, maximize
from .optimize.shared_programs import SharedPrograms
from .optimize.quadrature_check import (EXTRA_POINTS, REFITS, TOLERANCE, QuadratureCheck, finer, loglik_at,
                                        needs_check)
from .results import FitResult
from .results.construction import make_result
from .results.defined_parameters import resolve as resolve_definitions
from .spec import ModelSpec, ParameterTable
from .design.exact_indicators import mark_zero_dispersions
from .spec.constraints import Constraints, build_constraints
from .syntax import parse_formula
from .syntax.model_syntax import looks_like_syntax, parse_model_syntax
from .design.syntax_design import build_syntax_design

METHODS = ("adaptive", "laplace", "ghq")
_OPTIONS = ("family", "link", "family_by", "base", "choice_set", "nominal", "classes", "concomitant", "known_class",
            "starts", "seed", "nip", "method", "weights", "cluster_weights", "top_weights", "level_weights", "scale_weights", "offset", "trials", "scale", "start",
            "fix", "equal", "factor_scale", "cluster", "long", "information", "devices", "chunk_size", "max_iter", "tol",
            "verbose")


def default_nip(dim: int) -> int:
    """Quadrature points per dimension by default (gllamm's 8, fewer in high dimensions)."""
    return 8 if dim <= 2 else (5 if dim == 3 else 3)


@one_blas_thread
@announce_compiles
def fit(model: str, data: pd.DataFrame, *, family: str | Family | dict = "gaussian", link: str | None = None,
        family_by: str | None = None, base=None, choice_set: str | None = None, nominal: str | None = None,
        classes: int | str | None = None, concomitant: str | None = None, known_class: str | None = None,
        starts: int | None = None, seed: int | None = 0, nip: int | None = None, method: str = "adaptive", weights=None, cluster_weights=None, top_weights=None, level_weights=None,
        scale_weights: str = "none",
        offset=None, trials=None, scale: str | None = None,
        start=None, fix: dict | None = None, equal=None, factor_scale: str = "loading", cluster: str | list | None = None, long: dict | None = None,
        information: str | None = None, devices: int | None = None, chunk_size: int | None = None,
        max_iter: int = 200, tol: float = 1e-8,
        verbose: bool = False, **unknown) -> FitResult:
    """Fit a GLLAMM by maximum likelihood.

    model: lme4-style formula, e.g. ``"y ~ x + (1 + x | school)"``, or lavaan-style
        syntax for latent variable models (``"f =~ y1 + y2 + y3; f ~ x"``) on wide data
        (one row per unit; responses are stacked to long format inside).
    family/link: response distribution and link (canonical link by default); "ordinal" for
        cumulative logit/probit/cloglog models (thresholds "1|2", "2|3", ... replace the intercept).
        Mixed responses: a mapping {response: family or (family, link)}, keyed by indicator
        names in model syntax, or by the values of the column ``family_by`` in a formula
        model on long data (one row per response), e.g.
        ``family={"y": "gaussian", "d": ("binomial", "probit")}, family_by="type"``.
        "multinomial": a nominal response (multinomial logit), with one copy of every fixed and
        random effect per category other than the base (``base=``, the first category by default),
        named "2:x", "var(2:(Intercept)|school)".
        With ``choice_set=column`` the data are long (one row per alternative of each choice set)
        and the response holds ranks: 1 for the chosen alternative (discrete choice, conditional
        logit) or 1, 2, ... for a ranking (exploded/rank-ordered logit; 0 or missing = not ranked,
        so partial rankings work). Covariates are alternative attributes (or interactions with the
        alternative, C(alt):x); a common intercept cancels and is dropped. Random effects: shared
        random coefficients of attributes, (0 + price | person), or alternative-specific ones,
        (0 + C(alt) | person).
    classes: a discrete latent variable with this many classes instead of normal latent variables.
        In a formula model the random effects take one of ``classes`` mass points (locations
        "class1:(Intercept)|g", ...; centred at 0 where the fixed part has the same term, so the
        fixed effect stays the mean), with class probabilities "P(class1)", ...; ``classes="npml"``
        adds mass points until the Gateaux derivative is non-positive (the NPML estimate).
        In model syntax ``C =~ y1 + ... + yJ`` is the exploratory latent class model: class-specific
        intercepts "C1:y1", ... of every item (logits of P(y=1 | class) for binary items, means for
        Gaussian ones), and ``C ~ w`` regresses class membership on w (multinomial logit, last class
        the reference, coefficients "C1~w"). The likelihood sums over the classes exactly.
    concomitant: formula models with classes: ``"~ w1 + w2"`` (constant within clusters) for the
        class-membership model.
    known_class: column holding the class (1..classes) of clusters whose class is observed, missing
        where it is latent (training data; e.g. compliers in the treatment arm of a trial).
    starts, seed: number of starting values for models with classes (best solution kept; all in
        ``FitResult.starts``) and the seed of the random ones.
    method: "adaptive" (adaptive Gauss-Hermite quadrature, ``nip`` points per
        latent dimension), "laplace" (= lme4's nAGQ=1) or "ghq" (non-adaptive).
        Gaussian responses with identity link are integrated exactly.
    weights: level-1 weights (column name or array); cluster_weights: level-2
        weights (a column constant within clusters), as gllamm's pweight: the
        log-likelihood becomes the pseudo-likelihood sum_j w_j log L_j with
        L_j = int prod_i f(y_ij | b)^{w_ij} phi(b) db (use robust SEs with sampling weights);
        In model syntax weights= are the units' (rows of the wide data) and cluster_weights= the clusters'
        (multilevel syntax with cluster=; constant within clusters; the top-level clusters' with several
        cluster columns).
    top_weights: with nested levels, weights of the top-level units (gllamm's pweight at the top level);
    level_weights: with three or more nested grouping factors, {grouping factor: weights} for the levels
        between the first and the top (constant within each unit), e.g. {"school": "w_school"}; in
        multilevel syntax {cluster column: weights} for the cluster levels below the top;
        cluster_weights= are then the weights of the level-2 units, and
        log L = sum_k w_k log int phi(u3) prod_j (int phi(u2) prod_i f^{w_i} du2)^{w_j} du3.
    scale_weights: "none", "size" or "effective" scaling of level-1 sampling weights within clusters.
    offset: column or array added to the linear predictor; trials: binomial denominators.
    scale: one-sided formula ``"~ x"`` for the level-1 scale, log s_i = v_i' alpha: the residual
        SD of Gaussian responses (heteroscedasticity; the intercept replaces var(Residual)), the
        log dispersion of gamma responses, or the SD of the latent response of ordinal and binary
        responses (the scaled ordinal probit of R's clm(scale=), gllamm's sprobit; no intercept).
        Coefficients are reported as "scale:x" on the log scale.
    nominal: for ordinal responses, a one-sided formula ``"~ x"`` of covariates whose effects differ
        between thresholds (non-proportional / partial proportional odds, R's clm(nominal=)):
        P(y <= k) = F(kappa_k + t'gamma_k - eta), reported as "1|2:x", "2|3:x", ...
    start: a FitResult or a theta vector to start from; with ``max_iter=0`` the
        log-likelihood is only evaluated there (no optimisation).
    fix: {parameter name: value} to hold fixed (fixed effects, variances of
        latent variables in their own block, "var(Residual)", "dispersion").
    equal: groups of parameter names constrained to be equal, e.g. [("x1", "x2")].
    factor_scale: for syntax models, "loading" (first loading of each factor 1) or
        "variance" (factor variances 1, all loadings free).
    cluster: for syntax with 'level: 1' / 'level: 2' blocks, the column of the clusters
        the units (rows) are nested in (multilevel SEM); with 'level: 3' blocks and above, a list of
        nested cluster columns, lowest first (cluster=["class", "school"]).
    long: for syntax models on long data (one row per unit and item),
        {"unit": column, "item": column, "response": column}; the item values name the indicators.
    information: "observed" (gllamm's default) or "expected" (Fisher information, for
        Gaussian identity-link models; the default for those written in model syntax,
        as in SEM programs such as lavaan) for model-based standard errors.

    devices: number of devices the top-level clusters are spread over (default: all visible; CPU
        devices with XLA_FLAGS=--xla_force_host_platform_device_count=N); with several processes
        (``gllamm.initialize_distributed``) each process passes its own clusters as ``data``.
    chunk_size: rows per part of clusters worked on at once (default from the available memory):
        the memory of a fit is bounded by one part's rows times quadrature nodes.

    Maximises  sum_j log int prod_i f(y_ij | x_ij'beta + z_ij'b_j) phi(b_j; 0, Psi) db_j
    by trust-region Newton with exact derivatives.
    """
    if unknown:
        name = next(iter(unknown))
        raise GllammError(f"Unknown option '{name}'.{closest(name, _OPTIONS)} Options: {', '.join(_OPTIONS)}.")
    _check_fit_options(model, max_iter, tol, seed)
    if isinstance(family, dict):
        if link is not None:
            raise GllammError("With a family mapping give each response's link inside it, e.g. "
                              "{'d': ('binomial', 'probit')}, not link=.")
    else:
        family = make_family(family, link)
    method = check_choice("method", str(method).lower(), METHODS)
    syntax_model = looks_like_syntax(model)
    if syntax_model:
        syntax = parse_model_syntax(model)
        for name, value in dict(top_weights=top_weights, offset=offset, trials=trials,
                                scale=scale, base=base, choice_set=choice_set, nominal=nominal).items():
            if value is not None:
                raise GllammError(f"{name}= is not available with model syntax yet; use a formula model.")
        if long is not None:
            from .design.syntax_design import widen

            missing = {"unit", "item", "response"} - set(long)
            if missing:
                raise GllammError(f"long= needs the keys unit, item and response; missing {sorted(missing)}.")
            data = widen(data, long["unit"], long["item"], long["response"])
        if family_by is not None:
            raise GllammError("family_by= is for formula models on long data; in model syntax key the family "
                              "mapping by indicator names.")
        spec, design, implied = build_syntax_design(syntax, data, family, factor_scale=factor_scale, cluster=cluster,
                                                    weights=weights, cluster_weights=cluster_weights,
                                                    level_weights=level_weights)
        fix = {**implied.fix, **(fix or {})} or None
        equal = (implied.equal + list(equal or [])) or None
        definitions = resolve_definitions(syntax.definitions, implied.labels or {})
    else:
        definitions = ()
        formula = parse_formula(model)
        spec, design = build_design(formula, data, family, weights=weights, offset=offset, trials=trials,
                                    cluster_weights=cluster_weights, top_weights=top_weights, level_weights=level_weights,
                                    scale_weights=scale_weights, scale=scale,
                                    family_by=family_by, base=base, choice_set=choice_set, nominal=nominal,
                                    discrete=classes is not None)
    if classes is not None and definitions:
        raise GllammError("Defined parameters (:=) with latent classes are not available yet; compute them from "
                          "res.params.")
    if classes is not None:
        from ._class_fit import fit_classes

        options = dict(family=spec.family.name, link=spec.family.link.name, family_by=family_by, method="discrete",
                       nip=0, trials=trials, scale=scale, scale_weights=scale_weights, factor_scale=factor_scale,
                       information="observed", base=base, choice_set=choice_set, nominal=nominal,
                       families=_families_json(spec.family))
        return fit_classes(spec, design, data, classes, syntax=syntax_model, concomitant=concomitant,
                           known_class=known_class, starts=starts, seed=seed, fix=fix, equal=equal, start=start,
                           max_iter=max_iter, tol=tol, verbose=verbose, options=options, method=method, nip=nip,
                           devices=devices, chunk_size=chunk_size)
    for name, value in dict(concomitant=concomitant, known_class=known_class, starts=starts).items():
        if value is not None:
            raise GllammError(f"{name}= is for models with latent classes; give classes= as well.")
    family = spec.family
    check_response_varies(spec, design)
    check_identified(spec, design)
    q = spec.n_latent
    if nip is None:
        nip = default_nip(q)
    if not isinstance(nip, (int, np.integer)) or nip < 1:
        raise GllammError(f"nip must be a positive whole number of quadrature points; got {nip!r}.")
    if (cluster is not None or long is not None) and not syntax_model:
        raise GllammError("cluster= and long= are for model syntax; in a formula write the grouping in the random "
                          "terms, (1 | cluster).")
    if not spec.levels:
        integration = Integration("none", 0)
    elif len(spec.levels) > 1:
        if method == "ghq":
            raise GllammError("method='ghq' is not available for models with nested levels; use 'adaptive' "
                              "(default) or 'laplace'.")
        if method == "laplace" and (spec.set_size > 1 or any(level.discrete for level in spec.levels)
                                    or any(key.startswith("unit_weight") for key in design.data())):
            raise GllammError("method='laplace' with nested levels is available for single-row responses without "
                              "latent classes or weights of levels below the top; use method='adaptive'.")
        integration = Integration(method, 1 if method == "laplace" else int(nip))
    elif family.exact_gaussian and method != "ghq" and not spec.levels[0].products:
        integration = Integration("exact", 1)
    elif method == "laplace":
        integration = Integration("laplace", 1)
    else:
        integration = Integration(method, int(nip))
    table = ParameterTable(spec)
    constraints = build_constraints(table, fix, equal)
    exact_indicators = mark_zero_dispersions(table, constraints, design, integration)
    _announce_cost(spec, integration, design, table)
    layout = _layout(table, integration, design, devices, chunk_size)
    if exact_indicators and layout is not None:
        raise GllammError("A residual variance fixed at exactly 0 is fitted on one device in one piece; leave out "
                          "devices= and chunk_size=, or fix it at a small positive value (e.g. 1e-6).")
    linear_gaussian = syntax_model and family.exact_gaussian and len(spec.levels) == 1 and not spec.levels[0].products \
        and weights is None and not exact_indicators  # (the expected information assumes unit weights and
    # variances above 0); fitted by Fisher scoring
    fit_data = None
    if layout is None:  # (parts of clusters run other programs)
        fit_data = _fitting_arrays(design, integration)
        _prefetch_programs(table, integration, design, constraints, linear_gaussian, fit_data)
    theta0 = _start_values(spec, design, table, start, verbose, layout)
    theta0 = constraints.theta(constraints.phi(theta0)) if (fix or equal) else theta0
    if fix:
        theta0 = np.where(constraints.matrix.sum(axis=1) == 0, constraints.offset, theta0)
    optimum = _maximize(table, integration, design, theta0, max_iter, tol, verbose, constraints, linear_gaussian,
                        layout, fit_data)
    check = None
    if max_iter > 0 and needs_check(integration, spec):
        optimum, integration, layout, check = _checked_quadrature(table, integration, design, optimum, theta0, max_iter,
                                                                  tol, verbose, constraints, devices, chunk_size, layout,
                                                                  fit_data)
    if information is None:
        information = "expected" if linear_gaussian else "observed"
    information = check_choice("information", information, ("observed", "expected"))
    theta_vcov = None
    if information == "expected":
        fisher = constraints.matrix.T @ _expected_information(table, design, optimum.theta) @ constraints.matrix
        theta_vcov = constraints.matrix @ np.linalg.pinv(fisher) @ constraints.matrix.T
    options = dict(family=family.name, link=family.link.name, family_by=family_by, base=base, choice_set=choice_set,
                   nominal=nominal,
                   families=_families_json(family), method=method, nip=int(integration.nip or nip), trials=trials, scale=scale,
                   fix=fix, equal=equal, scale_weights=scale_weights, factor_scale=factor_scale, cluster=cluster, information=information, n_free=int(constraints.matrix.shape[1]))
    options.update(_layout_options(layout, design, spec, chunk_size))
    options.update(distinct_clusters(fit_data, design))
    return make_result(spec, table, design, integration, optimum, options, constraints=constraints,
                       warn=max_iter > 0, theta_vcov=theta_vcov, quadrature_check=check, definitions=definitions)


def _check_fit_options(model, max_iter, tol, seed) -> None:
    """GllammError for option values of the wrong kind, before any work."""
    if not isinstance(model, str) or not model.strip():
        raise GllammError(f"model must be a formula such as 'y ~ x + (1 | group)' or lavaan-style syntax such as "
                          f"'f =~ y1 + y2 + y3'; got {model!r}.")
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 0:
        raise GllammError(f"max_iter must be a whole number >= 0 (0 evaluates the log-likelihood at start=); "
                          f"got {max_iter!r}.")
    if isinstance(tol, bool) or not isinstance(tol, (int, float, np.floating)) or not np.isfinite(tol) or tol <= 0:
        raise GllammError(f"tol must be a positive number (the Newton decrement at convergence, default 1e-8); "
                          f"got {tol!r}.")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise GllammError(f"seed must be a whole number (or None for a fresh one); got {seed!r}.")


_NODES_PER_UNIT = 20_000  # quadrature nodes per unit beyond which a fit is announced as costly
_NODE_VALUES = 2e9  # rows x nodes per evaluation beyond which likewise


def _announce_cost(spec, integration, design, table) -> None:
    """ComputationWarning before a fit whose every log-likelihood evaluation is very large: more than
    _NODES_PER_UNIT quadrature nodes per unit (e.g. nip=40 in three dimensions: 64,000), or more than
    _NODE_VALUES row x node values."""
    nodes = nodes_per_row(table, integration)
    rows = int(np.asarray(design.y).size)
    if nodes > _NODES_PER_UNIT or float(rows) * nodes > _NODE_VALUES:
        q = spec.n_latent
        warn_user(f"Every evaluation of the log-likelihood integrates over {nodes:,} quadrature nodes for each of "
                  f"{rows:,} rows ({integration.nip} points in each of {q} dimensions): {float(rows) * nodes:.2g} "
                  f"values per evaluation, and a fit makes dozens. Adaptive quadrature rarely needs more than 5-8 "
                  f"points per dimension here (nip={default_nip(q)} by default; the fit checks its accuracy).",
                  ComputationWarning)


def _checked_quadrature(table, integration, design, optimum, theta0, max_iter, tol, verbose, constraints, devices,
                        chunk_size, layout, fit_data):
    """The fit's quadrature checked at the estimates with more points (``optimize.quadrature_check``); while the
    check fails, refitted from the start values with EXTRA_POINTS more points (REFITS times at most). Returns
    (optimum, integration, layout, check); the optimum is not converged when the last check failed.
    ``fit_data``: the arrays of the fit's iterations (``_fitting_arrays``, the same for every number of points)."""
    requested = integration.nip
    fit_data = _fitting_arrays(design, integration) if fit_data is None else fit_data
    for refit in range(REFITS + 1):
        check = _quadrature_check(table, integration, design, optimum.theta, optimum.loglik, devices, chunk_size,
                                  fit_data)
        if verbose:
            print(check.describe())
        if check.passed or refit == REFITS:
            break
        integration = finer(integration)
        layout = _layout(table, integration, design, devices, chunk_size)
        optimum = _maximize(table, integration, design, theta0, max_iter, tol, verbose, constraints, False, layout,
                            None if layout is not None else fit_data)
    if integration.nip != requested and check.passed:
        warn_user(f"{requested} quadrature points per dimension were not enough (the log-likelihood at the estimates "
                  f"changed by more than {TOLERANCE:g} with {requested + EXTRA_POINTS}); refitted with {integration.nip} "
                  f"points: {check.describe()}.", QuadratureWarning)
    if not check.passed:
        optimum = replace(optimum, converged=False,
                          message=f"{check.describe()}; the estimates depend on the quadrature: "
                                  + ("use method='adaptive' (the default: the rule follows each cluster's posterior)"
                                     if integration.method == "ghq" else
                                     "give more points (nip=) or use method='laplace' for a known approximation")
                                  + f" ({optimum.message})")
    return optimum, integration, layout, check


def _quadrature_check(table, integration, design, theta, loglik, devices, chunk_size, fit_data) -> QuadratureCheck:
    """log L at theta with the fit's rule (``loglik``) and with ``finer(integration)``."""
    check_rule = finer(integration)
    layout = _layout(table, check_rule, design, devices, chunk_size)
    data, partitioned = fit_data, None
    if layout is not None:
        data, partitioned = layout.data(design), (lambda objective: PartitionedObjective(objective, layout))
    try:
        check_loglik = loglik_at(table, check_rule, theta, data, partitioned)
    except FloatingPointError:
        check_loglik = float("nan")
    return QuadratureCheck(integration.nip, float(loglik), check_rule.nip, check_loglik)


def distinct_clusters(fit_data: dict | None, design) -> dict:
    """{"distinct_clusters": n} when the iterations ran on n < all clusters (equal ones fitted as one), else {}."""
    if fit_data is None or fit_data["cluster_weight"].shape[0] == design.data()["cluster_weight"].shape[0]:
        return {}
    return {"distinct_clusters": int(fit_data["cluster_weight"].shape[0])}


def _fitting_arrays(design, integration) -> dict:
    """The arrays the iterations run on: with exact integration, groups of clusters identical but for their
    responses collapsed into one each (``collapse_identical_clusters``: same likelihood, less work); otherwise
    clusters equal in everything, responses included, fitted as one with their summed weight
    (``collapse_equal_clusters``)."""
    data = design.data()
    if integration.method == "exact":
        collapsed = collapse_identical_clusters(data)
    else:
        collapsed = collapse_equal_clusters(data)
    return data if collapsed is None else collapsed


_JOINT_WORK = 400  # groups x parameters up to which the Hessian is computed with every gradient


def _joint_derivatives(data: dict, n_params: int) -> bool:
    """Whether the iterations take value, gradient and Hessian from one program (``value_grad_hessian``), so that
    one stored program is loaded instead of two: for clusters collapsed into a few groups
    (``collapse_identical_clusters``), whose Hessian costs little more than their gradient. (A 9-item CFA's
    one group: 0.5-1 ms a call against 0.3-0.7 ms for value and gradient alone; 11 groups of a 31-parameter
    SEM: 2.2 against 0.8 ms; 74 groups: 13 against 0.7 ms, at each of the 8 or so Fisher scoring steps.)"""
    return PATTERN_SCATTER in data and data["cluster_weight"].shape[0] * n_params <= _JOINT_WORK


def _prefetch_programs(table, integration, design, constraints, fisher_scoring: bool, data: dict) -> None:
    """Load the stored programs of the iterations in the background while start values are found."""
    objective = SharedPrograms(table, integration)
    theta = np.zeros(constraints.matrix.shape[0])
    scoring = ()
    if fisher_scoring:
        from .results.information import information_call

        scoring = (information_call(table, design, theta),)
    objective.prefetch(theta, data, objective.mode_start(data), constraints.matrix, before_hessian=scoring,
                       joint=_joint_derivatives(data, len(theta)))


def _layout(table, integration, design, devices, chunk_size, top_keys=()):
    """The parts-of-clusters layout of a fit (None: all on one device in one piece)."""
    layout = make_layout(design, nodes_per_row(table, integration), devices, chunk_size, top_keys)
    if jax.process_count() > 1:
        check_same_model(repr((table, integration)))
    return layout


def _layout_options(layout, design, spec, chunk_size) -> dict:
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


def _expected_information(table, design, theta) -> np.ndarray:
    """Fisher information of a Gaussian identity-link model, summed over the processes' clusters."""
    from .results.information import expected_information

    return sum_over_processes(expected_information(table, design, theta))


def _families_json(family) -> str | None:
    """Mixed responses: the mapping {response: [family, link]} as JSON (kept with saved results)."""
    if family.name != "mixed":
        return None
    return json.dumps({label: [f.name, f.link.name] for label, f in zip(family.labels, family.members)})


# ---------------------------------------------------------------------------------------
_SCORING_TOL = 1e-2  # Newton decrement at which Fisher scoring hands over to Newton


def _maximize(table, integration, design, theta0, max_iter, tol, verbose, constraints=None,
              fisher_scoring: bool = False, layout=None, data: dict | None = None) -> OptimizationResult:
    """Maximise over the free parameters phi (theta = offset + M phi); returns theta-scale estimates.

    With fisher_scoring (Gaussian identity-link models) the iterations use the expected
    information, which is cheaper than the Hessian; convergence is then confirmed with the
    exact Hessian (and Newton takes over if it is not). ``data``: the arrays the likelihood is
    computed from (default the design's; see ``_fitting_arrays``).
    """
    data = design.data() if data is None else data
    if layout is not None:  # parts of clusters, scanned on each device, devices summed
        objective, data = PartitionedObjective(make_objective(table, integration), layout), layout.data(design)
    else:  # the programs of every formula of this kind (optimize/shared_programs.py)
        objective = SharedPrograms(table, integration)
    state = {"key": None, "modes": objective.mode_start(data)}

    def modes_at(theta):
        if not table.spec.levels or not integration.needs_modes:
            return state["modes"]
        key = theta.tobytes()
        if state["key"] != key:
            modes = objective.modes(theta, data, state["modes"])
            if not all_finite(modes):
                modes = objective.modes(theta, data, objective.mode_start(data))
            if max_iter == 0:  # evaluation at given parameters: adapt until the rule settles (the iterations
                modes = settled_modes(objective, theta, data, modes)  # of a fit otherwise carry it on)
            state.update(key=key, modes=modes)
        return state["modes"]

    if constraints is None:
        constraints = Constraints(np.eye(len(theta0)), np.zeros(len(theta0)))
    M = constraints.matrix

    last_hessian = {}  # the scoring phase's final Hessian is Newton's first
    joint = layout is None and _joint_derivatives(data, len(theta0))

    def keep_hessian(phi, H):
        last_hessian.clear()
        last_hessian[phi.tobytes()] = 0.5 * (H + H.T)

    def value_and_grad(phi):
        theta = constraints.theta(phi)
        if joint:  # the Hessian comes with the gradient
            value, grad, H = objective.value_grad_hessian(theta, data, modes_at(theta))
            keep_hessian(phi, M.T @ np.asarray(H) @ M)
        else:
            value, grad = objective.value_and_grad(theta, data, modes_at(theta))
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
            return -(M.T @ _expected_information(table, design, constraints.theta(phi)) @ M)

        # scoring converges only linearly when the model does not fit (expected != observed information):
        # score while the steps are large, then let Newton finish quadratically
        scored = maximize(value_and_grad, curvature, phi0, max_iter=min(max_iter, 20),
                          tol=max(tol, _SCORING_TOL), verbose=verbose)
        phi0 = scored.theta  # Newton finishes from there (with its final step, at least one)
    result = maximize(value_and_grad, hessian, phi0, max_iter=max_iter, tol=tol, verbose=verbose)
    return replace(result, theta=constraints.theta(result.theta))


def _glm_start(spec: ModelSpec, design: Design, verbose: bool, layout=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fixed effects, ordinal thresholds and log dispersion of the model without latent variables (own engine)."""
    family = spec.family
    y, trials = design.y, design.trials
    thresholds = None
    if spec.threshold_names:  # kappa_k = g(P(y <= k)) with beta = 0, per ordinal item
        thresholds = []
        item = design.threshold_item if design.threshold_item is not None else np.zeros(len(y), int)
        for g, (_, count) in enumerate(spec.threshold_layout):
            own = item == g
            link = family.members[design.member[own][0]].link.name if family.name == "mixed" else family.link.name
            counts = sum_over_processes(np.bincount(y[own].astype(int), weights=design.weights[own],
                                                    minlength=count + 1)[:count + 1])
            p = np.clip(np.cumsum(counts)[:-1] / counts.sum(), 1e-4, 1 - 1e-4)
            kappa = np.maximum.accumulate(link_numpy(link, p) + mean_over_processes(design.offset[own]))
            thresholds.append(kappa + 1e-3 * np.arange(count))
        thresholds = np.concatenate(thresholds)
    if family.name == "ordinal":
        mu = np.full_like(y, 0.5)
    elif family.name == "multinomial":  # start at equal category probabilities (beta = 0)
        mu = np.full_like(y, 0.5)
    elif family.name == "binomial":
        mu = (y + 0.5) / (trials + 1.0)
    elif family.name in ("poisson",):
        mu = y + 0.1
    elif family.link.name in ("log", "reciprocal"):
        floor = max(0.1 * abs(mean_over_processes(y)), 1e-8)
        mu = np.maximum(y, floor)
    else:
        mu = y
    if family.name == "mixed":  # each row on its own family's link scale
        mu, link_target = np.array(y, dtype=float), np.zeros(len(y))
        for k, member in enumerate(family.members):
            own = design.member == k
            if member.name == "ordinal":  # the thresholds carry these rows' location
                continue
            if member.name == "binomial":
                mu[own] = (y[own] + 0.5) / (trials[own] + 1.0)
            elif member.name == "poisson":
                mu[own] = y[own] + 0.1
            elif member.link.name in ("log", "reciprocal"):
                mu[own] = np.maximum(y[own], max(0.1 * abs(mean_over_processes(y[own])), 1e-8))
            link_target[own] = link_numpy(member.link.name, mu[own])
        target = link_target - design.offset
    else:
        target = link_numpy(family.link.name, mu) - design.offset
    X = design.X
    if family.name in ("ordinal", "multinomial"):
        beta = np.zeros(X.shape[1])
    else:
        beta = least_squares_over_processes(X, target, design.weights)
    glm_spec = replace(spec, levels=(), covariate_names=(), class_covariates=())
    glm_table = ParameterTable(glm_spec)
    resid = target - X @ beta if X.shape[1] else target
    if family.name == "mixed":  # one value per dispersion, from its own rows
        fitted = X @ beta + design.offset if X.shape[1] else design.offset
        log_disp = []
        for k, member in enumerate(family.members):
            own = design.member == k
            if member.name == "gaussian":
                log_disp.append(np.log(max(std_over_processes(y[own] - inverse_link_numpy(member.link.name, fitted[own])), 1e-8)))
            elif member.name == "gamma":
                log_disp.append(np.log(max(std_over_processes(resid[own]) ** 2, 1e-4)))
        log_disp = np.asarray(log_disp)
    elif family.name == "gaussian":
        residual = y - inverse_link_numpy(family.link.name, X @ beta + design.offset)
        if design.dispersion_index is not None and len(spec.dispersions) > 1:  # one residual SD per group
            log_disp = np.log([max(std_over_processes(residual[design.dispersion_index == k]), 1e-8)
                               for k in range(len(spec.dispersions))])
        else:
            log_disp = np.log(max(std_over_processes(residual), 1e-8))
    elif family.name == "gamma":
        log_disp = np.log(max(std_over_processes(resid) ** 2, 1e-4))
    else:
        log_disp = 0.0
    scale = None
    if spec.scale_names:  # start from a constant scale: the intercept (if any) carries log SD / log dispersion
        scale = np.zeros(len(spec.scale_names))
        if spec.scale_names[0] == "scale:(Intercept)":
            scale[0] = log_disp
    theta = glm_table.pack(beta, [], log_disp, thresholds=thresholds, scale=scale)
    closed_form = family.name == "gaussian" and family.link.name == "identity" and not spec.scale_names and \
        np.all(design.weights == 1)
    try:  # (least squares and the groups' residual SDs are the Gaussian identity-link fit, or close to it)
        result = None if closed_form else _maximize(glm_table, Integration("none", 0), design, theta, 100, 1e-8,
                                                    False, layout=layout)
        if result is not None and np.all(np.isfinite(result.theta)):
            theta = result.theta
    except FloatingPointError:
        pass
    beta = theta[: len(spec.fixed_names)]
    if spec.threshold_names or spec.scale_names:
        unpacked = glm_table.unpack(theta)
        thresholds, scale = np.asarray(unpacked.thresholds), np.asarray(unpacked.scale)
    if spec.scale_names:
        return beta, thresholds, scale
    n_dispersions = len(spec.dispersions)
    return beta, thresholds, (theta[len(theta) - n_dispersions:] if n_dispersions else np.zeros(0))


_SEPARATION_ETA = 20.0  # |linear predictor| of the start fit beyond which separation is looked for


def _separation_checked_start(spec, design, verbose, layout):
    """``_glm_start``, with binomial responses checked for separation (``check_separation``, a linear programme)
    when the model without latent variables fails or drives some fitted probability to within e^-20 of 0 or 1:
    its maximum-likelihood fit exists with finite, moderate linear predictors otherwise, so the programme is
    solved only where separation is possible."""
    local = spec.family.name == "binomial" and jax.process_count() == 1
    try:
        start = _glm_start(spec, design, verbose, layout)
    except (np.linalg.LinAlgError, FloatingPointError):
        if local:
            check_separation(spec, design)
        raise GllammError("The model without latent variables (used for start values) could not be fitted; give "
                          "start= values or check the response and covariates for values that no finite "
                          "coefficient fits.") from None
    if local and design.X.shape[1]:
        eta = design.X @ start[0]
        if not np.all(np.isfinite(eta)) or np.abs(eta).max() > _SEPARATION_ETA:
            check_separation(spec, design)
    return start


def _start_values(spec, design, table, start, verbose, layout=None) -> np.ndarray:
    if start is not None:
        theta = np.asarray(start.theta if isinstance(start, FitResult) else start, dtype=float)
        if theta.shape != (table.size,):
            raise GllammError(f"start has {theta.size} values; this model has {table.size} parameters ({', '.join(table.frame().name)}).")
        return theta
    beta, thresholds, log_disp = _separation_checked_start(spec, design, verbose, layout)
    scale = None
    if spec.scale_names:
        scale, log_disp = log_disp, np.zeros(0)
        if spec.family.exact_gaussian:  # typical residual SD over the rows
            scale = scale + np.r_[np.log(0.9), np.zeros(len(scale) - 1)]
    factors = []
    if spec.scale_names and spec.family.exact_gaussian:
        residual_scale = float(np.exp(mean_over_processes(design.scale_matrix @ scale)))
    else:
        residual_scale = float(np.exp(np.mean(log_disp))) if spec.family.exact_gaussian and len(log_disp) else 1.0
    if not spec.family.exact_gaussian and spec.family.link.name in ("identity", "reciprocal"):
        # keep the linear predictor inside the link's domain at the quadrature nodes
        eta = design.X @ beta + design.offset if design.X.shape[1] else design.offset
        residual_scale = 0.4 * mean_over_processes(np.abs(eta))
    for index, level in enumerate(spec.levels):
        level_scale = np.full(level.dim, 0.5 * residual_scale)
        if level.loadings is None:  # random coefficients: scale by the spread of their covariate
            Z = design.Z_levels[index] if len(design.Z_levels) > index else design.Z
            for k in range(level.dim):
                column = Z[:, k]
                spread = std_over_processes(column)
                if spread > 1e-8 + 1e-5 * mean_over_processes(np.abs(column)):  # not constant
                    level_scale[k] /= spread
        factors.append(np.diag(level_scale))
    if spec.family.exact_gaussian:
        log_disp = log_disp + np.log(0.9)
    return table.pack(beta, factors, log_disp, thresholds=thresholds, scale=scale)
