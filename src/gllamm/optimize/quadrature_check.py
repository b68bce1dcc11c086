"""Is the quadrature rule accurate enough at the estimates? (gllamm's manual: refit with more points.)

An optimiser can exploit the error of a quadrature rule: with too few points for the posterior of
the latent variables, the approximate log-likelihood can rise where the exact one does not (binary
responses in small clusters drift to huge variances whose approximate log-likelihood is several
units too high). After a fit by quadrature, the log-likelihood is therefore evaluated once more at
the estimates with ``EXTRA_POINTS`` more points per dimension,

    delta = log L_(nip + 8)(theta_hat) - log L_nip(theta_hat),

and the rule counts as accurate when |delta| <= ``TOLERANCE``. When it is not, ``fit`` refits with
more points, and a fit whose rule never passes is not converged. Rules other than the product rule
(``integrate/rules.py``) are checked against a finer rule of their kind (``finer``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..integrate import Integration
from ..objective_programs import make_objective, settled_modes

EXTRA_POINTS = 8  # points per dimension added for the check
TOLERANCE = 0.01  # |change of log L| accepted (the third decimal of a log-likelihood)
REFITS = 2  # refits with EXTRA_POINTS more points each before giving up
FINEST_PRODUCT = 10_000  # nodes of the 10-point product rule up to which it checks spherical rules of degree 11


@dataclass(frozen=True)
class QuadratureCheck:
    """log L at the estimates by the fit's rule (``nip`` points) and by a finer one (``check_nip`` points)."""

    nip: int
    loglik: float
    check_nip: int
    check_loglik: float
    rule: str = "product"  # the fit's rule (integrate/rules.py)
    check_rule: str = "product"

    @property
    def difference(self) -> float:
        """log L with check_nip points minus log L with nip points, at the same estimates."""
        return self.check_loglik - self.loglik

    @property
    def passed(self) -> bool:
        """|difference| <= TOLERANCE (a NaN difference fails)."""
        return bool(abs(self.difference) <= TOLERANCE)

    def describe(self) -> str:
        """One line for summaries and messages."""
        verdict = "passed" if self.passed else "FAILED"
        if self.rule == "product" and self.check_rule == "product":
            fit, check = f"{self.nip} points", f"{self.check_nip}"
        else:
            fit, check = rule_words(self.rule, self.nip), rule_words(self.check_rule, self.check_nip)
        return (f"quadrature check {verdict}: log L at the estimates is {self.loglik:.4f} with {fit} and "
                f"{self.check_loglik:.4f} with {check} (change {self.difference:.2g}, tolerance {TOLERANCE:g})")

    def as_dict(self) -> dict:
        """The numbers and rules, for saving."""
        return dict(nip=self.nip, loglik=self.loglik, check_nip=self.check_nip, check_loglik=self.check_loglik,
                    rule=self.rule, check_rule=self.check_rule)


def rule_words(rule: str, nip: int) -> str:
    """A rule and its accuracy in a few words: "8 quadrature points per dimension", "a sparse grid of degree 7"."""
    from ..integrate.rules import describe_rule

    return describe_rule(rule, nip, short=True)


def needs_check(integration: Integration, spec) -> bool:
    """Quadrature over continuous latent variables (adaptive or plain Gauss-Hermite) is checked; exact
    integration, Laplace (a chosen approximation) and sums over classes are not."""
    return integration.method in ("adaptive", "ghq") and bool(spec.levels) and not integration.within_classes \
        and not any(level.discrete for level in spec.levels)


def finer(integration: Integration, spec=None) -> Integration:
    """The rule with EXTRA_POINTS more points per dimension; for sparse grids two more levels (degree + 4), for
    spherical rules of degree 5 and 7 the one of degree 9, for degree 9 the one of degree 11, and after it the
    10-point product rule where it has at most FINEST_PRODUCT nodes for the latent variables at a level of ``spec``
    (else the sparse grid of degree 15). In four dimensions with binary items (benchmarks/integration_rules.py,
    log L against a 38,416-node product rule) degree 9 misses by 1.5e-2, degree 11 by 5e-3, the 10-point product rule
    by 6e-4 and the 6-point one by 6e-2 (so it cannot check degree 9); for quasi-Monte Carlo four times the points."""
    if integration.rule == "spherical" and integration.nip < 6:
        return replace(integration, nip=5 if integration.nip < 5 else 6)
    dim = max((level.dim for level in spec.levels if not level.discrete), default=0) if spec is not None else None
    if integration.rule == "spherical" and dim is not None and 10 ** dim <= FINEST_PRODUCT:
        return replace(integration, rule="product", nip=10)
    if integration.rule in ("sparse", "spherical"):
        return replace(integration, rule="sparse", nip=integration.nip + 2)
    if integration.rule == "qmc":
        return replace(integration, nip=integration.nip * 4)
    return replace(integration, nip=integration.nip + EXTRA_POINTS)


def loglik_at(table, integration: Integration, theta: np.ndarray, data: dict, partitioned=None) -> float:
    """log L(theta) with ``integration``, its quadrature adapted at theta until the adaptation settles.
    ``partitioned``: a function wrapping the objective for a layout of parts of clusters (None: one part)."""
    if partitioned is not None:
        objective = partitioned(make_objective(table, integration))
    else:
        from .shared_programs import SharedPrograms

        objective = SharedPrograms(table, integration)
    modes = objective.mode_start(data)
    if integration.needs_modes:
        modes = settled_modes(objective, theta, data, objective.modes(theta, data, modes))
    return float(objective.value(theta, data, modes))
