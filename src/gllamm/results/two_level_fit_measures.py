"""Fit measures of two-level SEMs with continuous indicators, as lavaan reports them for ``sem(..., cluster=)``.

Unit i of cluster j (n_j units; N units and J clusters in all) has p indicators y_ij = mu + b_j + w_ij with
b_j ~ N(0, Sigma_B) and w_ij ~ N(0, Sigma_W). Cluster j's responses then have the log-likelihood

    l_j = -(n_j p / 2) log 2 pi - (p / 2) log n_j - ((n_j - 1) / 2) log|Sigma_W| - tr(Sigma_W^-1 S_j) / 2
          - log|V_j| / 2 - (ybar_j - mu)' V_j^-1 (ybar_j - mu) / 2,    V_j = Sigma_B + Sigma_W / n_j,

with S_j the cluster's within cross-products about its mean ybar_j. The unrestricted (saturated) model has mu,
Sigma_W and Sigma_B free (p + p(p+1) parameters), the baseline model the same with both matrices diagonal
(variables uncorrelated at both levels: 3p parameters, so baseline.df = p(p-1)); both are fitted here by ML
(Newton's method with exact derivatives, ``two_level_unrestricted``); with missing responses by ML on the observed responses
(``two_level_missing``; lavaan's ``missing="ml"``), units without any observed response left out. With l the
model's log-likelihood and k its free parameters:

    chisq = 2 (l_sat - l),  df = p + p(p+1) - k,  CFI, TLI as for one level, RMSEA with N the number of units,
    srmr_within  = sqrt(mean over i <= j of (r(S_W)_ij - r(Sigma_W,model)_ij)^2),   r(.) the correlations,
    srmr_between = the same of the between matrices,   srmr = srmr_within + srmr_between  (lavaan's definitions),

the model's between matrix made positive definite first as lavaan does (eigenvalues below 1e-6 times the
largest raised to it). The model-implied matrices are Sigma_W = A_1 A_1' + Theta and Sigma_B = A_2 A_2', A_l the
loadings of the standardised disturbances at level l (the GLLAMM form: no residual variances between clusters).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .covariate_fit_measures import covariate_effects
from .two_level_covariates import joint_covariance, level_covariates, unrestricted_two_level_given_x
from .two_level_missing import unrestricted_two_level_missing
from .two_level_unrestricted import unrestricted_two_level

NAMES = ("npar", "chisq", "df", "pvalue", "baseline.chisq", "baseline.df", "baseline.pvalue", "cfi", "tli", "logl",
         "unrestricted.logl", "aic", "bic", "ntotal", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "rmsea.pvalue",
         "srmr", "srmr_within", "srmr_between")


def is_two_level_sem(result) -> bool:
    """A model written in syntax with two levels of continuous latent variables (within units, between clusters)."""
    spec = result.spec
    return hasattr(spec.formula, "text") and len(spec.levels) == 2 and spec.discrete_level is None \
        and result.options.get("group") is None


def two_level_reason(result) -> str | None:
    """Why the two-level fit measures do not apply to this two-level fit (None when they do)."""
    from .fit_measures import NO_SATURATED_MODEL, indicator_data_reason

    spec = result.spec
    if not spec.family.exact_gaussian:
        return NO_SATURATED_MODEL
    covariates = level_covariates(spec)
    if covariates is None:
        return ("fit measures of two-level models take covariates of the latent variables (not direct effects on "
                "indicators, latent interactions or a covariate at both levels)")
    reason = indicator_data_reason(result, (result.options.get("cluster"),))
    frame = result.design.model_frame
    if reason is None and any(covariates) and frame[result.design.response_name.split(", ")].isna().any().any():
        return "fit measures of two-level models with both covariates and missing responses are not available yet"
    return reason


def two_level_fit_measures(result) -> pd.Series:
    """lavaan's fit measures of a two-level SEM (see the module docstring)."""
    from .fit_measures import _chi_square_measures, _rmsea

    reason = two_level_reason(result)
    if reason is not None:
        series = pd.Series(np.nan, index=list(NAMES), name="fit measures")
        series.attrs["note"] = reason
        return series
    indicators = result.design.response_name.split(", ")
    frame = result.design.model_frame
    Y = frame[indicators].to_numpy(dtype=float)
    cluster = frame[result.options["cluster"]].to_numpy()
    keep = ~np.isnan(Y).all(axis=1)  # units without an observed response carry no information (lavaan's ntotal)
    Y, cluster = Y[keep], cluster[keep]
    within_x, between_x = level_covariates(result.spec)
    covariates = within_x + between_x
    if covariates:  # the model of y given x (lavaan's fixed.x): x's own covariances as in the sample
        X = frame[covariates].to_numpy(dtype=float)[keep]
        _, S_within, S_between, gamma, saturated = unrestricted_two_level_given_x(Y, X, cluster)
        S_xx, S_ww = _covariate_covariances(X, cluster, len(within_x))
        S_within = joint_covariance(S_within, gamma[:, :len(within_x)], S_xx)
        S_between = joint_covariance(S_between, gamma[:, len(within_x):], S_ww)
    elif np.isnan(Y).any():
        _, S_within, S_between, saturated = unrestricted_two_level_missing(Y, cluster)
    else:
        _, S_within, S_between, saturated = unrestricted_two_level(Y, cluster)
    baseline = sum(unrestricted_two_level(column[~np.isnan(column)][:, None], cluster[~np.isnan(column)])[3]
                   for column in Y.T)  # (variables independent at both levels, of x too: each on its observed units)
    N, p = Y.shape
    effects = p * len(covariates)  # (Gamma's entries: free in h1, 0 in the baseline)
    values = _chi_square_measures(result, saturated, baseline, p, N, saturated_params=p + p * (p + 1) + effects,
                                  baseline_df=p * (p - 1) + effects)
    values.update(_rmsea(values["chisq"], values["df"], N))
    within, between = implied_two_level(result, indicators)
    between = _force_positive_definite(between)
    if covariates:
        within = joint_covariance(within, covariate_effects(result, indicators, within_x, 0), S_xx)
        between = joint_covariance(between, covariate_effects(result, indicators, between_x, 1), S_ww)
    values["srmr_within"] = _correlation_rmr(S_within, within)
    values["srmr_between"] = _correlation_rmr(S_between, between)
    values["srmr"] = values["srmr_within"] + values["srmr_between"]
    return pd.Series({name: float(values[name]) for name in NAMES}, name="fit measures")


