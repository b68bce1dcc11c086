"""Which parameters a singular Hessian leaves undetermined.

When -H is not positive definite at the estimates, the log-likelihood is (locally) flat or curved upwards along
the eigenvectors of its smallest eigenvalues: a combination of those parameters can change without lowering the
likelihood, so the data do not identify them (or the estimate lies on a boundary). In the Jacobi-scaled
coordinates of the optimiser (unit diagonal of -H), the parameters with a large component in such an eigenvector
are the ones named.
"""

from __future__ import annotations

import numpy as np

from .newton import jacobi_scales


def flat_parameters(hessian: np.ndarray, names: list[str], threshold: float = 1e-10) -> list[str]:
    """Names of the parameters with a component above 0.25 in an eigenvector of -D H D whose eigenvalue is at
    most ``threshold`` times the largest (D the Jacobi scales), largest components first."""
    if hessian.size == 0 or not np.all(np.isfinite(hessian)):
        return []
    d = jacobi_scales(hessian)
    eigenvalues, vectors = np.linalg.eigh(-0.5 * (hessian + hessian.T) * np.outer(d, d))
    flat = eigenvalues <= threshold * max(1.0, eigenvalues.max())
    if not flat.any():
        return []
    weight = np.abs(vectors[:, flat]).max(axis=1)
    order = np.argsort(-weight)
    return [names[k] for k in order if weight[k] > 0.25]


def readable_theta_name(name: str) -> str:
    """A theta entry's name as users know it: log_dispersion[x] -> x (other names as they are)."""
    if name.startswith("log_dispersion[") and name.endswith("]"):
        return name[len("log_dispersion["):-1]
    return name
