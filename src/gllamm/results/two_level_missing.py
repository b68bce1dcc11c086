"""The unrestricted two-level normal model fitted by ML to data with missing responses (lavaan's h1 of
``sem(..., cluster=, missing="ml")``).

Unit i of cluster j has the responses y_ij = mu + b_j + w_ij, b_j ~ N(0, Sigma_B), w_ij ~ N(0, Sigma_W), of which
the subset o_ij is observed. With E_ij the rows of the identity selecting o_ij, W_ij = E_ij Sigma_W E_ij' and
r_ij = y_ij,o - E_ij mu, integrating b_j = L_B v (Sigma_B = L_B L_B', v ~ N(0, I)) out of the product of the
units' normal densities gives the cluster's log-likelihood in closed form:

    l_j = sum_i log N(r_ij; 0, W_ij) - log|Q_j| / 2 + h_j' Q_j^-1 h_j / 2,
    Q_j = I + L_B' M_j L_B,   M_j = sum_i E_ij' W_ij^-1 E_ij,   h_j = L_B' sum_i E_ij' W_ij^-1 r_ij

(the matrix determinant lemma and the Woodbury identity; Sigma_B need not be invertible). Units with the same
pattern of observed responses share W_ij^-1, so it is computed once per pattern: W~ = D Sigma_W D + (I - D),
D = diag(pattern), whose inverse is W_ij^-1 on the observed responses (and the identity elsewhere) and whose
log-determinant is log|W_ij|. Without missing responses l_j is the sufficient-statistic formula of
``two_level_unrestricted``. Units with no observed response carry no information and are left out (as lavaan
does). The parameters are those of ``two_level_unrestricted._unpack``; the fit is Newton's method with a trust
region on the exact gradient and Hessian (JAX).
"""

from __future__ import annotations

import numpy as np


def _pattern_data(Y: np.ndarray, cluster: np.ndarray) -> dict:
    """Sufficient statistics of the likelihood, with missing responses set to 0: per cluster j and pattern k of
    observed responses the number of units n_jk and the sum of their responses s_jk; per pattern the sums over
    clusters n_k, t_k and of the cross-products T_k; the number of observed responses."""
    observed = ~np.isnan(Y)
    patterns, which = np.unique(observed, axis=0, return_inverse=True)
    which = which.reshape(-1)
    _, cluster_index = np.unique(cluster, return_inverse=True)
    filled = np.where(observed, Y, 0.0)
    clusters, K, p = cluster_index.max() + 1, len(patterns), Y.shape[1]
    counts, sums = np.zeros((clusters, K)), np.zeros((clusters, K, p))
    np.add.at(counts, (cluster_index, which), 1.0)
    np.add.at(sums, (cluster_index, which), filled)
    cross = np.zeros((K, p, p))
    np.add.at(cross, which, np.einsum("ip,iq->ipq", filled, filled))
    return {"masks": patterns.astype(float), "counts": counts, "sums": sums, "cross": cross,
            "observed": float(observed.sum())}


def _negative_loglik(z, data, p: int):
    """-sum_j l_j of the module docstring, from the sufficient statistics of ``_pattern_data``: with mu_k = D_k mu,
    sum_i r_i' W_k^-1 r_i = tr(W_k^-1 (T_k - t_k mu_k' - mu_k t_k' + n_k mu_k mu_k')) over the units of pattern k,
    and sum_i E_i' W_i^-1 r_i = sum_k W_k^-1 (s_jk - n_jk mu_k) in cluster j."""
    import jax
    import jax.numpy as jnp

    from ..integrate.small_linalg import inverse_and_log_det_spd
    from .two_level_unrestricted import _factors

    mu, L_W, L_B = _factors(z, p)
    W = L_W @ L_W.T
    D = data["masks"]  # (patterns, p)
    masked = D[:, :, None] * W[None] * D[:, None, :] + jax.vmap(jnp.diag)(1.0 - D)
    W_inverse, log_det = inverse_and_log_det_spd(masked)
    W_inverse = W_inverse * D[:, :, None] * D[:, None, :]
    mean = D * mu[None]  # mu_k
    n = data["counts"].sum(axis=0)
    totals = data["sums"].sum(axis=0)
    C = data["cross"] - jnp.einsum("kp,kq->kpq", totals, mean) - jnp.einsum("kp,kq->kpq", mean, totals) \
        + n[:, None, None] * jnp.einsum("kp,kq->kpq", mean, mean)
    units = -0.5 * (data["observed"] * jnp.log(2 * jnp.pi) + jnp.sum(n * log_det)
                    + jnp.einsum("kpq,kqp->", W_inverse, C))
    M = jnp.einsum("jk,kpq->jpq", data["counts"], W_inverse)
    g = jnp.einsum("kpq,jkq->jp", W_inverse, data["sums"] - data["counts"][:, :, None] * mean[None])
    Q = jnp.eye(p)[None] + jnp.einsum("pa,jpq,qb->jab", L_B, M, L_B)
    h = g @ L_B
    Q_inverse, Q_log_det = inverse_and_log_det_spd(Q)
    return -(units - 0.5 * jnp.sum(Q_log_det) + 0.5 * jnp.einsum("ja,jab,jb->", h, Q_inverse, h))


def unrestricted_two_level_missing(Y: np.ndarray, cluster: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                                 float]:
    """(mu, Sigma_W, Sigma_B, log-likelihood) of the unrestricted two-level normal model fitted by ML to Y (units x
    responses, NaN where missing; see the module docstring). Start: the complete-data fit of Y with each missing
    response replaced by its column's mean."""
    from .two_level_unrestricted import _cluster_statistics, _start, _unpack, minimised

    keep = ~np.isnan(Y).all(axis=1)
    Y, cluster = Y[keep], np.asarray(cluster)[keep]
    p = Y.shape[1]
    filled = np.where(np.isnan(Y), np.nanmean(Y, axis=0)[None], Y)
    z, value = minimised(_negative_loglik, _start(_cluster_statistics(filled, cluster), p), _pattern_data(Y, cluster),
                         p)
    mu, W, B = (np.asarray(x) for x in _unpack(z, p))
    return mu, W, B, -value
