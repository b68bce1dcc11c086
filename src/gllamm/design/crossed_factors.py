"""Crossed grouping factors in the chunked arrays: each row's unit and Z columns for every factor.

The rows form one cluster (the likelihood does not factor over units of any one factor); the arrays
``crossed_code{k}`` (chunks, width), ``crossed_Z{k}`` (p_k, chunks, width) and ``crossed_units{k}`` (n_k,), whose
length carries the number of units into the compiled programs, feed integrate/crossed.py, with the sparsity
pattern of the joint Hessian (``crossed_structure``).
"""

from __future__ import annotations

import numpy as np

from ..errors import GllammError


def check_crossed_options(levels, family, options, choice_set) -> None:
    """Options that need nested levels, refused for crossed factors with the reason."""
    factors = " x ".join(levels.groups)
    if family.name == "multinomial" or choice_set is not None:
        raise GllammError(f"Crossed grouping factors ({factors}) are available for single-row responses; nominal "
                          "and ranking responses need nested levels.")
    if options.cluster_weights is not None or options.top_weights is not None or options.level_weights:
        raise GllammError(f"Sampling weights of grouping levels (cluster_weights=, top_weights=, level_weights=) "
                          f"need nested levels; the factors {factors} are crossed. Row weights (weights=) work.")


def add_crossed_arrays(chunks, levels) -> None:
    """The factors' unit codes and Z columns laid out like the rows (padding: unit 0, Z 0, weight 0)."""
    import jax

    valid = chunks.row_positions >= 0
    safe = np.where(valid, chunks.row_positions, 0)
    arrays = {}
    for k, (codes, labels, Z) in enumerate(zip(levels.factor_codes, levels.factor_labels, levels.Z_levels)):
        arrays[f"crossed_code{k}"] = np.asarray(np.where(valid, codes[safe], 0), dtype=np.int32)
        arrays[f"crossed_Z{k}"] = np.stack([np.where(valid, Z[safe, j], 0.0) for j in range(Z.shape[1])])
        arrays[f"crossed_units{k}"] = np.zeros(len(labels))
    codes = [arrays[f"crossed_code{k}"] for k in range(len(levels.levels))]
    arrays.update(crossed_structure(codes, [len(labels) for labels in levels.factor_labels],
                                    [level.dim for level in levels.levels]))
    chunks.arrays.update(jax.device_put(arrays))


def crossed_structure(codes, units, dims) -> dict:
    """The sparsity pattern of H = I + A'DA when factor 0's effects are eliminated first (integrate/crossed.py).

    The effects of factors 1..K-1 are numbered 0..q_r-1 (factor l's unit v, effect m at offset_l + v p_l + m).
    Each row touches one such "rest" effect per (l, m): ``crossed_rest_col`` (E, chunks, width), E = sum_l p_l.
    A contact is a distinct (unit j of factor 0, rest effect r) that some row joins: the block C_jr of H is
    nonzero only there; ``crossed_contact`` (E, chunks, width) is each row's contact per rest effect and
    ``crossed_contact_unit``/``crossed_contact_col`` (T,) are j and r of each contact. The Schur complement
    S = R - C'B^-1C gets one term per ordered pair of contacts of the same unit: ``crossed_pair_first``/
    ``crossed_pair_second`` (Q,), Q = sum_j m_j^2 for unit j with m_j contacts (instead of n_0 q_r^2 dense).
    """
    offsets = np.cumsum([0] + [n * p for n, p in zip(units[1:], dims[1:])])
    rest_col = np.stack([offsets[l - 1] + codes[l].astype(np.int64) * dims[l] + m
                         for l in range(1, len(codes)) for m in range(dims[l])])
    q_rest = int(offsets[-1])
    key = codes[0].astype(np.int64)[None] * q_rest + rest_col
    contacts, contact_of = np.unique(key.reshape(-1), return_inverse=True)
    contact_unit, contact_col = contacts // q_rest, contacts % q_rest
    per_unit = np.bincount(contact_unit, minlength=units[0])
    first_of_unit = np.cumsum(per_unit) - per_unit  # contacts are sorted by unit
    repeats = per_unit[contact_unit]
    pair_first = np.repeat(np.arange(len(contacts)), repeats)
    within = np.arange(len(pair_first)) - np.repeat(np.cumsum(repeats) - repeats, repeats)
    pair_second = first_of_unit[contact_unit[pair_first]] + within
    as_int = lambda a: np.asarray(a, dtype=np.int32)
    return {"crossed_rest_col": as_int(rest_col), "crossed_contact": as_int(contact_of.reshape(rest_col.shape)),
            "crossed_contact_unit": as_int(contact_unit), "crossed_contact_col": as_int(contact_col),
            "crossed_pair_first": as_int(pair_first), "crossed_pair_second": as_int(pair_second)}
