"""The version of gllamm (one place: the package, saved results and the command line read it)."""

__version__ = "0.1.0"
