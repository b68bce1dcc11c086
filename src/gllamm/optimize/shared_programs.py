"""Fitting programs shared by every formula of one kind: a new covariate compiles nothing.

The compiled likelihood programs depend on the model's structure and on the shapes of their arguments. Two
formulas that differ only in their fixed effects (``y ~ x1 + (1 | g)`` and ``y ~ x1 + x2 + (1 | g)``) differ in
the number p of columns of X, hence of entries of theta. Here the iterations run on a model of the same kind whose
fixed effects are padded to a size bucket P >= p (4, 8, 12, 16, 24, 32, 48, ...):

    X_pad = [X, 0],   theta_pad = (beta, 0, rest of theta),   eta = X_pad' beta_pad = X' beta,

so the log-likelihood, its gradient and Hessian at theta_pad are those of the model at theta, with zeros in the
padded rows and columns, which are dropped on the way out. The Hessian's directions (the free parameters' columns
of the constraint map, ``spec/constraints.py``) are likewise padded with zero columns, to as many as theta_pad has
entries. The programs'
structure key is anonymous (``anonymous_spec``: names replaced by positions, the formula text left out), so every
formula of the kind with p in the same bucket, on data of the same shape, runs the same compiled programs, within a
process and through the program cache across processes. Post-estimation (predictions, EB, robust SEs) runs the
model's own programs, compiled when first asked for.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..integrate.padded_rules import RULE_NODES, padded_rule, padded_size
from ..spec import ParameterTable

_BUCKETS = (4, 8, 12, 16, 24, 32, 48, 64, 96, 128)


def size_bucket(n: int) -> int:
    """The smallest bucket >= n: 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, then multiples of 64 (at most 60% larger than n)."""
    for bucket in _BUCKETS:
        if n <= bucket:
            return bucket
    return -(-n // 64) * 64


def _placeholders(names, prefix: str):
    return None if names is None else tuple(f"{prefix}{k}" for k in range(len(names)))


def anonymous_spec(spec, n_fixed: int):
    """The model structure without its names (positions instead) and with ``n_fixed`` fixed effects: what the
    likelihood programs depend on. Names of parameters, latent variables, levels, items and categories only label
    results; the programs use their counts."""
    levels = []
    for index, level in enumerate(spec.levels):
        unnamed = lambda items: tuple(replace(item, name="") for item in items)  # noqa: E731
        levels.append(replace(level, name=f"level{index}", latent_names=_placeholders(level.latent_names, "f"),
                              loadings=None if level.loadings is None else unnamed(level.loadings),
                              paths=unnamed(level.paths), covariate_paths=unnamed(level.covariate_paths),
                              cross_paths=unnamed(level.cross_paths), products=unnamed(level.products)))
    groups = tuple((f"i{k}", _placeholders(categories, "c")) for k, (_, categories) in enumerate(spec.threshold_groups))
    return replace(spec, formula="", fixed_names=tuple(f"b{k}" for k in range(n_fixed)), levels=tuple(levels),
                   dispersion_names=_placeholders(spec.dispersion_names, "d"),
                   covariate_names=_placeholders(spec.covariate_names, "w"),
                   categories=_placeholders(spec.categories, "c"), scale_names=_placeholders(spec.scale_names, "s"),
                   threshold_groups=groups, threshold_covariates=_placeholders(spec.threshold_covariates, "t"),
                   zero_inflation_names=_placeholders(spec.zero_inflation_names, "z"),
                   class_covariates=tuple(v if v == "(Intercept)" else f"v{k}"
                                          for k, v in enumerate(spec.class_covariates)))


class SharedPrograms:
    """The iterations' functions (modes, value, value and gradient, Hessian, joint value-gradient-Hessian) of
    ``table``'s model on theta and data of that model, computed by the programs of its padded anonymous kind; on
    small data with one latent variable the quadrature rule is data too (``integrate/padded_rules.py``), so that
    the rules of the fit, its quadrature check and its refits share one set of programs."""

    def __init__(self, table: ParameterTable, integration):
        self.table, self.integration = table, integration
        self.n_fixed = table.n_fixed
        self.padding = size_bucket(self.n_fixed) - self.n_fixed
        self.program_table = ParameterTable(anonymous_spec(table.spec, self.n_fixed + self.padding), table.n_columns)
        self._data: tuple = (None, None, None)  # (the last data given, its padded arrays, their programs)

    # ---- padding ---------------------------------------------------------------------------------------
    def theta(self, theta):
        """theta_pad = (beta, 0, rest)."""
        theta = np.asarray(theta, dtype=float)
        return np.concatenate([theta[: self.n_fixed], np.zeros(self.padding), theta[self.n_fixed:]])

    def _kept(self, values, axis: int):
        """Drop the padded entries along ``axis``."""
        values = np.asarray(values)
        keep = np.r_[0:self.n_fixed, self.n_fixed + self.padding:values.shape[axis]]
        return np.take(values, keep, axis=axis)

    def _prepared(self, data: dict) -> tuple[dict, object]:
        """(the arrays with X padded by zero columns and, where it is padded, the quadrature rule; the programs
        that take them), made once per data given."""
        if self._data[0] is not data:
            import jax
            import jax.numpy as jnp

            from ..objective_programs import make_objective

            padded = dict(data)
            if self.padding:
                X = data["X"]
                padded["X"] = jax.device_put(jnp.concatenate([X, jnp.zeros((self.padding,) + X.shape[1:], X.dtype)]))
            integration = self.integration
            size = padded_size(self.table, integration, int(np.asarray(data["weight"]).size))
            if size is not None:  # one program for every rule up to ``size`` points
                padded.update({k: jax.device_put(v) for k, v in padded_rule(integration.nip, size).items()})
                integration = replace(integration, nip=size)
            self._data = (data, padded, make_objective(self.program_table, integration))
        return self._data[1], self._data[2]

    def data(self, data: dict) -> dict:
        """The arrays the programs take (``_prepared``)."""
        return self._prepared(data)[0]

    def _directions(self, directions, n: int):
        """Directions (n, k) of theta, k <= n -> (n_pad, n_pad): zero rows for the padded betas, zero columns added
        (as many directions as theta_pad has entries, whatever the constraints: one shape for the kind)."""
        directions = np.eye(n) if directions is None else np.asarray(directions, dtype=float)
        k = directions.shape[1]
        padded = np.zeros((n + self.padding, n + self.padding))
        padded[: self.n_fixed, :k] = directions[: self.n_fixed]
        padded[self.n_fixed + self.padding:, :k] = directions[self.n_fixed:]
        return padded, k

    # ---- the functions ------------------------------------------------------------------------------------
    def mode_start(self, data):
        arrays, programs = self._prepared(data)
        return programs.mode_start(arrays)

    def modes(self, theta, data, start):
        arrays, programs = self._prepared(data)
        return programs.modes(self.theta(theta), arrays, start)

    def value(self, theta, data, modes):
        """log L; with a padded rule by the value-and-gradient program (one program fewer to compile: the
        quadrature check's finer rule runs the iterations' program)."""
        arrays, programs = self._prepared(data)
        if RULE_NODES in arrays:
            return programs.value_and_grad(self.theta(theta), arrays, modes)[0]
        return programs.value(self.theta(theta), arrays, modes)

    def value_and_grad(self, theta, data, modes):
        arrays, programs = self._prepared(data)
        value, grad = programs.value_and_grad(self.theta(theta), arrays, modes)
        return value, self._kept(grad, 0)

    def hessian(self, theta, data, modes, directions=None):
        """H D (n, k) for directions D (n, k) of theta (the full H when D is None)."""
        padded, k = self._directions(directions, len(np.asarray(theta)))
        arrays, programs = self._prepared(data)
        product = programs.hessian(self.theta(theta), arrays, modes, padded)
        return self._kept(product, 0)[:, :k]

    def value_grad_hessian(self, theta, data, modes):
        arrays, programs = self._prepared(data)
        value, grad, hessian = programs.value_grad_hessian(self.theta(theta), arrays, modes)
        return value, self._kept(grad, 0), self._kept(self._kept(hessian, 0), 1)

    def reported(self, theta):
        """(reported parameters, their Jacobian in theta) (``ParameterTable.reported``; betas come first in both)."""
        from ..objective_programs import reported_program

        values, jacobian = reported_program(self.program_table)(self.theta(theta))
        return self._kept(values, 0), self._kept(self._kept(jacobian, 0), 1)

    def prefetch(self, theta, data, modes, directions, before_hessian=(), joint: bool = False) -> None:
        """Start loading (or compiling) the programs the iterations will call (``Objective.prefetch``)."""
        padded, _ = self._directions(directions, len(np.asarray(theta)))
        arrays, programs = self._prepared(data)
        programs.prefetch(self.theta(theta), arrays, modes, padded, before_hessian, joint)

    def prefetch_value(self, theta, data) -> None:
        """Start loading or compiling the programs of one log-likelihood evaluation (``Objective.prefetch_value``)."""
        arrays, programs = self._prepared(data)
        programs.prefetch_value(self.theta(theta), arrays, gradient=RULE_NODES in arrays)
