"""The standardised solution and R-squared of an SEM with continuous indicators, of one level or two (lavaan's
standardizedSolution() and inspect(fit, "r2")). A two-level model is standardised level by level, each with its
own implied variances (between clusters: Lambda_B cov(eta_B) Lambda_B', no residual variances in the GLLAMM form);
its residual variances are within rows, its intercepts between rows (a ``level`` column, 1 within, 2 between).

With eta = M (zeta), M = (I - B)^{-1}, Psi = cov(zeta) = L L', the model-implied covariances are
cov(eta) = M Psi M' and, for indicator y_j = nu_j + lambda_j' eta + e_j with var(e_j) = theta_j,
var(y_j) = lambda_j' cov(eta) lambda_j + theta_j. Every parameter is standardised by the model-implied standard
deviations of the variables it links:

* loading f =~ y:   std.lv = lambda sd(f),  std.all = lambda sd(f) / sd(y);
* path f2 ~ f1:     b sd(f1) / sd(f2) (both);
* variance a ~~ a of a latent disturbance: psi_aa / var(a), the share not explained (both); covariance a ~~ b of
  disturbances: their correlation psi_ab / sqrt(psi_aa psi_bb) (lavaan's; the total SDs' correlation for exogenous
  latent variables); residual variance of an indicator: std.all theta_j / var(y_j), std.lv unchanged;
* intercept y ~ 1:  std.all = nu / sd(y);

and R-squared is 1 - theta_j / var(y_j) for indicators and 1 - psi_ff / var(f) for latent variables regressed on
others. With latent variables regressed on observed covariates x (lavaan's fixed.x: their sample covariance S_xx),
cov(eta) = M (Gamma S_xx Gamma' + Psi) M', a path f ~ x has std.lv = gamma / sd(f) and std.all = gamma sd(x) / sd(f),
and the covariates' own (co)variances are rows with std.all their correlations. In multiple groups every group's
covariates have their own S_xx (its units'), as lavaan's. A direct effect y ~ x of a covariate
on an indicator (D) adds to var(y): var(y_j) = lambda_j' M Psi M' lambda_j + a_j' S_xx a_j + theta_j with
a_j' = lambda_j' M Gamma + D_j, and is standardised as b sd(x) / sd(y) (std.lv: b). Standard errors of std.all are by the delta method with the exact Jacobian (JAX) of these functions of
the parameters.
"""

from __future__ import annotations

import re
from statistics import NormalDist

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from ..errors import GllammError
from .fit_measures import single_level_sem_reason


def _covariates(result) -> tuple[list[str], np.ndarray]:
    """(names, sample covariances S_xx with divisor N_g, one per group: groups x n_x x n_x) of the observed
    covariates of the latent variables and of the indicators (not the constant _mean.g<k> columns of multiple
    groups), over each group's fitted units (lavaan's fixed.x: every group its own)."""
    from .covariate_fit_measures import observed_covariates

    names = observed_covariates(result.spec)
    direct = any(not name.endswith("~1") for name in result.spec.fixed_names)
    if not names or not (direct or any(level.covariate_paths for level in result.spec.levels)):
        return [], np.zeros((1, 0, 0))
    frame = result.design.model_frame
    X = frame[names].to_numpy(dtype=float)
    items = np.array(_items(result))
    groups = _group_of(items)
    covariances = []
    for g in range(groups.max() + 1):
        units = ~np.isnan(X).any(axis=1) & frame[list(items[groups == g])].notna().any(axis=1).to_numpy()
        covariances.append(np.atleast_2d(np.cov(X[units].T, bias=True)))
    return names, np.stack(covariances)


def _group_of(names) -> np.ndarray:
    """The group (0, 1, ...) of each variable of a multiple-group model, from its name's suffix .g<k> (0 for all
    variables of a one-group model)."""
    return np.array([int(name.rsplit(".g", 1)[1]) - 1 if re.fullmatch(r".+\.g\d+", name) else 0 for name in names])


