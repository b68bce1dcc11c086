"""The parameter table: one row per estimated parameter, and its transforms.

The optimiser works on an unconstrained vector theta, in this order:

    [beta | thresholds | free loadings | B | Gamma | Cholesky elements of Psi per level | class locations per level
     | log dispersions | scale | threshold effects | zero-inflation logits | class-membership logits]

Ordinal thresholds are kappa_1 = t_1, kappa_k = kappa_{k-1} + exp(t_k) (ordered for any t).

Cholesky elements are unconstrained (as in gllamm): Psi = L L' is positive
semi-definite for any values (with unit variances, rows of L are normalised).
Users see the *reported* parameters: fixed effects, loadings, structural
coefficients, variances and covariances of the disturbances, and residual
variances (Gaussian: sigma^2) or dispersions (gamma: phi).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from ..families.ordinal import cumulative_thresholds
from .model_spec import LevelSpec, ModelSpec


@dataclass(frozen=True)
class Unpacked:
    """Structured parameters per level: loadings Lambda (q x Z columns), B, Gamma, Cholesky L."""

    beta: jnp.ndarray
    loadings: tuple[jnp.ndarray, ...]
    structural: tuple[jnp.ndarray, ...]
    covariate_effects: tuple[jnp.ndarray, ...]
    cholesky: tuple[jnp.ndarray, ...]
    log_dispersion: jnp.ndarray  # (n_dispersions,) or (1,) of zeros
    thresholds: jnp.ndarray  # ordinal kappa_1 < ... < kappa_{K-1}, or (0,)
    scale: jnp.ndarray  # coefficients alpha of log s_i = v_i' alpha, or (0,)
    threshold_effects: jnp.ndarray | None = None  # gamma (n_thresholds, n_t) of kappa_k + t' gamma_k, or None
    locations: tuple = ()  # per level: class locations (C, q) for a discrete level, None otherwise
    products: tuple = ()  # per level: coefficients of the latent interactions (n_products,)
    cross_effects: tuple = ()  # per level: B from the next level up (q_level, q_next), or None
    class_logits: jnp.ndarray | None = None  # rho (C, n_v) of class membership, last row 0 (reference class)
    zero_inflation: jnp.ndarray | None = None  # gamma of logit P(structural zero) = w' gamma, or (0,)


@dataclass(frozen=True)
class ParameterTable:
    """Layout of theta and the names of reported parameters."""

    spec: ModelSpec
    n_columns: tuple[int, ...] | None = None  # Z columns per level (default: one per latent variable)

    # ---- layout --------------------------------------------------------------------
    @property
    def n_fixed(self) -> int:
        """Number of fixed effects."""
        return len(self.spec.fixed_names)

    def _free_loadings(self, level: LevelSpec):
        return [l for l in level.loading_list if l.value is None]

    def _segments(self) -> list[tuple[str, int, int, int]]:
        """(kind, level index, start, count) of every block of theta after beta."""
        n_thresholds = len(self.spec.threshold_names)
        segments, position = [("thresholds", -1, self.n_fixed, n_thresholds)], self.n_fixed + n_thresholds
        for kind in ("loadings", "paths", "covariate_paths", "products", "cross_paths", "cholesky", "locations"):
            for index, level in enumerate(self.spec.levels):
                count = {"loadings": len(self._free_loadings(level)), "paths": len(level.paths),
                         "cross_paths": len(level.cross_paths),
                         "covariate_paths": len(level.covariate_paths), "products": len(level.products),
                         "cholesky": len(level.cholesky_positions),
                         "locations": len(level.location_positions) if level.discrete else 0}[kind]
                segments.append((kind, index, position, count))
                position += count
        segments.append(("dispersion", -1, position, len(self.spec.dispersions)))
        position += len(self.spec.dispersions)
        segments.append(("scale", -1, position, len(self.spec.scale_names)))
        position += len(self.spec.scale_names)
        segments.append(("threshold_effects", -1, position, len(self.spec.threshold_effect_names)))
        position += len(self.spec.threshold_effect_names)
        segments.append(("zero_inflation", -1, position, len(self.spec.zero_inflation_names)))
        position += len(self.spec.zero_inflation_names)
        segments.append(("class_logits", -1, position, len(self.spec.class_logit_names)))
        return segments

    @property
    def size(self) -> int:
        """Length of theta."""
        kind, _, start, count = self._segments()[-1]
        return start + count

    def columns(self, index: int) -> int:
        """Number of Z columns the latent variables of level ``index`` multiply."""
        level = self.spec.levels[index]
        if self.n_columns is not None:
            return self.n_columns[index]
        return max(l.column for l in level.loading_list) + 1

    def frame(self) -> pd.DataFrame:
        """The table: name, block, level and position in theta of every parameter."""
        rows = [dict(name=n, block="fixed", level="", position=i) for i, n in enumerate(self.spec.fixed_names)]
        for kind, index, start, count in self._segments():
            level = self.spec.levels[index] if index >= 0 else None
            names = self._theta_names(kind, level)
            for k in range(count):
                rows.append(dict(name=names[k], block=kind, level=level.name if level else "", position=start + k))
        return pd.DataFrame(rows)

    def _theta_names(self, kind, level) -> list[str]:
        if kind == "loadings":
            return [l.name for l in self._free_loadings(level)]
        if kind in ("paths", "covariate_paths", "products", "cross_paths"):
            return [p.name for p in getattr(level, kind)]
        if kind == "cholesky":
            return [f"chol[{level.latent_names[r]},{level.latent_names[c]}|{level.name}]"
                    for r, c in level.cholesky_positions]
        if kind == "thresholds":
            names = self.spec.threshold_names
            return [names[start] if k == 0 else f"log_increment[{names[start + k]}]"
                    for start, count in self.spec.threshold_layout for k in range(count)]
        if kind in ("scale", "zero_inflation"):
            return list(getattr(self.spec, f"{kind}_names"))
        if kind == "threshold_effects":
            return list(self.spec.threshold_effect_names)
        if kind == "locations":
            return [level.location_name(c, k) for c, k in level.location_positions]
        if kind == "class_logits":
            return list(self.spec.class_logit_names)
        return [f"log_dispersion[{n}]" for n in self.spec.dispersions]

    # ---- theta -> structured ------------------------------------------------------------
    def unpack(self, theta) -> Unpacked:
        """theta -> structured parameters; usable inside jit."""
        beta = theta[: self.n_fixed]
        parts = {k: [] for k in ("loadings", "paths", "covariate_paths", "cholesky")}
        log_dispersion = jnp.zeros((1,), theta.dtype)
        thresholds = jnp.zeros((0,), theta.dtype)
        scale = zero_inflation = jnp.zeros((0,), theta.dtype)
        threshold_effects = None
        raw_locations, class_logits = {}, None
        products = [jnp.zeros((0,), theta.dtype) for _ in self.spec.levels]
        cross_effects = [None for _ in self.spec.levels]
        for kind, index, start, count in self._segments():
            values = theta[start : start + count]
            if kind == "products":
                products[index] = values
                continue
            if kind == "cross_paths":
                if count:
                    level = self.spec.levels[index]
                    matrix = jnp.zeros((level.dim, self.spec.levels[index + 1].dim), theta.dtype)
                    cross_effects[index] = matrix.at[np.array([p.lhs for p in level.cross_paths]),
                                                     np.array([p.rhs for p in level.cross_paths])].set(values)
                continue
            if kind == "locations":
                if self.spec.levels[index].discrete:
                    raw_locations[index] = values
                continue
            if kind == "class_logits":
                if count:
                    logits = values.reshape(-1, len(self.spec.class_covariates))
                    class_logits = jnp.concatenate([logits, jnp.zeros((1, logits.shape[1]), theta.dtype)])
                continue
            if kind == "scale":
                scale = values
                continue
            if kind == "zero_inflation":
                zero_inflation = values
                continue
            if kind == "threshold_effects":
                if count:
                    threshold_effects = values.reshape(len(self.spec.threshold_names), -1)
                continue
            if kind == "thresholds":  # ordered within each item
                if count:
                    thresholds = jnp.concatenate([cumulative_thresholds(values[a : a + c])
                                                  for a, c in self.spec.threshold_layout])
                continue
            if kind == "dispersion":
                if count:
                    log_dispersion = values
                continue
            parts[kind].append(self._level_matrix(kind, index, values, theta.dtype))
        if class_logits is None and self.spec.discrete_level is not None:  # one class: nothing to estimate
            class_logits = jnp.zeros((1, len(self.spec.class_covariates)), theta.dtype)
        locations = tuple(self._locations(level, raw_locations[index], class_logits) if index in raw_locations
                          else None for index, level in enumerate(self.spec.levels))
        return Unpacked(beta, tuple(parts["loadings"]), tuple(parts["paths"]), tuple(parts["covariate_paths"]),
                        tuple(parts["cholesky"]), log_dispersion, thresholds, scale, threshold_effects,
                        locations=locations, class_logits=class_logits, products=tuple(products),
                        cross_effects=tuple(cross_effects), zero_inflation=zero_inflation)

    def _level_matrix(self, kind: str, index: int, values, dtype):
        """A level's loading matrix Lambda (q, columns), paths B (q, q), covariate effects Gamma (q, covariates) or
        Cholesky factor L (q, q; rows scaled to unit length with unit variances) from its theta segment."""
        level = self.spec.levels[index]
        q, count = level.dim, values.shape[0]
        if kind == "loadings":
            matrix = jnp.zeros((q, self.columns(index)), dtype)
            fixed = [l for l in level.loading_list if l.value is not None]
            if fixed:
                matrix = matrix.at[np.array([l.latent for l in fixed]), np.array([l.column for l in fixed])].set(
                    np.array([l.value for l in fixed]))
            free = self._free_loadings(level)
            if free:
                matrix = matrix.at[np.array([l.latent for l in free]), np.array([l.column for l in free])].set(values)
        elif kind == "paths":
            matrix = jnp.zeros((q, q), dtype)
            if count:
                matrix = matrix.at[np.array([p.lhs for p in level.paths]), np.array([p.rhs for p in level.paths])].set(values)
        elif kind == "covariate_paths":
            matrix = jnp.zeros((q, max(1, len(self.spec.covariate_names))), dtype)
            if count:
                paths = level.covariate_paths
                matrix = matrix.at[np.array([p.lhs for p in paths]), np.array([p.rhs for p in paths])].set(values)
        else:
            matrix = jnp.zeros((q, q), dtype)
            if level.unit_variance or level.scaled_rows:
                matrix = matrix + jnp.eye(q, dtype=dtype)
            scale = None
            if count:
                rows, cols = (np.array(x, dtype=int) for x in zip(*level.cholesky_positions))
                if level.scaled_rows:  # d_k on the diagonal positions, x_kj below them
                    off = rows != cols
                    matrix = matrix.at[rows[off], cols[off]].set(values[off])
                    scale = jnp.ones((q,), dtype).at[rows[~off]].set(values[~off])
                else:
                    matrix = matrix.at[rows, cols].set(values)
            if level.unit_variance or level.scaled_rows:
                matrix = matrix / jnp.sqrt(jnp.sum(matrix * matrix, axis=1, keepdims=True))
            if scale is not None:
                matrix = scale[:, None] * matrix
        return matrix

    @staticmethod
    def reference_probabilities(level: LevelSpec, class_logits):
        """Class probabilities pi at v = (1, 0, ...): softmax of the intercepts (equal if there is no class model)."""
        if class_logits is None:
            return jnp.full((level.classes,), 1.0 / level.classes)
        return jnp.exp(class_logits[:, 0] - jax.scipy.special.logsumexp(class_logits[:, 0]))

    def _locations(self, level: LevelSpec, values, class_logits):
        """Location matrix (C, q); a centred column's last entry is -sum_{c<C} pi_c e_c / pi_C."""
        C = level.classes
        pi = self.reference_probabilities(level, class_logits)
        columns, start = [], 0
        for k in range(level.dim):
            if level.centred[k]:
                head = values[start : start + C - 1]
                columns.append(jnp.concatenate([head, -(pi[:-1] @ head)[None] / pi[-1]]))
                start += C - 1
            else:
                columns.append(values[start : start + C])
                start += C
        return jnp.stack(columns, axis=1)

    def pack(self, beta, cholesky, log_dispersion=None, loadings=None, paths=None, covariate_paths=None,
             thresholds=None, scale=None, threshold_effects=None, locations=None, class_logits=None,
             zero_inflation=None) -> np.ndarray:
        """Build theta (host side) from structured values; loadings/paths default to 1 and 0.

        ``thresholds``: increasing ordinal thresholds kappa (default: evenly spaced around 0).
        ``locations``: per level, the full (C, q) location matrix of a discrete level (centred
        columns must satisfy the centring; their last entry is implied); ``class_logits``:
        (C - 1, n_v) membership coefficients (default 0: equal class probabilities).
        """
        theta = np.zeros(self.size)
        theta[: self.n_fixed] = np.asarray(beta, float)
        for kind, index, start, count in self._segments():
            if not count:
                continue
            if kind == "dispersion":
                theta[start : start + count] = np.broadcast_to(np.asarray(log_dispersion, float), (count,))
                continue
            if kind in ("scale", "zero_inflation"):
                given = scale if kind == "scale" else zero_inflation
                theta[start : start + count] = 0.0 if given is None else np.asarray(given, float)
                continue
            if kind == "threshold_effects":
                theta[start : start + count] = 0.0 if threshold_effects is None else np.asarray(threshold_effects, float)
                continue
            if kind == "class_logits":
                theta[start : start + count] = 0.0 if class_logits is None else np.asarray(class_logits, float).ravel()
                continue
            if kind == "locations":
                if locations is None:
                    continue
                matrix = np.asarray(locations[index], float)
                theta[start : start + count] = [matrix[c, k] for c, k in self.spec.levels[index].location_positions]
                continue
            if kind == "thresholds":
                for a, c in self.spec.threshold_layout:
                    kappa = np.arange(c) - (c - 1) / 2 if thresholds is None else np.asarray(thresholds, float)[a : a + c]
                    theta[start + a : start + a + c] = np.concatenate([kappa[:1], np.log(np.diff(kappa))])
                continue
            level = self.spec.levels[index]
            if kind == "loadings":
                values = loadings[index] if loadings is not None else np.ones(count)
            elif kind in ("paths", "covariate_paths"):
                given = paths if kind == "paths" else covariate_paths
                values = given[index] if given is not None else np.zeros(count)
            elif kind in ("products", "cross_paths"):
                values = np.zeros(count)
            else:
                factor = np.asarray(cholesky[index], float)
                if level.scaled_rows:  # d_k = sign(L_kk) |L_k.| on the diagonal, x_kj = L_kj / L_kk below
                    diagonal = np.where(np.diag(factor) == 0.0, 1e-8, np.diag(factor))
                    norms = np.sign(diagonal) * np.sqrt(np.sum(factor**2, axis=1))
                    factor = np.where(np.eye(len(factor), dtype=bool), norms[:, None], factor / diagonal[:, None])
                values = np.array([factor[r, c] for r, c in level.cholesky_positions])
            theta[start : start + count] = values
        return theta

    # ---- reported scale -------------------------------------------------------------------
    @staticmethod
    def _covariance_pairs(level: LevelSpec) -> list[tuple[int, int]]:
        pairs = []
        if level.discrete:
            return pairs
        for block in level.blocks:
            for i, row in enumerate(block):
                for col in block[: i + 1]:
                    if not (level.unit_variance and row == col):
                        pairs.append((row, col))
        return pairs

    def reported_names(self) -> list[str]:
        """Names of reported parameters in order."""
        names = list(self.spec.fixed_names) + list(self.spec.threshold_names)
        for level in self.spec.levels:
            names += [l.name for l in self._free_loadings(level)]
        for level in self.spec.levels:
            names += [p.name for p in level.paths] + [p.name for p in level.covariate_paths]
            names += [p.name for p in level.products] + [p.name for p in level.cross_paths]
        for level in self.spec.levels:
            names += [level.covariance_name(r, c) for r, c in self._covariance_pairs(level)]
        names += list(self.spec.dispersions) + list(self.spec.scale_names) + list(self.spec.threshold_effect_names)
        return names + list(self.spec.zero_inflation_names) + self._class_names()

    def _class_names(self) -> list[str]:
        """Reported names of a discrete level: locations, implied (co)variances of centred latents,
        membership logits and (without concomitant variables) the class probabilities."""
        level = self.spec.discrete_level
        if level is None:
            return []
        names = [level.location_name(c, k) for k in range(level.dim) for c in range(level.classes)]
        centred = [k for k in range(level.dim) if level.centred[k]]
        names += [level.covariance_name(r, c) for i, r in enumerate(centred) for c in centred[: i + 1]]
        names += list(self.spec.class_logit_names)
        if self.spec.class_covariates == ("(Intercept)",):
            names += [f"P({level.class_name}{c + 1})" for c in range(level.classes)]
        return names

    def reported(self, theta):
        """theta -> reported parameter vector (a smooth map, used with the delta method; ``reported_values``)."""
        from .reported_values import reported_values

        return reported_values(self, theta)

    def from_reported(self, values) -> np.ndarray:
        """theta from reported values; covariances missing from ``values`` are taken as 0."""
        values = dict(values)
        beta = [values[name] for name in self.spec.fixed_names]
        factors, loadings, paths, covariate_paths = [], [], [], []
        for level in self.spec.levels:
            psi = np.eye(level.dim) if level.unit_variance else np.zeros((level.dim, level.dim))
            for r, c in self._covariance_pairs(level):
                psi[r, c] = psi[c, r] = values.get(level.covariance_name(r, c), 0.0)
            factors.append(np.linalg.cholesky(psi))
            loadings.append([values[l.name] for l in self._free_loadings(level)])
            paths.append([values[p.name] for p in level.paths])
            covariate_paths.append([values[p.name] for p in level.covariate_paths])
        log_dispersion = [np.log(values[n]) / power
                          for n, power in zip(self.spec.dispersions, self.spec.reported_dispersion_powers)]
        thresholds = [values[n] for n in self.spec.threshold_names] or None
        theta = self.pack(beta, factors, log_dispersion if log_dispersion else None, loadings, paths, covariate_paths,
                          thresholds, [values[n] for n in self.spec.scale_names],
                          [values[n] for n in self.spec.threshold_effect_names] or None,
                          zero_inflation=[values[n] for n in self.spec.zero_inflation_names])
        for kind, index, start, count in self._segments():  # unit-variance rows: off-diagonals of normalised L
            if kind == "cholesky" and count and self.spec.levels[index].unit_variance:
                factor = factors[index] / np.diag(factors[index])[:, None]
                theta[start : start + count] = [factor[r, c] for r, c in self.spec.levels[index].cholesky_positions]
        return theta
