"""Model.fit: the stages of a maximum likelihood fit, each a function of its own.

    integration rule -> constraints -> layout -> start values -> Newton iterations -> quadrature check
    -> standard errors -> FitResult

Models with latent classes take another strategy (``estimate/latent_classes.py``: several starts, NPML).
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np

from ..design.exact_indicators import mark_zero_dispersions
from ..errors import GllammError, check_choice
from ..optimize.laplace_check import needs_laplace_check
from ..optimize.quadrature_check import needs_check
from ..results.construction import make_result
from ..spec import ParameterTable
from ..spec.constraints import build_constraints
from .integration_choice import announce_cost, choose_integration, default_nip
from .iterations import (constrained_start, distinct_clusters, fitting_arrays, layout_for, layout_options,
                         maximize_likelihood, prefetch_programs, summed_expected_information)
from .quadrature_refits import checked_laplace, checked_quadrature
from .priors import prior_options, prior_penalty
from .reml_covariance import reml_theta_vcov
from .start_values import start_values


def fit_model(model, estimation, scale):
    """Maximum likelihood fit of a ``Model`` with ``EstimationOptions`` and ``ScaleOptions`` -> FitResult."""
    e = estimation
    fix = {**model.implied_fix, **(e.fix or {})} or None
    equal = (list(model.implied_equal) + list(e.equal or [])) or None
    if model.model_options.classes is not None:
        if e.reml:
            raise GllammError("reml=True is for linear mixed models; models with latent classes are fitted by "
                              "maximum likelihood (leave out reml=).")
        return _fit_classes(model, e, scale, fix, equal)
    if e.starts is not None:
        raise GllammError("starts= is for models with latent classes; give classes= as well.")
    if e.n_jobs != 1:
        raise GllammError("n_jobs= runs the random starts of latent class models (classes=) in parallel processes; "
                          "for a bootstrap in parallel use result.bootstrap(n_jobs=...).")
    spec, design = model.spec, model.design
    integration = choose_integration(spec, design, e.method, e.nip, e.reml, e.integration)
    table = ParameterTable(spec)
    constraints = build_constraints(table, fix, equal)
    exact_indicators = mark_zero_dispersions(table, constraints, design, integration)
    announce_cost(spec, integration, design, table)
    layout = layout_for(table, integration, design, scale.devices, scale.chunk_size)
    _check_one_piece(integration, exact_indicators, layout)
    linear_gaussian = _fisher_scoring(model, exact_indicators)
    fit_data = None
    if layout is None:  # (parts of clusters run other programs)
        fit_data = fitting_arrays(design, integration)
        prefetch_programs(table, integration, design, constraints, linear_gaussian, fit_data)
    theta0 = constrained_start(constraints, start_values(spec, design, table, e.start, e.verbose, layout), fix, equal)
    penalty = prior_penalty(e.priors, table)
    try:
        optimum = maximize_likelihood(table, integration, design, theta0, e.max_iter, e.tol, e.verbose, constraints,
                                      linear_gaussian, layout, fit_data, penalty)
    except FloatingPointError as error:
        raise GllammError(f"{error} {_not_finite_reason(spec)}") from None
    check = None
    if e.max_iter > 0 and needs_check(integration, spec):
        optimum, integration, layout, check = checked_quadrature(table, integration, design, optimum, theta0,
                                                                 e.max_iter, e.tol, e.verbose, constraints,
                                                                 scale.devices, scale.chunk_size, layout, fit_data,
                                                                 penalty)
    elif e.max_iter > 0 and needs_laplace_check(integration, spec) and layout is None:
        optimum, check = checked_laplace(table, design, optimum, fit_data, e.verbose)
    information = check_choice("information", e.information or ("expected" if linear_gaussian and penalty is None
                                                                else "observed"), ("observed", "expected"))
    theta_vcov = None
    if information == "expected":
        fisher = constraints.matrix.T @ summed_expected_information(table, design, optimum.theta) @ constraints.matrix
        theta_vcov = constraints.matrix @ np.linalg.pinv(fisher) @ constraints.matrix.T
    elif integration.reml:
        theta_vcov = reml_theta_vcov(optimum.hessian, constraints.matrix, table.n_fixed)
    options = result_options(model, e, integration, fix, equal, information, int(constraints.matrix.shape[1]))
    options.update(layout_options(layout, design, spec, scale.chunk_size))
    options.update(distinct_clusters(fit_data, design))
    options.update(prior_options(penalty, optimum))
    return make_result(spec, table, design, integration, optimum, options, constraints=constraints,
                       warn=e.max_iter > 0, theta_vcov=theta_vcov, quadrature_check=check,
                       definitions=model.definitions, model=model)


def _check_one_piece(integration, exact_indicators: bool, layout) -> None:
    """REML and residual variances fixed at 0 are fitted on one device in one piece: a clear error otherwise."""
    if integration.reml and layout is not None:
        raise GllammError("reml=True fits on one device in one piece (its correction log det(X'V^-1 X) is not a sum "
                          "over clusters); leave out devices= and chunk_size=.")
    if exact_indicators and layout is not None:
        raise GllammError("A residual variance fixed at exactly 0 is fitted on one device in one piece; leave out "
                          "devices= and chunk_size=, or fix it at a small positive value (e.g. 1e-6).")


def _fit_classes(model, e, scale, fix, equal):
    """A model with latent classes: several starts, or NPML (``estimate/latent_classes.py``)."""
    from .latent_classes import fit_classes

    spec, d, m = model.spec, model.data_options, model.model_options
    options = dict(family=spec.family.name, link=spec.family.link.name, family_by=m.family_by, method="discrete",
                   nip=0, trials=d.trials, scale=m.scale, scale_weights=d.scale_weights, factor_scale=m.factor_scale,
                   information="observed", base=m.base, choice_set=m.choice_set, nominal=m.nominal,
                   families=families_json(spec.family))
    result = fit_classes(spec, model.design, model.data, m.classes, syntax=model.syntax, concomitant=m.concomitant,
                         known_class=m.known_class, starts=e.starts, seed=e.seed, fix=fix, equal=equal, start=e.start,
                         max_iter=e.max_iter, tol=e.tol, verbose=e.verbose, options=options,
                         method=e.method or "adaptive",
                         nip=e.nip, devices=scale.devices, chunk_size=scale.chunk_size, n_jobs=e.n_jobs)
    return replace(result, model=model)


def _fisher_scoring(model, exact_indicators: bool) -> bool:
    """Linear Gaussian models written in syntax are fitted by Fisher scoring first (and report the expected
    information, as SEM programs do): one level, no latent interactions, no sampling weights (the expected
    information assumes unit weights) and every residual variance above 0."""
    spec = model.spec
    return model.syntax and spec.family.exact_gaussian and len(spec.levels) == 1 and not spec.levels[0].products \
        and model.data_options.weights is None and not exact_indicators


def result_options(model, e, integration, fix, equal, information: str, n_free: int) -> dict:
    """What a result records of the options it was fitted with (saved with it, and used to refit)."""
    d, m, family = model.data_options, model.model_options, model.spec.family
    nip = default_nip(model.spec.n_latent) if e.nip is None else e.nip
    return dict(family=family.name, link=family.link.name, family_by=m.family_by, base=m.base, choice_set=m.choice_set,
                nominal=m.nominal, families=families_json(family), method=e.method, nip=int(integration.nip or nip),
                trials=d.trials, scale=m.scale, fix=fix, equal=equal, scale_weights=d.scale_weights,
                factor_scale=m.factor_scale, cluster=d.cluster, information=information, n_free=n_free, group=d.group,
                reml=bool(e.reml), zero_inflation=m.zero_inflation, integration=integration.rule,
                frequency_weighted=d.frequency_weights is not None, ordered_thresholds=bool(m.ordered_thresholds),
                priors=dict(e.priors) if e.priors else None,
                **({"sensitivity": family.sensitivity, "specificity": family.specificity}
                   if getattr(family, "misclassified", False) else {}))


def families_json(family) -> str | None:
    """Mixed responses: the mapping {response: [family, link]} as JSON (kept with saved results)."""
    if family.name != "mixed":
        return None
    return json.dumps({label: [f.name, f.link.name] for label, f in zip(family.labels, family.members)})


def _not_finite_reason(spec) -> str:
    """What to do when the log-likelihood is not finite at the start values."""
    family = spec.family
    if family.bounded_mean:
        return (f"With the {family.link.name} link the mean must stay inside its parameter space for every value of "
                "the latent variables the integration visits; a unit whose responses put its mode on the edge (e.g. "
                "all zeros under an identity link) has no finite likelihood there. Use the canonical link, or give "
                "start= values.")
    return "Give start= values (a previous fit's params, or some parameters by name) or simplify the model."