def _moments(result, theta, level: int = 0):
    """(loadings Lambda (q x items), cov(eta), disturbance covariance Psi, residual variances per item, var(y)) at
    one level: the within level of a two-level model has the residual variances, the between level none."""
    from ..objective import latent_structure

    table = result.table_spec
    params = table.unpack(theta)
    loadings, M, ML = latent_structure(table, params, level)
    cov_eta = ML @ ML.T
    names, S_xx = _covariates(result) if level == 0 else ([], None)
    items = _items(result)
    if names:  # + M Gamma S_xx Gamma' M' (each group's S_xx), and the variance the direct effects D add to var(y)
        from .covariate_fit_measures import covariate_paths

        gamma, direct = covariate_paths(result.spec, params, items, names)
        effect = M @ gamma
        latent_group = _group_of(result.spec.levels[0].latent_names)
        same_group = latent_group[:, None] == latent_group[None, :]  # (groups' latent variables are independent)
        cov_eta = cov_eta + jnp.einsum("ac,acd,bd->ab", effect, S_xx[latent_group], effect) * same_group
        through = loadings.T @ effect  # d E(y) / d x through the factors (already in lambda' cov(eta) lambda)
        total = through + direct
        S_items = S_xx[_group_of(items)]
        added = jnp.einsum("jc,jcd,jd->j", total, S_items, total) - jnp.einsum("jc,jcd,jd->j", through, S_items,
                                                                              through)
    L = params.cholesky[level]
    psi = L @ L.T
    residual = jnp.exp(2 * params.log_dispersion)
    index = jnp.array([list(result.spec.dispersions).index(f"{name}~~{name}") for name in items])
    theta_items = residual[index] if level == 0 else jnp.zeros(len(items))
    extra = added if names else 0.0  # the variance the direct effects add (beyond that through the factors)
    var_y = jnp.einsum("kj,kl,lj->j", loadings, cov_eta, loadings) + extra + theta_items
    return loadings, cov_eta, psi, theta_items, var_y


def _items(result) -> list[str]:
    return list(result.design.response_name.split(", "))


def _level_rows(result, k: int) -> tuple[list, list]:
    """(loadings and paths, latent (co)variances) of level k as rows (lhs, op, rhs, kind, indices, level)."""
    level, items = result.spec.levels[k], _items(result)
    latent = list(level.latent_names)
    rows = [(latent[loading.latent], "=~", items[loading.column], "loading", (loading.latent, loading.column), k)
            for loading in level.loading_list if loading.column < len(items)]
    rows += [(latent[path.lhs], "~", latent[path.rhs], "path", (path.lhs, path.rhs), k) for path in level.paths]
    variances = [(latent[c], "~~", latent[r], "latent", (r, c), k)
                 for block in level.blocks for i, r in enumerate(block) for c in block[: i + 1]]
    return rows, variances


def _rows(result) -> list[tuple]:
    """(lhs, op, rhs, kind, indices, level) of every parameter of the standardised solution (the levels of a
    two-level model: loadings, paths and latent (co)variances at each, residual variances within, intercepts
    between)."""
    level = result.spec.levels[0]
    items = _items(result)
    rows, variances = _level_rows(result, 0)
    names, S_xx = _covariates(result)
    for path in level.covariate_paths:
        covariate = result.spec.covariate_names[path.rhs]
        if covariate in names:
            rows.append((level.latent_names[path.lhs], "~", covariate, "covariate_path",
                         (path.lhs, path.rhs, names.index(covariate)), 0))
    for k, name in enumerate(result.spec.fixed_names):
        item, _, regressor = name.partition("~")
        if regressor != "1" and regressor in names:
            rows.append((item, "~", regressor, "direct", (items.index(item), k, names.index(regressor)), 0))
    several = len(S_xx) > 1  # (multiple groups: each group's covariate rows, named with its suffix)
    for g in range(len(S_xx) if names else 0):
        suffix = f".g{g + 1}" if several else ""
        for i, a in enumerate(names):
            for j in range(i + 1):
                rows.append((names[j] + suffix, "~~", a + suffix, "covariate", (j, i, g), 0))
    rows += [(name, "~~", name, "residual", (j,), 0) for j, name in enumerate(items)] + variances
    top = len(result.spec.levels) - 1
    if top:  # the between level's loadings and latent (co)variances
        between, between_variances = _level_rows(result, top)
        rows += between + between_variances
    return rows + [(name, "~1", "", "intercept", (j,), top) for j, name in enumerate(items)]


def _values(result, rows, theta):
    """Estimates, std.lv and std.all of the rows (three vectors) at theta."""
    params = result.table_spec.unpack(theta)
    S_xx = _covariates(result)[1]
    context = {"params": params, "S_xx": S_xx, "sd_x": np.sqrt(np.diagonal(S_xx, axis1=1, axis2=2)),
               "latent_group": _group_of(result.spec.levels[0].latent_names), "item_group": _group_of(_items(result)),
               "intercepts": {name: k for k, name in enumerate(result.spec.fixed_names)},
               "items": _items(result), "levels": {}}
    for k in {row[5] for row in rows}:
        loadings, cov_eta, psi, theta_items, var_y = _moments(result, theta, k)
        context["levels"][k] = (loadings, psi, theta_items, var_y, jnp.sqrt(jnp.diag(cov_eta)), jnp.sqrt(var_y))
    triples = [_standardised(kind, index, k, context) for _, _, _, kind, index, k in rows]
    return tuple(jnp.stack([jnp.asarray(t[n]) for t in triples]) for n in range(3))


