"""The standardised solution and R-squared of a single-level SEM with continuous indicators (lavaan's
standardizedSolution() and inspect(fit, "r2")).

With eta = M (zeta), M = (I - B)^{-1}, Psi = cov(zeta) = L L', the model-implied covariances are
cov(eta) = M Psi M' and, for indicator y_j = nu_j + lambda_j' eta + e_j with var(e_j) = theta_j,
var(y_j) = lambda_j' cov(eta) lambda_j + theta_j. Every parameter is standardised by the model-implied standard
deviations of the variables it links:

* loading f =~ y:   std.lv = lambda sd(f),  std.all = lambda sd(f) / sd(y);
* path f2 ~ f1:     b sd(f1) / sd(f2) (both);
* (co)variance a ~~ b of latent disturbances or residuals:  std.all = psi_ab / (sd(a) sd(b)) with the total
  SDs (for a variance: the share not explained); std.lv likewise for latent variables, unchanged for residuals;
* intercept y ~ 1:  std.all = nu / sd(y);

and R-squared is 1 - theta_j / var(y_j) for indicators and 1 - psi_ff / var(f) for latent variables regressed on
others. Standard errors of std.all are by the delta method with the exact Jacobian (JAX) of these functions of
the parameters.
"""

from __future__ import annotations

from statistics import NormalDist

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from ..errors import GllammError
from .fit_measures import single_level_sem_reason


def _moments(result, theta):
    """(loadings Lambda (q x items), cov(eta), disturbance covariance Psi, residual variances per item, var(y))."""
    from ..objective import latent_structure

    table = result.table_spec
    params = table.unpack(theta)
    loadings, _, ML = latent_structure(table, params)
    cov_eta = ML @ ML.T
    L = params.cholesky[0]
    psi = L @ L.T
    residual = jnp.exp(2 * params.log_dispersion)
    items = _items(result)
    index = jnp.array([list(result.spec.dispersions).index(f"{name}~~{name}") for name in items])
    theta_items = residual[index]
    var_y = jnp.einsum("kj,kl,lj->j", loadings, cov_eta, loadings) + theta_items
    return loadings, cov_eta, psi, theta_items, var_y


def _items(result) -> list[str]:
    return list(result.design.response_name.split(", "))


def _rows(result) -> list[tuple]:
    """(lhs, op, rhs, kind, indices) of every parameter of the standardised solution."""
    level = result.spec.levels[0]
    latent = list(level.latent_names)
    items = _items(result)
    rows = []
    for loading in level.loading_list:
        if loading.column < len(items):
            rows.append((latent[loading.latent], "=~", items[loading.column], "loading", (loading.latent, loading.column)))
    for path in level.paths:
        rows.append((latent[path.lhs], "~", latent[path.rhs], "path", (path.lhs, path.rhs)))
    for name in items:
        rows.append((name, "~~", name, "residual", (items.index(name),)))
    for block in level.blocks:
        for i, r in enumerate(block):
            for c in block[: i + 1]:
                rows.append((latent[c], "~~", latent[r], "latent", (r, c)))
    for j, name in enumerate(items):
        rows.append((name, "~1", "", "intercept", (j,)))
    return rows


def _values(result, rows, theta):
    """Estimates, std.lv and std.all of the rows (three vectors) at theta."""
    loadings, cov_eta, psi, theta_items, var_y = _moments(result, theta)
    sd_eta, sd_y = jnp.sqrt(jnp.diag(cov_eta)), jnp.sqrt(var_y)
    params = result.table_spec.unpack(theta)
    intercepts = {name: k for k, name in enumerate(result.spec.fixed_names)}
    estimate, std_lv, std_all = [], [], []
    for _, _, rhs, kind, index in rows:
        if kind == "loading":
            k, j = index
            value = loadings[k, j]
            estimate += [value]
            std_lv += [value * sd_eta[k]]
            std_all += [value * sd_eta[k] / sd_y[j]]
        elif kind == "path":
            a, b = index
            value = params.structural[0][a, b]
            estimate += [value]
            std_lv += [value * sd_eta[b] / sd_eta[a]]
            std_all += [value * sd_eta[b] / sd_eta[a]]
        elif kind == "residual":
            (j,) = index
            estimate += [theta_items[j]]
            std_lv += [theta_items[j]]
            std_all += [theta_items[j] / var_y[j]]
        elif kind == "latent":
            r, c = index
            value = psi[r, c]
            estimate += [value]
            std_lv += [value / (sd_eta[r] * sd_eta[c])]
            std_all += [value / (sd_eta[r] * sd_eta[c])]
        else:
            (j,) = index
            value = params.beta[intercepts[f"{_items(result)[j]}~1"]]
            estimate += [value]
            std_lv += [value]
            std_all += [value / sd_y[j]]
    return jnp.stack(estimate), jnp.stack(std_lv), jnp.stack(std_all)


def _check(result) -> None:
    """GllammError unless the fit is a single-level SEM with continuous indicators (of one group or several: the
    groups' copies are independent blocks of one model, each standardised by its own implied SDs)."""
    reason = single_level_sem_reason(result, groups=True)
    if reason is not None:
        raise GllammError("The standardised solution and R-squared are for single-level models in lavaan-style "
                          f"syntax with continuous (Gaussian identity-link) indicators and no covariates ({reason}).")


def standardized(result, level: float = 0.95) -> pd.DataFrame:
    """The standardised solution: one row per parameter (lhs, op, rhs, est, std.lv, std.all) with the delta-method
    SE, z and interval of std.all (see the module docstring)."""
    _check(result)
    rows = _rows(result)
    theta = jnp.asarray(result.theta)
    estimate, std_lv, std_all = (np.asarray(v) for v in _values(result, rows, theta))
    jacobian = np.asarray(jax.jacfwd(lambda t: _values(result, rows, t)[2])(theta))
    se = np.sqrt(np.clip(np.diag(jacobian @ np.asarray(result.theta_vcov) @ jacobian.T), 0, None))
    crit = NormalDist().inv_cdf(0.5 + level / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 1e-12, std_all / se, np.nan)
    frame = pd.DataFrame({"lhs": [r[0] for r in rows], "op": [r[1] for r in rows], "rhs": [r[2] for r in rows],
                          "est": estimate, "std.lv": std_lv, "std.all": std_all,
                          "se": np.where(se > 1e-12, se, np.nan), "z": z})
    frame["ci.lower"] = frame["std.all"] - crit * frame["se"]
    frame["ci.upper"] = frame["std.all"] + crit * frame["se"]
    return frame


def r_squared(result) -> pd.Series:
    """R-squared of every indicator (1 - theta_j / var(y_j)) and of every latent variable regressed on others
    (1 - psi_ff / var(f))."""
    _check(result)
    loadings, cov_eta, psi, theta_items, var_y = (np.asarray(x) for x in _moments(result, jnp.asarray(result.theta)))
    values = {name: 1 - theta_items[j] / var_y[j] for j, name in enumerate(_items(result))}
    level = result.spec.levels[0]
    for k in sorted({p.lhs for p in level.paths}):
        values[level.latent_names[k]] = 1 - psi[k, k] / cov_eta[k, k]
    return pd.Series(values, name="r2")
