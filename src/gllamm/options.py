"""The options of a fit, grouped by the stage that uses them, each group checked once where it is made.

* ``DataOptions``: what the rows are (weights at each level, offset, binomial trials, clusters and long data for
  model syntax) -- used when the design is built;
* ``ModelOptions``: the model beyond its formula or syntax (family and link, responses of several kinds, ordinal
  and nominal parts, the level-1 scale, latent classes, how factors are scaled) -- used when the model is built;
* ``EstimationOptions``: how it is fitted (integration rule and points, start values, constraints, iterations,
  tolerance, information, starts of class models) -- used by ``Model.fit``;
* ``ScaleOptions``: how the work is spread (devices, rows per part).

``gllamm.fit(model, data, **options)`` sorts its keyword options into these groups (``split_options``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from .errors import GllammError, check_choice, closest

METHODS = ("adaptive", "laplace", "ghq")


@dataclass(frozen=True)
class DataOptions:
    """Weights (level 1 ``weights``, level 2 ``cluster_weights``, top level ``top_weights``, levels between
    ``level_weights``; ``scale_weights`` "none", "size" or "effective"), ``offset``, binomial ``trials``; for model
    syntax the nested ``cluster`` column(s), ``long`` data {unit, item, response} and the ``group`` column of
    multiple groups."""

    weights: object = None
    cluster_weights: object = None
    top_weights: object = None
    level_weights: dict | None = None
    scale_weights: str = "none"
    offset: object = None
    trials: object = None
    cluster: str | list | None = None
    long: dict | None = None
    group: str | None = None  # multiple groups (syntax/multiple_groups.py)
    frequency_weights: object = None  # rows standing for this many identical rows (collapsed data; gllamm's weight())

    @property
    def row_weights(self):
        """The level-1 weights of the likelihood: ``weights`` (sampling) or ``frequency_weights``."""
        return self.weights if self.frequency_weights is None else self.frequency_weights

    def __post_init__(self):
        if self.frequency_weights is not None and (self.weights is not None or self.scale_weights != "none"):
            raise GllammError("frequency_weights= says how many identical rows each row stands for (collapsed data); "
                              "it replaces weights= (sampling weights) and takes no scale_weights=. Give one of "
                              "them.")
        if self.long is not None:
            missing = {"unit", "item", "response"} - set(self.long)
            if missing:
                raise GllammError(f"long= needs the keys unit, item and response; missing {sorted(missing)}.")


@dataclass(frozen=True)
class ModelOptions:
    """The response ``family`` and ``link`` (or a mapping {response: family or (family, link)} with ``family_by``
    for formula models on long data), the multinomial ``base`` category, ``choice_set`` column, ordinal ``nominal``
    and ``scale`` formulas, the ``zero_inflation`` formula of count responses, latent ``classes`` (a number or "npml") with their ``concomitant`` formula and
    ``known_class`` column, and ``factor_scale`` ("loading" or "variance") of syntax models."""

    family: object = "gaussian"
    link: str | None = None
    family_by: str | None = None
    base: object = None
    choice_set: str | None = None
    nominal: str | None = None
    ordered_thresholds: bool = False  # nominal= covariates on the first threshold and the log gaps (ethresh)
    misclassification: dict | None = None  # binary responses: {"sensitivity": se, "specificity": sp} (composite link)
    scale: str | None = None
    zero_inflation: str | None = None  # count responses: one-sided formula of logit P(structural zero)
    classes: int | str | None = None
    concomitant: str | None = None
    known_class: str | None = None
    factor_scale: str = "loading"
    group_equal: tuple | list | str | None = None  # with group=: kinds of parameters equal across groups
    group_partial: tuple | list | str | None = None  # ... except these (lavaan names, e.g. "visual=~x2")

    def __post_init__(self):
        if isinstance(self.family, dict) and self.link is not None:
            raise GllammError("With a family mapping give each response's link inside it, e.g. "
                              "{'d': ('binomial', 'probit')}, not link=.")


@dataclass(frozen=True)
class EstimationOptions:
    """``method`` ("adaptive", "laplace" or "ghq") with ``nip`` points per latent dimension, ``start`` (a FitResult or
    theta; with ``max_iter=0`` only evaluated), ``fix`` and ``equal`` constraints, ``max_iter``, ``tol`` (the Newton
    decrement at convergence), ``information`` ("observed" or "expected"), ``starts``, ``seed`` and ``n_jobs`` (processes) of class models,
    ``verbose``; ``reml`` (Gaussian identity-link mixed models) maximises the restricted likelihood."""

    method: str | None = None  # None: adaptive quadrature (Laplace for crossed factors)
    nip: int | None = None
    integration: str | None = None  # quadrature rule: "product", "sparse", "spherical", "qmc" (None: by dimension)
    priors: dict | None = None  # {"sd" | "cov" | "cor"[":level"]: "gamma(2, 0)" ...}: MAP (estimate/priors.py)
    start: object = None
    fix: dict | None = None
    equal: object = None
    max_iter: int = 200
    tol: float = 1e-8
    information: str | None = None
    starts: int | None = None
    n_jobs: int = 1  # processes the starts of latent class models are shared among
    seed: int | None = 0
    verbose: bool = False
    reml: bool = False

    def __post_init__(self):
        max_iter, tol, seed = self.max_iter, self.tol, self.seed
        if not isinstance(self.reml, (bool, np.bool_)):
            raise GllammError(f"reml must be True or False; got {self.reml!r}.")
        if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 0:
            raise GllammError(f"max_iter must be a whole number >= 0 (0 evaluates the log-likelihood at start=); "
                              f"got {max_iter!r}.")
        if isinstance(tol, bool) or not isinstance(tol, (int, float, np.floating)) or not np.isfinite(tol) or tol <= 0:
            raise GllammError(f"tol must be a positive number (the Newton decrement at convergence, default 1e-8); "
                              f"got {tol!r}.")
        check_n_jobs(self.n_jobs)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise GllammError(f"seed must be a whole number (or None for a fresh one); got {seed!r}.")
        if self.method is not None:
            object.__setattr__(self, "method", check_choice("method", str(self.method).lower(), METHODS))
        if self.integration is not None:
            from .integrate.rules import RULES

            object.__setattr__(self, "integration", check_choice("integration", str(self.integration).lower(), RULES))


@dataclass(frozen=True)
class ScaleOptions:
    """``devices`` the top-level clusters are spread over and ``chunk_size`` rows worked on at once."""

    devices: int | None = None
    chunk_size: int | None = None


GROUPS = (DataOptions, ModelOptions, EstimationOptions, ScaleOptions)
OPTION_NAMES = tuple(f.name for group in (ModelOptions, EstimationOptions, DataOptions, ScaleOptions)
                     for f in fields(group))


def check_n_jobs(n_jobs) -> int:
    """n_jobs as a number of processes (-1: one per core)."""
    import os

    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0 or n_jobs < -1:
        raise GllammError(f"n_jobs must be a positive number of processes (or -1: one per core); got {n_jobs!r}.")
    return (os.cpu_count() or 1) if n_jobs == -1 else int(n_jobs)


def split_options(options: dict) -> tuple[DataOptions, ModelOptions, EstimationOptions, ScaleOptions]:
    """Keyword options of ``gllamm.fit`` -> their groups; an unknown name is an error naming the closest option."""
    for name in options:
        if name not in OPTION_NAMES:
            raise GllammError(f"Unknown option '{name}'.{closest(name, OPTION_NAMES)} Options: {', '.join(OPTION_NAMES)}.")
    return tuple(group(**{f.name: options[f.name] for f in fields(group) if f.name in options}) for group in GROUPS)


def check_seed(seed):
    """A seed numpy's random generators take (None, a non-negative whole number or a sequence of them, a
    SeedSequence or Generator), returned as given."""
    if seed is None or isinstance(seed, (np.random.SeedSequence, np.random.Generator)):
        return seed
    try:
        np.random.SeedSequence(seed)
    except (TypeError, ValueError):
        raise GllammError(f"seed must be a non-negative whole number (or None for a fresh one); got {seed!r}.") from None
    return seed
