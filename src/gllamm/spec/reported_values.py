"""The reported parameters as a smooth function of theta (used with the delta method): fixed effects, thresholds,
free loadings, paths, covariances of the disturbances Psi = L L', residual variances exp(2 log sd) (dispersions
exp(log phi)), scale and threshold effects, class locations, their implied moments, membership logits and the class
probabilities, in the order of ``ParameterTable.reported_names``."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np


def reported_values(table, theta):
    """theta -> the reported parameter vector of ``table``'s model."""
    unpacked = table.unpack(theta)
    parts = [unpacked.beta, unpacked.thresholds]
    for index, level in enumerate(table.spec.levels):
        free = table._free_loadings(level)
        if free:
            parts.append(unpacked.loadings[index][np.array([l.latent for l in free]), np.array([l.column for l in free])])
    for index, level in enumerate(table.spec.levels):
        if level.paths:
            parts.append(unpacked.structural[index][np.array([p.lhs for p in level.paths]),
                                                    np.array([p.rhs for p in level.paths])])
        if level.covariate_paths:
            parts.append(unpacked.covariate_effects[index][np.array([p.lhs for p in level.covariate_paths]),
                                                           np.array([p.rhs for p in level.covariate_paths])])
        parts.append(unpacked.products[index])
        if level.cross_paths:
            parts.append(unpacked.cross_effects[index][np.array([p.lhs for p in level.cross_paths]),
                                                       np.array([p.rhs for p in level.cross_paths])])
    for index, level in enumerate(table.spec.levels):
        factor = unpacked.cholesky[index]
        psi = factor @ factor.T
        pairs = table._covariance_pairs(level)
        if pairs:
            rows, cols = (np.array(x, dtype=int) for x in zip(*pairs))
            parts.append(psi[rows, cols])
    if table.spec.dispersions:
        powers = np.asarray(table.spec.reported_dispersion_powers)
        parts.append(jnp.exp(powers * unpacked.log_dispersion))
    parts.append(unpacked.scale)
    if unpacked.threshold_effects is not None:
        parts.append(unpacked.threshold_effects.reshape(-1))
    parts.append(unpacked.zero_inflation)
    level = table.spec.discrete_level
    if level is not None:
        index = table.spec.levels.index(level)
        E = unpacked.locations[index]
        parts.append(E.T.reshape(-1))
        pi = table.reference_probabilities(level, unpacked.class_logits)
        centred = [k for k in range(level.dim) if level.centred[k]]
        moments = jnp.einsum("c,ck,cl->kl", pi, E, E)  # centred: sum_c pi_c e_c e_c'
        parts += [moments[r, c][None] for i, r in enumerate(centred) for c in centred[: i + 1]]
        if unpacked.class_logits is not None:
            parts.append(unpacked.class_logits[:-1].reshape(-1))
            if table.spec.class_covariates == ("(Intercept)",):
                parts.append(pi)
    return jnp.concatenate(parts)
