"""The quadrature check of a fit (``optimize/quadrature_check.py``) and the refits with more points it calls for."""

from __future__ import annotations

from dataclasses import replace

from ..errors import QuadratureWarning, warn_user
from ..integrate import Integration
from ..optimize.laplace_check import CHECK_POINTS, LaplaceCheck
from ..optimize.laplace_check import failure_message as laplace_failure
from ..optimize.quadrature_check import REFITS, TOLERANCE, QuadratureCheck, finer, loglik_at, rule_words
from ..parallel import PartitionedObjective
from .iterations import fitting_arrays, layout_for, maximize_likelihood


def checked_quadrature(table, integration, design, optimum, theta0, max_iter, tol, verbose, constraints, devices,
                        chunk_size, layout, fit_data, penalty=None):
    """The fit's quadrature checked at the estimates with more points (``optimize.quadrature_check``); while the
    check fails, refitted from the start values with EXTRA_POINTS more points (REFITS times at most). Returns
    (optimum, integration, layout, check); the optimum is not converged when the last check failed.
    ``fit_data``: the arrays of the fit's iterations (``fitting_arrays``, the same for every number of points)."""
    requested = integration
    fit_data = fitting_arrays(design, integration) if fit_data is None else fit_data
    for refit in range(REFITS + 1):
        check = _quadrature_check(table, integration, design, optimum.theta, optimum.loglik, devices, chunk_size,
                                  fit_data)
        if verbose:
            print(check.describe())
        if check.passed or refit == REFITS or (integration.rule != "product" and check.check_rule == "product"):
            break  # (a product rule that checks another rule costs too much to iterate with)
        integration = finer(integration, table.spec)
        layout = layout_for(table, integration, design, devices, chunk_size)
        optimum = maximize_likelihood(table, integration, design, theta0, max_iter, tol, verbose, constraints, False, layout,
                            None if layout is not None else fit_data, penalty)
    if integration != requested and check.passed:
        asked, checked = rule_words(requested.rule, requested.nip), finer(requested, table.spec)
        warn_user(f"{asked} were not enough (the log-likelihood at the estimates changed by more than {TOLERANCE:g} "
                  f"with {rule_words(checked.rule, checked.nip)}); refitted with "
                  f"{rule_words(integration.rule, integration.nip)}: {check.describe()}.", QuadratureWarning)
    if not check.passed:
        bounded = _bounded_mean_families(table.spec.family)
        advice = ("use method='adaptive' (the default: the rule follows each cluster's posterior)"
                  if integration.method == "ghq" else
                  f"the {' and '.join(bounded)} link gives a mean of 0 or below where the normal latent variables put "
                  "some probability, where the response has no density: the integrand has an edge no quadrature rule "
                  "integrates accurately; use link='log'" if bounded else
                  "give more points (nip=) or use method='laplace' for a known approximation")
        optimum = replace(optimum, converged=False, message=f"{check.describe()}; the estimates depend on the "
                                                            f"quadrature: {advice} ({optimum.message})")
    return optimum, integration, layout, check


def _quadrature_check(table, integration, design, theta, loglik, devices, chunk_size, fit_data) -> QuadratureCheck:
    """log L at theta with the fit's rule (``loglik``) and with ``finer(integration)``."""
    check_rule = finer(integration, table.spec)
    layout = layout_for(table, check_rule, design, devices, chunk_size)
    data, partitioned = fit_data, None
    if layout is not None:
        data, partitioned = layout.data(design), (lambda objective: PartitionedObjective(objective, layout))
    try:
        check_loglik = loglik_at(table, check_rule, theta, data, partitioned)
    except FloatingPointError:
        check_loglik = float("nan")
    return QuadratureCheck(integration.nip, float(loglik), check_rule.nip, check_loglik, integration.rule,
                           check_rule.rule)


def _bounded_mean_families(family) -> list[str]:
    """'family/link' of the responses whose mean must be positive but whose link lets it reach 0 or below (gamma
    with the reciprocal or identity link)."""
    members = family.members if family.name == "mixed" else [family]
    return sorted({f"{f.name}/{f.link.name}" for f in members if f.name == "gamma" and f.link.name != "log"})


def checked_laplace(table, design, optimum, fit_data, verbose: bool):
    """A Laplace fit's log L at the estimates computed again by adaptive quadrature (``optimize/laplace_check.py``);
    (optimum, check), the optimum not converged, with a ConvergenceWarning, when the two differ too much."""
    points = CHECK_POINTS
    check = LaplaceCheck(float(optimum.loglik), points,
                         loglik_at(table, Integration("adaptive", points), optimum.theta, fit_data),
                         int(design.data()["cluster_weight"].shape[0]))
    if verbose:
        print(check.describe())
    if not check.passed:
        optimum = replace(optimum, converged=False, message=laplace_failure(check, optimum.message))
    return optimum, check
