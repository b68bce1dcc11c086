"""The names Python users know from statsmodels and broom, on every FitResult: ``bse``, ``pvalues``,
``zvalues``/``tvalues``, ``llf``, ``cov_params()``, ``conf_int()`` and ``tidy()``; all read from ``table()`` (Wald
statistics from the observed information; fixed parameters and estimates on the boundary get NaN SEs and tests
there, boundary intervals [0, upper))."""

from __future__ import annotations

import re

import pandas as pd

from ..errors import GllammError

_GROUP = re.compile(r"\|([^|()]+)\)$")


class ConventionalNames:
    """statsmodels/broom names for a FitResult's estimates (a mixin: needs ``table``, ``loglik``, ``vcov``,
    ``spec``)."""

    @property
    def bse(self) -> pd.Series:
        """Standard errors of the reported parameters (statsmodels' name)."""
        return self.table()["se"]

    @property
    def zvalues(self) -> pd.Series:
        """Wald z = estimate / SE of every reported parameter, a Series (NaN where the SE is not defined: fixed or
        boundary estimates)."""
        return self.table()["z"]

    @property
    def tvalues(self) -> pd.Series:
        """statsmodels' name for the Wald statistics (here z: normal reference distribution)."""
        return self.zvalues

    @property
    def pvalues(self) -> pd.Series:
        """Two-sided p-values 2 (1 - Phi(|z|)) of the Wald z of every reported parameter, a Series."""
        return self.table()["p"]

    @property
    def llf(self) -> float:
        """The maximised log-likelihood (statsmodels' name for ``loglik``)."""
        return self.loglik

    def cov_params(self) -> pd.DataFrame:
        """Covariance matrix of the reported parameters (``vcov``), J (-H)^-1 J'."""
        return self.vcov

    def conf_int(self, level: float = 0.95, method: str = "wald", sd: bool = False, n_boot: int = 200, seed=None,
                 n_jobs: int = 1) -> pd.DataFrame:
        """Confidence intervals (columns lower, upper) of every reported parameter.

        method="wald": estimate -+ z_(1+level)/2 SE ([0, upper) for variances on the boundary);
        method="profile": the values c with 2 (l_hat - max{l : psi = c}) <= chi2_1(level) (lme4's
        confint(method="profile"); gllamm.results.profile), with ``sd=True`` for the SDs and correlations of the
        variance components in place of variances and covariances, as lme4 reports them; method="bootstrap":
        percentiles of ``n_boot`` parametric bootstrap replicates (``seed``, ``n_jobs`` processes)."""
        if method == "profile":
            from .profile import profile_intervals

            return profile_intervals(self, level, sd=sd)
        if method == "bootstrap":
            from .bootstrap import bootstrap_intervals

            return bootstrap_intervals(self, level, n_boot, seed, n_jobs)
        if method != "wald":
            raise GllammError(f"conf_int(method='{method}') is not available; method='wald' gives Wald intervals, "
                              "method='profile' profile-likelihood intervals and method='bootstrap' percentile "
                              "intervals of parametric bootstrap replicates.")
        if sd:
            raise GllammError("sd=True is for method='profile' (Wald intervals of SDs are the variances' on "
                              "another scale only approximately); use method='profile'.")
        table = self.table(level=level)
        return pd.DataFrame({"lower": table["ci_lower"], "upper": table["ci_upper"]})

    def tidy(self, level: float = 0.95) -> pd.DataFrame:
        """One row per reported parameter (broom's shape): term, effect ("fixed" or "ran_pars"), group (the
        grouping factor of a variance component, "Residual" for residual variances), estimate, std_error,
        statistic, p_value, conf_low, conf_high."""
        table = self.table(level=level)
        fixed = set(self.spec.fixed_names)
        groups = []
        for name in table.index:
            match = _GROUP.search(str(name))
            groups.append(match.group(1) if match else ("Residual" if "Residual" in str(name) else ""))
        return pd.DataFrame({
            "term": table.index, "effect": ["fixed" if n in fixed else "ran_pars" for n in table.index],
            "group": groups, "estimate": table["estimate"].to_numpy(), "std_error": table["se"].to_numpy(),
            "statistic": table["z"].to_numpy(), "p_value": table["p"].to_numpy(),
            "conf_low": table["ci_lower"].to_numpy(), "conf_high": table["ci_upper"].to_numpy()})

    def wald_test_terms(self) -> pd.DataFrame:
        """One Wald chi-square test per term of the fixed-effects formula (a factor's dummies jointly): columns
        chi2, df, p (gllamm.results.comparison.wald_test_terms)."""
        from .comparison import wald_test_terms

        return wald_test_terms(self)

