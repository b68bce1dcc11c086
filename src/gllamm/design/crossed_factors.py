"""Crossed grouping factors in the chunked arrays: each row's unit and Z columns for every factor.

The rows form one cluster (the likelihood does not factor over units of any one factor); the arrays
``crossed_code{k}`` (chunks, width), ``crossed_Z{k}`` (p_k, chunks, width) and ``crossed_units{k}`` (n_k,), whose
length carries the number of units into the compiled programs, feed integrate/crossed.py.
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
    chunks.arrays.update(jax.device_put(arrays))
