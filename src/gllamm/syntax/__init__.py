"""Model languages: lme4-style formulas (and, later, lavaan-style syntax)."""

from .formula import FormulaSpec, RandomTerm, parse_formula

__all__ = ["FormulaSpec", "RandomTerm", "parse_formula"]
