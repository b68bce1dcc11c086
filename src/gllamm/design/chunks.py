"""Lay out rows of unequal-sized clusters as fixed-width chunks.

Each cluster's rows are cut into chunks of ``width`` rows (the last one
padded with zero-weight rows). Every array then has one shape,
(chunks, width), so one compiled likelihood serves all clusters; sums over a
cluster's rows are sums within chunks followed by a segment sum over the
chunks of each cluster (chunks are sorted by cluster).

The width minimises  padded_rows + overhead * chunks , a proxy for the work
per likelihood evaluation.
"""

from __future__ import annotations

import numpy as np


def choose_width(sizes: np.ndarray, overhead: float = 8.0) -> int:
    """Chunk width minimising padded rows plus a per-chunk overhead."""
    sizes = np.asarray(sizes)
    candidates = np.unique(np.concatenate([np.arange(1, 65), 2 ** np.arange(7, 12), [sizes.max()]]))
    candidates = candidates[candidates <= sizes.max()]
    best, best_cost = 1, np.inf
    for width in candidates:
        chunks = np.ceil(sizes / width).sum()
        cost = chunks * width + overhead * chunks
        if cost < best_cost:
            best, best_cost = int(width), cost
    return best


def chunk_rows(codes: np.ndarray, width: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Row positions (chunks, width) with -1 for padding, and the cluster of each chunk."""
    codes = np.asarray(codes)
    sizes = np.bincount(codes)
    if width is None:
        width = choose_width(sizes)
    order = np.argsort(codes, kind="stable")
    n_chunks_per = np.ceil(sizes / width).astype(int)
    total = int(n_chunks_per.sum())
    rows = np.full((total, width), -1, dtype=np.int64)
    chunk_cluster = np.repeat(np.arange(len(sizes)), n_chunks_per)
    # position of each sorted row within its cluster
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    within = np.arange(len(codes)) - np.repeat(starts, sizes)
    chunk_start = np.concatenate([[0], np.cumsum(n_chunks_per)[:-1]])
    sorted_codes = codes[order]
    chunk_index = chunk_start[sorted_codes] + within // width
    rows[chunk_index, within % width] = order
    return rows, chunk_cluster
