"""A 10^7-row random-intercept logit (500,000 clusters of 20 rows, 12 quadrature nodes) on one machine.

Run under /usr/bin/time -v to read the peak memory (Maximum resident set size):

    /usr/bin/time -v python benchmarks/large.py [rows] [clusters]

Prints the time to simulate, to build the design and to fit, and the estimates against the truth.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd

import gllamm


def simulate(rows: int, clusters: int, seed: int = 7) -> pd.DataFrame:
    """y ~ Bernoulli(logit^-1(-0.5 + 0.8 x + 0.3 w + u_j)), u_j ~ N(0, 1), w a cluster covariate."""
    rng = np.random.default_rng(seed)
    cluster = np.repeat(np.arange(clusters, dtype=np.int32), rows // clusters)
    x = rng.normal(size=cluster.size)
    w = rng.normal(size=clusters)[cluster]
    eta = -0.5 + 0.8 * x + 0.3 * w + rng.normal(size=clusters)[cluster]
    y = (rng.random(cluster.size) < 1 / (1 + np.exp(-eta))).astype(np.int8)
    return pd.DataFrame(dict(y=y, x=x, w=w, cluster=cluster))


def main() -> None:
    rows = int(float(sys.argv[1])) if len(sys.argv) > 1 else 10_000_000
    clusters = int(float(sys.argv[2])) if len(sys.argv) > 2 else rows // 20
    start = time.perf_counter()
    frame = simulate(rows, clusters)
    simulated = time.perf_counter()
    result = gllamm.fit("y ~ x + w + (1 | cluster)", frame, family="binomial", nip=12, verbose=True)
    fitted = time.perf_counter()
    print(result.summary())
    print(f"rows {rows:,}, clusters {clusters:,}, parts {result.options.get('parts', 1)}")
    print(f"simulate {simulated - start:.1f} s, fit (design + optimisation) {fitted - simulated:.1f} s, "
          f"optimisation {result.seconds:.1f} s, {result.iterations} iterations")
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2  # KiB -> GiB (Linux)
    print(f"peak memory {peak:.2f} GiB (goal < 6 GB), total {fitted - start:.0f} s (goal < 600 s)")
    truth = {"(Intercept)": -0.5, "x": 0.8, "w": 0.3, "var((Intercept)|cluster)": 1.0}
    for name, value in truth.items():
        print(f"{name:28s} estimate {result.params[name]: .4f}  truth {value: .4f}  se {result.se[name]:.4f}")


if __name__ == "__main__":
    main()
