"""Split a design's arrays into parts of whole top-level clusters, every part with the same shapes.

The likelihood is a sum over top-level clusters, so it is also a sum over any grouping of them:

    log L(theta) = sum_parts  sum_{c in part} w_c log L_c(theta).

Each part holds contiguous top-level clusters (with their level-2 units and row chunks) and is
padded to common shapes (chunks C, units U, top units T, chunk width W) so one compiled function
serves every part, on one device (a scan over parts: memory bounded by one part) or on many
(parts sharded over a device mesh). Padding contributes exactly zero:

* padding rows and chunks have weight 0 (values copied from a real row, so every kernel is finite);
* padding chunks belong to the part's last unit, padding units to its last top unit (kept sorted);
* padding clusters (top units) have cluster weight 0; a padding level-2 unit has no rows, so its
  integral is that of the prior, 1.

Arrays are identified by name: row arrays have the chunk axis first (``ROW_KEYS``) or second
(``ROW_KEYS_AXIS1``); ``chunk_cluster`` and ``parent`` are pointers that are renumbered; every other
array is per level-2 unit or per top unit (see ``partition``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import GllammError

ROW_KEYS = frozenset({"y", "trials", "constant", "offset", "weight", "dispersion_index", "member",
                      "threshold_start", "n_categories", "available"})
ROW_KEYS_AXIS1 = frozenset({"X", "Z", "T", "V", "Z_outer"})
POINTERS = frozenset({"chunk_cluster", "parent"})


@dataclass(frozen=True)
class PartShapes:
    """Common shapes of every part: chunk width, chunks, level-2 units and top-level units per part."""

    width: int
    chunks: int
    units: int
    tops: int

    def union(self, other: "PartShapes") -> "PartShapes":
        """The smallest shapes holding both (processes agree on the union of their own shapes)."""
        return PartShapes(*(max(a, b) for a, b in zip(self.as_tuple(), other.as_tuple())))

    def as_tuple(self) -> tuple[int, int, int, int]:
        return self.width, self.chunks, self.units, self.tops


@dataclass(frozen=True)
class Partition:
    """Stacked arrays (parts, ...) and where each part's clusters come from.

    top_index (parts, tops): position of each top-level cluster slot in the design's cluster order
    (-1 for padding); unit_index (parts, units): likewise for level-2 units of nested designs.
    """

    arrays: dict
    top_index: np.ndarray
    unit_index: np.ndarray
    shapes: PartShapes


def _hierarchy(data: dict) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(unit of each chunk, top unit of each unit, number of units, number of top units)."""
    chunk_unit = np.asarray(data["chunk_cluster"])
    n_top = int(np.asarray(data["cluster_weight"]).shape[0])
    if "parent" in data:
        parent = np.asarray(data["parent"])
        return chunk_unit, parent, parent.shape[0], n_top
    return chunk_unit, np.arange(n_top), n_top, n_top


def split_points(data: dict, n_parts: int) -> np.ndarray:
    """First top-level cluster of each part (n_parts + 1 boundaries), balancing the rows (chunks) per part."""
    chunk_unit, parent, _, n_top = _hierarchy(data)
    chunks_per_top = np.bincount(parent[chunk_unit], minlength=n_top)
    cumulative = np.concatenate([[0], np.cumsum(chunks_per_top)])
    targets = cumulative[-1] * np.arange(1, n_parts) / n_parts
    inner = np.searchsorted(cumulative, targets, side="left")
    return np.concatenate([[0], np.clip(inner, 0, n_top), [n_top]]).astype(int)


def part_shapes(data: dict, n_parts: int) -> PartShapes:
    """Shapes needed to hold this design's parts (the largest part in each dimension)."""
    chunk_unit, parent, _, _ = _hierarchy(data)
    bounds = split_points(data, n_parts)
    unit_bounds = np.searchsorted(parent, bounds, side="left")
    chunk_bounds = np.searchsorted(chunk_unit, unit_bounds, side="left")
    width = int(np.asarray(data["y"]).shape[1])
    return PartShapes(width, max(1, int(np.diff(chunk_bounds).max())), max(1, int(np.diff(unit_bounds).max())),
                      max(1, int(np.diff(bounds).max())))


