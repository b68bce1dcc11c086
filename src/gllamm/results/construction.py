"""FitResult from an optimum: reported parameters and their covariance by the delta method, boundary estimates,
and the message of a fit that did not converge (naming the parameters the data do not determine)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ConvergenceWarning, warn_user
from ..optimize import OptimizationResult
from ..optimize.flat_directions import flat_parameters, readable_theta_name
from ..optimize.shared_programs import SharedPrograms
from ..spec.constraints import Constraints
from .boundary import boundary_parameters
from .fit_result import FitResult


def free_parameter_names(table, M: np.ndarray) -> list[str]:
    """A readable name for each free parameter (column of the constraint matrix M): its theta entries' names."""
    covariances = {f"chol[{level.latent_names[r]},{level.latent_names[c]}|{level.name}]": level.covariance_name(r, c)
                   for level in table.spec.levels for r, c in level.cholesky_positions}
    names = [covariances.get(n) or readable_theta_name(n) for n in table.frame().name]
    return ["=".join(names[i] for i in np.flatnonzero(M[:, j])) or f"free[{j}]" for j in range(M.shape[1])]


def make_result(spec, table, design, integration, optimum: OptimizationResult, options: dict,
                 constraints: Constraints | None = None, warn: bool = True,
                 theta_vcov: np.ndarray | None = None, quadrature_check=None, definitions: tuple = (),
                 model=None) -> FitResult:
    """FitResult from an optimum; ``optimum.hessian`` is on the free-parameter scale of ``constraints``."""
    theta = optimum.theta
    information = -optimum.hessian
    M = np.eye(len(theta)) if constraints is None else constraints.matrix
    if theta_vcov is None:
        try:
            eigenvalues = np.linalg.eigvalsh(information) if information.size else np.ones(1)
            free_vcov = np.linalg.inv(information) if eigenvalues.min() > 0 else np.linalg.pinv(information)
            theta_vcov = M @ free_vcov @ M.T
        except np.linalg.LinAlgError:
            theta_vcov = np.full((len(theta), len(theta)), np.nan)
    reported, jacobian = (np.asarray(x) for x in SharedPrograms(table, integration).reported(theta))
    vcov = jacobian @ theta_vcov @ jacobian.T
    names = table.reported_names()
    params = pd.Series(reported, index=names)
    boundary = boundary_parameters(spec, params, design, fixed=(options.get("fix") or {}).keys())
    message = optimum.message
    if not optimum.converged and "not negative definite" in message and "the data do not determine" not in message:
        flat = flat_parameters(np.asarray(optimum.hessian), free_parameter_names(table, M))
        if flat:
            message += f"; the data do not determine {', '.join(flat[:8])}" + (" ..." if len(flat) > 8 else "") + \
                " (the log-likelihood does not fall when a combination of them changes): the model is not " \
                "identified there; fix or equate parameters, or simplify the model"
    if not optimum.converged:
        message += _edge_of_link_domain(spec, design, params)
    if boundary and "boundary (singular) fit" not in message:
        message += f"; boundary (singular) fit: {', '.join(boundary)} on the boundary of the parameter space"
    if not optimum.converged and warn:
        warn_user(f"The fit did not converge: {message}. Estimates are from the last iteration; "
                  "try other start values, more quadrature points or a simpler model.", ConvergenceWarning)
    return FitResult(
        spec=spec, table_spec=table, design=design, integration=integration, theta=theta,
        theta_vcov=theta_vcov, params=params,
        vcov=pd.DataFrame(vcov, index=names, columns=names), loglik=float(optimum.loglik),
        converged=optimum.converged, iterations=optimum.iterations, message=message,
        gradient=optimum.gradient, fit_log=optimum.log, seconds=optimum.seconds, options=options,
        quadrature_check=quadrature_check, boundary=boundary, definitions=definitions, model=model,
    )


def _edge_of_link_domain(spec, design, params) -> str:
    """The reason an unconverged fit with a link that does not map onto the mean's parameter space (binomial log
    or identity, Poisson identity) stopped: the maximum would put fitted means outside it."""
    family = spec.family
    if not family.bounded_mean or family.name == "gamma" or design.X is None or not spec.fixed_names:
        return ""
    eta = design.X @ params[list(spec.fixed_names)].to_numpy() + design.offset
    if family.name == "binomial":
        mean = np.exp(eta) if family.link.name == "log" else eta
        edge, what = mean > 1 - 1e-4, "probabilities reach 1"
        if family.link.name == "identity" and np.sum(mean < 1e-4) > np.sum(edge):
            edge, what = mean < 1e-4, "probabilities reach 0"
    else:
        edge, what = eta < 1e-4, "means reach 0"
    if not edge.any():
        return ""
    return (f"; the maximum lies on the edge of the {family.link.name} link's parameter space: fitted {what} for "
            f"{int(edge.sum())} rows (with latent variables at 0), and the likelihood would keep rising past it; use "
            f"the canonical link ({'logit' if family.name == 'binomial' else 'log'}) or a model whose means stay "
            "inside")
