"""From data frames to likelihood arrays."""

from .design import Chunks, Design
from .formula_design import build_design

__all__ = ["Chunks", "Design", "build_design"]