def _standardised(kind: str, index: tuple, level: int, c: dict) -> tuple:
    """(estimate, std.lv, std.all) of one row (see the module docstring)."""
    params, (loadings, psi, theta_items, var_y, sd_eta, sd_y) = c["params"], c["levels"][level]
    if kind == "loading":
        k, j = index
        value = loadings[k, j]
        return value, value * sd_eta[k], value * sd_eta[k] / sd_y[j]
    if kind == "path":
        a, b = index
        value = params.structural[level][a, b] * sd_eta[b] / sd_eta[a]
        return params.structural[level][a, b], value, value
    if kind == "covariate_path":
        a, column, x = index
        value = params.covariate_effects[0][a, column]
        return value, value / sd_eta[a], value * c["sd_x"][c["latent_group"][a], x] / sd_eta[a]
    if kind == "direct":  # y ~ x: both observed
        j, k, x = index
        return params.beta[k], params.beta[k], params.beta[k] * c["sd_x"][c["item_group"][j], x] / sd_y[j]
    if kind == "covariate":  # (the group's sample covariance: fixed, no standard error)
        i, j, g = index
        value = c["S_xx"][g, i, j]
        return value, value, value / (c["sd_x"][g, i] * c["sd_x"][g, j])
    if kind == "residual":
        (j,) = index
        return theta_items[j], theta_items[j], theta_items[j] / var_y[j]
    if kind == "latent":  # a variance: its unexplained share; a covariance: the disturbances' correlation
        r, k = index
        scale = sd_eta[r] * sd_eta[k] if r == k else jnp.sqrt(psi[r, r] * psi[k, k])
        return psi[r, k], psi[r, k] / scale, psi[r, k] / scale
    (j,) = index
    value = params.beta[c["intercepts"][f"{c['items'][j]}~1"]]
    return value, value, value / sd_y[j]


def _check(result) -> None:
    """GllammError unless the fit is a single-level SEM with continuous indicators (of one group or several: the
    groups' copies are independent blocks of one model, each standardised by its own implied SDs)."""
    from .covariate_fit_measures import covariate_reason
    from .two_level_covariates import level_covariates
    from .two_level_fit_measures import is_two_level_sem, two_level_reason

    if is_two_level_sem(result):  # (each level standardised by its own implied variances, as lavaan's)
        reason = two_level_reason(result) or (None if level_covariates(result.spec) == ([], []) else
                                              "covariates of two-level models are not standardised yet")
    else:
        reason = single_level_sem_reason(result, groups=True, covariates=True) or covariate_reason(result)
    if reason is not None:
        raise GllammError("The standardised solution and R-squared are for SEMs of one or two levels in "
                          f"lavaan-style syntax with continuous (Gaussian identity-link) indicators ({reason}).")


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
    if len(result.spec.levels) == 2:  # lavaan's level column: 1 within, 2 between
        frame.insert(3, "level", [row[5] + 1 for row in rows])
    return frame


def r_squared(result) -> pd.Series:
    """R-squared of every indicator (1 - theta_j / var(y_j)) and of every latent variable regressed on others
    (1 - psi_ff / var(f)); of a two-level model at each level (index (level, name); 1 for the indicators between
    clusters, which have no residual variance there)."""
    _check(result)
    parts = []
    for index, level in enumerate(result.spec.levels):
        loadings, cov_eta, psi, theta_items, var_y = (np.asarray(x) for x in
                                                      _moments(result, jnp.asarray(result.theta), index))
        values = {name: 1 - theta_items[j] / var_y[j] for j, name in enumerate(_items(result))}
        for k in sorted({p.lhs for p in level.paths} | {p.lhs for p in level.covariate_paths
                                                         if index == 0 and p.rhs in _covariate_columns(result)}):
            values[level.latent_names[k]] = 1 - psi[k, k] / cov_eta[k, k]
        parts.append(pd.Series(values, name="r2"))
    if len(parts) == 1:
        return parts[0]
    return pd.concat(parts, keys=["within", "between"]).rename("r2")  # (two levels, as lavaan's list)


def _covariate_columns(result) -> set[int]:
    """Positions in spec.covariate_names of the observed covariates (``_covariates``)."""
    names = _covariates(result)[0]
    return {k for k, n in enumerate(result.spec.covariate_names) if n in names}
