"""The parameter table: one row per estimated parameter, and its transforms.

The optimiser works on an unconstrained vector theta:

    theta = [beta (fixed effects), Cholesky elements of Psi per level, log dispersion]

Off-diagonal and diagonal Cholesky elements are unconstrained (as in gllamm):
Psi = L L' is positive semi-definite for any values. Users see the
*reported* parameters: fixed effects, variances and covariances of the
latent variables, and the residual variance (Gaussian) or dispersion (gamma).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np
import pandas as pd

from .model_spec import ModelSpec


@dataclass(frozen=True)
class Unpacked:
    """Structured parameters: beta, one Cholesky factor per level, log dispersion."""

    beta: jnp.ndarray
    cholesky: tuple[jnp.ndarray, ...]
    log_dispersion: jnp.ndarray


@dataclass(frozen=True)
class ParameterTable:
    """Layout of theta and the names of reported parameters."""

    spec: ModelSpec

    @property
    def n_fixed(self) -> int:
        return len(self.spec.fixed_names)

    @property
    def n_cholesky(self) -> tuple[int, ...]:
        return tuple(len(level.cholesky_positions) for level in self.spec.levels)

    @property
    def size(self) -> int:
        return self.n_fixed + sum(self.n_cholesky) + int(self.spec.family.has_dispersion)

    def frame(self) -> pd.DataFrame:
        """The table: name, block, level and position in theta of every parameter."""
        rows = [dict(name=n, block="fixed", level="", position=i) for i, n in enumerate(self.spec.fixed_names)]
        position = self.n_fixed
        for level in self.spec.levels:
            for r, c in level.cholesky_positions:
                rows.append(dict(name=f"chol[{level.latent_names[r]},{level.latent_names[c]}|{level.name}]",
                                 block="cholesky", level=level.name, position=position))
                position += 1
        if self.spec.family.has_dispersion:
            rows.append(dict(name="log_dispersion", block="dispersion", level="", position=position))
        return pd.DataFrame(rows)

    def unpack(self, theta) -> Unpacked:
        """theta -> (beta, Cholesky factors, log dispersion); usable inside jit."""
        p = self.n_fixed
        beta = theta[:p]
        factors = []
        position = p
        for level, count in zip(self.spec.levels, self.n_cholesky):
            rows, cols = (np.array(x, dtype=int) for x in zip(*level.cholesky_positions))
            factor = jnp.zeros((level.dim, level.dim), dtype=theta.dtype)
            factors.append(factor.at[rows, cols].set(theta[position : position + count]))
            position += count
        log_dispersion = theta[position] if self.spec.family.has_dispersion else jnp.zeros((), theta.dtype)
        return Unpacked(beta, tuple(factors), log_dispersion)

    def pack(self, beta, cholesky, log_dispersion=None) -> np.ndarray:
        """Inverse of unpack (host side)."""
        parts = [np.asarray(beta, float)]
        for level, factor in zip(self.spec.levels, cholesky):
            factor = np.asarray(factor, float)
            parts.append(np.array([factor[r, c] for r, c in level.cholesky_positions]))
        if self.spec.family.has_dispersion:
            parts.append(np.array([float(log_dispersion)]))
        return np.concatenate(parts)

    def from_reported(self, values) -> np.ndarray:
        """theta from reported values (fixed effects, var/cov per level, residual variance or dispersion).

        Covariances missing from ``values`` are taken as 0; Psi = L L' is factored by Cholesky.
        """
        values = dict(values)
        beta = [values[name] for name in self.spec.fixed_names]
        factors = []
        for level in self.spec.levels:
            psi = np.zeros((level.dim, level.dim))
            for r, c in self._covariance_pairs(level):
                a, b = level.latent_names[r], level.latent_names[c]
                key = f"var({a}|{level.name})" if r == c else f"cov({b},{a}|{level.name})"
                psi[r, c] = psi[c, r] = values.get(key, 0.0)
            factors.append(np.linalg.cholesky(psi))
        log_dispersion = 0.0
        family = self.spec.family
        if family.has_dispersion:
            value = values[family.dispersion_name]
            log_dispersion = 0.5 * np.log(value) if family.name == "gaussian" else np.log(value)
        return self.pack(beta, factors, log_dispersion)

    # ---- reported scale -------------------------------------------------
    def reported_names(self) -> list[str]:
        """Names of reported parameters: fixed effects, var(...)/cov(...), residual term."""
        names = list(self.spec.fixed_names)
        for level in self.spec.levels:
            for r, c in self._covariance_pairs(level):
                a, b = level.latent_names[r], level.latent_names[c]
                names.append(f"var({a}|{level.name})" if r == c else f"cov({b},{a}|{level.name})")
        if self.spec.family.has_dispersion:
            names.append(self.spec.family.dispersion_name)
        return names

    @staticmethod
    def _covariance_pairs(level) -> list[tuple[int, int]]:
        pairs = []
        for block in level.blocks:
            for i, row in enumerate(block):
                for col in block[: i + 1]:
                    pairs.append((row, col))
        return pairs

    def reported(self, theta):
        """theta -> reported parameter vector (a smooth map, used with the delta method)."""
        unpacked = self.unpack(theta)
        parts = [unpacked.beta]
        for level, factor in zip(self.spec.levels, unpacked.cholesky):
            psi = factor @ factor.T
            pairs = self._covariance_pairs(level)
            if pairs:
                rows, cols = (np.array(x, dtype=int) for x in zip(*pairs))
                parts.append(psi[rows, cols])
        if self.spec.family.has_dispersion:
            scale = 2.0 if self.spec.family.name == "gaussian" else 1.0
            parts.append(jnp.exp(scale * unpacked.log_dispersion)[None])
        return jnp.concatenate(parts)
