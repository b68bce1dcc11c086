"""Import point that applies gllamm's JAX configuration (``jax_config``) before any array is made."""

from .jax_config import configure_jax

configure_jax()
