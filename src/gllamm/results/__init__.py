"""Fit results, tables and displays."""

from .fit_result import FitResult

__all__ = ["FitResult"]
