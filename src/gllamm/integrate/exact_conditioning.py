"""Responses without error inside a quadrature: condition the latent variables on them exactly.

A Gaussian identity-link row with residual variance 0 (``x ~~ 0*x``, design/exact_indicators.py) fixes a linear
combination of a cluster's latent variables: r_i = y_i - eta0_i = a_i'u exactly. With u ~ N(0, I_q) and E the
cluster's such rows (A_E = [a_i], i in E, of full column rank |E| <= q), the cluster's likelihood factors as

    L_c = N(r_E; 0, S) * E[ prod_{i not in E} f(y_i | eta0_i + a_i'u) | r_E ],   S = A_E'A_E,

and u | r_E ~ N(m, P) with m = A_E S^{-1} r_E and P = I - A_E S^{-1} A_E', the orthogonal projector on the
directions the rows leave free (P = P' = P^2). So u = m + P v with v ~ N(0, I_q): the other rows see

    eta_i = (eta0_i + a_i'm) + (P a_i)'v,

an integrand of the usual form in v (its curvature along the fixed directions is that of the prior alone), to
which adaptive quadrature, Laplace and Gauss-Hermite apply unchanged; log N(r_E; 0, S) is a constant of the
cluster. A cluster without such rows (the indicator missing) has m = 0 and P = I: it is integrated as before.
Posterior moments of v map back to u by u = m + P v. This is the seeds' missing-covariate model with a
non-Gaussian outcome: where the true covariate is observed, its latent variable equals it, with no quadrature
error (a tiny positive variance instead would leave the quadrature a spike to find).

Needs one chunk of rows per cluster (one level of latent variables), as the marginal Gaussian form does.
"""

from __future__ import annotations

from dataclasses import replace

import jax.numpy as jnp

from .shared_gaussian import marginal_normal


def condition_on_exact_rows(model):
    """The ``ClusterModel`` in v of u = m + P v given its clusters' error-free rows (see the module docstring):
    those rows' weights set to 0, eta0 + A m and loadings P a for the others, log N(r_E; 0, S) as the clusters'
    constant, and (m, P) to map posterior moments back to u. One chunk per cluster: chunk c holds cluster c."""
    exact = model.exact_rows  # (clusters, width)
    # the marginal normal of those rows alone (unit-variance kernels there, T = 0): m, P and log N(r_E; 0, S)
    shift, projector, constant = marginal_normal(replace(model, weight=jnp.where(exact, model.weight, 0.0)))
    return replace(
        model,
        eta0=model.eta0 + jnp.einsum("kcm,ck->cm", model.loadings, shift),
        loadings=jnp.einsum("ckl,lcm->kcm", projector, model.loadings),
        weight=jnp.where(exact, 0.0, model.weight),
        exact_rows=None,
        cluster_constant=constant,
        standard_shift=shift,
        standard_map=projector,
    )
