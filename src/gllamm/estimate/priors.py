"""Priors on variance components: penalised maximum likelihood (MAP), gllamm's ``prior()``, blme's priors.

The fit maximises the log posterior  log L(theta) + log p(theta),  where p is a product of weakly informative
priors on the latent variables' standard deviations and covariance matrices at each level (Psi = L L'):

* ``"sd": "gamma(a, b)"``: each SD sigma, log p = (a - 1) log sigma - b sigma (blme's default for glmer is
  gamma(2.5, 0): zero density at sigma = 0 keeps variances off the boundary);
* ``"sd": "half_t(df, s)"``: log p = -(df + 1)/2 log(1 + (sigma/s)^2 / df);
* ``"cov": "wishart(df)"`` or ``"wishart(df, s)"``: each level's Psi (q x q), log p = (df - q - 1)/2 log|Psi|
  - tr(Psi)/(2 s) (s = infinity by default, as blme's ``cov.prior = wishart``);
* ``"cor": "lkj(eta)"``: each level's correlation matrix R, log p = (eta - 1) log|R|.

A key may name one level, ``"sd:school"``. Constants are left out; the priors are densities in sigma and Psi
themselves (no Jacobian), as in blme and gllamm. Standard errors come from the curvature of the log posterior.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

from ..errors import GllammError

_FORMS = {"sd": {"gamma": 2, "half_t": 2}, "cov": {"wishart": (1, 2)}, "cor": {"lkj": 1}}
_PATTERN = re.compile(r"^\s*([a-z_]+)\s*\(([^()]*)\)\s*$")


def parse_priors(priors: dict, level_names) -> tuple[tuple, ...]:
    """{"sd" | "cov" | "cor" [":level"]: "form(arguments)"} -> ((target, level or None, form, arguments), ...),
    with a clear error for anything else."""
    if not isinstance(priors, dict) or not priors:
        raise GllammError('priors= is a dict such as {"sd": "gamma(2, 0)"} or {"cov": "wishart(3)"}; got '
                          f"{priors!r}.")
    terms = []
    for key, value in priors.items():
        target, _, level = str(key).partition(":")
        if target not in _FORMS:
            raise GllammError(f"priors key {key!r}: the target is 'sd' (each standard deviation), 'cov' (each "
                              "covariance matrix) or 'cor' (each correlation matrix), optionally with ':level'.")
        if level and level not in level_names:
            raise GllammError(f"priors key {key!r}: this model has no level {level!r}; its levels: "
                              f"{', '.join(level_names) or 'none'}.")
        match = _PATTERN.match(str(value)) if isinstance(value, str) else None
        form = match.group(1) if match else None
        if form not in _FORMS[target]:
            forms = ", ".join(f"{f}(...)" for f in _FORMS[target])
            raise GllammError(f"priors[{key!r}] = {value!r}: a prior on '{target}' is one of {forms}, written as a "
                              "string, e.g. 'gamma(2, 0)'.")
        try:
            arguments = tuple(float(a) for a in match.group(2).split(",") if a.strip())
        except ValueError:
            raise GllammError(f"priors[{key!r}] = {value!r}: the arguments must be numbers.") from None
        counts = _FORMS[target][form]
        if len(arguments) not in (counts if isinstance(counts, tuple) else (counts,)) or not all(
                np.isfinite(a) and a >= 0 for a in arguments):
            raise GllammError(f"priors[{key!r}] = {value!r}: {form} takes {counts} non-negative numbers.")
        terms.append((target, level or None, form, arguments))
    return tuple(terms)


def describe_priors(terms) -> str:
    """"sd ~ gamma(2, 0); cov:school ~ wishart(3)" for summaries."""
    return "; ".join(f"{target}{':' + level if level else ''} ~ {form}({', '.join(f'{a:g}' for a in args)})"
                     for target, level, form, args in terms)


def log_prior(table, terms, theta):
    """log p(theta) (JAX): the sum of the priors' log densities over the levels they apply to."""
    import jax.numpy as jnp

    unpacked = table.unpack(theta)
    total = jnp.asarray(0.0)
    for level, root in zip(table.spec.levels, unpacked.cholesky):
        if level.discrete or root.size == 0:
            continue
        psi = root @ root.T
        q = psi.shape[0]
        variances = jnp.diagonal(psi)
        sd = jnp.sqrt(variances)
        for target, name, form, args in terms:
            if name is not None and name != level.name:
                continue
            if form == "gamma":
                total = total + jnp.sum((args[0] - 1.0) * jnp.log(sd) - args[1] * sd)
            elif form == "half_t":
                total = total - 0.5 * (args[0] + 1.0) * jnp.sum(jnp.log1p((sd / args[1]) ** 2 / args[0]))
            elif form == "wishart":
                log_det = 2.0 * jnp.sum(jnp.log(jnp.abs(jnp.diagonal(root))))
                total = total + 0.5 * (args[0] - q - 1.0) * log_det
                if len(args) == 2 and args[1] > 0:
                    total = total - 0.5 * jnp.trace(psi) / args[1]
            elif form == "lkj" and q > 1:
                log_det = 2.0 * jnp.sum(jnp.log(jnp.abs(jnp.diagonal(root)))) - jnp.sum(jnp.log(variances))
                total = total + (args[0] - 1.0) * log_det
    return total


