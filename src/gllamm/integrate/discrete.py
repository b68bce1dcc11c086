"""Discrete latent variables: the integral over the latent distribution is an exact finite sum.

A cluster j belongs to class c with probability pi_jc (multinomial logit on cluster
covariates v_j, last class the reference) and, given its class, the latent vector takes
the class's location e_c, so

    L_j = sum_c pi_jc prod_i f(y_ij | eta0_ij + a_ij' e_c)^{w_ij},
    log L_j = logsumexp_c (log pi_jc + sum_i w_ij log f(y_ij | eta0_ij + a_ij' e_c)).

Clusters whose class is known (training data, e.g. compliers observed in the treatment
arm of a trial) sum over their allowed classes only. The posterior class probabilities
are the terms of the sum divided by L_j (Bayes' rule).
"""

from __future__ import annotations

import jax.numpy as jnp
from jax.scipy.special import logsumexp

from .cluster_integral import ClusterModel


def class_log_probabilities(class_logits, covariates):
    """log pi_jc (clusters, C) from rho (C, n_v) with last row 0 and cluster covariates v (clusters, n_v)."""
    scores = covariates @ class_logits.T
    return scores - logsumexp(scores, axis=-1, keepdims=True)


def class_terms(model: ClusterModel, locations, log_pi, allowed):
    """log pi_jc + log f(y_j | e_c) per cluster and class (clusters, C); -inf for classes a cluster cannot have."""
    u = jnp.broadcast_to(locations[None], (model.n_clusters,) + locations.shape)
    terms = log_pi + model.log_density_at_nodes(u)
    return jnp.where(allowed, terms, -jnp.inf)


def discrete_log_integrals(model: ClusterModel, locations, log_pi, allowed):
    """log L_j per cluster (clusters,): the exact finite mixture over classes."""
    return logsumexp(class_terms(model, locations, log_pi, allowed), axis=-1)


def class_posterior(model: ClusterModel, locations, log_pi, allowed):
    """Posterior class probabilities P(c | y_j) = pi_jc f(y_j | e_c) / L_j (clusters, C)."""
    terms = class_terms(model, locations, log_pi, allowed)
    return jnp.exp(terms - logsumexp(terms, axis=-1, keepdims=True))
