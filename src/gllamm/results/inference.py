"""Robust (sandwich) covariance, Wald tests and likelihood-ratio tests.

Sandwich: with cluster scores s_j = d log L_j / d theta and cluster weights w_j,

    V = A^{-1} B A^{-1},   A = -d^2 (sum_j w_j log L_j) / d theta^2,
    B = G/(G-1) sum_g (sum_{j in g} w_j s_j)(sum_{j in g} w_j s_j)',

where g runs over the top-level clusters, or over the groups of a coarser
``cluster=`` variable (cluster-robust), G their number. The reported
parameters get J V J' (delta method).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import GllammError


def _chi2_sf(x: float, df: int) -> float:
    """Upper tail of the chi-square distribution (regularised incomplete gamma via jax.scipy)."""
    from jax.scipy.special import gammaincc

    return float(gammaincc(df / 2.0, x / 2.0)) if x > 0 else 1.0


def robust_vcov(result, cluster=None, data: pd.DataFrame | None = None) -> pd.DataFrame:
    """Sandwich covariance matrix of the reported parameters.

    cluster: None (top-level clusters), or a coarser clustering: a column name of
    ``data`` (the frame that was fitted) or an array with one value per used row.
    """
    from ..parallel import sum_over_processes

    if result.spec.crossed:
        raise GllammError(f"Sandwich SEs need independent clusters; with crossed factors "
                          f"({' x '.join(level.name for level in result.spec.levels)}) no grouping of the rows is "
                          "independent of the others. Use the model-based SEs or a parametric bootstrap (bootstrap()).")
    objective, arrays, modes = result._evaluation(nested_ok=True)
    scores = np.asarray(objective.cluster_scores(result.theta, arrays, modes))  # (top-level clusters, params)
    scores = scores * np.asarray(arrays["cluster_weight"])[:, None]  # the top-level units' weights
    distributed = result.options.get("processes", 1) > 1  # this process holds its own clusters: sum B over processes
    if cluster is not None:
        if distributed:
            raise GllammError("cluster-robust SEs (cluster=) are not available in a fit spread over several processes: "
                              "the coarser clusters may span processes. Use robust SEs of the top-level clusters.")
        groups = _super_clusters(result, cluster, data)
        codes, uniques = pd.factorize(groups)
        summed = np.zeros((len(uniques), scores.shape[1]))
        np.add.at(summed, codes, scores)
        scores = summed
    n_groups = int(sum_over_processes(scores.shape[0])) if distributed else scores.shape[0]
    products = sum_over_processes(scores.T @ scores) if distributed else scores.T @ scores
    meat = n_groups / (n_groups - 1.0) * products
    bread = result.theta_vcov
    theta_vcov = bread @ meat @ bread
    _, jacobian = (np.asarray(x) for x in objective.reported(result.theta))
    names = result.params.index
    return pd.DataFrame(jacobian @ theta_vcov @ jacobian.T, index=names, columns=names)


def _super_clusters(result, cluster, data) -> np.ndarray:
    """One value of the coarser clustering variable per top-level cluster."""
    if isinstance(cluster, str):
        frame = result.design.model_frame if data is None or cluster in result.design.model_frame else data
        if cluster not in frame:
            raise GllammError(f"Column '{cluster}' for cluster= is not in the data; pass data= (the fitted frame).")
        values = np.asarray(frame.loc[result.design.row_index, cluster])
    else:
        values = np.asarray(cluster)
    if values.shape[0] != result.nobs:
        raise GllammError("cluster= must be a column of the data or one value per used row.")
    top_codes = result.design.level_codes(max(len(result.spec.levels) - 1, 0))
    per_cluster = pd.Series(values).groupby(top_codes).nunique()
    if per_cluster.max() > 1:
        raise GllammError(f"cluster= must be constant within each '{result.spec.levels[-1].name}' cluster "
                          "(robust clusters must be at or above the top level).")
    first = pd.Series(values).groupby(top_codes).first()
    return first.sort_index().to_numpy()


def wald_test(result, names, values=None, vcov: pd.DataFrame | None = None) -> dict:
    """Joint Wald test of H0: params[names] = values (0 by default): chi2, df, p."""
    names = [names] if isinstance(names, str) else list(names)
    missing = [n for n in names if n not in result.params.index]
    if missing:
        raise GllammError(f"Unknown parameter(s) {missing}; see result.params.index.")
    vcov = result.vcov if vcov is None else vcov
    estimate = result.params[names].to_numpy()
    target = np.zeros(len(names)) if values is None else np.asarray(values, dtype=float)
    diff = estimate - target
    chi2 = float(diff @ np.linalg.solve(vcov.loc[names, names].to_numpy(), diff))
    return {"chi2": chi2, "df": len(names), "p": _chi2_sf(chi2, len(names))}


def _check_reml_pair(restricted, full) -> None:
    """Restricted likelihoods of models with different fixed effects are likelihoods of different data (the
    residual contrasts differ), so their ratio is no test: refuse, and a REML fit against an ML one."""
    reml = [bool(getattr(r.integration, "reml", False)) for r in (restricted, full)]
    if reml[0] != reml[1]:
        raise GllammError("One fit is REML and the other maximum likelihood; refit both the same way (reml=False "
                          "for a likelihood-ratio test of fixed effects).")
    if reml[0] and list(restricted.spec.fixed_names) != list(full.spec.fixed_names):
        raise GllammError("These REML fits differ in their fixed effects, whose restricted likelihoods are not "
                          "comparable; refit both with reml=False (maximum likelihood) to test fixed effects.")


def lr_test(restricted, full, boundary: bool = False) -> dict:
    """Likelihood-ratio test of a restricted (nested) fit against a fuller one: statistic
    2 (log L_full - log L_restricted) on df = the difference in free parameters.
    Returns {"statistic", "df", "p", "boundary_mixture"}.

    With ``boundary=True`` (testing one variance = 0) the null distribution is the
    50:50 mixture of chi2(df-1) and chi2(df) (Self and Liang), so p halves the naive
    value for df = 1; otherwise the naive chi2(df) p-value is conservative there.
    """
    _check_reml_pair(restricted, full)
    statistic = 2.0 * (full.loglik - restricted.loglik)
    df = full.n_params - restricted.n_params
    if df <= 0:
        raise GllammError("The first fit must be the restricted model, with fewer parameters than the second.")
    p = _chi2_sf(statistic, df)
    if boundary:
        _check_boundary_test(restricted, full)
        p = 0.5 * p + 0.5 * (_chi2_sf(statistic, df - 1) if df > 1 else float(statistic <= 0))
    return {"statistic": float(statistic), "df": df, "p": p, "boundary_mixture": boundary}


def _is_variance(name: str) -> bool:
    """A variance of latent variables (formula 'var(x|g)', syntax 'f~~f')."""
    if name.startswith("var(") and "Residual" not in name:
        return True
    left, tilde, right = name.partition("~~")
    return bool(tilde) and left.strip() == right.strip()


def _check_boundary_test(restricted, full) -> None:
    """The 50:50 mixture holds when the fuller model adds one variance (with its covariances): refuse it for tests
    of other parameters (their p-value needs no correction) and of several variances (another mixture)."""
    added = [name for name in full.params.index if name not in restricted.params.index]
    variances = [name for name in added if _is_variance(str(name))]
    if not variances:
        raise GllammError(f"boundary=True corrects the p-value of a test of a variance at 0; the fuller model adds "
                          f"{', '.join(map(str, added)) or 'no named parameter'}, none a variance: use boundary=False.")
    if len(variances) > 1:
        raise GllammError(f"boundary=True gives the 50:50 mixture for one variance tested at 0; this test sets "
                          f"{len(variances)} variances to 0 ({', '.join(variances)}), whose null distribution is "
                          "another chi-bar-square mixture. Use boundary=False (conservative).")
