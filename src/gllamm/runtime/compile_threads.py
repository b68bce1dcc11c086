"""The threads of the program cache: two that load stored executables and two that compile programs a fit will
need, while the caller does other work (both release the GIL), and the switch that keeps JAX's persistent cache
off while any of them compiles (``compiled_cache``)."""

from __future__ import annotations

import threading
from contextlib import contextmanager

import jax

_cache_switch = threading.Lock()
_compiling = {"count": 0, "enabled": False}  # compilations running with JAX's cache off; its setting before


@contextmanager
def persistent_cache_off():
    """Compile without JAX's persistent cache (its executables cannot be serialised again). Compilations may run
    in several threads at once (``CachedFunction.prefetch``): the cache is switched off by the first and back on
    by the last."""
    from jax.experimental.compilation_cache import compilation_cache

    with _cache_switch:
        if _compiling["count"] == 0:
            _compiling["enabled"] = jax.config.jax_enable_compilation_cache
            jax.config.update("jax_enable_compilation_cache", False)
            compilation_cache.reset_cache()
        _compiling["count"] += 1
    try:
        yield
    finally:
        with _cache_switch:
            _compiling["count"] -= 1
            if _compiling["count"] == 0:
                jax.config.update("jax_enable_compilation_cache", _compiling["enabled"])
                compilation_cache.reset_cache()


_loader = None
_compiler = None


def background_loader():
    """Two threads that load stored executables while the caller does other work (loading releases the GIL)."""
    global _loader
    if _loader is None:
        from concurrent.futures import ThreadPoolExecutor

        _loader = ThreadPoolExecutor(max_workers=2, thread_name_prefix="gllamm-load")
    return _loader


def background_compiler():
    """Two threads that compile programs a fit will need while it does other work (start values, other
    programs): XLA compiles without the GIL, so a 2-core machine compiles two programs at once."""
    global _compiler
    if _compiler is None:
        from concurrent.futures import ThreadPoolExecutor

        _compiler = ThreadPoolExecutor(max_workers=2, thread_name_prefix="gllamm-compile")
    return _compiler
