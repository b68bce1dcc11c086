"""Integration over latent variables: quadrature rules, modes, strategies."""

from .cluster_integral import (
    ClusterModel,
    Integration,
    find_modes,
    log_cluster_integrals,
    posterior_mode_curvature,
    posterior_moments,
    posterior_nodes,
)
from .gauss_hermite import product_rule

__all__ = [
    "ClusterModel", "Integration", "find_modes", "log_cluster_integrals", "posterior_mode_curvature",
    "posterior_moments", "posterior_nodes", "product_rule",
]
