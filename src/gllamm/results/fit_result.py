"""FitResult: the frozen outcome of a fit, with tables and derived quantities.

Reported parameters are the fixed effects, the variances and covariances of
the latent variables and the residual variance (Gaussian) or dispersion
(gamma). Their covariance matrix comes from the observed information in the
internal parameterisation theta by the delta method:

    vcov(r) = J (-H)^{-1} J',   J = d r / d theta,  H = d^2 log L / d theta^2.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from statistics import NormalDist

from ..design import Design
from ..integrate import Integration
from ..spec import ModelSpec, ParameterTable


@dataclass(frozen=True)
class FitResult:
    """Estimates, standard errors and diagnostics of a fitted GLLAMM (read-only)."""

    spec: ModelSpec
    table_spec: ParameterTable
    design: Design
    integration: Integration
    theta: np.ndarray
    theta_vcov: np.ndarray
    params: pd.Series
    vcov: pd.DataFrame
    loglik: float
    converged: bool
    iterations: int
    message: str
    gradient: np.ndarray
    fit_log: list = field(default_factory=list)
    seconds: float = 0.0

    # ---- basic quantities --------------------------------------------------------
    @property
    def se(self) -> pd.Series:
        """Standard errors of the reported parameters."""
        return pd.Series(np.sqrt(np.clip(np.diag(self.vcov.to_numpy()), 0, None)), index=self.params.index)

    @property
    def fixed_effects(self) -> pd.Series:
        return self.params[list(self.spec.fixed_names)]

    @property
    def n_params(self) -> int:
        return int(len(self.theta))

    @property
    def nobs(self) -> int:
        return self.design.n_obs

    @property
    def n_groups(self) -> dict:
        """Number of units per level, e.g. {'school': 65}."""
        return {level.name: self.design.n_clusters for level in self.spec.levels}

    @property
    def aic(self) -> float:
        return -2 * self.loglik + 2 * self.n_params

    @property
    def bic(self) -> float:
        return -2 * self.loglik + np.log(self.nobs) * self.n_params

    @property
    def family(self):
        return self.spec.family

    # ---- tables ------------------------------------------------------------------------
    def table(self, level: float = 0.95) -> pd.DataFrame:
        """Estimates with SEs, Wald z, two-sided p and confidence intervals (all reported parameters)."""
        estimate, se = self.params, self.se
        z = estimate / se
        crit = NormalDist().inv_cdf(0.5 + level / 2)
        return pd.DataFrame({
            "estimate": estimate,
            "se": se,
            "z": z,
            "p": [2 * NormalDist().cdf(-abs(v)) if np.isfinite(v) else np.nan for v in z],
            "ci_lower": estimate - crit * se,
            "ci_upper": estimate + crit * se,
        })

    def variance_components(self) -> pd.DataFrame:
        """Variances and covariances of latent variables (and the residual), with SDs/correlations and SEs.

        Columns: group, var1, var2, estimate (variance or covariance), se, sd_cor
        (standard deviation, or correlation for covariance rows).
        """
        rows = []
        for level in self.spec.levels:
            names = level.latent_names
            for r, c in ParameterTable._covariance_pairs(level):
                key = f"var({names[r]}|{level.name})" if r == c else f"cov({names[c]},{names[r]}|{level.name})"
                value = float(self.params[key])
                if r == c:
                    sd_cor = np.sqrt(max(value, 0.0))
                else:
                    var_r = float(self.params[f"var({names[r]}|{level.name})"])
                    var_c = float(self.params[f"var({names[c]}|{level.name})"])
                    denom = np.sqrt(var_r * var_c)
                    sd_cor = value / denom if denom > 0 else 0.0
                rows.append(dict(group=level.name, var1=names[c], var2=None if r == c else names[r],
                                 estimate=value, se=float(self.se[key]), sd_cor=float(sd_cor)))
        if self.spec.family.name == "gaussian":
            key = self.spec.family.dispersion_name
            value = float(self.params[key])
            rows.append(dict(group="Residual", var1=None, var2=None, estimate=value, se=float(self.se[key]),
                             sd_cor=float(np.sqrt(value))))
        return pd.DataFrame(rows, columns=["group", "var1", "var2", "estimate", "se", "sd_cor"])

    def summary(self) -> str:
        """Text summary in the spirit of gllamm and lme4 output."""
        from .summary import render_summary

        return render_summary(self)

    def __repr__(self) -> str:
        return (f"<FitResult {self.spec.formula.formula!r} family={self.family.name}/{self.family.link.name} "
                f"loglik={self.loglik:.4f} converged={self.converged}>")

    def to_dict(self) -> dict:
        """Machine-readable summary (used by the command line's --json)."""
        table = self.table()
        return dict(
            formula=self.spec.formula.formula,
            family=self.family.name,
            link=self.family.link.name,
            method=self.integration.method,
            nip=self.integration.nip,
            loglik=self.loglik,
            aic=self.aic,
            bic=self.bic,
            nobs=self.nobs,
            n_groups=self.n_groups,
            n_dropped=self.design.n_dropped,
            converged=self.converged,
            iterations=self.iterations,
            message=self.message,
            parameters={name: {k: (None if not np.isfinite(v) else float(v)) for k, v in row.items()}
                        for name, row in table.iterrows()},
        )
