"""Model structure and the parameter table."""

from .model_spec import LevelSpec, ModelSpec
from .parameters import ParameterTable, Unpacked

__all__ = ["LevelSpec", "ModelSpec", "ParameterTable", "Unpacked"]
