"""Start values: the model without latent variables (a GLM, by the same Newton iterations), then latent
variables with moderate variances on the scale of the responses and covariates."""

from __future__ import annotations

from dataclasses import replace

import jax
import numpy as np
import pandas as pd

from ..design import Design
from ..design.identification import check_separation
from ..errors import GllammError
from ..families.links import inverse_link_numpy, link_numpy
from ..integrate import Integration
from ..parallel import least_squares_over_processes, mean_over_processes, std_over_processes, sum_over_processes
from ..spec import ModelSpec, ParameterTable
from .iterations import maximize_likelihood


def glm_start(spec: ModelSpec, design: Design, verbose: bool, layout=None) -> tuple:
    """Fixed effects, ordinal thresholds, log dispersions (the scale coefficients when the scale is modelled) and
    zero-inflation coefficients of the model without latent variables (own engine)."""
    family = spec.family
    thresholds = _start_thresholds(spec, design)
    target = _link_target(family, design)
    X = design.X
    if family.name in ("ordinal", "multinomial"):
        beta = np.zeros(X.shape[1])
    else:
        beta = _inside_domain(family, design, least_squares_over_processes(X, target, design.weights))
    glm_spec = replace(spec, levels=(), covariate_names=(), class_covariates=(), crossed=False)
    glm_table = ParameterTable(glm_spec)
    log_disp = _start_dispersions(spec, design, X, beta, target)
    scale = None
    if spec.scale_names:  # start from a constant scale: the intercept (if any) carries log SD / log dispersion
        scale = np.zeros(len(spec.scale_names))
        if spec.scale_names[0] == "scale:(Intercept)":
            scale[0] = log_disp
    theta = glm_table.pack(beta, [], log_disp, thresholds=thresholds, scale=scale)
    closed_form = family.name == "gaussian" and family.link.name == "identity" and not spec.scale_names and \
        np.all(design.weights == 1)
    try:  # (least squares and the groups' residual SDs are the Gaussian identity-link fit, or close to it)
        result = None if closed_form else maximize_likelihood(glm_table, Integration("none", 0), design, theta, 100,
                                                              1e-8, False, layout=layout)
        if result is not None and np.all(np.isfinite(result.theta)):
            theta = result.theta
    except FloatingPointError:
        pass
    beta = theta[: len(spec.fixed_names)]
    unpacked = glm_table.unpack(theta)
    zero_inflation = np.asarray(unpacked.zero_inflation)
    if spec.threshold_names or spec.scale_names:
        thresholds, scale = np.asarray(unpacked.thresholds), np.asarray(unpacked.scale)
    if spec.scale_names:
        return beta, thresholds, scale, zero_inflation
    log_dispersion = np.asarray(unpacked.log_dispersion) if spec.dispersions else np.zeros(0)
    return beta, thresholds, log_dispersion, zero_inflation


def _start_thresholds(spec, design):
    """Ordinal thresholds kappa_k = g(P(y <= k)) at beta = 0, per ordinal item (None without thresholds)."""
    family, y = spec.family, design.y
    thresholds = None
    if spec.threshold_names:  # kappa_k = g(P(y <= k)) with beta = 0, per ordinal item
        thresholds = []
        item = design.threshold_item if design.threshold_item is not None else np.zeros(len(y), int)
        for g, (_, count) in enumerate(spec.threshold_layout):
            own = item == g
            link = family.members[design.member[own][0]].link.name if family.name == "mixed" else family.link.name
            counts = sum_over_processes(np.bincount(y[own].astype(int), weights=design.weights[own],
                                                    minlength=count + 1)[:count + 1])
            p = np.clip(np.cumsum(counts)[:-1] / counts.sum(), 1e-4, 1 - 1e-4)
            kappa = np.maximum.accumulate(link_numpy(link, p) + mean_over_processes(design.offset[own]))
            thresholds.append(kappa + 1e-3 * np.arange(count))
        thresholds = np.concatenate(thresholds)
    return thresholds


