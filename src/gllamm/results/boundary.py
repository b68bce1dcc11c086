"""Estimates on the boundary of the parameter space (lme4's "boundary (singular) fit").

A variance estimated at 0, a correlation at +-1, or a class probability at 0 is a maximum on the
boundary: the log-likelihood is maximised there, but the Wald standard error, z statistic and
interval of such a parameter mean nothing (the estimate cannot move to one side). A latent
variable k of a covariance block is

* at variance 0 when its SD is below ``TOLERANCE`` times its reference scale (lme4's
  ``isSingular`` tolerance on the relative Cholesky factor): the residual SD for Gaussian
  identity-link models and 1 otherwise (the latent response's scale), divided by the spread of
  its covariate for a random coefficient;
* perfectly correlated with the latent variables before it in its block when the variance of k
  left after regressing it on them, psi_kk - psi_kE psi_EE^- psi_Ek, is below TOLERANCE^2 psi_kk
  (a correlation at +-1, or a combination of several with no variance);

and a class probability is at 0 below ``TOLERANCE``^2. Parameters fixed by the user are not
estimates and are never reported here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..spec import ParameterTable

TOLERANCE = 1e-4


def boundary_parameters(spec, params: pd.Series, design, fixed=()) -> tuple[str, ...]:
    """Reported names of the estimates on the boundary (see the module docstring)."""
    names: list[str] = []
    reference = _reference_scale(spec, params)
    for index, level in enumerate(spec.levels):
        if level.discrete:
            continue
        psi = np.eye(level.dim) if level.unit_variance else np.zeros((level.dim, level.dim))
        for r, c in ParameterTable._covariance_pairs(level):
            psi[r, c] = psi[c, r] = float(params[level.covariance_name(r, c)])
        spreads = _covariate_spreads(level, index, design)
        for block in level.blocks:
            for i, k in enumerate(block):
                earlier = list(block[:i])
                pairs = [level.covariance_name(k, e) for e in earlier]  # (named as ParameterTable._covariance_pairs)
                if psi[k, k] <= (TOLERANCE * reference / spreads[k]) ** 2:
                    names += [level.covariance_name(k, k)] + pairs
                    continue
                if not earlier:
                    continue
                rest = psi[k, k] - psi[k, earlier] @ np.linalg.pinv(psi[np.ix_(earlier, earlier)]) @ psi[earlier, k]
                if rest <= TOLERANCE**2 * psi[k, k]:
                    names += pairs
    names += [name for name in params.index if name.startswith("P(") and float(params[name]) < TOLERANCE**2]
    fixed = set(fixed or ())
    return tuple(dict.fromkeys(name for name in names if name in params.index and name not in fixed))


def _reference_scale(spec, params: pd.Series) -> float:
    """The residual SD of a Gaussian identity-link model (its first residual variance), else 1."""
    if spec.family.exact_gaussian and spec.dispersions and spec.dispersions[0] in params.index:
        return float(np.sqrt(params[spec.dispersions[0]]))
    return 1.0


def _covariate_spreads(level, index: int, design) -> np.ndarray:
    """SD of each random coefficient's covariate (1 for intercepts, factors and constant columns)."""
    spreads = np.ones(level.dim)
    if level.loadings is not None:
        return spreads
    Z = design.Z_levels[index] if len(design.Z_levels) > index else (design.Z if index == 0 else None)
    if Z is None or np.ndim(Z) != 2 or Z.shape[1] != level.dim:
        return spreads
    for k in range(level.dim):
        spread = float(np.std(Z[:, k]))
        if spread > 1e-8 + 1e-5 * float(np.mean(np.abs(Z[:, k]))):
            spreads[k] = spread
    return spreads


def boundary_upper_sd(table_spec, theta_vcov: np.ndarray, level_name: str, latent: str, level: float) -> float:
    """Upper end of a Wald interval [0, upper) for the SD of a latent variable whose variance is at 0: in the
    unconstrained Cholesky parameterisation psi_kk = ||L_k.||^2, which is smooth through 0, the SD's Wald
    bound is z_(1+level)/2 sqrt(largest eigenvalue of the covariance of row k of L)."""
    from statistics import NormalDist

    frame = table_spec.frame()
    row = frame[frame.name.str.startswith(f"chol[{latent},") & frame.name.str.endswith(f"|{level_name}]")]
    if any(level.name == level_name and level.scaled_rows for level in table_spec.spec.levels):
        row = row[row.name == f"chol[{latent},{latent}|{level_name}]"]  # (scaled rows: the SD is |d_k| itself)
    positions = row.position.to_numpy(dtype=int)
    if len(positions) == 0:
        return float("nan")
    block = np.asarray(theta_vcov)[np.ix_(positions, positions)]
    if not np.all(np.isfinite(block)):
        return float("nan")
    largest = float(np.linalg.eigvalsh(0.5 * (block + block.T)).max())
    return NormalDist().inv_cdf(0.5 + level / 2) * float(np.sqrt(max(largest, 0.0)))
