"""Average marginal effects and contrasts with delta-method SEs (Stata's margins, dydx(); marginaleffects' avg_slopes).

With m_i(theta; X_i, Z_i) the predicted mean of row i (prediction_uncertainty: conditional at the latent variables'
mean, latent="zero", or population-averaged, latent="marginal") and the rows' covariates as in the data (or as
``at`` sets them):

- a numeric covariate x: AME = (1/n) sum_i dm_i/dx_i = (1/n) sum_i (dm_i/dX_i) dX_i/dx + (dm_i/dZ_i) dZ_i/dx, the
  derivative in X and Z exact (forward mode) and dX/dx, dZ/dx from the model matrices at x -+ h (exact for
  terms linear or quadratic in x, such as x, x:z, I(x**2));
- a categorical covariate: for each level l other than the first, (1/n) sum_i m_i(g = l) - m_i(g = first), every
  row set to each level.

SEs: sqrt(a' V a), a = d AME / d theta exact (reverse mode through the forward derivative), V the covariance of
theta; z tests and normal intervals.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import GllammError, check_choice


def _variables(result, frame: pd.DataFrame, variables) -> list[str]:
    """The covariates of the fixed part (default: every data column it uses, grouping columns excluded)."""
    used = [c for c in frame.columns if c != result.design.response_name and c not in result.design.group_columns]
    spec = result.design.fixed_model_spec
    in_fixed = [c for c in used if spec is not None and c in set(spec.variables_by_source.get("data", set()))]
    if variables is None:
        return in_fixed
    variables = [variables] if isinstance(variables, str) else list(variables)
    unknown = [v for v in variables if v not in in_fixed]
    if unknown:
        raise GllammError(f"marginal_effects: {unknown} are not covariates of the fixed part; its covariates are "
                          f"{in_fixed}.")
    return variables


def _categorical(series: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series) \
        or isinstance(series.dtype, pd.CategoricalDtype)


def _encoded_as_categories(spec) -> set[str]:
    """Columns the formula encodes as categories though they hold numbers (``C(period)``)."""
    import re

    names = set()
    for expression, (kind, _) in (getattr(spec, "encoder_state", None) or {}).items():
        if getattr(kind, "value", kind) == "categorical":
            names |= set(re.findall(r"[A-Za-z_][A-Za-z0-9_.]*", expression))
    return names


def _mean_function(result, latent: str, nip: int):
    """(theta, X, Z, offset) -> mean over rows of the predicted means."""
    from .prediction_uncertainty import _prediction_function

    def average(theta, X, Z_levels, offset):
        return _prediction_function(result, X, Z_levels, offset, "mean", latent, nip)(theta).mean()

    return average


def _row(name, contrast, estimate, gradient, vcov, z):
    from scipy import stats
    se = float(np.sqrt(max(gradient @ vcov @ gradient, 0.0)))
    statistic = estimate / se if se > 0 else np.nan
    return {"term": name, "contrast": contrast, "estimate": estimate, "std_error": se, "statistic": statistic,
            "p_value": 2 * stats.norm.sf(abs(statistic)) if se > 0 else np.nan,
            "conf_low": estimate - z * se, "conf_high": estimate + z * se}


def marginal_effects(result, variables=None, at: dict | None = None, latent: str = "marginal", level: float = 0.95,
                     nip: int = 40) -> pd.DataFrame:
    """Average marginal effects (numeric covariates) and contrasts of levels (categorical ones) of the predicted
    mean over the fitted rows (see the module docstring); ``at`` fixes covariates at values for every row."""
    from scipy import stats
    import jax

    from .prediction_uncertainty import _check_supported, _rows

    latent = check_choice("latent", latent, ("marginal", "zero"))
    _check_supported(result, "mean")
    if result.spec.crossed:
        raise GllammError("marginal_effects() of crossed models is not available yet (their rows' effects for "
                          "changed covariates need the crossed design of new data); use predict() differences.")
    frame = result.design.model_frame.copy()
    for column, value in (at or {}).items():
        if column not in frame:
            raise GllammError(f"at= names '{column}', which is not a column the model uses ({list(frame.columns)}).")
        frame[column] = value
    average = _mean_function(result, latent, nip)
    theta, vcov = np.asarray(result.theta, dtype=float), result.theta_vcov
    z = float(stats.norm.ppf(0.5 + level / 2))
    offset = result.design.offset_argument
    rows = []
    categories = _encoded_as_categories(result.design.fixed_model_spec)
    for name in _variables(result, frame, variables):
        column = frame[name]
        if _categorical(column) or name in categories:
            levels = list(column.cat.categories) if isinstance(column.dtype, pd.CategoricalDtype) \
                else sorted(column.unique())
            designs = [_rows(result, frame.assign(**{name: pd.Series([lv] * len(frame), index=frame.index,
                                                                    dtype=column.dtype)}), offset)
                       for lv in levels]
            for lv, (X, Z, o) in zip(levels[1:], designs[1:]):
                X0, Z0, o0 = designs[0]

                def contrast(t, X=X, Z=Z, o=o, X0=X0, Z0=Z0, o0=o0):
                    return average(t, X, Z, o) - average(t, X0, Z0, o0)

                value, gradient = jax.value_and_grad(contrast)(theta)
                rows.append(_row(name, f"{lv} - {levels[0]}", float(value), np.asarray(gradient), vcov, z))
            continue
        values = column.to_numpy(dtype=float)
        h = 1e-4 * max(float(np.std(values)), float(np.mean(np.abs(values))), 1.0)
        X, Z, o = _rows(result, frame, offset)
        Xp, Zp, _ = _rows(result, frame.assign(**{name: values + h}), offset)
        Xm, Zm, _ = _rows(result, frame.assign(**{name: values - h}), offset)
        dX, dZ = (Xp - Xm) / (2 * h), [(p - m) / (2 * h) for p, m in zip(Zp, Zm)]

        def slope(t, X=X, Z=Z, o=o, dX=dX, dZ=dZ):
            return jax.jvp(lambda A, B: average(t, A, B, o), (X, Z), (dX, dZ))[1]

        value, gradient = jax.value_and_grad(slope)(theta)
        rows.append(_row(name, "dY/dX", float(value), np.asarray(gradient), vcov, z))
    return pd.DataFrame(rows)
