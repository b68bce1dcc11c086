"""Post-estimation on data too large for one piece: per-cluster functions evaluated part by part.

Empirical Bayes predictions, cluster log-likelihoods and cluster scores of a cluster depend only on
that cluster's rows, so they can be computed one part of whole clusters at a time (the parts of
``design.partition``, all of one shape, so one compiled function serves them) and put back in the
design's cluster order. Memory is then bounded by one part, as in the fit.
"""

from __future__ import annotations

import numpy as np

from ..design.partition import partition, unit_hierarchy
from ..objective_programs import settled_modes


class PartwiseObjective:
    """The per-cluster functions of an ``Objective`` used after the fit, evaluated part by part.

    Outputs are in the design's order: top-level clusters (and, for ``nested_posterior``, the units of every level).
    ``modes`` returns one state per part; pass it back to the other functions as it is.
    """

    def __init__(self, objective, data: dict, n_parts: int, top_keys=frozenset()):
        self.base = objective
        self.table, self.integration = objective.table, objective.integration
        self.reported = objective.reported
        host = {key: np.asarray(value) for key, value in data.items()}
        self.n_top = host["cluster_weight"].shape[0]
        self._parts = partition(host, n_parts, top_keys=top_keys)
        self._counts = unit_hierarchy(host)[2]  # units per level, first to top

    @property
    def n_parts(self) -> int:
        return self._parts.top_index.shape[0]

    def _part(self, k: int) -> dict:
        return {key: value[k] for key, value in self._parts.arrays.items()}

    def _stitch(self, outputs: list, index: np.ndarray, size: int) -> np.ndarray:
        """Per-part outputs (slots, ...) into one array (size, ...) in the design's order."""
        first = np.asarray(outputs[0])
        out = np.zeros((size,) + first.shape[1:], dtype=first.dtype)
        for k, value in enumerate(outputs):
            valid = index[k] >= 0
            out[index[k][valid]] = np.asarray(value)[valid]
        return out

    def _per_top(self, outputs: list) -> np.ndarray:
        return self._stitch(outputs, self._parts.top_index, self.n_top)

    def mode_start(self, data=None):
        return None

    def modes(self, theta, data=None, start=None) -> list:
        """The integrand's modes in every part (start values of each part's own)."""
        states = []
        for k in range(self.n_parts):
            part = self._part(k)
            states.append(settled_modes(self.base, theta, part, self.base.modes(theta, part, self.base.mode_start(part))))
        return states

    def _each(self, function, theta, states) -> list:
        return [function(theta, self._part(k), states[k]) for k in range(self.n_parts)]

    def cluster_values(self, theta, data, states) -> np.ndarray:
        """log L_c of every top-level cluster."""
        return self._per_top(self._each(self.base.cluster_values, theta, states))

    def cluster_scores(self, theta, data, states) -> np.ndarray:
        """d log L_c / d theta of every top-level cluster (clusters, parameters)."""
        return self._per_top(self._each(self.base.cluster_scores, theta, states))

    def _pair_per_top(self, outputs: list) -> tuple:
        """Per-part (means, covariances) into the design's cluster order."""
        return tuple(self._per_top([out[i] for out in outputs]) for i in range(2))

    def posterior(self, theta, data, states):
        """Posterior means and covariances of the standardised latent variables per cluster."""
        return self._pair_per_top(self._each(self.base.posterior, theta, states))

    def latent_posterior(self, theta, data, states):
        """Posterior means and covariances of the latent variables eta per cluster."""
        return self._pair_per_top(self._each(self.base.latent_posterior, theta, states))

    def posterior_modes(self, theta, data, states):
        """Posterior modes and inverse curvatures per cluster."""
        return self._pair_per_top(self._each(self.base.posterior_modes, theta, states))

    def conditional_ml(self, theta, data, start=None):
        """ML estimates of each cluster's latent variables and their inverse curvature (from 0)."""
        outputs = [self.base.conditional_ml(theta, self._part(k), np.zeros_like(self.base.mode_start(self._part(k))))
                   for k in range(self.n_parts)]
        return self._pair_per_top(outputs)

    def nested_posterior(self, theta, data, states):
        """(means, covariances) of the latent variables of every level, level 2 first."""
        outputs = self._each(self.base.nested_posterior, theta, states)
        out = []
        for index in range(len(outputs[0])):
            position, count = self._parts.level_index[index], self._counts[index]
            out.append(tuple(self._stitch([part[index][i] for part in outputs], position, count) for i in (0, 1)))
        return out
