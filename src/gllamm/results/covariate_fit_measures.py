"""Fit measures of a single-level SEM whose latent variables or indicators are regressed on observed covariates x
(lavaan's default fixed.x = TRUE: the covariates' moments are the sample's, in the model and in the saturated model
alike). x are the regressors of the latent variables, then those only of indicators (direct effects, ``y1 ~ x``).

The log-likelihood of the model is that of y given x. The saturated model of y given x is the multivariate
regression of the p indicators on (1, x), residual covariance S_r (divisor N):

    l_sat = -N/2 (p log 2 pi + log|S_r| + p),   with p (1 + n_x) + p (p + 1)/2 parameters,

and the baseline model has every indicator independent, with its own mean and variance and no covariate effects
(lavaan's baseline keeps the covariates' own moments, which cancel): baseline.df = p (p - 1)/2 + p n_x. CFI, TLI and
RMSEA then follow as without covariates (fit_measures.py). SRMR compares the joint covariance matrix of (y, x)
with the implied one,

    Cov(y) = A S_xx A' + Lambda M Psi M' Lambda' + Theta,   Cov(y, x) = A S_xx,   Cov(x) = S_xx,
    A = Lambda M Gamma + D   (d E(y) / d x; D the direct effects),

over its lower triangle, the covariances of x included (their residuals are 0), as lavaan does.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pandas as pd

from .fit_measures import (NAMES, _chi_square_measures, _implied_means, _independence_loglik, _rmsea, group_rmsea,
                           implied_covariance, indicator_data_reason, single_level_sem_reason)

_MISSING = ("fit measures of models with covariates and missing responses are not available yet (the saturated model "
            "would be a regression with missing responses)")


def covariate_fit_measures(result) -> pd.Series:
    """lavaan's fit measures of a single-level SEM with covariates of its latent variables (module docstring);
    NaN with the reason in ``attrs["note"]`` where they are not available."""
    covariates = observed_covariates(result.spec)
    grouped = result.options.get("group") is not None
    reason = single_level_sem_reason(result, groups=grouped, covariates=True) or covariate_reason(result) \
        or indicator_data_reason(result, tuple(covariates))
    indicators = list(result.design.response_name.split(", "))
    if reason is None and grouped:  # each group's model of its indicators given the covariates
        items = list(dict.fromkeys(name.rsplit(".g", 1)[0] for name in indicators))
        groups = max(int(name.rsplit(".g", 1)[1]) for name in indicators)
        values = group_covariate_fit_measures(result, items, groups)
        if values:
            values.update(group_rmsea(values["chisq"], values["df"], values["ntotal"], groups))
            return pd.Series({name: float(values[name]) for name in NAMES}, name="fit measures")
        reason = _MISSING
    if reason is None:
        frame = result.design.model_frame
        Y, X = frame[indicators].to_numpy(dtype=float), frame[covariates].to_numpy(dtype=float)
        used = ~np.isnan(X).any(axis=1) & ~np.isnan(Y).all(axis=1)
        Y, X = Y[used], X[used]
        if np.isnan(Y).any():
            reason = _MISSING
    if reason is not None:
        series = pd.Series(np.nan, index=list(NAMES), name="fit measures")
        series.attrs["note"] = reason
        return series
    N, p = Y.shape
    saturated, baseline = _saturated_regression(Y, X), _independence_loglik(Y)
    n_x = X.shape[1]
    values = _chi_square_measures(result, saturated, baseline, p, N, saturated_params=p * (1 + n_x) + p * (p + 1) / 2,
                                  baseline_df=p * (p - 1) / 2 + p * n_x)
    values.update(_rmsea(values["chisq"], values["df"], N))
    values["srmr"] = _joint_srmr(result, indicators, Y, X)
    return pd.Series({name: float(values[name]) for name in NAMES}, name="fit measures")


def observed_covariates(spec) -> list[str]:
    """The observed covariates x: regressors of the latent variables, then those of indicators only (not the
    constant _mean.g<k> columns of the latent means of multiple groups)."""
    names = [name for name in spec.covariate_names if not name.startswith("_mean.g")]
    for name in spec.fixed_names:
        regressor = name.partition("~")[2]
        if regressor != "1" and regressor not in names:
            names.append(regressor)
    return names


def _saturated_regression(Y: np.ndarray, X: np.ndarray) -> float:
    """log-likelihood of the multivariate regression of Y on (1, X) by ML (the saturated model of y given x)."""
    N, p = Y.shape
    design = np.column_stack([np.ones(N), X])
    residual = Y - design @ np.linalg.lstsq(design, Y, rcond=None)[0]
    return -0.5 * N * (p * np.log(2 * np.pi) + np.linalg.slogdet(residual.T @ residual / N)[1] + p)


def covariate_reason(result) -> str | None:
    """Why these measures do not apply (None when they do): covariates as paths of the latent variables and of
    indicators (direct effects of columns of the data, ``y1 ~ x``)."""
    spec = result.spec
    if spec.scale_names or any(level.products or level.cross_paths for level in spec.levels):
        return "fit measures of models with latent interactions or a scale model are not available"
    columns = result.design.model_frame.columns
    unknown = [name for name in spec.fixed_names if not name.endswith("~1") and name.partition("~")[2] not in columns]
    if unknown:
        return f"fit measures need direct effects of observed columns; {unknown} are not"
    return None


def covariate_paths(spec, params, items: list[str], covariates: list[str], level: int = 0):
    """(Gamma_x, D): the effects Gamma of ``covariates`` on the latent variables of ``level`` (q x covariates; 0 for
    a covariate only of indicators) and the direct effects D of the covariates on ``items`` (items x covariates), from
    the unpacked parameters (usable inside jit). d E(y | x) / d x = Lambda' M Gamma_x + D."""
    names = list(spec.covariate_names)
    gamma = jnp.zeros((params.covariate_effects[level].shape[0], len(covariates)))
    for c, name in enumerate(covariates):
        if name in names:
            gamma = gamma.at[:, c].set(params.covariate_effects[level][:, names.index(name)])
    direct = jnp.zeros((len(items), len(covariates)))
    for k, name in enumerate(spec.fixed_names):
        item, _, regressor = name.partition("~")
        if regressor != "1" and item in items and regressor in covariates:
            direct = direct.at[items.index(item), covariates.index(regressor)].add(params.beta[k])
    return gamma, direct


