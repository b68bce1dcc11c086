"""The unrestricted two-level model of the indicators given covariates of the latent variables (lavaan's h1 of a two-level SEM
whose latent variables are regressed on level-1 covariates, with its default fixed.x = TRUE).

Unit i of cluster j has indicators y_ij = mu + Gamma x_ij + b_j + w_ij, b_j ~ N(0, Sigma_B), w_ij ~ N(0, Sigma_W),
with Gamma (p x k) free: the unrestricted two-level model (``two_level_unrestricted``) of the residuals
r_ij = y_ij - Gamma x_ij. Its sufficient statistics follow from those of z = (y, x): the pooled within-cluster
cross-products W_zz give W_rr = W_yy - Gamma W_xy - W_yx Gamma' + Gamma W_xx Gamma', and, per cluster size, the sums
of the cluster means and of their cross-products give those of rbar_j = ybar_j - Gamma xbar_j in the same way. The
covariates' own distribution is not modelled (it is the same, saturated, in the model and in h1): the chi-square
compares l(y | x) of the model with this maximum. Between-level covariates (constant within clusters) enter the
same way (their within cross-products are 0). ML by Newton's method with exact derivatives (JAX); start: Gamma
from the least-squares regression of y on x, the rest as for the residuals.
"""

from __future__ import annotations

import numpy as np


def _statistics(Y: np.ndarray, X: np.ndarray, cluster: np.ndarray) -> dict:
    """Pooled within cross-products of z = (y, x) and, per distinct cluster size, the number of clusters and the
    sums of their mean vectors and of the means' cross-products (z-blocks split in the likelihood)."""
    from .two_level_unrestricted import _cluster_statistics

    full = _cluster_statistics(np.column_stack([Y, X]), cluster)
    return {k: v for k, v in full.items() if k not in ("means", "counts")}


def _residual_statistics(statistics: dict, gamma, p: int) -> dict:
    """The statistics of r = y - Gamma x from those of z = (y, x) (module docstring)."""
    import jax.numpy as jnp

    A = jnp.concatenate([jnp.eye(p), -gamma], axis=1)  # r = A z
    return {**statistics, "within": A @ statistics["within"] @ A.T, "first": statistics["first"] @ A.T,
            "second": jnp.einsum("pa,sab,qb->spq", A, statistics["second"], A)}


def _negative_loglik(z, statistics, p: int, k: int):
    """-l(y | x): the unrestricted two-level likelihood of the residuals, z = (its parameters, vec Gamma)."""
    from .two_level_unrestricted import _negative_loglik as unrestricted

    m = p + p * (p + 1)
    gamma = z[m:].reshape(p, k)
    return unrestricted(z[:m], _residual_statistics(statistics, gamma, p), p)


def unrestricted_two_level_given_x(Y: np.ndarray, X: np.ndarray, cluster: np.ndarray) -> tuple:
    """(mu, Sigma_W, Sigma_B, Gamma, log-likelihood of y given x) of the unrestricted two-level model of Y (units x
    p indicators) given the within-level covariates X (units x k), fitted by ML (module docstring)."""
    from .two_level_unrestricted import _cluster_statistics, _start, _unpack, minimised

    p, k = Y.shape[1], X.shape[1]
    gamma = np.linalg.lstsq(X - X.mean(axis=0), Y - Y.mean(axis=0), rcond=None)[0].T  # least squares of y on x
    start = np.concatenate([_start(_cluster_statistics(Y - X @ gamma.T, cluster), p), gamma.reshape(-1)])
    z, value = minimised(_negative_loglik, start, _statistics(Y, X, cluster), p, k)
    m = p + p * (p + 1)
    mu, within, between = (np.asarray(x) for x in _unpack(z[:m], p))
    return mu, within, between, z[m:].reshape(p, k), -value


def level_covariates(spec) -> tuple[list[str], list[str]] | None:
    """(covariates of within-level latent variables, of between-level ones) of a two-level SEM whose covariates are
    only regressors of its latent variables (the case handled here; ([], []) without covariates); None for any other
    use of covariates (direct effects on indicators, latent interactions, a scale model) or a covariate at both
    levels."""
    from .fit_measures import has_covariates

    if not has_covariates(spec):
        return [], []
    if any(level.products or level.cross_paths for level in spec.levels) or spec.scale_names \
            or any(not name.endswith("~1") for name in spec.fixed_names):
        return None
    within, between = ([spec.covariate_names[path.rhs] for path in level.covariate_paths] for level in spec.levels)
    within, between = list(dict.fromkeys(within)), list(dict.fromkeys(between))
    return None if set(within) & set(between) else (within, between)


def joint_covariance(S_yy: np.ndarray, effect: np.ndarray, S_xx: np.ndarray) -> np.ndarray:
    """The covariance of (y, x) at one level with x's covariance S_xx and y = effect x + residual of covariance S_yy:
    [[S_yy + A S_xx A', A S_xx], [S_xx A', S_xx]] (lavaan's h1 and implied matrices of fixed.x, within or between)."""
    cross = effect @ S_xx
    return np.block([[S_yy + cross @ effect.T, cross], [cross.T, S_xx]])