def _covariate_covariances(X: np.ndarray, cluster: np.ndarray, k_within: int) -> tuple[np.ndarray, np.ndarray]:
    """(covariance of the within-level covariates over units, of the between-level ones over clusters), divisors N
    and J (lavaan's fixed.x blocks of its within and between matrices)."""
    _, first = np.unique(cluster, return_index=True)
    within, between = X[:, :k_within], X[first, k_within:]
    return (np.atleast_2d(np.cov(within.T, bias=True)) if k_within else np.zeros((0, 0)),
            np.atleast_2d(np.cov(between.T, bias=True)) if between.shape[1] else np.zeros((0, 0)))


def implied_two_level(result, indicators: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(Sigma_W, Sigma_B) of the indicators implied by the model: A_1 A_1' + Theta and A_2 A_2'."""
    from ..objective import latent_structure

    table = result.table_spec
    params = table.unpack(np.asarray(result.theta))
    matrices = []
    for k in range(2):
        loadings, _, ML = (np.asarray(x) for x in latent_structure(table, params, k))
        A = loadings.T @ ML
        matrices.append(A @ A.T)
    residual = np.exp(2 * np.asarray(params.log_dispersion))
    theta = [residual[list(result.spec.dispersions).index(f"{name}~~{name}")] for name in indicators]
    return matrices[0] + np.diag(theta), matrices[1]


def _correlation_rmr(observed: np.ndarray, implied: np.ndarray) -> float:
    """sqrt(mean over i <= j of (r_obs - r_implied)^2), correlations from the two covariance matrices."""
    def correlations(matrix):
        sd = np.sqrt(np.diag(matrix))
        return matrix / np.outer(sd, sd)

    lower = np.tril_indices(observed.shape[0])
    return float(np.sqrt(np.mean((correlations(observed) - correlations(implied))[lower] ** 2)))


def _force_positive_definite(matrix: np.ndarray, tol: float = 1e-6) -> np.ndarray:
    """Eigenvalues below tol times the largest raised to it (lavaan's lav_matrix_symmetric_force_pd)."""
    if matrix.shape[0] == 1:
        return np.maximum(matrix, tol)
    values, vectors = np.linalg.eigh(matrix)
    largest = abs(values[-1])
    values = np.where(values / largest < tol, tol * largest, values)
    return (vectors * values) @ vectors.T
