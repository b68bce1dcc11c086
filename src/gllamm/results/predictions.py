"""FitResult.predict and FitResult.residuals: predictions of the fitted or new data, by kind of model (the helpers and the module's
account of the kinds of prediction are in predict.py; latent classes in latent_classes.py, nominal responses in
multinomial_predict.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import GllammError, check_choice
from ..families import negative_binomial
from ..integrate import product_rule
from .latent_classes import class_prediction
from .multinomial_predict import multinomial_prediction
from .new_data import complete_rows, scatter
from .node_chunks import row_slices, warn_if_costly
from .zero_inflation_predict import structural_zero_probability, zero_inflated
from .predict import (_category_probabilities, _covariate_shift, _design_for, _latent_at, _log_scale, _mean, _members,
                      _nested_prediction, _row_latent, _syntax_newdata)


def predict(result, newdata: pd.DataFrame | None = None, *, type: str = "mean", latent: str = "zero",
            offset=None, nip: int = 40) -> np.ndarray:
    """Predictions for the fitted data (newdata=None) or new data; see the module docstring. Rows of new data
    with a missing covariate get NaN; a category the fit did not see is a GllammError (``new_data``)."""
    type = {"response": "mean", "link": "linear"}.get(type, type)  # lme4's names
    if newdata is not None and result.design.fixed_model_spec is not None:
        if not isinstance(newdata, pd.DataFrame):
            raise GllammError(f"newdata must be a pandas DataFrame; got {newdata.__class__.__name__}.")
        complete = complete_rows(result, newdata)
        if not complete.all():
            rows = newdata[complete]
            own_offset = offset[complete] if offset is not None and not isinstance(offset, str) else offset
            inner = predict(result, rows, type=type, latent=latent, offset=own_offset, nip=nip) if len(rows) else \
                np.zeros(0)
            return scatter(inner, complete)
    if newdata is not None and result.design.fixed_model_spec is None:  # model syntax: score the new units
        return predict(_syntax_newdata(result, newdata, latent), None, type=type, latent=latent, offset=offset,
                       nip=nip)
    if result.spec.discrete_level is not None:
        return class_prediction(result, newdata, type, latent, offset)
    if result.spec.zero_inflation_names:
        return _zero_inflated_prediction(result, newdata, type, latent, offset, nip)
    type = check_choice("type", type, ("linear", "mean", "probability"))
    if result.family.name == "multinomial":
        return multinomial_prediction(result, newdata, type, check_choice("latent", latent, ("zero", "eb", "marginal")),
                                      offset, nip)
    ordinal = result.family.name == "ordinal"
    if ordinal and type == "mean":
        raise GllammError("For an ordinal response predict the category probabilities with type='probability' "
                          "(or the linear predictor with type='linear').")
    if type == "probability" and not ordinal:
        raise GllammError(f"type='probability' is for ordinal and multinomial responses; use type='mean' for family "
                          f"'{result.family.name}'.")
    latent = check_choice("latent", latent, ("zero", "eb", "marginal"))
    return _prediction(result, newdata, type, latent, offset, nip, ordinal)


def _zero_inflated_prediction(result, newdata, type, latent, offset, nip):
    """Predictions of a zero-inflated count response (results/zero_inflation_predict.py)."""
    type = check_choice("type", type, ("linear", "mean", "count", "zero"))
    latent = check_choice("latent", latent, ("zero", "eb", "marginal"))
    if type == "linear":
        return _prediction(result, newdata, type, latent, offset, nip, False)
    count_part = _prediction(result, newdata, "mean", latent, offset, nip, False, count_zero=type == "zero")
    return zero_inflated(type, structural_zero_probability(result, newdata), count_part)


def _prediction(result, newdata, type, latent, offset, nip, ordinal, count_zero: bool = False):
    """The linear predictor or mean (``count_zero``: P(y = 0) of a count response) of the rows."""
    if type == "linear" and latent == "marginal":
        raise GllammError("A marginal prediction is a mean: use type='mean' with latent='marginal'.")
    if result.spec.crossed:
        from .crossed_effects import crossed_prediction

        return crossed_prediction(result, type, latent, min(nip, 20), newdata, offset, count_zero)
    if len(result.spec.levels) > 1:
        return _nested_prediction(result, type, latent, min(nip, 20), newdata, offset, count_zero)
    X, Z, total_offset, codes = _design_for(result, newdata, offset)
    beta = result.fixed_effects.to_numpy()
    eta = X @ beta + total_offset
    known = codes >= 0
    if result.spec.levels and latent != "marginal":  # latent variables at their EB values, or disturbances at 0
        if latent == "eb":
            values = result.empirical_bayes().iloc[:, : result.spec.levels[0].dim].to_numpy()[np.where(known, codes, 0)]
        else:
            values = _latent_at(result, np.zeros((1, result.spec.levels[0].dim)))[np.zeros(len(eta), int)]
            values = values + _covariate_shift(result, codes)
        eta = eta + np.where(known | (latent == "zero"), _row_latent(result, Z, values), 0.0)
    if type == "linear":
        return eta
    log_scale = _log_scale(result, newdata)
    if latent != "marginal":
        return (_category_probabilities(result, eta, log_scale=log_scale, newdata=newdata) if ordinal
                else _mean(result, eta, log_scale, _members(result, newdata), count_zero=count_zero))
    if not result.spec.levels:  # nothing to integrate
        return _mean(result, eta, log_scale, _members(result, newdata), count_zero=count_zero)
    return _marginal(result, eta, Z, codes, log_scale, ordinal, newdata, nip, count_zero)


def _marginal(result, eta, Z, codes, log_scale, ordinal: bool, newdata, nip: int, count_zero: bool = False):
    """Population-averaged means (or category probabilities): the conditional mean integrated over the latent
    variables' distribution by Gauss-Hermite quadrature (``nip`` points per dimension), rows in slices (bounded
    memory)."""
    dim = result.spec.levels[0].dim
    nodes, log_w = product_rule(nip, dim)
    weights = np.exp(log_w) / np.pi ** (dim / 2)
    warn_if_costly(len(eta), len(weights), "The marginal prediction", nip, dim)
    latent_nodes = _latent_at(result, np.sqrt(2.0) * nodes)
    eta = eta + _row_latent(result, Z, _covariate_shift(result, codes), interactions=False)

    def eta_at_nodes(rows):  # (rows, nodes): one slice of rows at a time (bounded memory, node_chunks)
        return eta[rows, None] + _row_latent(result, Z[rows], latent_nodes, shared=True)

    if ordinal:
        return _category_probabilities(result, eta, weights, log_scale, newdata, eta_at_nodes)
    log_scale, members = np.broadcast_to(log_scale, eta.shape), _members(result, newdata)
    return np.concatenate([_mean(result, eta_at_nodes(rows), log_scale[rows], members, rows, count_zero) @ weights
                           for rows in row_slices(len(eta), len(weights))])




def residuals(result, type: str = "pearson") -> np.ndarray:
    """Pearson or deviance residuals of the fitted data, conditional on the EB means of the latent variables."""
    type = check_choice("residual type", type, ("pearson", "deviance", "response"))
    design, family = result.design, result.family
    if family.name in ("ordinal", "multinomial"):
        raise GllammError("Residuals are not defined for ordinal responses; compare predict(type='probability') "
                          "with the observed categories instead.")
    if family.name == "mixed":  # each row by its own family
        out = np.empty(len(design.y))
        mean = predict(result, latent="eb")
        for k, member in enumerate(family.members):
            own = design.member == k
            out[own] = _residuals_of(member, design.y[own], mean[own], design.trials[own],
                                     _row_dispersion(result, own, member), type)
        return out
    dispersion = _row_dispersion(result, slice(None), family)
    if result.spec.zero_inflation_names:
        return _zero_inflated_residuals(result, design.y, dispersion, type)
    return _residuals_of(family, design.y, predict(result, latent="eb"), design.trials, dispersion, type)


def _zero_inflated_residuals(result, y, dispersion, type):
    """Response and Pearson residuals of zero-inflated counts: mean (1 - pi) mu and variance
    (1 - pi)(sigma_c^2 + pi mu^2), sigma_c^2 the count part's variance (as glmmTMB's)."""
    if type == "deviance":
        raise GllammError("Deviance residuals are not defined for zero-inflated counts (no saturated model of the "
                          "mixture); use type='pearson' or type='response'.")
    mu = predict(result, latent="eb", type="count")
    pi = structural_zero_probability(result)
    mean = (1.0 - pi) * mu
    if type == "response":
        return y - mean
    name = result.family.name
    count_variance = mu if name == "poisson" else negative_binomial.variance(name, mu, dispersion)
    return (y - mean) / np.sqrt((1.0 - pi) * (count_variance + pi * mu * mu))


def _row_dispersion(result, rows, family) -> np.ndarray:
    """Residual variance (Gaussian) or dispersion (gamma) of the selected rows (1 for other families)."""
    design, params, spec = result.design, result.params, result.spec
    index = design.dispersion_index if design.dispersion_index is not None else np.zeros(len(design.y), dtype=int)
    if spec.scale_names and family.name in ("gaussian", "gamma"):  # log SD / log dispersion per row
        log_scale = design.scale_matrix @ params[list(spec.scale_names)].to_numpy()
        return (np.exp(2 * log_scale) if family.name == "gaussian" else np.exp(log_scale))[rows]
    if not family.has_dispersion or not spec.dispersions:
        return np.ones(len(design.y))[rows]
    return np.asarray([params[n] for n in spec.dispersions])[index][rows]


def _residuals_of(family, y, mean, trials, dispersion, type):
    """Pearson, deviance or response residuals of one family's rows given the conditional means (per trial)."""
    mu = mean * (trials if family.name == "binomial" else 1.0)
    if type == "response":
        return y - mu
    if family.name == "gaussian":
        variance = dispersion
    elif family.name == "binomial":
        p = mu / trials
        variance = trials * p * (1 - p)
    elif family.name == "poisson":
        variance = mu
    elif family.name in ("negbin", "negbin1"):
        variance = negative_binomial.variance(family.name, mu, dispersion)
    else:
        variance = dispersion * mu**2
    if type == "pearson":
        return (y - mu) / np.sqrt(variance)
    with np.errstate(divide="ignore", invalid="ignore"):
        if family.name == "gaussian":
            unit = (y - mu) ** 2
        elif family.name == "binomial":
            m = trials
            unit = 2 * (np.where(y > 0, y * np.log(y / mu), 0) + np.where(m - y > 0, (m - y) * np.log((m - y) / (m - mu)), 0))
        elif family.name == "poisson":
            unit = 2 * (np.where(y > 0, y * np.log(y / mu), 0) - (y - mu))
        elif family.name in ("negbin", "negbin1"):  # 2 (log f(y; mu = y) - log f(y; mu)), the dispersion held
            saturated = negative_binomial.log_density_numpy(family.name, y, np.maximum(y, 1e-300), dispersion)
            unit = 2 * (saturated - negative_binomial.log_density_numpy(family.name, y, mu, dispersion))
        else:
            unit = 2 * (-np.log(y / mu) + (y - mu) / mu)
    return np.sign(y - mu) * np.sqrt(np.clip(unit, 0, None))
