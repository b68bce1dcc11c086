"""Response distributions and link functions."""

from .families import Family, make_family
from .links import Link

__all__ = ["Family", "Link", "make_family"]
