"""Where the clusters live: a device mesh, parts of clusters per device, and the sharded arrays.

A ``Layout`` spreads the top-level clusters over a 1-D mesh of devices (axis ``"clusters"``):
every device holds ``parts_per_device`` parts of whole clusters (``design.partition``) and works
through them one at a time, so memory is bounded by one part (rows x quadrature nodes), and the
devices' partial sums are combined with ``psum``. With several processes (``jax.distributed``)
each process holds the parts of its own clusters; all processes agree on the shapes first.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ..design.partition import Partition, PartShapes, part_shapes, partition
from ..errors import GllammError

AXIS = "clusters"
_BYTES_PER_ROW_NODE = 8 * 48  # float64 intermediates of the value and gradient per row and node (measured order)


def available_memory() -> int:
    """Bytes of memory available to this process (device memory on accelerators, MemAvailable on CPUs)."""
    device = jax.local_devices()[0]
    if device.platform != "cpu":
        stats = device.memory_stats() or {}
        if "bytes_limit" in stats:
            return int(stats["bytes_limit"] - stats.get("bytes_in_use", 0))
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


_PART_BYTES = 2 * 1024 ** 3  # larger parts gain no speed (measured: 1e6 rows x 12 nodes in one part, 3.4 GB peak)


def auto_chunk_size(nodes_per_row: int, memory: int | None = None) -> int:
    """Rows per part such that one part's value-and-gradient intermediates take at most an eighth of the
    available memory (and 2 GiB): the data themselves, their parts and the optimiser's copies need the rest."""
    memory = available_memory() if memory is None else memory
    return max(1000, int(min(memory / 8, _PART_BYTES) / (_BYTES_PER_ROW_NODE * max(1, nodes_per_row))))


@dataclass(eq=False)
class Layout:
    """Clusters spread over ``mesh`` (one axis, ``"clusters"``), ``parts_per_device`` parts per device."""

    mesh: Mesh
    parts_per_device: int
    top_keys: frozenset = frozenset()  # per-unit arrays that belong to top units (classes of top units)
    _placed: dict = field(default_factory=dict)

    @property
    def n_devices(self) -> int:
        return int(self.mesh.devices.size)

    @property
    def n_parts(self) -> int:
        return self.n_devices * self.parts_per_device

    @property
    def local_parts(self) -> int:
        """Parts held by this process."""
        return len([d for d in self.mesh.devices.flat if d.process_index == jax.process_index()]) * \
            self.parts_per_device

    @property
    def multi_process(self) -> bool:
        return jax.process_count() > 1

    @property
    def sharding(self) -> NamedSharding:
        """Leading (parts) axis split over the devices."""
        return NamedSharding(self.mesh, PartitionSpec(AXIS))

    def put(self, local: np.ndarray) -> jax.Array:
        """A global array (parts, ...) from this process's parts (local_parts, ...)."""
        if self.multi_process:
            return jax.make_array_from_process_local_data(self.sharding, np.asarray(local))
        return jax.device_put(np.asarray(local), self.sharding)

    def split(self, design) -> Partition:
        """This process's parts of ``design`` (cached per design), with shapes agreed by all processes."""
        key = id(design)
        if key not in self._placed:
            data = design.data()
            shapes = part_shapes(data, self.local_parts)
            if self.multi_process:
                shapes = agree_on_shapes(shapes)
            parts = partition(data, self.local_parts, shapes, self.top_keys)
            placed = {k: self.put(v) for k, v in parts.arrays.items()}
            # the host copies are not needed once the arrays are on the devices (10^7 rows: ~1 GB)
            self._placed[key] = (design, replace(parts, arrays={}), placed)
        return self._placed[key][1]

    def data(self, design) -> dict:
        """The sharded arrays (parts, ...) of ``design``: the ``data`` argument of the partitioned objective."""
        self.split(design)
        return self._placed[id(design)][2]


def agree_on_shapes(shapes: PartShapes) -> PartShapes:
    """The union of every process's part shapes (a small all-gather)."""
    from jax.experimental import multihost_utils

    everyone = np.asarray(multihost_utils.process_allgather(np.asarray(shapes.as_tuple(), dtype=np.int64)))
    return PartShapes.from_tuple(everyone.reshape(-1, len(shapes.as_tuple())).max(axis=0))


def make_layout(design, nodes_per_row: int, devices: int | None = None, chunk_size: int | None = None,
                top_keys=frozenset()) -> Layout | None:
    """The layout for a fit, or None when one device holds everything in one piece (the plain path).

    devices: number of devices (default: all visible; with several processes all of them);
    chunk_size: rows per part (default from available memory, ``auto_chunk_size``).
    """
    visible = jax.devices()
    if devices is None:
        devices = len(visible)
    if not isinstance(devices, (int, np.integer)) or devices < 1:
        raise GllammError(f"devices must be a positive integer (got {devices!r}).")
    if devices > len(visible):
        platform = visible[0].platform
        hint = (" For several CPU devices start Python with "
                f"XLA_FLAGS=--xla_force_host_platform_device_count={devices}." if platform == "cpu" else "")
        raise GllammError(f"devices={devices} asked for, but only {len(visible)} {platform} device(s) are "
                          f"visible.{hint}")
    if jax.process_count() > 1 and devices != len(visible):
        raise GllammError(f"With {jax.process_count()} processes every device takes part: use devices=None "
                          f"(there are {len(visible)}).")
    if chunk_size is not None and (not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1):
        raise GllammError(f"chunk_size must be a positive number of rows (got {chunk_size!r}).")
    rows = int(np.asarray(design.data()["weight"]).size)
    size = auto_chunk_size(nodes_per_row) if chunk_size is None else int(chunk_size)
    local_devices = devices if jax.process_count() == 1 else jax.local_device_count()
    parts_per_device = max(1, math.ceil(rows / (size * local_devices)))
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        parts_per_device = int(np.max(multihost_utils.process_allgather(np.asarray([parts_per_device]))))
    if devices == 1 and parts_per_device == 1 and jax.process_count() == 1:
        return None
    mesh = Mesh(np.asarray(visible[:devices]), (AXIS,))
    return Layout(mesh, parts_per_device, frozenset(top_keys))
