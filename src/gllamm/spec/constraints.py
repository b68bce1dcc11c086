"""Fixed parameters and equality constraints as an affine map theta = offset + matrix @ phi.

The optimiser works on the free vector phi; gradients and Hessians follow by the
chain rule (M'g, M'HM) and the covariance of theta is M (M'(-H)M)^{-1} M'.
Names are those of the reported parameters; a variance can be fixed or equated
only for a latent variable in a block of its own (its Cholesky element is sqrt(var)), or in any block of a level
with scaled rows (its row scale is sqrt(var); ``LevelSpec.scaled_rows``). With scaled rows the elements x_rc of the
rows' directions v_r (the correlations' Cholesky factor, one-to-one) can be equated across identical blocks: equal
x's and equal row scales are equal covariance matrices (``group_equal=["lv.variances", "lv.covariances"]``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import GllammError, closest
from .parameters import ParameterTable


@dataclass(frozen=True)
class Constraints:
    """theta = offset + matrix @ phi: fixed parameters and equality groups."""

    matrix: np.ndarray  # (n_theta, n_free)
    offset: np.ndarray  # (n_theta,)

    def theta(self, phi):
        """Full parameter vector from the free parameters."""
        return self.offset + self.matrix @ phi

    def phi(self, theta):
        """Least-squares inverse (exact for theta satisfying the constraints); fixed entries, which phi does
        not reach, are left out (one may be -inf: a variance fixed at 0)."""
        free = np.any(self.matrix != 0, axis=1)
        difference = np.where(free, np.asarray(theta, dtype=float) - np.where(free, self.offset, 0.0), 0.0)
        return np.linalg.lstsq(self.matrix, difference, rcond=None)[0]

    @property
    def zero_dispersions(self) -> np.ndarray:
        """theta positions fixed at -inf: dispersions (residual variances) fixed at exactly 0."""
        return np.flatnonzero(np.isneginf(self.offset))


def _positions(table: ParameterTable) -> dict[str, tuple[int, callable]]:
    """Reported name -> (theta position, map from reported value to theta value)."""
    frame = table.frame()
    out = {}
    dispersions = iter(zip(table.spec.dispersions, table.spec.reported_dispersion_powers))
    cholesky_rows = iter([(level, pos) for level in table.spec.levels for pos in level.cholesky_positions])
    for row in frame.itertuples():
        if row.block in ("fixed", "loadings", "paths", "covariate_paths", "products", "cross_paths", "scale", "locations", "class_logits",
                         "threshold_effects", "zero_inflation"):
            out[row.name] = (row.position, lambda v: v)
        elif row.block == "cholesky":
            level, (r, c) = next(cholesky_rows)
            block = next(b for b in level.blocks if r in b)
            if r == c and (len(block) == 1 or level.scaled_rows):  # (psi_kk = d_k^2 with scaled rows)
                out[level.covariance_name(r, r)] = (row.position, lambda v: np.sqrt(v))
            elif r != c and level.scaled_rows:  # x_rc: equal for equal correlations (with the variances: covariances)
                out[level.covariance_name(r, c)] = (row.position, None)
        elif row.block == "dispersion":
            name, power = next(dispersions)
            out[name] = (row.position, lambda v, p=power: np.log(v) / p)
    return out


def build_constraints(table: ParameterTable, fix: dict | None, equal) -> Constraints:
    """Constraints from ``fix={name: value}`` and ``equal=[(name1, name2, ...), ...]``."""
    n = table.size
    positions = _positions(table)

    def lookup(name):
        if name not in positions:
            raise GllammError(f"Cannot constrain '{name}'.{closest(name, positions)} Constrainable parameters: "
                              f"{', '.join(positions)}.")
        return positions[name]

    offset = np.zeros(n)
    fixed = {}
    for name, value in (fix or {}).items():
        position, transform = lookup(name)
        if transform is None:
            raise GllammError(f"fix={{'{name}': ...}}: a covariance of latent variables is fixed in the model syntax "
                              "(e.g. 'f1 ~~ 0*f2'), not by fix=.")
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not np.isfinite(value):
            raise GllammError(f"fix={{'{name}': {value!r}}}: a parameter is fixed at a finite number.")
        if name.startswith("var(") or "~~" in name or name in table.spec.dispersions:
            if value < 0:
                raise GllammError(f"A variance or dispersion must be positive: got {name}={value}.")
        # a residual variance fixed at 0 (an indicator without error) is log sd = -inf; see design/exact_indicators.py
        fixed[position] = -np.inf if value == 0 and name in table.spec.dispersions else float(transform(value))
    groups = []
    for group in equal or []:
        group = [group] if isinstance(group, str) else list(group)
        members = [lookup(name)[0] for name in group]
        if any(m in fixed for m in members):
            raise GllammError(f"{group}: a parameter cannot be both fixed and constrained equal.")
        groups.append(members)
    columns = []
    grouped = {m for g in groups for m in g}
    for i in range(n):
        if i in fixed:
            offset[i] = fixed[i]
        elif i not in grouped:
            column = np.zeros(n)
            column[i] = 1.0
            columns.append(column)
    for members in groups:
        column = np.zeros(n)
        column[members] = 1.0
        columns.append(column)
    matrix = np.stack(columns, axis=1) if columns else np.zeros((n, 0))
    return Constraints(matrix, offset)