def _inside_domain(family, design, beta):
    """The least-squares start moved toward the intercept-only fit (every row at g(mean response)) until every
    row's mean is valid (binomial with log or identity link, Poisson with identity link); a clear error when no
    such start is found."""
    X, offset = design.X, design.offset
    if not family.bounded_mean or np.all(family.eta_in_domain(X @ beta + offset)):
        return beta
    base = np.zeros_like(beta)
    intercept = [j for j in range(X.shape[1]) if np.all(X[:, j] == 1.0)]
    if intercept:
        mean = np.sum(design.y) / np.sum(design.trials) if family.name == "binomial" else np.mean(design.y)
        base[intercept[0]] = link_numpy(family.link.name, mean) - np.mean(offset)
    for t in 0.5 ** np.arange(1, 40):
        shrunk = t * beta + (1 - t) * base
        if np.all(family.eta_in_domain(X @ shrunk + offset)):
            return shrunk
    if np.all(family.eta_in_domain(X @ base + offset)):
        return base
    raise GllammError(f"No start values found with every row's mean inside the parameter space of the "
                      f"{family.name} family with {family.link.name} link (e.g. probabilities in (0, 1)); give "
                      f"start= values, or use the canonical link.")


def _link_target(family, design) -> np.ndarray:
    """g(mu) - offset of a response moved inside the link's domain (the working response of the first IRLS step);
    for mixed responses each row on its own family's link scale."""
    y, trials = design.y, design.trials
    if family.name == "ordinal":
        mu = np.full_like(y, 0.5)
    elif family.name == "multinomial":  # start at equal category probabilities (beta = 0)
        mu = np.full_like(y, 0.5)
    elif family.name == "binomial":
        mu = (y + 0.5) / (trials + 1.0)
    elif family.counts:
        mu = y + 0.1
    elif family.link.name in ("log", "reciprocal"):
        floor = max(0.1 * abs(mean_over_processes(y)), 1e-8)
        mu = np.maximum(y, floor)
    else:
        mu = y
    if family.name == "mixed":  # each row on its own family's link scale
        mu, link_target = np.array(y, dtype=float), np.zeros(len(y))
        for k, member in enumerate(family.members):
            own = design.member == k
            if member.name == "ordinal":  # the thresholds carry these rows' location
                continue
            if member.name == "binomial":
                mu[own] = (y[own] + 0.5) / (trials[own] + 1.0)
            elif member.counts:
                mu[own] = y[own] + 0.1
            elif member.link.name in ("log", "reciprocal"):
                mu[own] = np.maximum(y[own], max(0.1 * abs(mean_over_processes(y[own])), 1e-8))
            link_target[own] = link_numpy(member.link.name, mu[own])
        target = link_target - design.offset
    else:
        target = link_numpy(family.link.name, mu) - design.offset
    return target


def _start_dispersions(spec, design, X, beta, target):
    """Log residual SD (Gaussian, one per group of rows) or log dispersion (gamma) of the start fit."""
    family, y = spec.family, design.y
    resid = target - X @ beta if X.shape[1] else target
    if family.name == "mixed":  # one value per dispersion, from its own rows
        fitted = X @ beta + design.offset if X.shape[1] else design.offset
        log_disp = []
        for k, member in enumerate(family.members):
            own = design.member == k
            if member.name == "gaussian":
                log_disp.append(np.log(max(std_over_processes(y[own] - inverse_link_numpy(member.link.name, fitted[own])), 1e-8)))
            elif member.name == "gamma":
                log_disp.append(np.log(max(std_over_processes(resid[own]) ** 2, 1e-4)))
            elif member.has_dispersion:  # negative binomial: alpha = 1
                log_disp.append(0.0)
        log_disp = np.asarray(log_disp)
    elif family.name == "gaussian":
        residual = y - inverse_link_numpy(family.link.name, X @ beta + design.offset)
        if design.dispersion_index is not None and len(spec.dispersions) > 1:  # one residual SD per group
            log_disp = np.log([max(std_over_processes(residual[design.dispersion_index == k]), 1e-8)
                               for k in range(len(spec.dispersions))])
        else:
            log_disp = np.log(max(std_over_processes(residual), 1e-8))
    elif family.name == "gamma":
        log_disp = np.log(max(std_over_processes(resid) ** 2, 1e-4))
    else:
        log_disp = 0.0
    return log_disp


_SEPARATION_ETA = 20.0  # |linear predictor| of the start fit beyond which separation is looked for


