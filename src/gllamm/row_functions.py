"""Each data row's conditional log density log f(y_i | eta_i) and its derivatives in eta, with the row's own data
(response, trials, dispersion, ordinal thresholds, mixed-family member, choice set), at parameters theta."""
from __future__ import annotations

import jax.numpy as jnp

from .families.ordinal import ordered_row_thresholds
from .families.zero_inflation import zero_inflated_derivatives, zero_inflated_log_density
from .integrate.shared_gaussian import ZERO_DISPERSION


def row_dispersion(table, params, data):
    """(each row's log dispersion: log sd of a Gaussian, log phi of a gamma, log s of a modelled scale; the rows with a
    residual variance fixed at 0, or None)."""
    if table.spec.scale_names:  # log s_i = v_i' alpha
        log_dispersion = jnp.einsum("scm,s->cm", data["V"], params.scale)
    else:
        log_dispersion = params.log_dispersion[data["dispersion_index"]]
    exact_rows = None
    if ZERO_DISPERSION in data:  # variances fixed at 0: log sd -inf, replaced before any arithmetic sees it
        flagged = data[ZERO_DISPERSION][data["dispersion_index"]]  # (missing responses' rows too: no -inf anywhere)
        log_dispersion = jnp.where(flagged, 0.0, log_dispersion)
        exact_rows = flagged & (data["weight"] > 0)
        if table.spec.family.name == "mixed":  # (rows without a dispersion point at the first one: not exact)
            exact_rows = exact_rows & table.spec.family.rows_with_dispersion(data["member"])

    return log_dispersion, exact_rows


def row_functions(table, params, data, log_dispersion):
    """(eta -> log f(y | eta) per row, eta -> its first and second derivatives) with each row's data: response,
    trials, dispersion, ordinal thresholds below and above its category, mixed family member, choice-set slots."""
    family = table.spec.family
    row_data = [data["y"], data["trials"], log_dispersion]
    ordinal = bool(table.spec.threshold_names)
    if ordinal:  # thresholds below and above each row's category (clamped at the ends; see ordinal.py)
        code = data["y"].astype(jnp.int32)
        first, n_categories = data["threshold_start"], data["n_categories"]  # the row's item: its thresholds
        kappa = params.thresholds
        below, above = first + jnp.clip(code - 1, 0, n_categories - 2), first + jnp.clip(code, 0, n_categories - 2)
        lower, upper = kappa[below], kappa[above]
        if params.threshold_effects is not None and table.spec.ordered_thresholds:  # t on the first and log gaps
            rows = ordered_row_thresholds(kappa, jnp.einsum("mcw,km->cwk", data["T"], params.threshold_effects))
            lower = jnp.take_along_axis(rows, below[..., None], axis=-1)[..., 0]
            upper = jnp.take_along_axis(rows, above[..., None], axis=-1)[..., 0]
        elif params.threshold_effects is not None:  # non-proportional odds: kappa_ik = kappa_k + t_i' gamma_k
            gamma = params.threshold_effects
            lower = lower + jnp.einsum("mcw,cwm->cw", data["T"], gamma[below])
            upper = upper + jnp.einsum("mcw,cwm->cw", data["T"], gamma[above])
        row_data += [lower, upper, n_categories]

    mixed = family.name == "mixed"
    if mixed:
        row_data.append(data["member"])
    set_size = table.spec.set_size
    if set_size > 1:
        row_data.append(data["available"])

    def rows(eta):  # broadcast (chunks, W) row data against eta of shape (chunks, ..., W)
        index = (slice(None),) + (None,) * (eta.ndim - 2) + (slice(None),)
        values = [x[index] for x in row_data]
        extra = {}
        if ordinal:
            extra["cuts"] = (values[3], values[4], values[5])
        if mixed:
            extra["member"] = values[-1]
        if set_size > 1:
            extra["choice"] = (values[-1], set_size)
        return values[0], values[1], values[2], extra

    def row_kernel(eta):
        y, trials, log_disp, extra = rows(eta)
        return family.kernel(y, eta, trials, log_disp, **extra)

    def row_derivatives(eta):
        y, trials, log_disp, extra = rows(eta)
        return family.kernel_derivatives(y, eta, trials, log_disp, **extra)

    if table.spec.zero_inflation_names:
        return _zero_inflated(row_kernel, row_derivatives, data, params)
    return row_kernel, row_derivatives


def _zero_inflated(count_kernel, count_derivatives, data, params):
    """The row functions of the zero-inflated mixture around the count part's (families/zero_inflation.py);
    logit P(structural zero) = w_i' gamma from the rows' zero-inflation covariates ``ZI`` (s, chunks, width)."""
    zero_logit = jnp.einsum("scm,s->cm", data["ZI"], params.zero_inflation)
    y = data["y"]

    def broadcast(x, eta):
        return x[(slice(None),) + (None,) * (eta.ndim - 2) + (slice(None),)]

    def row_kernel(eta):
        return zero_inflated_log_density(broadcast(y, eta), count_kernel(eta), broadcast(zero_logit, eta))

    def row_derivatives(eta):
        d1, d2 = count_derivatives(eta)
        return zero_inflated_derivatives(broadcast(y, eta), count_kernel(eta), d1, d2, broadcast(zero_logit, eta))

    return row_kernel, row_derivatives
