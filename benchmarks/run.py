"""Timing benchmarks: gllamm against lme4 (where R is installed). Prints times and ratios.

    python benchmarks/run.py              # contraception (whole process) + 100,000-row logit
    python benchmarks/run.py --million    # also the 1,000,000-row logit
    python benchmarks/run.py --no-r       # skip R even if installed
    python benchmarks/run.py --python /path/to/venv/bin/python   # whole-process runs with that interpreter
                                          # (e.g. a virtual environment holding only gllamm and its dependencies)

Whole-process times run a fresh interpreter (python start to printed result) with a
warm compilation cache (one untimed run first) and gllamm's bytecode compiled (as an
installed package has it, even where PYTHONDONTWRITEBYTECODE is set), median of 7
(runs of gllamm and R interleaved);
in-process fit times are also printed. Speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import compileall
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "src" / "gllamm" / "datasets" / "data"
CONTRACEPTION = "use ~ age + age2 + urban + livch1 + livch2 + livch3 + (1 | district)"


def _walls(*commands: list[str], repeats: int = 7) -> list[float]:
    """Median wall time of each command, the commands' runs interleaved (machine load drifts alike for all)."""
    compileall.compile_dir(str(ROOT / "src" / "gllamm"), quiet=1)
    for command in commands:  # warm-up (compilation cache, disk cache)
        subprocess.run(command, check=True, capture_output=True)
    times = [[] for _ in commands]
    for _ in range(repeats):
        for command, own in zip(commands, times):
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            own.append(time.perf_counter() - start)
    return [statistics.median(own) for own in times]


def _rscript(code: str) -> list[str]:
    return ["Rscript", "--vanilla", "-e", code]