def _separation_checked_start(spec, design, verbose, layout):
    """``glm_start``, with binomial responses checked for separation (``check_separation``, a linear programme)
    when the model without latent variables fails or drives some fitted probability to within e^-20 of 0 or 1:
    its maximum-likelihood fit exists with finite, moderate linear predictors otherwise, so the programme is
    solved only where separation is possible."""
    local = spec.family.name == "binomial" and jax.process_count() == 1
    try:
        start = glm_start(spec, design, verbose, layout)
    except (np.linalg.LinAlgError, FloatingPointError):
        if local:
            check_separation(spec, design)
        raise GllammError("The model without latent variables (used for start values) could not be fitted; give "
                          "start= values or check the response and covariates for values that no finite "
                          "coefficient fits.") from None
    if local and design.X.shape[1]:
        eta = design.X @ start[0]
        if not np.all(np.isfinite(eta)) or np.abs(eta).max() > _SEPARATION_ETA:
            check_separation(spec, design)
    return start


def start_values(spec, design, table, start, verbose, layout=None) -> np.ndarray:
    """theta to start from: ``start`` (a FitResult, the internal theta, or {reported name: value} for some or all
    parameters, the others at their default start values), or the default start values."""
    if isinstance(start, (dict, pd.Series)):
        return _named_start(table, dict(start), start_values(spec, design, table, None, verbose, layout))
    if start is not None:
        theta = np.asarray(getattr(start, "theta", start), dtype=float)  # a FitResult or theta
        if theta.shape != (table.size,):
            raise GllammError(f"start has {theta.size} values; this model has {table.size} parameters ({', '.join(table.frame().name)}).")
        if np.isnan(theta).any():
            names = list(table.frame().name[np.isnan(theta)])
            raise GllammError(f"start has no value (NaN) for {', '.join(names)}; give a number for every parameter.")
        return theta
    beta, thresholds, log_disp, zero_inflation = _separation_checked_start(spec, design, verbose, layout)
    scale = None
    if spec.scale_names:
        scale, log_disp = log_disp, np.zeros(0)
        if spec.family.exact_gaussian:  # typical residual SD over the rows
            scale = scale + np.r_[np.log(0.9), np.zeros(len(scale) - 1)]
    factors = []
    if spec.scale_names and spec.family.exact_gaussian:
        residual_scale = float(np.exp(mean_over_processes(design.scale_matrix @ scale)))
    else:
        residual_scale = float(np.exp(np.mean(log_disp))) if spec.family.exact_gaussian and len(log_disp) else 1.0
    if not spec.family.exact_gaussian and spec.family.link.name in ("identity", "reciprocal"):
        # keep the linear predictor inside the link's domain at the quadrature nodes
        eta = design.X @ beta + design.offset if design.X.shape[1] else design.offset
        residual_scale = 0.4 * mean_over_processes(np.abs(eta))
    for index, level in enumerate(spec.levels):
        level_scale = np.full(level.dim, 0.5 * residual_scale)
        if level.loadings is None:  # random coefficients: scale by the spread of their covariate
            Z = design.Z_levels[index] if len(design.Z_levels) > index else design.Z
            for k in range(level.dim):
                column = Z[:, k]
                spread = std_over_processes(column)
                if spread > 1e-8 + 1e-5 * mean_over_processes(np.abs(column)):  # not constant
                    level_scale[k] /= spread
        factors.append(np.diag(level_scale))
    if spec.family.exact_gaussian:
        log_disp = log_disp + np.log(0.9)
    return table.pack(beta, factors, log_disp, thresholds=thresholds, scale=scale, zero_inflation=zero_inflation)


def _named_start(table, given: dict, default_theta) -> np.ndarray:
    """theta from reported values by name (variances, covariances and dispersions as reported), the parameters not
    named at their values in ``default_theta``; unknown names are an error that lists the model's names."""
    names = table.reported_names()
    unknown = [name for name in given if name not in names]
    if unknown:
        raise GllammError(f"start= names parameters this model does not have: {', '.join(map(str, unknown))}. Its "
                          f"parameters: {', '.join(names)}.")
    values = dict(zip(names, np.asarray(table.reported(np.asarray(default_theta)), dtype=float)))
    values.update({name: float(value) for name, value in given.items()})
    return np.asarray(table.from_reported(values), dtype=float)
