"""Comparing fits: likelihood-ratio tables (lme4's anova), side-by-side estimates (Stata's estimates table), and
one Wald test per formula term.

anova: the fits sorted by their number of free parameters k; each row gives k, AIC = -2 l + 2k,
BIC = -2 l + k log n, l, deviance -2 l, and against the row before it Chisq = 2 (l_i - l_(i-1)), Df = k_i - k_(i-1)
and P(chi2_Df > Chisq). When the larger model adds exactly one variance (with its covariances) the null
distribution is the chi-bar-square mixture 1/2 chi2_(Df-1) + 1/2 chi2_Df (Self and Liang, as gllamm's manual
recommends), used for that row with a note.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import GllammError


def _labels(fits, names) -> list[str]:
    for i, fit in enumerate(fits):
        if not all(hasattr(fit, name) for name in ("loglik", "params", "design", "n_params")):
            raise GllammError(f"Fit {i + 1} given to compare()/anova() is a {type(fit).__name__}, not a fitted model "
                              "(gllamm.fit's result); names go in names=.")
    if names is None:
        return [f"m{i + 1}" for i in range(len(fits))]
    names = list(names)
    if len(names) != len(fits) or len(set(names)) != len(names):
        raise GllammError(f"names= needs one distinct name per fit ({len(fits)}); got {names}.")
    return [str(name) for name in names]


def _check_comparable(fits, labels) -> None:
    """The fits must be of the same response on the same rows (a likelihood-ratio test compares likelihoods of the
    same data)."""
    from .inference import _check_reml_pair

    if len(fits) < 2:
        raise GllammError("anova() compares two or more fits; for one fit see result.summary() or "
                          "result.wald_test_terms().")
    first = fits[0]
    for label, fit in zip(labels[1:], fits[1:]):
        if fit.design.response_name != first.design.response_name:
            raise GllammError(f"{labels[0]} and {label} model different responses ({first.design.response_name!r} "
                              f"and {fit.design.response_name!r}); likelihoods of different data are not comparable.")
        if fit.design.n_obs != first.design.n_obs or fit.design.n_dropped != first.design.n_dropped:
            raise GllammError(f"{labels[0]} and {label} use different rows ({first.design.n_obs} and "
                              f"{fit.design.n_obs} observations): a covariate with missing values drops rows from one "
                              "fit only. Fit both to the same complete rows (e.g. data.dropna(subset=[...])).")
        _check_reml_pair(first, fit)


def anova(*fits, names=None) -> pd.DataFrame:
    """Likelihood-ratio comparison of nested fits as lme4's anova(): one row per fit, sorted by the number of
    parameters, columns npar, AIC, BIC, logLik, deviance, Chisq, Df, Pr(>Chisq), note (see the module docstring).
    The fits must have the same response and rows; each row is tested against the one above it."""
    from scipy import stats
    from .inference import _is_variance

    labels = _labels(fits, names)
    _check_comparable(fits, labels)
    order = sorted(range(len(fits)), key=lambda i: (fits[i].n_params, -fits[i].loglik))
    rows = []
    for position, i in enumerate(order):
        fit = fits[i]
        k, loglik, n = fit.n_params, fit.loglik, fit.nobs
        row = {"npar": k, "AIC": -2 * loglik + 2 * k, "BIC": -2 * loglik + k * np.log(n), "logLik": loglik,
               "deviance": -2 * loglik, "Chisq": np.nan, "Df": np.nan, "Pr(>Chisq)": np.nan, "note": ""}
        if position > 0:
            previous = fits[order[position - 1]]
            chisq, df = 2 * (loglik - previous.loglik), k - previous.n_params
            row.update({"Chisq": max(chisq, 0.0), "Df": df})
            if df > 0:
                p = stats.chi2.sf(max(chisq, 0.0), df)
                added = [name for name in fit.params.index if name not in previous.params.index]
                variances = [name for name in added if _is_variance(str(name))]
                if len(variances) == 1:
                    lower = stats.chi2.sf(max(chisq, 0.0), df - 1) if df > 1 else float(chisq <= 0)
                    p = 0.5 * p + 0.5 * lower
                    row["note"] = f"chi-bar-square: {variances[0]} tested at 0"
                row["Pr(>Chisq)"] = p
            else:
                row["note"] = "same number of parameters: not nested"
        rows.append(pd.Series(row, name=labels[i]))
    return pd.DataFrame(rows)


def compare(*fits, names=None, digits: int = 3, stats_rows: bool = True) -> pd.DataFrame:
    """Estimates side by side (Stata's estimates table, statsmodels' summary_col): one column per fit, one row per
    parameter (in order of first appearance), cells "estimate (se)", and rows N, log-likelihood, AIC and BIC.
    The DataFrame prints as text; ``.to_html()``, ``.to_latex()`` and ``.to_markdown()`` render it."""
    labels = _labels(fits, names)
    if not fits:
        raise GllammError("compare() needs one or more fits.")
    parameters = list(dict.fromkeys(name for fit in fits for name in fit.params.index))
    columns = {}
    for label, fit in zip(labels, fits):
        cells = []
        for name in parameters:
            if name not in fit.params.index:
                cells.append("")
                continue
            estimate, se = fit.params[name], fit.se.get(name, np.nan)
            cells.append(f"{estimate:.{digits}f}" + ("" if not np.isfinite(se) else f" ({se:.{digits}f})"))
        if stats_rows:
            cells += [f"{fit.nobs}", f"{fit.loglik:.{digits}f}", f"{fit.aic:.{digits}f}", f"{fit.bic:.{digits}f}"]
        columns[label] = cells
    index = parameters + (["N", "log-likelihood", "AIC", "BIC"] if stats_rows else [])
    return pd.DataFrame(columns, index=index)


def wald_test_terms(result) -> pd.DataFrame:
    """One Wald test per term of the fixed-effects formula: for the k coefficients b of a term (a factor's
    dummies, an interaction's columns) chi2 = b' V^-1 b on k degrees of freedom (V their covariance); columns
    chi2, df, p (R's car::Anova type 3 Wald tests)."""
    from .inference import wald_test

    spec = result.design.fixed_model_spec
    if spec is None:
        raise GllammError("wald_test_terms() tests the terms of a formula's fixed part; this model has none "
                          "(model syntax): use result.wald_test([...names...]) for a joint test of parameters.")
    names = list(result.spec.fixed_names)
    rows = {}
    for term, columns in spec.term_slices.items():
        coefficients = names[columns]
        label = "(Intercept)" if str(term) == "1" else str(term)
        free = [name for name in coefficients if np.isfinite(result.se.get(name, np.nan))]
        if not free:
            continue
        rows[label] = wald_test(result, free)
    frame = pd.DataFrame(rows).T
    return frame.astype({"chi2": float, "df": int, "p": float})
