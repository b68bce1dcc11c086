"""What a Python process pays to start and stop with JAX, pandas and SciPy loaded.

Importing the scientific stack creates about a million long-lived objects (modules,
functions, classes). CPython's cyclic garbage collector rescans all of them at every
full collection: while they are being imported (about 0.06 s here), during a fit, and
once more in the collections the interpreter runs at exit (0.2-0.3 s, more than a
small fit takes). Those objects live as long as the process, so scanning them finds
nothing. ``quiet_imports`` pauses the collector while gllamm and its dependencies are
imported and then moves everything alive into the permanent generation
(``gc.freeze``); ``freeze_at_exit`` does the same just before the interpreter shuts
down. Reference counting still frees every object that is not part of a cycle, and
later garbage is collected as usual.

``narrow_rocm_plugin_scan``: while ``jax.numpy`` is imported, JAX looks for a ROCm plugin
by reading the metadata of every installed distribution (JAX issue #37879; about 0.1 s
with 120 distributions installed, more in larger environments). For that one scan the
distributions are first narrowed by their folder names (``jax_rocm*_plugin-*.dist-info``),
which needs no file reads; JAX then reads the metadata of those that remain, as before,
so a ROCm plugin is found exactly as without gllamm.
"""

from __future__ import annotations

import atexit
import gc
import importlib.metadata
import sys
from contextlib import contextmanager


@contextmanager
def quiet_imports():
    """Pause the cyclic collector for the block, then freeze what it created (see the module docstring)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def freeze_at_exit() -> None:
    """Skip rescanning the long-lived objects in the interpreter's final collections (registered once)."""
    atexit.register(gc.freeze)


_ROCM_SCANNER = "jax._src.numpy.array_constructors"  # the module whose import lists every distribution


def _could_be_rocm_plugin(distribution) -> bool:
    """Whether a distribution may be named jax-rocm*-plugin, judged from its folder name when it has one."""
    try:
        name = distribution._normalized_name  # from the .dist-info folder's name; reads METADATA only without one
    except Exception:  # (a private attribute of importlib.metadata: if it changes, keep every distribution)
        return True
    name = name.lower().replace("-", "_").replace(".", "_")
    return name.startswith("jax_rocm") and name.endswith("_plugin")


@contextmanager
def narrow_rocm_plugin_scan():
    """Within the block, JAX's import-time ROCm plugin scan sees only distributions that may be such a plugin
    (see the module docstring); every other caller of ``importlib.metadata.distributions`` sees all of them."""
    listing = importlib.metadata.distributions

    def distributions(**kwargs):
        if sys._getframe(1).f_globals.get("__name__") != _ROCM_SCANNER:
            return listing(**kwargs)
        return (d for d in listing(**kwargs) if _could_be_rocm_plugin(d))

    importlib.metadata.distributions = distributions
    try:
        yield
    finally:
        importlib.metadata.distributions = listing
