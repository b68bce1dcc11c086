"""The SEM user's tables of a fit (a mixin of FitResult): lavaan's fit measures, standardised solution,
modification indices and R-squared."""

from __future__ import annotations

import pandas as pd


class StructuralEquationTables:
    """fit_measures, standardized, modification_indices, r_squared (each computed in its own module)."""

    def fit_measures(self) -> pd.Series:
        """Fit measures of an SEM with continuous indicators, named as lavaan's fitMeasures(): chisq, df, pvalue,
        baseline.chisq, cfi, tli, rmsea (with its 90% interval and close-fit p-value), srmr, aic, bic, ...
        (chisq = 2 (l_saturated - l); see gllamm.results.fit_measures). NaN, with the reason in
        ``.attrs["note"]``, for models without a saturated model in closed form. Two-level SEMs add srmr_within
        and srmr_between (gllamm.results.two_level_fit_measures); models with covariates of their latent variables
        are measured given the covariates, as lavaan's fixed.x (gllamm.results.covariate_fit_measures)."""
        from .covariate_fit_measures import covariate_fit_measures
        from .fit_measures import fit_measures, has_covariates
        from .two_level_fit_measures import is_two_level_sem, two_level_fit_measures

        if is_two_level_sem(self):
            return two_level_fit_measures(self)
        if has_covariates(self.spec, group_means=True):
            return covariate_fit_measures(self)
        return fit_measures(self)

    def standardized(self, level: float = 0.95) -> pd.DataFrame:
        """The standardised solution of an SEM with continuous indicators, as lavaan's standardizedSolution():
        lhs, op, rhs, est, std.lv (latent variables standardised), std.all (observed too; e.g. a loading
        lambda sd(f) / sd(y)), with delta-method SE, z and interval of std.all (gllamm.results.standardized)."""
        from .standardized import standardized

        return standardized(self, level)

    def modification_indices(self, minimum: float = 0.0, sort: bool = True) -> pd.DataFrame:
        """lavaan's modindices(): for every cross-loading, residual covariance and latent covariance the model fixes
        at 0, the score test mi (chi-square, 1 df), the expected parameter change epc and its standardisation
        sepc.all (gllamm.results.modification_indices)."""
        from .modification_indices import modification_indices

        return modification_indices(self, minimum, sort)

    def r_squared(self) -> pd.Series:
        """R-squared of every indicator and of every latent variable regressed on others, 1 - residual variance /
        model-implied variance (var(y_j) = lambda_j' cov(eta) lambda_j + theta_j, with what covariates add), a Series
        named by the variables (lavaan's inspect(fit, "r2"))."""
        from .standardized import r_squared

        return r_squared(self)
