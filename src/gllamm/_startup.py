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
"""

from __future__ import annotations

import atexit
import gc
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
