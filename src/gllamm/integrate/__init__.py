"""Integration over latent variables: quadrature rules, modes, strategies."""

from .cluster_integral import ClusterModel, Integration, find_modes, log_cluster_integrals
from .gauss_hermite import product_rule

__all__ = ["ClusterModel", "Integration", "find_modes", "log_cluster_integrals", "product_rule"]
