"""Parametric bootstrap: data simulated from the fit, the model refitted to each (from the estimates), a statistic
of every refit; serially or in parallel processes, with a progress bar; and percentile intervals from it.

Replicate b draws its data from its own random stream, child b of numpy's SeedSequence(seed), so the replicates do
not depend on how they are shared among processes: n_jobs=1 and n_jobs=2 give the same table. Worker processes
(spawned by this one) receive the fit through their pipe and return the statistics; a refit that does not converge
(or fails) is left out and counted in ``.attrs["failed"]``.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pandas as pd

from ..errors import ConvergenceWarning, GllammError, check_level


def _replicate(result, seed_sequence, statistic):
    """(statistic of the refit to data simulated with this replicate's stream) or None when it fails."""
    from .simulate import refit, simulate

    frame = simulate(result, seed=np.random.default_rng(seed_sequence))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            fit = refit(result, frame, start=result)
        except (GllammError, np.linalg.LinAlgError, FloatingPointError):
            return None
    return pd.Series(statistic(fit)) if fit.converged else None


def _params(fit):
    return fit.params


def _worker(result, seeds: list, statistic):
    """Replicates ``seeds`` [(b, SeedSequence)] of the fit (run in a worker process)."""
    return [(b, _replicate(result, seed, statistic)) for b, seed in seeds]


def _progress(total: int, progress):
    """A tqdm progress bar (None when turned off: progress=False, or by default when stderr is not a terminal)."""
    if progress is None:
        progress = sys.stderr.isatty()
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="bootstrap", unit="refit")


def bootstrap(result, statistic=None, n_boot: int = 100, seed=None, n_jobs: int = 1, progress=None) -> pd.DataFrame:
    """Parametric bootstrap replicates of ``statistic`` (FitResult -> array-like or Series; default the parameters):
    one row per converged replicate, in replicate order; ``.attrs["failed"]`` counts the others. ``n_jobs``
    processes share the replicates (the statistic must then be a module-level function, which can be sent to
    them); ``progress`` shows a progress bar (default: when stderr is a terminal)."""
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise GllammError(f"n_boot must be a positive whole number of replicates; got {n_boot!r}.")
    from ..options import check_n_jobs

    n_jobs = check_n_jobs(n_jobs)
    if statistic is not None and not callable(statistic):
        raise GllammError(f"statistic must be a function of a fit (FitResult -> numbers), or None for the parameters; "
                          f"got {statistic!r}. The number of replicates is n_boot=.")
    statistic = statistic or _params
    from ..options import check_seed

    seeds = list(enumerate(np.random.SeedSequence(check_seed(seed)).spawn(n_boot)))
    bar = _progress(n_boot, progress)
    try:
        outcomes = _serial(result, seeds, statistic, bar) if n_jobs == 1 or n_boot == 1 else \
            _parallel(result, seeds, statistic, min(n_jobs, n_boot), bar)
    finally:
        if bar is not None:
            bar.close()
    rows = [value for _, value in sorted(outcomes, key=lambda pair: pair[0]) if value is not None]
    out = pd.DataFrame(rows).reset_index(drop=True)
    out.attrs["failed"] = sum(value is None for _, value in outcomes)
    out.attrs["n_boot"] = n_boot
    return out


def _serial(result, seeds, statistic, bar) -> list:
    outcomes = []
    for b, seed in seeds:
        outcomes.append((b, _replicate(result, seed, statistic)))
        if bar is not None:
            bar.update(1)
    return outcomes


def _parallel(result, seeds, statistic, n_jobs: int, bar) -> list:
    """The replicates in ``n_jobs`` spawned processes (parallel/worker_pool.py), in batches of a few each."""
    import pickle

    from ..parallel.worker_pool import in_worker_processes

    try:
        pickle.dumps(statistic)
    except Exception as error:  # (a lambda or a local function)
        raise GllammError(f"With n_jobs > 1 the statistic is sent to other processes, so it must be a function defined "
                          f"at the top level of a module (not a lambda or a nested function): {error}. Use n_jobs=1 "
                          "for other statistics.") from None
    batch = max(1, min(8, len(seeds) // (4 * n_jobs)))
    batches = [(result, seeds[i:i + batch], statistic) for i in range(0, len(seeds), batch)]
    done = in_worker_processes(_worker, batches, n_jobs, None if bar is None else lambda part: bar.update(len(part)))
    return [outcome for part in done for outcome in part]


def bootstrap_intervals(result, level: float = 0.95, n_boot: int = 200, seed=None, n_jobs: int = 1,
                        progress=None) -> pd.DataFrame:
    """Percentile intervals (lower, upper) of every reported parameter: the (1 - level)/2 and (1 + level)/2
    quantiles of ``n_boot`` parametric bootstrap replicates (``.attrs`` holds n_boot and the failed count)."""
    check_level(level)
    replicates = bootstrap(result, None, n_boot, seed, n_jobs, progress)
    if len(replicates) < 2:
        raise GllammError(f"Only {len(replicates)} of {n_boot} bootstrap refits converged; no interval can be taken "
                          "from them.")
    tail = (1 - level) / 2
    out = pd.DataFrame({"lower": replicates.quantile(tail), "upper": replicates.quantile(1 - tail)})
    out = out.reindex(result.params.index)
    out.attrs.update(n_boot=n_boot, failed=replicates.attrs["failed"])
    return out
