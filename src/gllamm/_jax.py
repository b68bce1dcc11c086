"""Import point that applies gllamm's JAX configuration before any array is made."""

from ._config import configure_jax

configure_jax()