@lru_cache(maxsize=32)
def _derivatives_program(table, terms):
    """One jitted theta -> (log p, gradient, Hessian) per model structure and priors (no data), kept for later fits."""
    import jax

    def derivatives(theta):
        value, grad = jax.value_and_grad(lambda t: log_prior(table, terms, t))(theta)
        return value, grad, jax.hessian(lambda t: log_prior(table, terms, t))(theta)

    return jax.jit(derivatives)


class PriorPenalty:
    """theta -> (log p, gradient, Hessian) as NumPy values, computed once per theta (the iterations ask for the
    value, gradient and Hessian at the same theta separately). The prior does not involve the fixed effects: its
    program takes theta without them on the model's structure without names (``anonymous_spec``), so that every
    formula of a kind shares it."""

    def __init__(self, table, terms):
        from ..optimize.shared_programs import anonymous_spec
        from ..spec import ParameterTable

        self.terms, self.n_fixed = terms, table.n_fixed
        names = [level.name for level in table.spec.levels]
        unnamed = tuple((target, None if level is None else f"level{names.index(level)}", form, args)
                        for target, level, form, args in terms)  # (anonymous_spec's level names)
        self._program = _derivatives_program(ParameterTable(anonymous_spec(table.spec, 0), table.n_columns), unnamed)
        self._last = (None, None)

    def __call__(self, theta) -> tuple[float, np.ndarray, np.ndarray]:
        theta = np.asarray(theta, dtype=float)
        key = theta.tobytes()
        if self._last[0] != key:
            value, grad, hess = self._program(theta[self.n_fixed:])
            n, k = theta.size, self.n_fixed
            full_grad, full_hess = np.zeros(n), np.zeros((n, n))
            full_grad[k:], full_hess[k:, k:] = np.asarray(grad), np.asarray(hess)
            self._last = (key, (float(value), full_grad, full_hess))
        return self._last[1]

    def value(self, theta) -> float:
        """log p(theta)."""
        return self(theta)[0]


def prior_penalty(priors: dict | None, table) -> PriorPenalty | None:
    """The penalty of a fit's ``priors=`` (None without priors)."""
    if priors is None:
        return None
    return PriorPenalty(table, parse_priors(priors, [level.name for level in table.spec.levels]))


def prior_options(penalty: PriorPenalty | None, optimum) -> dict:
    """What a MAP fit records beside its log-likelihood: the priors and the log posterior (as gllamm prints)."""
    if penalty is None:
        return {}
    return dict(prior_description=describe_priors(penalty.terms),
                log_posterior=float(optimum.loglik + penalty.value(optimum.theta)))
