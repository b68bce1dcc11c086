"""The runs of several starting values of a latent class model, one after another or in parallel processes.

Each start is maximised independently (``maximize_likelihood``); with ``n_jobs`` > 1 the starts are shared among
that many spawned processes, which receive the model's table, integration, design and constraints through their
pipe and return each run (or the error that ended it). The runs are the same, in the same order, either way.
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
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    parts = [list(range(len(starts)))[k::n_jobs] for k in range(n_jobs)]
    context = multiprocessing.get_context("spawn")  # (JAX's threads do not survive fork)
    with ProcessPoolExecutor(max_workers=n_jobs, mp_context=context) as pool:
        futures = [pool.submit(_runs, table, integration, design, [starts[i] for i in part], max_iter, tol, False,
                               constraints, None, fit_data) for part in parts]
        try:
            done = [future.result() for future in futures]
        except BrokenProcessPool:
            raise GllammError("A worker process stopped. Worker processes start by importing the script that runs "
                              "them: in a script, put the fit under 'if __name__ == \"__main__\":' (Python's rule "
                              "for process pools), or use n_jobs=1.") from None
    runs = [None] * len(starts)
    for part, results in zip(parts, done):
        for i, run in zip(part, results):
            runs[i] = run
    return runs
