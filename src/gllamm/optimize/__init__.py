"""Newton-type maximisation with convergence checks."""

from .newton import OptimizationResult, assess_convergence, maximize

__all__ = ["OptimizationResult", "assess_convergence", "maximize"]
