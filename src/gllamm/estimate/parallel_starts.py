"""The runs of several starting values of a latent class model, one after another or in parallel processes.

Each start is maximised independently (``maximize_likelihood``); with ``n_jobs`` > 1 the starts are shared among
that many spawned processes (parallel/worker_pool.py), which receive the model's table, integration, design and
constraints and return each run (or the error that ended it). The runs are the same, in the same order, either way.
"""

from __future__ import annotations

import numpy as np

from ..errors import GllammError
from ..options import check_n_jobs


def _runs(table, integration, design, starts, max_iter, tol, verbose, constraints, layout, fit_data) -> list:
    """maximize_likelihood from each start (theta0 already on the constraints); an error ends only its run."""
    from .iterations import maximize_likelihood

    runs = []
    for theta0 in starts:
        try:
            runs.append(maximize_likelihood(table, integration, design, theta0, max_iter, tol, verbose, constraints,
                                            layout=layout, data=fit_data))
        except (FloatingPointError, np.linalg.LinAlgError) as error:  # a hopeless start: recorded, not fatal
            runs.append(error)
    return runs


def start_runs(table, integration, design, starts, max_iter, tol, verbose, constraints, layout, fit_data,
               n_jobs: int = 1) -> list:
    """The runs from every start, in order: serially, or in ``n_jobs`` processes (one device, one process only)."""
    n_jobs = min(check_n_jobs(n_jobs), len(starts))
    if n_jobs == 1:
        return _runs(table, integration, design, starts, max_iter, tol, verbose, constraints, layout, fit_data)
    if layout is not None:
        raise GllammError("n_jobs= runs the starts in separate processes, each on one device in one piece; leave out "
                          "devices= and chunk_size= (or use n_jobs=1).")
    from ..parallel.worker_pool import in_worker_processes

    parts = [list(part) for part in np.array_split(np.arange(len(starts)), n_jobs)]  # contiguous: runs stay in order
    done = in_worker_processes(_runs, [(table, integration, design, [starts[i] for i in part], max_iter, tol, False,
                                        constraints, None, fit_data) for part in parts], n_jobs)
    return [run for part in done for run in part]
