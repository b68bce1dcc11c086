"""Discrete choice and rankings in long format: one row per alternative, sets given by a column.

A response column of ranks (1 = chosen / ranked first, 2 = second, ...; 0 or missing = not
ranked) covers both: a discrete choice is a ranking of its first alternative only. The
exploded (rank-ordered) logit writes the probability of a ranking of R alternatives out of
A as a product of choices (Plackett-Luce),

    P(ranking) = prod_{t=1..S} exp(eta_{a_t}) / sum_{a not ranked before t} exp(eta_a),

with S = R, or A - 1 for a full ranking (the last stage is certain). Every stage becomes one
choice set of K slots (K = the largest set), slots of absent alternatives unavailable, so
the likelihood is the multinomial kernel of families/multinomial.py over stage sets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import GllammError


@dataclass(frozen=True)
class ChoiceLayout:
    """Stage sets of K slots: which data row fills each slot (-1: none), availability and choice."""

    slot_rows: np.ndarray  # (stages * K,) row of the data in each slot, -1 for an empty slot
    available: np.ndarray  # (stages * K,) 1 where the alternative can still be chosen at that stage
    chosen: np.ndarray  # (stages * K,) 1 for the alternative ranked at that stage
    stage_set: np.ndarray  # (stages,) the choice set each stage belongs to
    set_size: int  # K
    n_sets: int


def code_ranks(values, set_codes: np.ndarray, set_labels, column: str) -> np.ndarray:
    """Integer ranks (0 = not ranked), checked: in every set the ranks given are 1..R, once each."""
    series = pd.Series(values)
    if series.dtype == bool:
        series = series.astype(float)
    if not pd.api.types.is_numeric_dtype(series):
        raise GllammError(f"Response '{column}' of a choice/ranking model must be ranks: 1 for the chosen "
                          f"(first-ranked) alternative, 2 for the second, ..., 0 or missing for unranked ones; "
                          f"it has dtype {series.dtype}.")
    ranks = series.fillna(0).to_numpy(dtype=float)
    if np.any(ranks < 0) or np.any(ranks != np.round(ranks)) or not np.all(np.isfinite(ranks)):
        raise GllammError(f"Response '{column}' must hold whole-number ranks (1 = first, 0 or missing = not ranked).")
    ranks = ranks.astype(np.int64)
    n_sets = len(set_labels)
    n_ranked = np.bincount(set_codes, weights=ranks > 0, minlength=n_sets).astype(int)
    empty = np.flatnonzero(n_ranked == 0)
    if empty.size:
        raise GllammError(f"Choice set '{set_labels[empty[0]]}' has no chosen alternative ({empty.size} set(s) in all): "
                          f"give rank 1 to the chosen alternative in '{column}', or drop the set.")
    ranked = ranks > 0
    pairs = pd.Series(1, index=pd.MultiIndex.from_arrays([set_codes[ranked], ranks[ranked]])).groupby(level=[0, 1]).size()
    tied = pairs[pairs > 1]
    if len(tied):
        s, r = tied.index[0]
        raise GllammError(f"Choice set '{set_labels[s]}' gives rank {r} to {tied.iloc[0]} alternatives in '{column}': "
                          "ties are not allowed in the exploded logit; give distinct ranks 1, 2, ... (0 or missing "
                          "for unranked alternatives).")
    top = np.zeros(n_sets, dtype=int)
    np.maximum.at(top, set_codes[ranked], ranks[ranked])
    gap = np.flatnonzero(top != n_ranked)
    if gap.size:
        raise GllammError(f"Choice set '{set_labels[gap[0]]}' has ranks that skip a number (highest rank {top[gap[0]]} "
                          f"but {n_ranked[gap[0]]} ranked alternatives) in '{column}'; ranks must be 1, 2, ..., R.")
    return ranks


def stage_layout(set_codes: np.ndarray, n_sets: int, ranks: np.ndarray | None = None) -> ChoiceLayout:
    """Stage sets of the exploded logit (ranks=None: one first-choice set per choice set, all available)."""
    set_codes = np.asarray(set_codes)
    sizes = np.bincount(set_codes, minlength=n_sets)
    K = int(sizes.max())
    order = np.argsort(set_codes, kind="stable")
    position = np.arange(len(set_codes)) - np.repeat(np.concatenate([[0], np.cumsum(sizes)[:-1]]), sizes)
    grid = np.full((n_sets, K), -1, dtype=np.int64)
    grid[set_codes[order], position] = order
    if ranks is None:
        stages = np.ones(n_sets, dtype=int)
        rank_grid = np.zeros((n_sets, K), dtype=np.int64)
    else:
        rank_grid = np.where(grid >= 0, np.asarray(ranks)[np.maximum(grid, 0)], 0)
        stages = np.minimum((rank_grid > 0).sum(axis=1), sizes - 1)
    stage_set = np.repeat(np.arange(n_sets), stages)
    t = np.arange(len(stage_set)) - np.repeat(np.concatenate([[0], np.cumsum(stages)[:-1]]), stages) + 1
    slot_rows = grid[stage_set]
    slot_ranks = rank_grid[stage_set]
    available = (slot_rows >= 0) & ((slot_ranks == 0) | (slot_ranks >= t[:, None]))
    chosen = (slot_ranks == t[:, None]) & (slot_rows >= 0)
    return ChoiceLayout(slot_rows.reshape(-1), available.reshape(-1).astype(float), chosen.reshape(-1).astype(float),
                        stage_set, K, n_sets)


def slot_values(layout: ChoiceLayout, matrix: np.ndarray) -> np.ndarray:
    """Row values (n, ...) placed in the slots (zeros in empty slots)."""
    rows = layout.slot_rows
    out = np.asarray(matrix)[np.maximum(rows, 0)]
    return np.where((rows >= 0).reshape((-1,) + (1,) * (out.ndim - 1)), out, 0.0)


def check_varies_within_sets(matrix: np.ndarray, names, set_codes: np.ndarray, what: str, hint: str) -> None:
    """Columns constant within every choice set cancel from the choice probabilities: an error naming them."""
    if matrix.shape[1] == 0:
        return
    frame = pd.DataFrame(matrix).groupby(set_codes)
    spread = (frame.max() - frame.min()).abs().max(axis=0).to_numpy()
    scale = np.maximum(np.abs(matrix).max(axis=0), 1.0)
    constant = [str(names[j]) for j in np.flatnonzero(spread <= 1e-12 * scale)]
    if constant:
        raise GllammError(f"{what} {', '.join(constant)} take(s) the same value for every alternative of each choice "
                          f"set, so they cancel from the choice probabilities and cannot be estimated. {hint}")
