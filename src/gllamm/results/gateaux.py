"""The Gateaux derivative of the log-likelihood in the mixing distribution (NPML's check), on a grid of points.

    D(e) = sum_j w_j [ f(y_j | e) / L_j - 1 ]

is the directional derivative of the log-likelihood when mass moves from the fitted discrete distribution of
the latent variables towards a point mass at e: non-positive everywhere at the NPML estimate.
"""

from __future__ import annotations

import numpy as np

from ..errors import GllammError
from ..spec.class_parameters import class_parameters


def gateaux_grid(result, size: int | None = None) -> np.ndarray:
    """Points (n, q) covering the mass points and beyond, where the Gateaux derivative is checked."""
    level = result.spec.levels[0]
    E, rho = class_parameters(result.table_spec, result.theta)
    q = level.dim
    if q > 2:
        raise GllammError("NPML is available for one or two discrete random effects per cluster.")
    family = result.spec.family
    if family.exact_gaussian or family.link.name == "identity":
        width = 4.0 * np.sqrt(max(float(np.mean([result.params[n] for n in result.spec.dispersions] or [1.0])), 1e-8))
    else:
        width = 5.0
    size = size or (401 if q == 1 else 41)
    axes = [np.linspace(E[:, k].min() - width, E[:, k].max() + width, size) for k in range(q)]
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=1)


def gateaux_derivative(result, points) -> np.ndarray:
    """D(e) = sum_j w_j [f(y_j | e) / L_j - 1] at each point e (n, q): the directional derivative of the
    log-likelihood when mass moves from the fitted mixing distribution towards a point mass at e."""
    from ..objective_programs import make_objective

    objective = make_objective(result.table_spec, result.integration)
    data = result.design.data()
    points = np.asarray(points, float).reshape(len(points), -1)
    log_f = np.asarray(objective.conditional_log_densities(result.theta, data, points))
    log_l = np.asarray(objective.cluster_values(result.theta, data, objective.mode_start(data)))
    weight = np.asarray(data["cluster_weight"])
    return weight @ (np.exp(log_f - log_l[:, None]) - 1.0)
