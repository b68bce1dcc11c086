"""What a fit says while programs compile: with ``verbose=True`` every compilation of a likelihood program is
reported as it starts and with its duration when done (a first fit can spend most of its time compiling)."""

from __future__ import annotations

import functools

_progress: list = [None]  # the function that reports compilations (set by ``announce_compiles``), or None


def announce_compiles(function):
    """Decorator for fit(): with ``verbose=True`` every compilation of a likelihood program is reported as it
    starts and with its duration when done (a first fit can spend most of its time compiling)."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        if not kwargs.get("verbose"):
            return function(*args, **kwargs)
        previous, _progress[0] = _progress[0], lambda text: print(text, flush=True)
        try:
            return function(*args, **kwargs)
        finally:
            _progress[0] = previous

    return wrapper


def say(text: str) -> None:
    """Report ``text`` when a verbose fit is running (otherwise nothing)."""
    if _progress[0] is not None:
        _progress[0](text)
