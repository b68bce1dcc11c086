"""A binary response observed with known sensitivity and specificity: the composite link

    P(y* = 1 | eta) = se F(eta) + (1 - sp) (1 - F(eta)),

the mean as a weighted sum of the inverse links F and 1 - F of one linear predictor (gllamm's ``composite()`` for
misclassification; F the logit, probit or cloglog inverse link of the true status). With pi = P(y* = 1), the
log density of y* successes in n trials is y* log pi + (n - y*) log(1 - pi), where, in log space,

    log pi       = logaddexp(log se + log F, log(1 - sp) + log(1 - F)),
    log(1 - pi)  = logaddexp(log(1 - se) + log F, log sp + log(1 - F)).

Derivatives in eta of log(a F + b (1 - F)) with r = a F / (a F + b (1 - F)) and (log F)' = a1, (log F)'' = a2,
(log(1 - F))' = b1, (log(1 - F))'' = b2:  r a1 + (1 - r) b1  and  r a2 + (1 - r) b2 + r (1 - r) (a1 - b1)^2.
"""

from __future__ import annotations

import math

import jax.numpy as jnp


def _log(value: float) -> float:
    return math.log(value) if value > 0 else -math.inf


def _mixture(log_a: float, log_b: float, log_f, log_s):
    """log(a F + b (1 - F)) and the share r of its first term."""
    first, second = log_a + log_f, log_b + log_s
    total = jnp.logaddexp(first, second)
    return total, jnp.exp(first - total)


def misclassified_log_density(link, y, eta, trials, sensitivity: float, specificity: float):
    """y log pi + (n - y) log(1 - pi) elementwise (the binomial coefficient is the family's constant)."""
    log_f, log_s = link.log_probabilities(eta)
    log_pi, _ = _mixture(_log(sensitivity), _log(1.0 - specificity), log_f, log_s)
    log_not_pi, _ = _mixture(_log(1.0 - sensitivity), _log(specificity), log_f, log_s)
    return y * log_pi + (trials - y) * log_not_pi


def misclassified_derivatives(link, y, eta, trials, sensitivity: float, specificity: float):
    """First and second derivatives in eta of ``misclassified_log_density`` (closed form)."""
    log_f, log_s = link.log_probabilities(eta)
    a1, a2, b1, b2 = link.log_probability_derivatives(eta)
    out = []
    for log_a, log_b in ((_log(sensitivity), _log(1.0 - specificity)), (_log(1.0 - sensitivity), _log(specificity))):
        _, r = _mixture(log_a, log_b, log_f, log_s)
        out.append((r * a1 + (1.0 - r) * b1, r * a2 + (1.0 - r) * b2 + r * (1.0 - r) * (a1 - b1) ** 2))
    (d1_pi, d2_pi), (d1_not, d2_not) = out
    return y * d1_pi + (trials - y) * d1_not, y * d2_pi + (trials - y) * d2_not


def misclassified_family(family, misclassification: dict, scale):
    """The binomial family with known sensitivity and specificity, or a clear error for anything else."""
    from dataclasses import replace

    from ..errors import GllammError

    if isinstance(family, dict) or family.name != "binomial" or family.link.name not in ("logit", "probit", "cloglog"):
        raise GllammError("misclassification= is for binary (binomial) responses with the logit, probit or cloglog "
                          "link: the probability of a positive observation is se F(eta) + (1 - sp)(1 - F(eta)).")
    if scale is not None:
        raise GllammError("misclassification= and scale= together are not available; leave out one of them.")
    if not isinstance(misclassification, dict) or set(misclassification) != {"sensitivity", "specificity"}:
        raise GllammError('misclassification= is {"sensitivity": se, "specificity": sp}, the known probabilities of '
                          f"a positive observation given a positive status and a negative given a negative; got "
                          f"{misclassification!r}.")
    se, sp = (float(misclassification[k]) for k in ("sensitivity", "specificity"))
    if not (0.0 < se <= 1.0 and 0.0 < sp <= 1.0 and se + sp > 1.0):
        raise GllammError(f"misclassification: sensitivity {se:g} and specificity {sp:g} must be in (0, 1] with "
                          "sensitivity + specificity > 1 (otherwise the test carries no information, or the labels "
                          "are swapped).")
    return replace(family, sensitivity=se, specificity=sp)


def observed_probability(family, p):
    """P(y* = 1) = se p + (1 - sp)(1 - p) from the probability p of a positive status (p itself without error)."""
    if not getattr(family, "misclassified", False):
        return p
    return family.sensitivity * p + (1.0 - family.specificity) * (1.0 - p)
