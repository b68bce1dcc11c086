"""Fit measures of a single-level SEM whose latent variables are regressed on observed covariates x (lavaan's
default fixed.x = TRUE: the covariates' moments are the sample's, in the model and in the saturated model alike).

The log-likelihood of the model is that of y given x. The saturated model of y given x is the multivariate
regression of the p indicators on (1, x), residual covariance S_r (divisor N):

    l_sat = -N/2 (p log 2 pi + log|S_r| + p),   with p (1 + n_x) + p (p + 1)/2 parameters,

and the baseline model has every indicator independent, with its own mean and variance and no covariate effects
(lavaan's baseline keeps the covariates' own moments, which cancel): baseline.df = p (p - 1)/2 + p n_x. CFI, TLI and
RMSEA then follow as without covariates (fit_measures.py). SRMR compares the joint covariance matrix of (y, x)
with the implied one,

    Cov(y) = Lambda M (Gamma S_xx Gamma' + Psi) M' Lambda' + Theta,   Cov(y, x) = Lambda M Gamma S_xx,   Cov(x) = S_xx,

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
    spec = result.spec
    covariates = list(spec.covariate_names)
    reason = single_level_sem_reason(result, covariates=True) or indicator_data_reason(result, tuple(covariates)) \
        or covariate_reason(result)
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


def covariate_reason(result) -> str | None:
    """Why these measures do not apply (None when they do): covariates only as paths of the latent variables."""
    spec = result.spec
    if spec.scale_names or any(level.products or level.cross_paths for level in spec.levels):
        return "fit measures of models with latent interactions or a scale model are not available"
    if any(not name.endswith("~1") for name in spec.fixed_names):
        return ("fit measures of models with direct effects of covariates on indicators are not available yet (only "
                "regressions of latent variables on covariates)")
    return None


def _joint_srmr(result, indicators: list[str], Y: np.ndarray, X: np.ndarray) -> float:
    """SRMR over the lower triangle of the joint covariance of (y, x) (module docstring)."""
    from ..objective import latent_structure

    table = result.table_spec
    params = table.unpack(np.asarray(result.theta))
    loadings, M, _ = (np.asarray(x) for x in latent_structure(table, params))
    columns = list(result.design.response_name.split(", "))
    Lam = loadings.T[[columns.index(name) for name in indicators]]  # (items, q)
    effect = Lam @ M @ np.asarray(params.covariate_effects[0])[:, :X.shape[1]]  # d E(y) / d x (items, n_x)
    S_xx = np.atleast_2d(np.cov(X.T, bias=True))
    implied = np.block([[implied_covariance(result, indicators) + effect @ S_xx @ effect.T, effect @ S_xx],
                        [(effect @ S_xx).T, S_xx]])
    S = np.atleast_2d(np.cov(np.column_stack([Y, X]).T, bias=True))
    scale = np.sqrt(np.outer(np.diag(S), np.diag(S)))
    lower = np.tril_indices(len(S))
    return float(np.sqrt(np.mean(((S - implied) / scale)[lower] ** 2)))