def covariate_effects(result, indicators: list[str], covariates: list[str], level: int = 0) -> np.ndarray:
    """A = d E(y | x) / d x (indicators x covariates) at the estimates: through the latent variables of ``level``,
    Lambda' M Gamma, plus the direct effects D."""
    from ..objective import latent_structure

    table = result.table_spec
    params = table.unpack(np.asarray(result.theta))
    loadings, M, _ = latent_structure(table, params, level)
    columns = list(result.design.response_name.split(", "))
    Lam = loadings.T[np.array([columns.index(name) for name in indicators])]  # (items, q)
    gamma, direct = covariate_paths(result.spec, params, indicators, covariates, level)
    return np.asarray(Lam @ M @ gamma + direct)


def _joint_residuals(result, indicators: list[str], Y: np.ndarray, X: np.ndarray, means: bool) -> np.ndarray:
    """Standardised residuals of the joint covariance of (y, x) over its lower triangle (the covariances of x
    included: 0), and with ``means`` of the means (y's: ybar - nu - A xbar; x's: 0), each divided by sample SDs."""
    effect = covariate_effects(result, indicators, observed_covariates(result.spec))
    S_xx = np.atleast_2d(np.cov(X.T, bias=True))
    implied = np.block([[implied_covariance(result, indicators) + effect @ S_xx @ effect.T, effect @ S_xx],
                        [(effect @ S_xx).T, S_xx]])
    S = np.atleast_2d(np.cov(np.column_stack([Y, X]).T, bias=True))
    sd = np.sqrt(np.diag(S))
    residuals = ((S - implied) / np.outer(sd, sd))[np.tril_indices(len(S))]
    if not means:
        return residuals
    implied_means = _implied_means(result)  # (the mean of nu + A x over the units: nu + A xbar)
    mean_y = (Y.mean(axis=0) - np.array([implied_means[c] for c in indicators])) / sd[: Y.shape[1]]
    return np.concatenate([residuals, mean_y, np.zeros(X.shape[1])])


def _joint_srmr(result, indicators: list[str], Y: np.ndarray, X: np.ndarray) -> float:
    """SRMR over the lower triangle of the joint covariance of (y, x) (module docstring)."""
    return float(np.sqrt(np.mean(_joint_residuals(result, indicators, Y, X, means=False) ** 2)))


def group_covariate_fit_measures(result, items: list[str], groups: int) -> dict:
    """The measures of multiple groups with covariates (lavaan's, as ``fit_measures._group_fit_measures``): per group
    the saturated regression of its indicators on the covariates and the independence baseline, summed; srmr the
    groups' SRMR over the joint (y, x) covariances and means, weighted by n_g / N."""
    covariates = observed_covariates(result.spec)
    p, n_x = len(items), len(covariates)
    saturated = baseline = 0.0
    srmr, sizes = [], []
    for k in range(1, groups + 1):
        columns = [f"{name}.g{k}" for name in items]
        Y = result.design.model_frame[columns].to_numpy(dtype=float)
        X = result.design.model_frame[covariates].to_numpy(dtype=float)
        used = ~np.isnan(Y).all(axis=1) & ~np.isnan(X).any(axis=1)
        Y, X = Y[used], X[used]
        if np.isnan(Y).any():
            return {}
        saturated, baseline = saturated + _saturated_regression(Y, X), baseline + _independence_loglik(Y)
        srmr.append(np.sqrt(np.mean(_joint_residuals(result, columns, Y, X, means=True) ** 2)))
        sizes.append(len(Y))
    N = sum(sizes)
    values = _chi_square_measures(result, saturated, baseline, p, N, groups,
                                  saturated_params=groups * (p * (1 + n_x) + p * (p + 1) / 2),
                                  baseline_df=groups * (p * (p - 1) / 2 + p * n_x))
    values["srmr"] = float(np.asarray(sizes) @ np.asarray(srmr) / N)
    return values
