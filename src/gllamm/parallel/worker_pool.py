"""Independent pieces of work (bootstrap replicates, random starts) in spawned worker processes.

Workers are started with the "spawn" method (JAX's threads do not survive fork), receive their arguments through
their pipe and return their results the same way; nothing is read from files. A worker that dies (most often: a
script that starts workers without the ``if __name__ == "__main__":`` guard, which spawned workers import again)
is a GllammError that says so.
"""

from __future__ import annotations

from ..errors import GllammError


def in_worker_processes(function, argument_lists: list[tuple], n_jobs: int, on_done=None) -> list:
    """[function(*arguments) for arguments in argument_lists], computed in ``n_jobs`` spawned processes, in the
    order given; ``on_done(result)`` is called as each finishes (progress)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=n_jobs, mp_context=context) as pool:
        futures = {pool.submit(function, *arguments): k for k, arguments in enumerate(argument_lists)}
        results = [None] * len(argument_lists)
        try:
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                if on_done is not None:
                    on_done(results[futures[future]])
        except BrokenProcessPool:
            raise GllammError("A worker process stopped. Worker processes start by importing the script that runs "
                              "them: in a script, put the code that starts them under 'if __name__ == "
                              "\"__main__\":' (Python's rule for process pools), or use n_jobs=1.") from None
    return results