def partition(data: dict, n_parts: int, shapes: PartShapes | None = None, top_keys=frozenset()) -> Partition:
    """Split ``data`` into ``n_parts`` parts of whole top-level clusters, padded to ``shapes``.

    With nested levels, ``cluster_weight`` and ``w_outer`` are per top unit, the other per-unit arrays
    per level-2 unit unless named in ``top_keys`` (the class arrays when the classes are top units).
    """
    data = {key: np.asarray(value) for key, value in data.items()}
    unknown = set(data) - ROW_KEYS - ROW_KEYS_AXIS1 - POINTERS - {"cluster_weight", "w", "unit_weight",
                                                                  "w_outer", "class_covariates", "class_allowed"}
    if unknown:  # a new array kind must be placed here before it can be partitioned
        raise GllammError(f"Cannot split the design arrays {sorted(unknown)} into parts of clusters.")
    own = part_shapes(data, n_parts)
    shapes = own if shapes is None else shapes
    if own.union(shapes) != shapes:
        raise GllammError(f"The parts need shapes {own.as_tuple()}, larger than the agreed {shapes.as_tuple()}.")
    chunk_unit, parent, n_units, n_top = _hierarchy(data)
    nested = "parent" in data
    bounds = split_points(data, n_parts)
    unit_bounds = np.searchsorted(parent, bounds, side="left")
    chunk_bounds = np.searchsorted(chunk_unit, unit_bounds, side="left")

    parts, top_index, unit_index = [], [], []
    for k in range(n_parts):
        tops = np.arange(bounds[k], bounds[k + 1])
        units = np.arange(unit_bounds[k], unit_bounds[k + 1])
        chunks = np.arange(chunk_bounds[k], chunk_bounds[k + 1])
        top_slots = _pad(tops, shapes.tops)
        unit_slots = _pad(units, shapes.units)
        chunk_slots = _pad(chunks, shapes.chunks)
        part = {}
        for key, value in data.items():
            if key in ROW_KEYS:
                part[key] = _pad_width(value[np.maximum(chunk_slots, 0)], shapes.width)
            elif key in ROW_KEYS_AXIS1:
                part[key] = _pad_width(value[:, np.maximum(chunk_slots, 0)], shapes.width)
            elif key in POINTERS:
                continue
            elif not nested or key in ("cluster_weight", "w_outer") or key in top_keys:
                part[key] = value[np.maximum(top_slots, 0)]
            else:
                part[key] = value[np.maximum(unit_slots, 0)]
        # padding contributes nothing: zero weights, pointers to the last real slot (sorted)
        part["weight"] = part["weight"] * (chunk_slots >= 0)[:, None] * _width_mask(data["weight"], shapes.width)
        part["cluster_weight"] = np.where(top_slots >= 0, part["cluster_weight"], 0.0)
        last_unit = max(len(units) - 1, 0)
        part["chunk_cluster"] = np.where(chunk_slots >= 0, chunk_unit[np.maximum(chunk_slots, 0)] - unit_bounds[k],
                                         last_unit).astype(np.int32)
        if nested:
            last_top = max(len(tops) - 1, 0)
            part["parent"] = np.where(unit_slots >= 0, parent[np.maximum(unit_slots, 0)] - bounds[k],
                                      last_top).astype(np.int32)
        parts.append(part)
        top_index.append(top_slots)
        unit_index.append(unit_slots)
    arrays = {key: np.stack([part[key] for part in parts]) for key in parts[0]}
    arrays = {key: value.astype(data[key].dtype) for key, value in arrays.items()}
    return Partition(arrays, np.stack(top_index), np.stack(unit_index), shapes)


def _pad(index: np.ndarray, size: int) -> np.ndarray:
    """Positions padded with -1 to ``size``."""
    return np.concatenate([index, np.full(size - len(index), -1, dtype=int)])


def _pad_width(values: np.ndarray, width: int) -> np.ndarray:
    """Widen the last (row-within-chunk) axis to ``width`` with copies of the first row."""
    missing = width - values.shape[-1]
    if missing == 0:
        return values
    return np.concatenate([values, np.repeat(values[..., :1], missing, axis=-1)], axis=-1)


def _width_mask(weight: np.ndarray, width: int) -> np.ndarray:
    """1 for the design's own row positions within a chunk, 0 for the added ones."""
    return (np.arange(width) < weight.shape[1]).astype(float)[None, :]
