"""Bounded memory for post-estimation over quadrature nodes.

Marginal predictions average over a product rule of nip^q nodes for every row: 40 points in each of 3
dimensions are 64,000 nodes, and 4,800 rows of them are 3e8 values per array (20 GB with the temporaries
of a prediction). Such computations go through ``row_slices``: at most ``NODE_BUDGET`` row x node values
are held at once (about 32 MB per array), so memory stays bounded whatever the rule; ``warn_if_costly``
says beforehand when the number of evaluations is out of proportion (more than ``COSTLY`` row x node
values), with the number and how to reduce it.
"""

from __future__ import annotations

from ..errors import ComputationWarning, warn_user

NODE_BUDGET = 1 << 22  # row x node values held at once
COSTLY = 2e9  # row x node values beyond which a computation is announced


def row_slices(n_rows: int, n_nodes: int, group: int = 1, budget: int | None = None) -> list[slice]:
    """Slices of rows, whole groups of ``group`` rows each (e.g. the slots of a choice set), with at most
    ``budget`` (default NODE_BUDGET) row x node values in each (at least one group)."""
    budget = NODE_BUDGET if budget is None else budget
    per = max(group, (budget // max(int(n_nodes), 1)) // group * group)
    return [slice(start, min(start + per, n_rows)) for start in range(0, n_rows, per)] or [slice(0, 0)]


def warn_if_costly(n_rows: int, n_nodes: int, what: str, nip: int, dim: int) -> None:
    """ComputationWarning before ``what`` when it evaluates more than COSTLY row x node values."""
    total = float(n_rows) * float(n_nodes)
    if total > COSTLY:
        warn_user(f"{what} evaluates {n_rows:,} rows at {n_nodes:,} quadrature nodes ({nip} points in each of {dim} "
                  f"dimensions): {total:.2g} values, which takes a while (memory stays bounded). Give a smaller nip= "
                  f"(e.g. nip={max(5, int(round((COSTLY / max(n_rows, 1)) ** (1 / dim))))}) for a faster answer.",
                  ComputationWarning)
