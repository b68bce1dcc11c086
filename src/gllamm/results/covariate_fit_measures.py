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

import numpy as np
import pandas as pd
from scipy import stats

from .fit_measures import (NAMES, _chi_square_measures, _rmsea, implied_covariance, indicator_data_reason,
                           single_level_sem_reason)


def covariate_fit_measures(result) -> pd.Series:
    """lavaan's fit measures of a single-level SEM with covariates of its latent variables (module docstring);
    NaN with the reason in ``attrs["note"]`` where they are not available."""
    covariates = observed_covariates(result.spec)
    reason = single_level_sem_reason(result, covariates=True) or covariate_reason(result) \
        or indicator_data_reason(result, tuple(covariates))
    indicators = list(result.design.response_name.split(", "))
    if reason is None:
        frame = result.design.model_frame
        Y, X = frame[indicators].to_numpy(dtype=float), frame[covariates].to_numpy(dtype=float)
        used = ~np.isnan(X).any(axis=1) & ~np.isnan(Y).all(axis=1)
        Y, X = Y[used], X[used]
        if np.isnan(Y).any():
            reason = ("fit measures of models with covariates and missing responses are not available yet (the "
                      "saturated model would be a regression with missing responses)")
    if reason is not None:
        series = pd.Series(np.nan, index=list(NAMES), name="fit measures")
        series.attrs["note"] = reason
        return series
    N, p = Y.shape
    design = np.column_stack([np.ones(N), X])
    residual = Y - design @ np.linalg.lstsq(design, Y, rcond=None)[0]
    saturated = -0.5 * N * (p * np.log(2 * np.pi) + np.linalg.slogdet(residual.T @ residual / N)[1] + p)
    baseline = sum(float(np.sum(stats.norm.logpdf(y, y.mean(), y.std()))) for y in Y.T)
    n_x = X.shape[1]
    values = _chi_square_measures(result, saturated, baseline, p, N, saturated_params=p * (1 + n_x) + p * (p + 1) / 2,
                                  baseline_df=p * (p - 1) / 2 + p * n_x)
    values.update(_rmsea(values["chisq"], values["df"], N))
    values["srmr"] = _joint_srmr(result, indicators, Y, X)
    return pd.Series({name: float(values[name]) for name in NAMES}, name="fit measures")


def observed_covariates(spec) -> list[str]:
    """The observed covariates x: regressors of the latent variables, then those of indicators only."""
    names = list(spec.covariate_names)
    for name in spec.fixed_names:
        regressor = name.partition("~")[2]
        if regressor != "1" and regressor not in names:
            names.append(regressor)
    return names


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


def _joint_srmr(result, indicators: list[str], Y: np.ndarray, X: np.ndarray) -> float:
    """SRMR over the lower triangle of the joint covariance of (y, x) (module docstring)."""
    from ..objective import latent_structure

    table = result.table_spec
    params = table.unpack(np.asarray(result.theta))
    loadings, M, _ = (np.asarray(x) for x in latent_structure(table, params))
    columns = list(result.design.response_name.split(", "))
    Lam = loadings.T[[columns.index(name) for name in indicators]]  # (items, q)
    covariates = observed_covariates(result.spec)
    gamma = np.zeros((M.shape[0], len(covariates)))  # latent regressions, zero for covariates of indicators only
    n_paths = len(result.spec.covariate_names)
    gamma[:, :n_paths] = np.asarray(params.covariate_effects[0])[:, :n_paths]
    effect = Lam @ M @ gamma  # d E(y) / d x (items, n_x): through the latent variables ...
    for name in result.spec.fixed_names:  # ... and direct
        item, _, regressor = name.partition("~")
        if regressor != "1":
            effect[indicators.index(item), covariates.index(regressor)] += float(result.params[name])
    S_xx = np.atleast_2d(np.cov(X.T, bias=True))
    implied = np.block([[implied_covariance(result, indicators) + effect @ S_xx @ effect.T, effect @ S_xx],
                        [(effect @ S_xx).T, S_xx]])
    S = np.atleast_2d(np.cov(np.column_stack([Y, X]).T, bias=True))
    scale = np.sqrt(np.outer(np.diag(S), np.diag(S)))
    lower = np.tril_indices(len(S))
    return float(np.sqrt(np.mean(((S - implied) / scale)[lower] ** 2)))
