"""Estimation: maximum likelihood fits of a ``Model`` (Newton iterations; latent classes by several starts)."""

from .newton_fit import fit_model

__all__ = ["fit_model"]
