"""Several processes (hosts) fitting one model with ``jax.distributed``: start-up, agreement, data.

Recipe (one process per host, or several on one machine)::

    import gllamm
    gllamm.initialize_distributed("host0:12355", num_processes=2, process_id=rank)
    frame = gllamm.read_clusters("data_by_school/", cluster="school")   # this process's clusters only
    res = gllamm.fit("y ~ x + (1 | school)", frame, family="binomial")   # identical in every process

Each process holds the clusters it read; the likelihood's partial sums are combined across
processes by the same ``psum`` that combines devices, so every process ends with the same fit.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import jax
import numpy as np
import pandas as pd

from ..errors import GllammError


def initialize_distributed(coordinator_address: str | None = None, num_processes: int | None = None,
                           process_id: int | None = None, **options) -> None:
    """Join the processes of one fit (``jax.distributed.initialize``), with CPU collectives (gloo) on.

    Call it first, before any other gllamm or JAX work. Without arguments JAX reads the cluster
    environment (SLURM, or JAX_COORDINATOR_ADDRESS / JAX_NUM_PROCESSES / JAX_PROCESS_ID).
    """
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    if num_processes is None and os.environ.get("JAX_NUM_PROCESSES"):
        num_processes = int(os.environ["JAX_NUM_PROCESSES"])
    if process_id is None and os.environ.get("JAX_PROCESS_ID"):
        process_id = int(os.environ["JAX_PROCESS_ID"])
    jax.distributed.initialize(coordinator_address=coordinator_address, num_processes=num_processes,
                               process_id=process_id, **options)
    cache = jax.config.jax_compilation_cache_dir
    if cache and jax.process_count() > 1:  # JAX writes cache entries non-atomically: processes sharing a disk
        # must not read each other's half-written entries, so each keeps its own directory
        jax.config.update("jax_compilation_cache_dir", str(Path(cache) / f"process-{jax.process_index()}"))


def sum_over_processes(values: np.ndarray) -> np.ndarray:
    """Element-wise sum of a host array over all processes (itself with one process)."""
    values = np.asarray(values)
    if jax.process_count() == 1:
        return values
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(values)).reshape((jax.process_count(),) + values.shape).sum(0)


def mean_over_processes(values) -> float:
    """Mean over the rows of all processes (a fit spread over processes starts from the same values)."""
    values = np.asarray(values, dtype=float)
    total, count = sum_over_processes(np.array([values.sum(), values.size], dtype=float))
    return float(total / count) if count else 0.0


def std_over_processes(values) -> float:
    """Standard deviation (divisor n) over the rows of all processes."""
    values = np.asarray(values, dtype=float)
    if jax.process_count() == 1:
        return float(np.std(values))
    return float(np.sqrt(max(mean_over_processes(values ** 2) - mean_over_processes(values) ** 2, 0.0)))


def least_squares_over_processes(X, target, weights) -> np.ndarray:
    """Weighted least squares; with several processes from the summed normal equations X'WX b = X'Wt."""
    if not X.shape[1]:
        return np.zeros(0)
    if jax.process_count() == 1:
        return np.linalg.lstsq(X * np.sqrt(weights)[:, None], target * np.sqrt(weights), rcond=None)[0]
    gram = sum_over_processes((X * weights[:, None]).T @ X)
    moment = sum_over_processes((X * weights[:, None]).T @ target)
    return np.linalg.lstsq(gram, moment, rcond=None)[0]


def check_same_model(description: str) -> None:
    """Raise before any heavy work if the processes built different models (parameters, data layout)."""
    if jax.process_count() == 1:
        return
    from jax.experimental import multihost_utils

    digest = np.frombuffer(hashlib.sha256(description.encode()).digest()[:8], dtype=np.int64)
    everyone = np.asarray(multihost_utils.process_allgather(digest)).ravel()
    if np.any(everyone != everyone[0]):
        differ = [int(i) for i in np.flatnonzero(everyone != everyone[0])]
        raise GllammError(f"The processes disagree on the model: process(es) {differ} built other parameters than "
                          "process 0 (e.g. a categorical covariate with levels missing from some processes' data, or a "
                          "different formula or family). Give every process the same model, with categorical "
                          "covariates coded as numeric dummy columns when some processes lack some levels.")


def read_clusters(path: str | Path, cluster: str | list[str], process: int | None = None,
                  n_processes: int | None = None, columns: list[str] | None = None) -> pd.DataFrame:
    """This process's share of a parquet dataset partitioned by cluster (needs pyarrow).

    The files (or ``cluster=value`` directories) under ``path`` are dealt to the processes in
    turn (sorted by name); each process reads only its own. Every top-level cluster must lie in
    one file: the cluster column of all files is read first (cheap) and a cluster found in two
    files is an error, before any data are loaded.
    """
    process = jax.process_index() if process is None else process
    n_processes = jax.process_count() if n_processes is None else n_processes
    keys = [cluster] if isinstance(cluster, str) else list(cluster)
    top = keys[-1]  # the top level (clusters listed lowest first, as in fit's cluster=)
    root = Path(path)
    files = sorted(p for p in root.rglob("*.parquet")) if root.is_dir() else [root]
    if not files:
        raise GllammError(f"No parquet files under '{path}'.")
    owner: dict = {}
    for number, file in enumerate(files):
        ids = pd.read_parquet(file, columns=[top])[top] if _has_column(file, top) else _partition_value(file, top)
        for value in pd.unique(np.asarray(ids)):
            if value in owner and owner[value] != number:
                raise GllammError(f"Cluster {top}={value!r} is split between {files[owner[value]]} and {file}: "
                                  f"partition the dataset by '{top}' (every cluster in one file), e.g. one file "
                                  f"per cluster: for key, rows in frame.groupby('{top}'): "
                                  f"rows.to_parquet(f'folder/{{key}}.parquet').")
            owner[value] = number
    mine = files[process::n_processes]
    frames = []
    for file in mine:
        frame = pd.read_parquet(file, columns=columns)
        if top not in frame:
            frame[top] = _partition_value(file, top)[0]
        frames.append(frame)
    if not frames:
        raise GllammError(f"Process {process} of {n_processes} has no files under '{path}': write at least as many "
                          "files as processes.")
    return pd.concat(frames, ignore_index=True)


def _has_column(file: Path, column: str) -> bool:
    import pyarrow.parquet as pq

    return column in pq.read_schema(file).names


def _partition_value(file: Path, column: str) -> list:
    """The value of ``column`` from a hive-style directory name ``column=value`` above ``file``."""
    for part in file.parts:
        if part.startswith(f"{column}="):
            return [part.split("=", 1)[1]]
    raise GllammError(f"{file} has no column '{column}' and no '{column}=...' directory.")
