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
(``ROW_KEYS_AXIS1``, and the loadings ``Z_outer2``... of higher levels); ``chunk_cluster`` and the
``parent`` pointers of every level are renumbered; every other array is per level-2 unit or per top unit
(see ``partition``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import GllammError
from ..integrate.shared_gaussian import PATTERN_KEYS

from .array_keys import POINTERS, ROW_KEYS, ROW_KEYS_AXIS1  # noqa: F401  (re-exported)


def _row_key_axis1(key: str) -> bool:
    """Row arrays with the chunk axis second, including the loadings of levels above the third (Z_outer2...)."""
    return key in ROW_KEYS_AXIS1 or (key.startswith("Z_outer") and key[7:].isdigit())


def _pointer(key: str) -> bool:
    """Pointers renumbered within parts: chunk -> unit, and unit -> unit of the level above (parent, parent2...)."""
    return key in POINTERS or (key.startswith("parent") and key[6:].isdigit())


@dataclass(frozen=True)
class PartShapes:
    """Common shapes of every part: chunk width, chunks, and the units of every level per part (the first
    grouping level first, the top level last; one entry without nested levels)."""

    width: int
    chunks: int
    units: tuple

    @property
    def tops(self) -> int:
        return self.units[-1]

    def union(self, other: "PartShapes") -> "PartShapes":
        """The smallest shapes holding both (processes agree on the union of their own shapes)."""
        return PartShapes.from_tuple(tuple(max(a, b) for a, b in zip(self.as_tuple(), other.as_tuple())))

    def as_tuple(self) -> tuple:
        return (self.width, self.chunks) + tuple(self.units)

    @classmethod
    def from_tuple(cls, values) -> "PartShapes":
        values = [int(v) for v in values]
        return cls(values[0], values[1], tuple(values[2:]))


@dataclass(frozen=True)
class Partition:
    """Stacked arrays (parts, ...) and where each part's clusters come from.

    level_index: per level (the first grouping level first, the top last) an array (parts, slots) with the
    position of each unit slot in the design's order of that level's units (-1 for padding).
    """

    arrays: dict
    level_index: tuple
    shapes: PartShapes

    @property
    def top_index(self) -> np.ndarray:
        """(parts, tops): positions of the top-level clusters."""
        return self.level_index[-1]

    @property
    def unit_index(self) -> np.ndarray:
        """(parts, units): positions of the first-level units."""
        return self.level_index[0]


def unit_hierarchy(data: dict) -> tuple[np.ndarray, list, list]:
    """(unit of each chunk, pointers of every level to the level above, units per level, first to top)."""
    chunk_unit = np.asarray(data["chunk_cluster"])
    parents = []
    while (key := "parent" if not parents else f"parent{len(parents) + 1}") in data:
        parents.append(np.asarray(data[key]))
    counts = [p.shape[0] for p in parents] + [int(np.asarray(data["cluster_weight"]).shape[0])]
    return chunk_unit, parents, counts


def _bounds(data: dict, n_parts: int) -> tuple[list, np.ndarray]:
    """First unit of each part at every level (first to top, n_parts + 1 boundaries each) and chunk bounds."""
    chunk_unit, parents, _ = unit_hierarchy(data)
    level_bounds = [split_points(data, n_parts)]
    for parent in reversed(parents):
        level_bounds.insert(0, np.searchsorted(parent, level_bounds[0], side="left"))
    return level_bounds, np.searchsorted(chunk_unit, level_bounds[0], side="left")


def _top_of(unit: np.ndarray, parents: list) -> np.ndarray:
    for parent in parents:
        unit = parent[unit]
    return unit


def split_points(data: dict, n_parts: int) -> np.ndarray:
    """First top-level cluster of each part (n_parts + 1 boundaries), balancing the rows (chunks) per part."""
    chunk_unit, parents, counts = unit_hierarchy(data)
    n_top = counts[-1]
    chunks_per_top = np.bincount(_top_of(chunk_unit, parents), minlength=n_top)
    cumulative = np.concatenate([[0], np.cumsum(chunks_per_top)])
    targets = cumulative[-1] * np.arange(1, n_parts) / n_parts
    inner = np.searchsorted(cumulative, targets, side="left")
    return np.concatenate([[0], np.clip(inner, 0, n_top), [n_top]]).astype(int)


def part_shapes(data: dict, n_parts: int) -> PartShapes:
    """Shapes needed to hold this design's parts (the largest part in each dimension)."""
    level_bounds, chunk_bounds = _bounds(data, n_parts)
    width = int(np.asarray(data["y"]).shape[1])
    return PartShapes(width, max(1, int(np.diff(chunk_bounds).max())),
                      tuple(max(1, int(np.diff(b).max())) for b in level_bounds))


def partition(data: dict, n_parts: int, shapes: PartShapes | None = None, top_keys=frozenset()) -> Partition:
    """Split ``data`` into ``n_parts`` parts of whole top-level clusters, padded to ``shapes``.

    With nested levels, ``cluster_weight`` is per top unit, ``w_outer``/``w_outer2``... per unit of their
    level, the other per-unit arrays per first-level unit unless named in ``top_keys`` (the class arrays
    when the classes are top units).
    """
    # (the row patterns point to chunks, which parts renumber: parts take the per-cluster path)
    data = {key: np.asarray(value) for key, value in data.items() if key not in PATTERN_KEYS}
    unknown = {key for key in data if key not in ROW_KEYS and not _row_key_axis1(key) and not _pointer(key)}
    unknown = {key for key in unknown if not key.startswith(("w_outer", "unit_weight"))}
    unknown -= {"cluster_weight", "w", "unit_weight", "class_covariates", "class_allowed"}
    if unknown:  # a new array kind must be placed here before it can be partitioned
        raise GllammError(f"Cannot split the design arrays {sorted(unknown)} into parts of clusters.")
    own = part_shapes(data, n_parts)
    shapes = own if shapes is None else shapes
    if own.union(shapes) != shapes:
        raise GllammError(f"The parts need shapes {own.as_tuple()}, larger than the agreed {shapes.as_tuple()}.")
    chunk_unit, parents, _ = unit_hierarchy(data)
    nested = bool(parents)
    level_bounds, chunk_bounds = _bounds(data, n_parts)

    parts, level_index = [], [[] for _ in level_bounds]
    for k in range(n_parts):
        slots = [_pad(np.arange(b[k], b[k + 1]), size) for b, size in zip(level_bounds, shapes.units)]
        chunk_slots = _pad(np.arange(chunk_bounds[k], chunk_bounds[k + 1]), shapes.chunks)
        part = {}
        for key, value in data.items():
            if key in ROW_KEYS:
                part[key] = _pad_width(value[np.maximum(chunk_slots, 0)], shapes.width)
            elif _row_key_axis1(key):
                part[key] = _pad_width(value[:, np.maximum(chunk_slots, 0)], shapes.width)
            elif _pointer(key):
                continue
            else:
                part[key] = value[np.maximum(slots[_level_of(key, nested, top_keys, len(slots))], 0)]
        # padding contributes nothing: zero weights, pointers to the last real slot (sorted)
        part["weight"] = part["weight"] * (chunk_slots >= 0)[:, None] * _width_mask(data["weight"], shapes.width)
        part["cluster_weight"] = np.where(slots[-1] >= 0, part["cluster_weight"], 0.0)
        part["chunk_cluster"] = _renumbered(chunk_unit, chunk_slots, level_bounds[0][k])
        for index, parent in enumerate(parents):
            part["parent" if index == 0 else f"parent{index + 1}"] = _renumbered(parent, slots[index],
                                                                                 level_bounds[index + 1][k])
        parts.append(part)
        for index, slot in enumerate(slots):
            level_index[index].append(slot)
    arrays = {key: np.stack([part[key] for part in parts]) for key in parts[0]}
    arrays = {key: value.astype(data[key].dtype) for key, value in arrays.items()}
    return Partition(arrays, tuple(np.stack(index) for index in level_index), shapes)


def _level_of(key: str, nested: bool, top_keys, n_levels: int) -> int:
    """The level whose units a per-unit array belongs to: covariates and sampling weights of a level above
    the second (``w_outer``, ``w_outer2``..., ``unit_weight2``...) to that level, cluster weights and
    ``top_keys`` to the top, the rest to the first grouping level."""
    if not nested or key == "cluster_weight" or key in top_keys:
        return n_levels - 1
    if key.startswith("w_outer"):
        return int(key[7:] or 1)
    if key.startswith("unit_weight") and key[11:]:
        return int(key[11:])
    return 0


def _renumbered(pointer: np.ndarray, slots: np.ndarray, first: int) -> np.ndarray:
    """A pointer restricted to the part's slots and renumbered from the part's first unit above; padding
    slots point to the part's last unit above (kept sorted)."""
    real = slots[slots >= 0]
    last = int(pointer[real].max()) - first if len(real) else 0
    return np.where(slots >= 0, pointer[np.maximum(slots, 0)] - first, last).astype(np.int32)


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
