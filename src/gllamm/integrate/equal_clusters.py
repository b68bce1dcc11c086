"""Clusters equal in everything, responses included, fitted as one.

The log-likelihood is sum_c w_c log L_c, and L_c depends on cluster c's arrays only (responses, covariates,
loadings' covariates, weights, offsets). Clusters whose arrays are all equal have equal L_c, so a group of them
contributes (sum of their weights) log L_c: one cluster with the summed weight gives the same log-likelihood,
gradient and Hessian, exactly. Item-response and latent class data are full of such clusters (the LSAT's 1,000
persons answer five items in 32 patterns), and every quadrature or mode computation then runs on the
patterns only. ``collapse_equal_clusters`` makes those arrays for the fit's iterations; everything per cluster
(EB predictions, robust standard errors, residuals) uses the design's own arrays.
"""

from __future__ import annotations

import jax
import numpy as np

from .shared_gaussian import cluster_groups, first_of_groups

_SUMMED = "cluster_weight"


def collapse_equal_clusters(arrays: dict) -> dict | None:
    """The arrays with each group of equal clusters replaced by its first cluster carrying the group's summed
    cluster weight; None when clusters are not one chunk each, there are nested levels, some array is not per
    cluster, or there are more than a quarter as many groups as clusters (``few_groups``)."""
    n_clusters = np.shape(arrays[_SUMMED])[0]
    chunk_cluster = np.asarray(arrays["chunk_cluster"])
    if n_clusters < 2 or "parent" in arrays or not np.array_equal(chunk_cluster, np.arange(n_clusters)):
        return None
    own = (_SUMMED, "chunk_cluster")
    groups = cluster_groups(arrays, own)
    if groups is None:
        return None
    first, group = groups
    collapsed = first_of_groups(arrays, first, own)
    collapsed[_SUMMED] = np.bincount(group, np.asarray(arrays[_SUMMED], dtype=float), minlength=len(first))
    collapsed["chunk_cluster"] = np.arange(len(first), dtype=chunk_cluster.dtype)
    return jax.device_put(collapsed)
