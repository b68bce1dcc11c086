"""Process-wide JAX settings gllamm relies on.

* float64 everywhere (``jax_enable_x64``);
* JAX's persistent compilation cache, on by default, in the user's cache
  directory (``$GLLAMM_CACHE_DIR`` or ``~/.cache/gllamm/jax``), so a second
  Python process fitting a model of the same shape does not compile again.
  Set ``GLLAMM_CACHE_DIR=off`` to leave JAX's cache settings untouched;
  ``GLLAMM_XLA_CACHE=off`` stores no compiled programs at all (neither XLA's nor
  gllamm's executables of its likelihood functions, ``compiled_cache``).
  The directory is created private (mode 0700) and used only while no other user can
  write into it (``trusted_directory``): compiled programs are code.
"""

from __future__ import annotations

import os
from pathlib import Path

import jax

from .trusted_directory import make_private_directory


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gllamm" / "jax"


def configure_jax() -> None:
    """Enable float64 and the persistent compilation cache (idempotent)."""
    jax.config.update("jax_enable_x64", True)
    setting = os.environ.get("GLLAMM_CACHE_DIR", "")
    if setting.lower() == "off" or jax.config.jax_compilation_cache_dir:
        return
    cache_dir = Path(setting) if setting else _default_cache_dir()
    reason = make_private_directory(cache_dir)
    if reason is not None:
        import warnings

        warnings.warn(f"gllamm does not use the compilation cache {cache_dir}: {reason}. Programs are compiled in "
                      "every process; set GLLAMM_CACHE_DIR to a folder of your own.", RuntimeWarning, stacklevel=2)
        return
    jax.config.update("jax_compilation_cache_dir", str(cache_dir))
    if os.environ.get("GLLAMM_XLA_CACHE", "").lower() == "off":
        jax.config.update("jax_enable_compilation_cache", False)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
