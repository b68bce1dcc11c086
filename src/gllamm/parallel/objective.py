"""The log-likelihood and its derivatives summed over parts of clusters, on one device or many.

Every part (``design.partition``) is a complete small design, so the functions of
``objective.py`` apply to it unchanged:

    log L = psum_devices  sum_{parts on the device}  log L_part,

and likewise the gradient and Hessian(-vector products). Within a device the parts are visited
by a ``lax.scan``, so only one part's (rows x nodes) intermediates are alive at a time; across
devices the part axis is sharded (``shard_map``) and the partial sums are combined with ``psum``.
Per-cluster outputs (modes, cluster log-likelihoods, posterior moments) stay sharded, one slot
per cluster of every part.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import PartitionSpec

from ..objective import cluster_logliks, loglik, modes

from ..objective_programs import Objective, hessian_function
from .layout import AXIS, Layout

try:  # jax >= 0.6
    from jax import shard_map as _shard_map
except ImportError:  # pragma: no cover - older jax
    from jax.experimental.shard_map import shard_map as _shard_map

_REPLICATED, _SHARDED = PartitionSpec(), PartitionSpec(AXIS)


def _sharded(function, layout: Layout, in_specs, out_specs):
    """jit of ``function`` run per device on its block of parts (varying-axis checks off: the sums are psum'd)."""
    try:
        mapped = _shard_map(function, mesh=layout.mesh, in_specs=in_specs, out_specs=out_specs, check_vma=False)
    except TypeError:  # pragma: no cover - jax < 0.6 names it check_rep
        mapped = _shard_map(function, mesh=layout.mesh, in_specs=in_specs, out_specs=out_specs, check_rep=False)
    return jax.jit(mapped)


def _summed(function, layout: Layout, n_extra: int = 0):
    """jit(theta, parts, modes, *extra) -> sum over all parts of function(theta, part, modes, *extra)."""

    def local(theta, parts, part_modes, *extra):
        def step(total, xs):
            value = function(theta, xs[0], xs[1], *extra)
            return jax.tree_util.tree_map(jnp.add, total, value), None

        first = jax.tree_util.tree_map(lambda x: x[0], (parts, part_modes))
        shape = jax.eval_shape(lambda p, m: function(theta, p, m, *extra), *first)
        zero = jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), shape)
        total, _ = jax.lax.scan(step, zero, (parts, part_modes))
        return jax.tree_util.tree_map(lambda x: jax.lax.psum(x, AXIS), total)

    specs = (_REPLICATED, _SHARDED, _SHARDED) + (_REPLICATED,) * n_extra
    return _sharded(local, layout, specs, _REPLICATED)


def _mapped(function, layout: Layout):
    """jit(theta, parts, state) -> function(theta, part, state_part) for every part, stacked (sharded)."""

    def local(theta, parts, state):
        return jax.lax.map(lambda xs: function(theta, xs[0], xs[1]), (parts, state))

    return _sharded(local, layout, (_REPLICATED, _SHARDED, _SHARDED), _SHARDED)


@dataclass(frozen=True, eq=False)
class PartitionedObjective:
    """The ``Objective`` interface used by the optimiser, on sharded parts of clusters.

    ``data`` is ``layout.data(design)``: every array with a leading parts axis; modes likewise.
    """

    base: Objective
    layout: Layout

    def __post_init__(self):
        table, integration = self.base.table, self.base.integration

        def value(theta, part, m):
            return loglik(table, integration, theta, part, m)

        def hessian(theta, part, m, directions):
            return hessian_function(table, integration)(theta, part, m, directions)

        def mode_fn(theta, part, start):
            return modes(table, integration, theta, part, start)

        def per_cluster(theta, part, m):
            return cluster_logliks(table, integration, theta, part, m)

        object.__setattr__(self, "_value", _summed(value, self.layout))
        object.__setattr__(self, "_value_and_grad", _summed(jax.value_and_grad(value), self.layout))
        object.__setattr__(self, "_hessian", _summed(hessian, self.layout, n_extra=1))
        object.__setattr__(self, "_modes", _mapped(mode_fn, self.layout))
        object.__setattr__(self, "_cluster_values", _mapped(per_cluster, self.layout))
        object.__setattr__(self, "_scores", _mapped(jax.jacfwd(per_cluster), self.layout))

    @property
    def table(self):
        return self.base.table

    @property
    def integration(self):
        return self.base.integration

    def value(self, theta, data, m):
        """log L(theta), summed over all parts."""
        return self._value(jnp.asarray(theta), data, m)

    def value_and_grad(self, theta, data, m):
        """(log L, d log L / d theta), summed over all parts."""
        return self._value_and_grad(jnp.asarray(theta), data, m)

    def hessian(self, theta, data, m, directions=None):
        """H D (or H), summed over all parts, from Hessian-vector products within each part."""
        theta = jnp.asarray(theta)
        if directions is None:
            directions = jnp.eye(theta.shape[0], dtype=theta.dtype)
        return self._hessian(theta, data, m, jnp.asarray(directions))

    def modes(self, theta, data, start):
        """Per-part modes from per-part starting values (sharded like the data)."""
        return self._modes(jnp.asarray(theta), data, start)

    def cluster_values(self, theta, data, m):
        """log L_c of every cluster slot (parts, clusters per part); padding slots are 0-weight clusters."""
        return self._cluster_values(jnp.asarray(theta), data, m)

    def cluster_scores(self, theta, data, m):
        """d log L_c / d theta of every cluster slot (parts, clusters per part, parameters)."""
        return self._scores(jnp.asarray(theta), data, m)

    def mode_start(self, data):
        """Starting modes of every part (the plain objective's, for one part's shapes, repeated)."""
        one = {key: jax.ShapeDtypeStruct(value.shape[1:], value.dtype) for key, value in data.items()}
        start = self.base.mode_start(one)
        return jax.tree_util.tree_map(
            lambda x: self.layout.put(np.broadcast_to(np.asarray(x), (self.layout.local_parts,) + np.shape(x))),
            start)


def all_finite(tree) -> bool:
    """Whether every leaf is finite: on the host when this process holds the whole array (no compiled
    program to load), on the devices for arrays sharded over several processes."""
    return all(bool(np.isfinite(np.asarray(x)).all()) if getattr(x, "is_fully_addressable", True)
               else bool(jnp.all(jnp.isfinite(x))) for x in jax.tree_util.tree_leaves(tree))
