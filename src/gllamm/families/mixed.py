"""Mixed responses: a different family and link for different rows.

Members may be ordinal (items with thresholds of their own, in model syntax). Row i has a member
index m_i naming its response type (e.g. a continuous outcome
and a binary treatment measured on the same person), and contributes
log f_{m_i}(y_i | eta_i). Every member's kernel is evaluated on every row with
safe stand-in values (the member's pad response and eta = 1) where the row is
not its own, and the row's own value is selected, so no unused branch produces
an infinite value or a NaN gradient.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from ..errors import GllammError, closest
from .families import Family, make_family
from .links import Link


@dataclass(frozen=True)
class MixedFamily:
    """Families per response type: ``members[k]`` applies to rows whose member index is k."""

    members: tuple[Family, ...]
    labels: tuple[str, ...]  # the response (indicator name or value of the family_by column) of each member

    name = "mixed"

    @property
    def link(self) -> Link:
        """There is no single link; the identity stands in for code that only reports a link name."""
        return Link("identity")

    @property
    def description(self) -> str:
        """'y: gaussian/identity, d: binomial/probit'."""
        return ", ".join(f"{label}: {f.name}/{f.link.name}" for label, f in zip(self.labels, self.members))

    @property
    def has_dispersion(self) -> bool:
        """True when some member has a residual variance or dispersion."""
        return any(f.has_dispersion for f in self.members)

    def rows_with_dispersion(self, member):
        """Which rows (member indexes, any shape) belong to a member with a dispersion: the others' dispersion
        index is a placeholder 0 that points at some other response's variance."""
        return jnp.asarray(np.array([f.has_dispersion for f in self.members]))[member]

    @property
    def counts(self) -> bool:
        """Mixed responses are not one count family."""
        return False

    @property
    def exact_gaussian(self) -> bool:
        """Mixed responses are never integrated exactly."""
        return False

    @property
    def bounded_mean(self) -> bool:
        """(Start values and messages about the mean's parameter space are per family; not for mixed responses.)"""
        return False

    @property
    def pad_eta(self) -> float:
        """The linear predictor of padded rows (member 0's rows): inside its link's domain."""
        return self.members[0].pad_eta

    @property
    def pad_value(self) -> float:
        """Padded rows belong to member 0."""
        return self.members[0].pad_value

    def _each(self, method, y, eta, trials, log_dispersion, member, cuts=None):
        results = None
        for k, family in enumerate(self.members):
            own = member == k
            own_dispersion = jnp.where(own, log_dispersion, 0.0) if family.has_dispersion else 0.0 * log_dispersion
            extra = {}
            if family.name == "ordinal":  # each ordinal row's thresholds; stand-ins elsewhere
                lower, upper, n_categories = cuts
                extra["cuts"] = (jnp.where(own, lower, -1.0), jnp.where(own, upper, 1.0),
                                 jnp.where(own, n_categories, 2))
            values = getattr(family, method)(jnp.where(own, y, family.pad_value), jnp.where(own, eta, family.pad_eta),
                                             jnp.where(own, trials, 1.0), own_dispersion, **extra)
            values = values if isinstance(values, tuple) else (values,)
            results = values if results is None else tuple(jnp.where(own, v, r) for v, r in zip(values, results))
        return results

    def kernel(self, y, eta, trials, log_dispersion, cuts=None, member=None):
        """log f_{m_i}(y_i | eta_i) elementwise (parameter-dependent part)."""
        return self._each("kernel", y, eta, trials, log_dispersion, member, cuts)[0]

    def kernel_derivatives(self, y, eta, trials, log_dispersion, cuts=None, member=None):
        """First and second derivatives in eta of each row's own kernel."""
        return self._each("kernel_derivatives", y, eta, trials, log_dispersion, member, cuts)

    def constant(self, y: np.ndarray, trials: np.ndarray, member: np.ndarray) -> np.ndarray:
        """Parameter-free part of each row's log density."""
        out = np.zeros(len(y))
        for k, family in enumerate(self.members):
            own = member == k
            if own.any():
                out[own] = family.constant(y[own], trials[own])
        return out

    def validate(self, y: np.ndarray, trials: np.ndarray | None, member: np.ndarray) -> None:
        """Each member's support check on its own rows."""
        for k, (family, label) in enumerate(zip(self.members, self.labels)):
            own = member == k
            if own.any():
                family.validate(y[own], None if trials is None else trials[own], label)


def make_mixed_family(mapping: dict, available) -> tuple[MixedFamily, dict]:
    """MixedFamily from {response: family name | (family, link) | Family}; ``available`` are the valid responses.

    Returns the family and {response: member index}.
    """
    available = [str(a) for a in available]
    members, labels = [], []
    for response, value in mapping.items():
        response = str(response)
        if response not in available:
            raise GllammError(f"family= names the response '{response}', which is not in the model."
                              f"{closest(response, available)} Responses: {', '.join(available)}.")
        if isinstance(value, Family):
            family = value
        elif isinstance(value, (tuple, list)):
            family = make_family(*value)
        else:
            family = make_family(value)
        if family.name == "multinomial":
            raise GllammError("Nominal (multinomial) responses cannot be mixed with other response types: their "
                              "rows are category slots, not single responses.")
        members.append(family)
        labels.append(response)
    missing = [a for a in available if a not in labels]
    if missing:
        raise GllammError(f"family= gives no family for the responses {', '.join(missing)}; map every response "
                          "to a family, e.g. {'y': 'gaussian', 'd': ('binomial', 'probit')}.")
    return MixedFamily(tuple(members), tuple(labels)), {label: k for k, label in enumerate(labels)}