def _r_fit_seconds(data: pd.DataFrame, call: str) -> tuple[float, float] | None:
    """(elapsed seconds, loglik) of an R call on ``d`` (data written to a temporary CSV), or None."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.csv"
        data.to_csv(path, index=False)
        r_code = (f"library(lme4); d <- read.csv('{path}'); t <- system.time(f <- {call}); "
                  "cat(t[['elapsed']], as.numeric(logLik(f)), '\\n')")
        out = subprocess.run(_rscript(r_code), capture_output=True, text=True).stdout.split()
    return (float(out[0]), float(out[1])) if out else None


def simulate_logit(n_clusters: int, per_cluster: int, seed: int = 1) -> pd.DataFrame:
    """Random-intercept logit: logit p = -0.5 + 0.8 x1 - 0.4 x2 + u_j, u_j ~ N(0, 1)."""
    rng = np.random.default_rng(seed)
    cluster = np.repeat(np.arange(n_clusters), per_cluster)
    x1, x2 = rng.normal(size=cluster.size), rng.binomial(1, 0.4, cluster.size)
    eta = -0.5 + 0.8 * x1 - 0.4 * x2 + rng.normal(size=n_clusters)[cluster]
    return pd.DataFrame(dict(y=rng.binomial(1, 1 / (1 + np.exp(-eta))), x1=x1, x2=x2, cluster=cluster))


def bench_contraception(use_r: bool, python: str = sys.executable) -> None:
    code = ("import gllamm; d = gllamm.datasets.load('contraception'); "
            f"r = gllamm.fit({CONTRACEPTION!r}, d, family='binomial', nip=25); print(r.loglik)")
    r_code = (f"library(lme4); d <- read.csv('{DATA / 'contraception.csv'}'); "
              "f <- glmer(use ~ age + age2 + urban + livch1 + livch2 + livch3 + (1 | district), d, binomial, nAGQ = 25); "
              "print(logLik(f))")
    commands = [[python, "-c", code]] + ([_rscript(r_code)] if use_r else [])
    times = _walls(*commands)
    print(f"contraception, AGQ 25, whole process: gllamm {times[0]:.2f} s")
    import gllamm

    data = gllamm.datasets.load("contraception")
    gllamm.fit(CONTRACEPTION, data, family="binomial", nip=25)
    start = time.perf_counter()
    gllamm.fit(CONTRACEPTION, data, family="binomial", nip=25)
    print(f"  in-process fit (warm): {time.perf_counter() - start:.3f} s")
    if use_r:
        print(f"  Rscript lme4::glmer: {times[1]:.2f} s   ratio gllamm/lme4 = {times[0] / times[1]:.2f} (goal <= 0.5)")


def bench_simulated(n_clusters: int, per_cluster: int, use_r: bool) -> None:
    import gllamm

    data = simulate_logit(n_clusters, per_cluster)
    formula = "y ~ x1 + x2 + (1 | cluster)"
    start = time.perf_counter()
    result = gllamm.fit(formula, data, family="binomial", nip=12)
    first = time.perf_counter() - start
    start = time.perf_counter()
    result = gllamm.fit(formula, data, family="binomial", nip=12)
    second = time.perf_counter() - start
    print(f"simulated logit, {len(data):,} rows, {n_clusters:,} clusters, AGQ 12: first fit {first:.2f} s, "
          f"repeat {second:.2f} s (loglik {result.loglik:.3f}, {result.iterations} iterations)")
    timing = _r_fit_seconds(data, "glmer(y ~ x1 + x2 + (1 | cluster), d, binomial, nAGQ = 12)") if use_r else None
    if timing:
        print(f"  lme4::glmer fit {timing[0]:.2f} s (loglik {timing[1]:.3f})   ratio gllamm/lme4 = {second / timing[0]:.3f}")


def simulate_three_level(seed: int = 5) -> pd.DataFrame:
    """guImmun-sized three-level logit: 161 communities, 1,595 mothers, 2,159 children."""
    rng = np.random.default_rng(seed)
    moms_per_comm = np.bincount(rng.integers(0, 161, 1595 - 161), minlength=161) + 1
    comm_of_mom = np.repeat(np.arange(161), moms_per_comm)
    kids_per_mom = np.bincount(rng.integers(0, 1595, 2159 - 1595), minlength=1595) + 1
    mom = np.repeat(np.arange(1595), kids_per_mom)
    comm = comm_of_mom[mom]
    x = rng.normal(size=mom.size)
    eta = -0.5 + 0.8 * x + rng.normal(scale=1.0, size=161)[comm] + rng.normal(scale=1.5, size=1595)[mom]
    return pd.DataFrame(dict(y=rng.binomial(1, 1 / (1 + np.exp(-eta))), x=x, comm=comm, mom=mom))


def _first_and_repeat(gllamm, formula: str, data: pd.DataFrame, nip: int):
    """Wall times of a first and a repeated binomial fit in this process, and the fit."""
    times = []
    for _ in range(2):
        start = time.perf_counter()
        result = gllamm.fit(formula, data, family="binomial", nip=nip)
        times.append(time.perf_counter() - start)
    return times, result


def bench_three_level(use_r: bool) -> None:
    import gllamm

    data = simulate_three_level()
    times, result = _first_and_repeat(gllamm, "y ~ x + (1 | comm) + (1 | mom)", data, nip=12)
    print(f"three-level logit (2,159 / 1,595 / 161), AGQ 12 x 12: first fit {times[0]:.2f} s, repeat {times[1]:.2f} s "
          f"(goal < 10 s; loglik {result.loglik:.3f}, converged {result.converged})")
    timing = _r_fit_seconds(data, "glmer(y ~ x + (1 | comm) + (1 | mom), d, binomial)") if use_r else None
    if timing:
        print(f"  lme4::glmer Laplace: {timing[0]:.2f} s (loglik {timing[1]:.3f})")


def simulate_four_level(seed: int = 7, districts: int = 40, schools: int = 5, classes: int = 4,
                        pupils: int = 10) -> pd.DataFrame:
    """Four-level logit: pupils in classes in schools in districts (8,000 rows by default)."""
    rng = np.random.default_rng(seed)
    n_schools, n_classes = districts * schools, districts * schools * classes
    cls = np.repeat(np.arange(n_classes), pupils)
    school, district = cls // classes, cls // (classes * schools)
    x = rng.normal(size=cls.size)
    eta = (-0.3 + 0.8 * x + rng.normal(scale=0.7, size=districts)[district]
           + rng.normal(scale=0.5, size=n_schools)[school] + rng.normal(scale=0.8, size=n_classes)[cls])
    return pd.DataFrame(dict(y=rng.binomial(1, 1 / (1 + np.exp(-eta))), x=x, district=district, school=school,
                             cls=cls))


def bench_four_level(use_r: bool) -> None:
    import gllamm

    data = simulate_four_level()
    times, result = _first_and_repeat(gllamm, "y ~ x + (1 | cls) + (1 | school) + (1 | district)", data, nip=8)
    print(f"four-level logit (8,000 / 800 / 200 / 40), AGQ 8 x 8 x 8: first fit {times[0]:.2f} s, repeat "
          f"{times[1]:.2f} s (loglik {result.loglik:.3f}, converged {result.converged})")
    timing = _r_fit_seconds(data, "glmer(y ~ x + (1 | cls) + (1 | school) + (1 | district), d, binomial)") \
        if use_r else None
    if timing:
        print(f"  lme4::glmer Laplace: {timing[0]:.2f} s (loglik {timing[1]:.3f})")


def _against_lavaan(label: str, dataset: str, syntax: str, function: str, gllamm_options: str, lavaan_options: str,
                    use_r: bool, python: str) -> None:
    """Whole-process times of a model in syntax: gllamm against lavaan's ``function`` (where R and lavaan are
    installed)."""
    code = (f"import gllamm; r = gllamm.fit({syntax!r}, gllamm.datasets.load('{dataset}'){gllamm_options}); "
            "print(r.loglik)")
    r_code = (f"library(lavaan); d <- read.csv('{DATA / (dataset + '.csv')}'); "
              f"f <- {function}('{syntax}', d{lavaan_options}); print(logLik(f))")
    use_r = use_r and subprocess.run(_rscript("library(lavaan)"), capture_output=True).returncode == 0
    times = _walls([python, "-c", code], *([_rscript(r_code)] if use_r else []))
    print(f"{label}, whole process: gllamm {times[0]:.2f} s")
    if use_r:
        print(f"  Rscript lavaan::{function}: {times[1]:.2f} s   ratio gllamm/lavaan = {times[0] / times[1]:.2f} "
              "(goal <= 2)")


def bench_holzinger(use_r: bool, python: str = sys.executable) -> None:
    syntax = "visual =~ x1 + x2 + x3; textual =~ x4 + x5 + x6; speed =~ x7 + x8 + x9"
    _against_lavaan("holzinger CFA", "holzinger", syntax, "cfa", "", ", meanstructure = TRUE", use_r, python)


def bench_two_level_sem(use_r: bool, python: str = sys.executable) -> None:
    """A two-level SEM of the twolevel data (2,500 units in 200 clusters, 6 indicators; two within factors with a
    path, two between factors, no residual variances between clusters: the "paths" model of
    tests/reference/multilevel_fit_measures.json), whole process against lavaan."""
    zeros = "".join(f"y{k} ~~ 0*y{k}; " for k in range(1, 7))
    syntax = ("level: 1; f1 =~ y1 + y2 + y3; f2 =~ y4 + y5 + y6; f2 ~ f1; "
              f"level: 2; b1 =~ y1 + y2 + y3; b2 =~ y4 + y5 + y6; {zeros}")
    _against_lavaan("two-level SEM (6 indicators)", "twolevel", syntax, "sem", ", cluster='cluster'",
                    ", cluster = 'cluster'", use_r, python)


def bench_lsat() -> None:
    """LSAT (1,000 persons, 32 response patterns): 2PL by adaptive quadrature (nip=20) and a 2-class model, warm
    fits in this process (equal persons are fitted as one pattern; median of 5 after a first fit)."""
    import gllamm

    data = gllamm.datasets.load("lsat7")
    for label, model, options in (("2PL, AGQ 20", "theta =~ Q1 + Q2 + Q3 + Q4 + Q5", dict(nip=20)),
                                  ("2 latent classes", "C =~ Q1 + Q2 + Q3 + Q4 + Q5", dict(classes=2))):
        start = time.perf_counter()
        result = gllamm.fit(model, data, family="binomial", **options)
        first = time.perf_counter() - start
        warm = []
        for _ in range(5):
            start = time.perf_counter()
            result = gllamm.fit(model, data, family="binomial", **options)
            warm.append(time.perf_counter() - start)
        print(f"LSAT {label}: first fit {first:.2f} s, warm {statistics.median(warm) * 1000:.0f} ms "
              f"(loglik {result.loglik:.4f}, {result.options.get('distinct_clusters', 1000)} distinct persons)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--million", action="store_true", help="also fit 1,000,000 rows")
    parser.add_argument("--no-r", action="store_true")
    parser.add_argument("--r-large", action="store_true", help="also time lme4 on the simulated data (about a minute)")
    parser.add_argument("--python", default=sys.executable, help="interpreter for the whole-process runs")
    args = parser.parse_args()
    use_r = shutil.which("Rscript") is not None and not args.no_r
    if not use_r:
        print("(R not found or disabled: gllamm times only)")
    bench_contraception(use_r, args.python)
    bench_holzinger(use_r, args.python)
    bench_two_level_sem(use_r, args.python)
    bench_lsat()
    bench_three_level(use_r and args.r_large)
    bench_four_level(use_r and args.r_large)
    bench_simulated(5_000, 20, use_r and args.r_large)
    if args.million:
        bench_simulated(50_000, 20, False)


if __name__ == "__main__":
    main()
