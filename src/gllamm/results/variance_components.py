"""Variance components of a fit: variances and covariances of the latent variables and Gaussian residual variances,
with SEs, SDs and correlations, and their intervals (an SD from a Wald interval for log SD, a correlation from one for
atanh r, each by the delta method; [0, upper) for an SD at 0)."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pandas as pd

from ..spec import ParameterTable


def variance_components(result, level: float = 0.95) -> pd.DataFrame:
    """Variances and covariances of latent variables (and residual variances), with SDs/correlations and SEs.

    Columns: group, var1, var2, estimate (variance or covariance), se, sd_cor
    (standard deviation, or correlation for covariance rows), sd_cor_lower/upper (a
    ``level`` interval: for an SD from a Wald interval for log SD, for a correlation from
    one for atanh r, each by the delta method), name (the parameter's name).
    """
    table = variance_rows(result)
    crit = NormalDist().inv_cdf(0.5 + level / 2)
    lower, upper = [], []
    for _, row in table.iterrows():
        if row["name"] not in result.vcov.index:
            lower.append(np.nan), upper.append(np.nan)
            continue
        if row["name"] in result.boundary:  # [0, upper) for an SD at 0; [-1, 1] for a correlation at +-1
            if row.var2 is None or (isinstance(row.var2, float) and np.isnan(row.var2)):
                upper_variance = result._boundary_interval(row["name"], level)[1]
                lower.append(0.0), upper.append(float(np.sqrt(upper_variance)))
            else:
                lower.append(-1.0), upper.append(1.0)
            continue
        if row.var2 is None or (isinstance(row.var2, float) and np.isnan(row.var2)):
            variance, se = row.estimate, row.se
            se_log_sd = min(se / (2 * variance), 300.0) if variance > 0 else 300.0  # at a boundary: (0, inf)
            lower.append(float(np.sqrt(max(variance, 0)) * np.exp(-crit * se_log_sd)))
            upper.append(float(np.sqrt(max(variance, 0)) * np.exp(crit * se_log_sd)) if variance > 0 else np.inf)
        else:
            level_spec = next(l for l in result.spec.levels if l.name == row.group)
            names = list(level_spec.latent_names)
            a, b = names.index(row.var1), names.index(row.var2)
            if level_spec.unit_variance:  # the covariance is the correlation
                r, se_r = float(row.estimate), float(row.se)
            else:
                keys = [row["name"], level_spec.covariance_name(a, a), level_spec.covariance_name(b, b)]
                cov, va, vb = (float(result.params[k]) for k in keys)
                r = cov / np.sqrt(va * vb)
                gradient = np.array([1 / np.sqrt(va * vb), -0.5 * r / va, -0.5 * r / vb])
                se_r = float(np.sqrt(gradient @ result.vcov.loc[keys, keys].to_numpy() @ gradient))
            z, se_z = np.arctanh(np.clip(r, -0.999999, 0.999999)), se_r / max(1 - r * r, 1e-12)
            lower.append(float(np.tanh(z - crit * se_z)))
            upper.append(float(np.tanh(z + crit * se_z)))
    table.insert(6, "sd_cor_lower", lower)
    table.insert(7, "sd_cor_upper", upper)
    return table

def variance_rows(result) -> pd.DataFrame:
    """One row per variance or covariance of latent variables and per Gaussian residual variance."""
    rows = []
    for level in result.spec.levels:
        names = level.latent_names
        for r, c in ParameterTable._covariance_pairs(level):
            key = level.covariance_name(r, c)
            value = float(result.params[key])
            if r == c:
                sd_cor = np.sqrt(max(value, 0.0))
            else:
                var_r = 1.0 if level.unit_variance else float(result.params[level.covariance_name(r, r)])
                var_c = 1.0 if level.unit_variance else float(result.params[level.covariance_name(c, c)])
                denom = np.sqrt(var_r * var_c)
                sd_cor = value / denom if denom > 0 else 0.0
            rows.append(dict(group=level.name, var1=names[c], var2=None if r == c else names[r],
                             estimate=value, se=np.nan if key in result.boundary else float(result.se[key]),
                             sd_cor=float(sd_cor), name=key))
    families = result.spec.dispersion_families or (result.spec.family.name,) * len(result.spec.dispersions)
    for key, family in zip(result.spec.dispersions, families):
        if family == "gaussian":
            value = float(result.params[key])
            rows.append(dict(group="Residual", var1=None if key == "var(Residual)" else key, var2=None,
                             estimate=value, se=float(result.se[key]), sd_cor=float(np.sqrt(value)), name=key))
    return pd.DataFrame(rows, columns=["group", "var1", "var2", "estimate", "se", "sd_cor", "name"])
