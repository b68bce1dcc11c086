"""A level's latent variables as functions of the parameters: the structural map eta = M (Gamma w + L u) with
M = (I - B)^{-1}, the latent values at standardised disturbances u (with latent interactions), and the coefficients
latent interactions give each row."""

from __future__ import annotations

import jax.numpy as jnp


def latent_structure(table, params, index: int = 0):
    """(Lambda, M, M L) at one level: loadings, M = (I - B)^{-1}, and the map from u to eta = M (Gamma w + L u).

    The paths B among latent variables have no loop (the model syntax refuses one), so B is nilpotent
    (B^q = 0) and M = I + B + ... + B^(q-1) exactly: q - 1 small products, no LAPACK call, a small program."""
    level = table.spec.levels[index]
    q = level.dim
    M = jnp.eye(q)
    for _ in range(q - 1 if level.paths else 0):  # Horner: M <- I + B M
        M = jnp.eye(q) + params.structural[index] @ M
    return params.loadings[index], M, M @ params.cholesky[index]


def latent_values(table, params, u, w=None):
    """The latent variables eta (..., q) at standardised values u (..., q) of the level's disturbances:

        eta = M Gamma w + M L u + sum_p M[:, lhs_p] gamma_p eta_a eta_b,   eta_a = (L u)_a,

    the last sum over the structural latent interactions (f3 ~ f1:f2) of exogenous latent variables.
    """
    level = table.spec.levels[0]
    _, M, ML = latent_structure(table, params)
    eta = u @ ML.T
    L = params.cholesky[0]
    for p, product in enumerate(level.products):
        if not product.response:
            pair = (u @ L[product.a]) * (u @ L[product.b])
            eta = eta + params.products[0][p] * pair[..., None] * M[:, product.lhs]
    if w is not None and level.covariate_paths:
        eta = eta + w @ (M @ params.covariate_effects[0]).T
    return eta


def interaction_coefficients(level, params, data, weighted_z, M):
    """C_i (q, q, chunks, W) with eta_i += u' C_i u for the latent interactions.

    Interacting latent variables are exogenous, eta_a = L_a u (row a of the Cholesky factor), so
    eta_a eta_b = u' S_ab u with S_ab = (L_a' L_b + L_b' L_a) / 2. A structural term gamma eta_a eta_b in the
    equation of latent k reaches row i through (z_i' Lambda' M)_k; a response term through row i's item dummy.
    """
    L = params.cholesky[0]
    gamma = params.products[0]
    q = L.shape[0]
    coefficients = []
    for p, product in enumerate(level.products):
        if product.response:
            coefficients.append(gamma[p] * data["Z"][product.lhs])
        else:
            coefficients.append(gamma[p] * jnp.einsum("kcm,k->cm", weighted_z, M[:, product.lhs]))
    S = jnp.stack([0.5 * (jnp.outer(L[p.a], L[p.b]) + jnp.outer(L[p.b], L[p.a])) for p in level.products])
    return jnp.einsum("pcm,pkl->klcm", jnp.stack(coefficients), S.reshape(len(level.products), q, q))
