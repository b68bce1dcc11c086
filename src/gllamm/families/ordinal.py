"""Cumulative (ordinal) response models.

With categories 1..K, thresholds kappa_1 < ... < kappa_{K-1} and latent-response
scale s (1 unless modelled, as in the scaled ordinal probit),

    P(y <= k | eta) = F((kappa_k - eta) / s),
    log P(y = k)    = log[F((kappa_k - eta)/s) - F((kappa_{k-1} - eta)/s)],

with kappa_0 = -inf and kappa_K = +inf; F is the inverse link (logistic,
standard normal or 1 - exp(-exp(x)) for cloglog). Differences of probabilities
are taken in log space: in the left tail as log F(b) + log(1 - F(a)/F(b)), in
the right tail as log S(a) + log(1 - S(b)/S(a)) with S = 1 - F, so no
probability is rounded to 0 or 1 before its logarithm is taken.
"""

from __future__ import annotations

import jax.numpy as jnp

from .links import Link, _log1mexp


def _bounds(code, n_categories: int, lower, upper, eta, log_scale):
    """First/last-category flags, 1/s and the standardised bounds a = (lower - eta)/s, b = (upper - eta)/s,
    with safe finite stand-ins where a bound is infinite (a = b - 1 in the first, b = a + 1 in the last category)."""
    first = code <= 0
    last = code >= n_categories - 1
    scale = jnp.exp(-log_scale)
    b = (upper - eta) * scale
    a = jnp.where(first, b - 1.0, (lower - eta) * scale)
    b = jnp.where(last, a + 1.0, b)
    return first, last, scale, a, b


def interval_log_probability(link: Link, code, n_categories: int, lower, upper, eta, log_scale):
    """log P(y = code) elementwise; ``lower``/``upper`` are the thresholds around the category.

    ``code`` is the 0-based category; for the first (last) category ``lower`` (``upper``)
    is ignored and only needs to be finite.
    """
    first, last, scale, a, b = _bounds(code, n_categories, lower, upper, eta, log_scale)
    right_tail = (a + b) > 0.0
    if link.name in ("logit", "probit"):  # symmetric F: S(x) = F(-x), so reflect the right tail
        lo, hi = jnp.where(right_tail, -b, a), jnp.where(right_tail, -a, b)
        log_f_hi, _ = link.log_probabilities(hi)
        log_f_lo, _ = link.log_probabilities(lo)
        middle = log_f_hi + _log1mexp(jnp.maximum(log_f_hi - log_f_lo, 1e-300))
        end = link.log_probabilities(jnp.where(first, b, -a))[0]  # log F(b) or log S(a) = log F(-a)
        return jnp.where(first | last, end, middle)
    log_f_b, _ = link.log_probabilities(b)
    _, log_s_a = link.log_probabilities(a)
    # each form sees only the rows it is used for (others get the harmless (-1, 0) or (0, 1)): a form evaluated
    # where its difference rounds to 0 would put 0 * inf into the discarded rows' second derivatives
    a_left, b_left = jnp.where(right_tail, -1.0, a), jnp.where(right_tail, 0.0, b)
    a_right, b_right = jnp.where(right_tail, a, 0.0), jnp.where(right_tail, b, 1.0)
    log_f_b_left, _ = link.log_probabilities(b_left)
    log_f_a_left, _ = link.log_probabilities(a_left)
    _, log_s_a_right = link.log_probabilities(a_right)
    _, log_s_b_right = link.log_probabilities(b_right)
    left_form = log_f_b_left + _log1mexp(jnp.maximum(log_f_b_left - log_f_a_left, 1e-300))
    right_form = log_s_a_right + _log1mexp(jnp.maximum(log_s_a_right - log_s_b_right, 1e-300))
    middle = jnp.where(right_tail, right_form, left_form)
    return jnp.where(first, log_f_b, jnp.where(last, log_s_a, middle))


def _log_density_and_slope(link: Link, x):
    """log f(x) and f'(x)/f(x) of the latent-response density f = F'."""
    if link.name == "logit":
        log_f, log_s = link.log_probabilities(x)
        return log_f + log_s, 1.0 - 2.0 * jnp.exp(log_f)
    if link.name == "probit":
        return -0.5 * x * x - 0.5 * jnp.log(2 * jnp.pi), -x
    if link.name == "cloglog":
        rate = jnp.exp(x)
        return x - rate, 1.0 - rate
    raise AssertionError(link.name)


def interval_derivatives(link: Link, code, n_categories: int, lower, upper, eta, log_scale):
    """First and second derivatives in eta of log P(y = code), in closed form.

    With P = F(b) - F(a), b = (upper - eta)/s, a = (lower - eta)/s and r_x = f(x)/P:
    d log P / d eta = -(r_b - r_a)/s,  d2 = (r_b f'(b)/f(b) - r_a f'(a)/f(a))/s^2 - d1^2.
    """
    first, last, scale, a, b = _bounds(code, n_categories, lower, upper, eta, log_scale)
    log_p = interval_log_probability(link, code, n_categories, lower, upper, eta, log_scale)
    log_f_b, slope_b = _log_density_and_slope(link, b)
    log_f_a, slope_a = _log_density_and_slope(link, a)
    r_b = jnp.where(last, 0.0, jnp.exp(log_f_b - log_p))
    r_a = jnp.where(first, 0.0, jnp.exp(log_f_a - log_p))
    d1 = -(r_b - r_a) * scale
    d2 = (r_b * slope_b - r_a * slope_a) * scale * scale - d1 * d1
    # end categories: log F(b) or log S(a), whose derivatives the binary links give without cancellation
    f1, f2, _, _ = link.log_probability_derivatives(b)
    _, _, s1, s2 = link.log_probability_derivatives(a)
    d1 = jnp.where(first, -scale * f1, jnp.where(last, -scale * s1, d1))
    d2 = jnp.where(first, scale * scale * f2, jnp.where(last, scale * scale * s2, d2))
    return d1, d2


def ordered_row_thresholds(kappa, shift, xp=jnp):
    """Thresholds of rows whose covariates t act on the first threshold and the log gaps (gllamm's ethresh):
    kappa_1(t) = kappa_1 + t'gamma_1, kappa_k(t) = kappa_{k-1}(t) + (kappa_k - kappa_{k-1}) exp(t'gamma_k), ordered
    for every t. ``kappa`` (K-1,), ``shift`` (..., K-1) the values t'gamma_k; returns (..., K-1)."""
    gaps = (kappa[1:] - kappa[:-1]) * xp.exp(shift[..., 1:])
    return xp.cumsum(xp.concatenate([kappa[:1] + shift[..., :1], gaps], axis=-1), axis=-1)


def cumulative_thresholds(theta_part):
    """kappa from unconstrained values: kappa_1 = t_1, kappa_k = kappa_{k-1} + exp(t_k)."""
    if theta_part.shape[0] == 0:
        return theta_part
    return jnp.cumsum(jnp.concatenate([theta_part[:1], jnp.exp(theta_part[1:])]))
