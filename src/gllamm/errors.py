"""Errors and warnings raised by gllamm, with suggestions for misspelt names."""

from __future__ import annotations

import difflib
import os
import sys
import warnings
from collections.abc import Iterable

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


class GllammError(ValueError):
    """Invalid model, data or option; the message says what to change."""


class ConvergenceWarning(UserWarning):
    """The optimiser stopped before the gradient was small and the Hessian negative definite."""


class QuadratureWarning(UserWarning):
    """The requested quadrature rule was not accurate at the estimates; the fit was redone with more points."""


class ComputationWarning(UserWarning):
    """A computation is much larger than usual (e.g. quadrature over very many nodes); the message says how large
    and how to make it smaller."""


class DataWarning(UserWarning):
    """Something about the data the user should know (e.g. rows dropped for missing values)."""


def warn_user(message: str, category: type[Warning]) -> None:
    """``warnings.warn`` attributed to the user's line: the first caller outside gllamm, however deep gllamm's own
    calls are (Python 3.12's ``skip_file_prefixes``)."""
    frame, level = sys._getframe(1), 2  # (stacklevel 2: warn's caller)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def closest(name: str, choices: Iterable[str]) -> str:
    """Return ' Did you mean 'x'?' for the closest choice, or '' if none is close."""
    match = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.5)
    return f" Did you mean '{match[0]}'?" if match else ""


def check_choice(kind: str, value: str, choices: Iterable[str]) -> str:
    """Validate an option value against its allowed choices, suggesting the closest."""
    choices = list(choices)
    if value in choices:
        return value
    raise GllammError(
        f"Unknown {kind} '{value}'.{closest(value, choices)} Choose one of: {', '.join(choices)}."
    )


def check_level(level) -> float:
    """Validate a confidence level: a number strictly between 0 and 1."""
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise GllammError(f"level must be a number between 0 and 1 (e.g. 0.95); got {level!r}.")
    return float(level)
