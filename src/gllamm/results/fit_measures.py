"""Fit measures of structural equation models with continuous indicators, as lavaan reports them.

For a single-level model of p Gaussian (identity-link) indicators of N units with complete responses, the
saturated model has the sample means and the covariance matrix S (divisor N) and log-likelihood

    l_sat = -N/2 (p log 2 pi + log|S| + p),

the baseline (independence) model has free means and variances only, l_base = sum_j -N/2 (log 2 pi + log s_jj + 1),
and with the model's log-likelihood l and k free parameters (means included):

    chisq = 2 (l_sat - l),  df = p(p+3)/2 - k,  baseline.chisq = 2 (l_sat - l_base),  baseline.df = p(p-1)/2,
    cfi = 1 - max(chisq - df, 0) / max(baseline.chisq - baseline.df, chisq - df, 0),
    tli = (baseline.chisq/baseline.df - chisq/df) / (baseline.chisq/baseline.df - 1),
    rmsea = sqrt(max(chisq - df, 0) / (df N)), its 90% interval from the noncentral chi-square (noncentrality
    N df rmsea^2) and rmsea.pvalue = P(chisq' >= chisq) under rmsea = 0.05,
    srmr = sqrt(mean over i <= j of ((s_ij - sigma_ij) / sqrt(s_ii s_jj))^2)  (Bentler's, covariances only;
    the means of these models are saturated),

where sigma_ij is the model-implied covariance Lambda M Psi M' Lambda' + Theta (M = (I - B)^{-1}). aic and bic
count every free parameter, the means included (lavaan's cfa() without meanstructure counts p fewer).
Models for which this saturated model does not apply (binary or ordinal items, latent classes, several levels,
covariates, weights) give NaN with the reason in ``Series.attrs["note"]``. With missing responses the saturated
model is fitted by ML on the observed data (EM; lavaan's missing="ml"), as is the baseline.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import optimize

NAMES = ("npar", "chisq", "df", "pvalue", "baseline.chisq", "baseline.df", "baseline.pvalue", "cfi", "tli", "logl",
         "unrestricted.logl", "aic", "bic", "ntotal", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "rmsea.pvalue",
         "srmr")


def fit_measures(result) -> pd.Series:
    """lavaan's fit measures of a single-level SEM with continuous indicators (see the module docstring) or of
    multiple groups."""
    grouped = result.options.get("group") is not None
    if grouped and _group_reason(result) is None:
        return _group_fit_measures(result)
    reason = _group_reason(result) if grouped else _not_available(result)
    if reason is not None:
        series = pd.Series(np.nan, index=list(NAMES), name="fit measures")
        series.attrs["note"] = reason
        return series
    indicators = list(result.design.response_name.split(", "))
    Y = result.design.model_frame[indicators].to_numpy(dtype=float)
    Y = Y[~np.isnan(Y).all(axis=1)]
    N, p = Y.shape
    _, S, saturated = saturated_model(Y)
    baseline = _independence_loglik(Y)
    values = _chi_square_measures(result, saturated, baseline, p, N)
    values.update(_rmsea(values["chisq"], values["df"], N))
    implied = implied_covariance(result, indicators)
    scale = np.sqrt(np.outer(np.diag(S), np.diag(S)))
    lower = np.tril_indices(p)
    values["srmr"] = float(np.sqrt(np.mean(((S - implied) / scale)[lower] ** 2)))
    return pd.Series({name: float(values[name]) for name in NAMES}, name="fit measures")


def saturated_model(Y: np.ndarray, tol: float = 1e-12, max_iter: int = 10_000) -> tuple[np.ndarray, np.ndarray, float]:
    """(means, covariance, log-likelihood) of the multivariate normal fitted by ML to Y (units x items, NaN where
    a response is missing; lavaan's missing="ml" saturated model). Without missing values: the sample means and
    covariance (divisor N). With them: the EM algorithm, whose E-step replaces each unit's missing responses by
    their conditional mean given its observed ones (and adds their conditional covariance to the cross-products),
    until the moments change by less than ``tol``."""
    observed = ~np.isnan(Y)
    N, p = Y.shape
    mean = np.nanmean(Y, axis=0)
    if observed.all():
        centred = Y - mean
        covariance = centred.T @ centred / N
    else:
        covariance = np.diag(np.nanvar(Y, axis=0))
        patterns, which = np.unique(observed, axis=0, return_inverse=True)
        for _ in range(max_iter):
            first, second = np.zeros(p), np.zeros((p, p))
            for k, pattern in enumerate(patterns):
                rows = Y[which.reshape(-1) == k]
                o, m = np.flatnonzero(pattern), np.flatnonzero(~pattern)
                filled = np.where(np.isnan(rows), 0.0, rows)
                if m.size:
                    regression = np.linalg.solve(covariance[np.ix_(o, o)], covariance[np.ix_(o, m)]).T  # (m, o)
                    filled[:, m] = mean[m] + (rows[:, o] - mean[o]) @ regression.T
                    second[np.ix_(m, m)] += len(rows) * (covariance[np.ix_(m, m)] - regression @ covariance[np.ix_(o, m)])
                first += filled.sum(axis=0)
                second += filled.T @ filled
            new_mean = first / N
            new_covariance = second / N - np.outer(new_mean, new_mean)
            change = max(np.abs(new_mean - mean).max(), np.abs(new_covariance - covariance).max())
            mean, covariance = new_mean, new_covariance
            if change < tol * max(1.0, np.abs(covariance).max()):
                break
    return mean, covariance, _normal_loglik(Y, mean, covariance)


def _normal_loglik(Y: np.ndarray, mean: np.ndarray, covariance: np.ndarray) -> float:
    """sum_i log N(y_i,obs; mean_obs, covariance_obs) over units, each on its observed responses."""
    from scipy import stats
    observed = ~np.isnan(Y)
    total = 0.0
    for pattern in np.unique(observed, axis=0):
        rows = Y[(observed == pattern).all(axis=1)][:, pattern]
        total += stats.multivariate_normal(mean[pattern], covariance[np.ix_(pattern, pattern)]).logpdf(rows).sum()
    return float(total)


def _independence_loglik(Y: np.ndarray) -> float:
    """The baseline model: every item its own mean and variance, items independent (ML on the observed values)."""
    from scipy import stats
    total = 0.0
    for column in Y.T:
        values = column[~np.isnan(column)]
        total += float(np.sum(stats.norm.logpdf(values, values.mean(), values.std())))
    return total


def _chi_square_measures(result, saturated: float, baseline: float, p: int, N: int, groups: int = 1,
                         saturated_params: int | None = None, baseline_df: int | None = None) -> dict:
    """npar, chisq, df, their p-value, baseline chisq and df, CFI, TLI, log-likelihoods, AIC, BIC and N from the
    saturated and baseline log-likelihoods (summed over ``groups`` groups of p indicators; by default the
    saturated model has p(p+3)/2 parameters per group and the baseline p(p-1)/2 fewer)."""
    from scipy import stats
    k = result.n_params
    saturated_params = groups * p * (p + 3) / 2 if saturated_params is None else saturated_params
    chisq, df = 2 * (saturated - result.loglik), saturated_params - k
    base_df = groups * p * (p - 1) / 2 if baseline_df is None else baseline_df
    base_chisq = 2 * (saturated - baseline)
    excess, base_excess = max(chisq - df, 0.0), max(base_chisq - base_df, 0.0)
    denominator = max(base_excess, excess)
    return {
        "npar": k, "chisq": chisq, "df": df, "pvalue": stats.chi2.sf(chisq, df) if df > 0 else np.nan,
        "baseline.chisq": base_chisq, "baseline.df": base_df, "baseline.pvalue": stats.chi2.sf(base_chisq, base_df),
        "cfi": 1.0 - excess / denominator if denominator > 0 else 1.0,
        "tli": (base_chisq / base_df - chisq / df) / (base_chisq / base_df - 1.0) if df > 0 else np.nan,
        "logl": result.loglik, "unrestricted.logl": saturated, "aic": -2 * result.loglik + 2 * k,
        "bic": -2 * result.loglik + np.log(N) * k, "ntotal": N,
    }


def _rmsea(chisq: float, df: float, n: int, level: float = 0.90, close: float = 0.05) -> dict:
    """RMSEA, its interval from the noncentral chi-square distribution and the test of close fit."""
    from scipy import stats

    if df <= 0:
        return {"rmsea": np.nan, "rmsea.ci.lower": np.nan, "rmsea.ci.upper": np.nan, "rmsea.pvalue": np.nan}

    def noncentrality(probability: float) -> float:  # lambda with P(chi2'(df, lambda) <= chisq) = probability
        cdf = lambda lam: stats.ncx2.cdf(chisq, df, lam) if lam > 0 else stats.chi2.cdf(chisq, df)  # noqa: E731
        if cdf(0.0) < probability:
            return 0.0
        upper = max(chisq, 1.0)
        while cdf(upper) > probability:
            upper *= 2
        return optimize.brentq(lambda lam: cdf(lam) - probability, 0.0, upper, xtol=1e-12)

    tail = (1 - level) / 2
    return {"rmsea": np.sqrt(max(chisq - df, 0.0) / (df * n)),
            "rmsea.ci.lower": np.sqrt(noncentrality(1 - tail) / (df * n)),
            "rmsea.ci.upper": np.sqrt(noncentrality(tail) / (df * n)),
            "rmsea.pvalue": stats.ncx2.sf(chisq, df, close**2 * df * n)}


def implied_covariance(result, indicators: list[str]) -> np.ndarray:
    """Sigma = Lambda M Psi M' Lambda' + Theta of the indicators (in the order given)."""
    from ..objective import latent_structure

    table = result.table_spec
    params = table.unpack(np.asarray(result.theta))
    loadings, _, ML = (np.asarray(x) for x in latent_structure(table, params))
    A = loadings.T @ ML  # (items, q): each item's loadings on the standardised disturbances
    columns = list(result.design.response_name.split(", "))
    A = A[[columns.index(name) for name in indicators]]
    residual = np.exp(2 * np.asarray(params.log_dispersion))  # sigma^2 per dispersion
    theta = np.array([residual[list(result.spec.dispersions).index(f"{name}~~{name}")] for name in indicators])
    return A @ A.T + np.diag(theta)


def _not_available(result) -> str | None:
    """Why the saturated-model fit measures do not apply to this fit (None when they do)."""
    return single_level_sem_reason(result) or indicator_data_reason(result)


def indicator_data_reason(result, columns: tuple = ()) -> str | None:
    """Why the data of the fit cannot give the saturated model (None when they can): the model frame must hold
    every indicator (and ``columns``), the fit must be unweighted and every indicator have a residual variance."""
    design = result.design
    frame = design.model_frame
    indicators = list(design.response_name.split(", "))
    if frame is None or any(name not in frame for name in indicators + list(columns)):
        return "the model frame does not hold every indicator" + (" and the cluster column" if columns else "")
    if result.options.get("weights") is not None or design.weights_argument is not None:
        return "fit measures of weighted fits are not available"
    if any(f"{name}~~{name}" not in result.spec.dispersions for name in indicators):
        return "fit measures need a residual variance for every indicator"
    return None


NO_SATURATED_MODEL = ("no saturated model in closed form for binary, count or ordinal indicators: chi-square based "
                      "fit measures are not defined here (compare models with gllamm.lr_test)")


def has_covariates(spec, group_means: bool = False) -> bool:
    """Whether the model has covariates: paths on observed covariates (with ``group_means`` not the latent means of
    multiple groups, paths on their _mean.g<k> columns), latent interactions, cross-level paths, a scale model, or
    fixed effects other than the indicators' intercepts."""
    for level in spec.levels:
        paths = [p for p in level.covariate_paths
                 if not (group_means and spec.covariate_names[p.rhs].startswith("_mean.g"))]
        if paths or level.products or level.cross_paths:
            return True
    return bool(spec.scale_names) or any(not name.endswith("~1") for name in spec.fixed_names)


def single_level_sem_reason(result, groups: bool = False, covariates: bool = False) -> str | None:
    """Why the fit is not a single-level SEM with continuous indicators and no covariates (None when it is): the
    models whose saturated model, standardised solution and R-squared are defined here (``covariates``: with
    covariates too, checked by the caller)."""
    spec = result.spec
    if result.options.get("group") is not None and not groups:
        return "modification indices of multiple-group models are not available yet"
    if not hasattr(spec.formula, "text"):
        return "fit measures are for models written in lavaan-style syntax (a formula model has no saturated model)"
    if not spec.family.exact_gaussian:
        return NO_SATURATED_MODEL
    if len(spec.levels) != 1 or spec.discrete_level is not None:
        return "this model has latent classes" if spec.discrete_level is not None else \
            "this model has several levels; of two-level SEMs fit measures are available (res.fit_measures())"
    if not covariates and has_covariates(spec, group_means=True):
        grouped = result.options.get("group") is not None
        return f"this is not available yet for {'multiple-group ' if grouped else ''}models with covariates"
    return None


def _group_reason(result) -> str | None:
    """Why the multiple-group measures do not apply (None when they do): the groups' model must be a single-level
    SEM with complete continuous responses, as for one group."""
    return single_level_sem_reason(result, groups=True) \
        or (None if result.design.weights_argument is None else "fit measures of weighted fits are not available")


def _implied_means(result) -> dict:
    """Model-implied mean of every indicator over its units (intercept plus loadings times the latent means; with
    covariates, at the units' mean covariates)."""
    from .predictions import predict

    mean = np.asarray(predict(result, None, latent="zero"))
    item = np.argmax(result.design.Z, axis=1)
    names = result.design.response_name.split(", ")
    return {name: float(mean[item == j].mean()) for j, name in enumerate(names) if np.any(item == j)}


def _group_fit_measures(result) -> pd.Series:
    """Multiple groups (lavaan's definitions): saturated and baseline models per group, chisq = 2 (sum_g l_sat,g - l),
    df = G p(p+3)/2 - k; rmsea and its interval times sqrt(G), its close-fit test at noncentrality
    0.05^2 df N / G; srmr the groups' SRMR (covariance and mean residuals, each standardised by the sample SDs)
    weighted by n_g / N."""
    groups = int(max(int(name.rsplit(".g", 1)[1]) for name in result.design.response_name.split(", ")))
    items = list(dict.fromkeys(name.rsplit(".g", 1)[0] for name in result.design.response_name.split(", ")))
    p, saturated, baseline, srmr, sizes = len(items), 0.0, 0.0, [], []
    implied_means = _implied_means(result)
    for k in range(1, groups + 1):
        columns = [f"{name}.g{k}" for name in items]
        Y = result.design.model_frame[columns].to_numpy(dtype=float)
        Y = Y[~np.isnan(Y).all(axis=1)]
        mean, S, value = saturated_model(Y)
        saturated, baseline = saturated + value, baseline + _independence_loglik(Y)
        residual = ((S - implied_covariance(result, columns)) / np.sqrt(np.outer(np.diag(S), np.diag(S))))
        residual = residual[np.tril_indices(p)]
        mean_residual = (mean - np.array([implied_means[c] for c in columns])) / np.sqrt(np.diag(S))
        srmr.append(np.sqrt((np.sum(residual ** 2) + np.sum(mean_residual ** 2)) / (len(residual) + p)))
        sizes.append(len(Y))
    N = sum(sizes)
    values = _chi_square_measures(result, saturated, baseline, p, N, groups)
    values["srmr"] = float(np.asarray(sizes) @ np.asarray(srmr) / N)
    values.update(group_rmsea(values["chisq"], values["df"], N, groups))
    return pd.Series({name: float(values[name]) for name in NAMES}, name="fit measures")


def group_rmsea(chisq: float, df: float, N: int, groups: int) -> dict:
    """lavaan's RMSEA of G groups: the one-group formula times sqrt(G) (its interval too), the close-fit test at
    0.05 / sqrt(G)."""
    rmsea = _rmsea(chisq, df, N, close=0.05 / np.sqrt(groups))
    return {name: value * np.sqrt(groups) if name != "rmsea.pvalue" else value for name, value in rmsea.items()}
