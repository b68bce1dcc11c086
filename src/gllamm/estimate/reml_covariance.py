"""Standard errors of a REML fit, as lme4, nlme and SAS report them.

The restricted likelihood l_R(theta_v) is a function of the covariance parameters theta_v alone; the fit
maximises l(beta, theta_v) + correction(theta_v) jointly, whose beta-maximiser is the GLS estimate. So:

* Var(beta_hat) = (X' V^-1 X)^-1 at the estimates, the inverse of minus the beta-block of the Hessian (the
  correction does not depend on beta, and the Gaussian log-likelihood is quadratic in beta);
* Var(theta_v_hat) = the theta_v-block of the inverse of minus the whole Hessian: by the block inverse that is
  the inverse of minus the Hessian of the profile l_R(beta_hat(theta_v), theta_v), i.e. of the restricted
  likelihood itself;
* beta and theta_v uncorrelated (their information is block diagonal in expectation).
"""

from __future__ import annotations

import numpy as np


def reml_theta_vcov(hessian: np.ndarray, matrix: np.ndarray, n_fixed: int) -> np.ndarray | None:
    """Covariance of theta = offset + matrix @ phi from the Hessian in phi; None (use the plain inverse) when some
    free direction moves fixed effects and covariance parameters together, or the information is singular."""
    moves_beta = np.any(matrix[:n_fixed] != 0, axis=0)
    moves_other = np.any(matrix[n_fixed:] != 0, axis=0)
    if np.any(moves_beta & moves_other):
        return None
    information = -np.asarray(hessian)
    if information.size == 0 or np.linalg.eigvalsh(information).min() <= 0:
        return None
    free_vcov = np.linalg.inv(information)
    beta = np.flatnonzero(moves_beta)
    free_vcov[np.ix_(beta, beta)] = np.linalg.inv(information[np.ix_(beta, beta)])
    other = np.flatnonzero(~moves_beta)
    free_vcov[np.ix_(beta, other)] = 0.0
    free_vcov[np.ix_(other, beta)] = 0.0
    return matrix @ free_vcov @ matrix.T
