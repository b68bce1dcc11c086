"""Crossed random effects against lme4 and glmmTMB (where R is installed). Prints times and ratios.

    python benchmarks/crossed.py            # InstEval (lmer ML) and VerbAgg (glmer / glmmTMB Laplace)
    python benchmarks/crossed.py --no-r     # gllamm only
    python benchmarks/crossed.py --binary   # also InstEval's ratings >= 4 as a crossed logit (glmmTMB, Laplace)

InstEval (lme4::InstEval, 73,421 ratings; students x lecturers, lecturers' departments by service) is not
bundled: it is exported from R into a temporary CSV when R is installed, or read from --insteval PATH.
gllamm's times are in-process: the first fit of a new formula (compilation, or loading the persistent
cache) and the second (the arithmetic alone); R's are system.time of the fit, median of --reps.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pandas as pd

import gllamm

INSTEVAL_FORMULA = "y ~ service + (1 | s) + (1 | d) + (1 | dept_service)"
VERBAGG_FORMULA = "r2 ~ anger + male + btype_scold + btype_shout + situ_self + mode_do + (1 | id) + (1 | item)"

R_INSTEVAL = """suppressPackageStartupMessages(library(lme4))
write.csv(InstEval[, c("s", "d", "dept", "service", "y")], "{path}", row.names=FALSE)
f <- function() lmer(y ~ service + (1|s) + (1|d) + (1|dept:service), InstEval, REML=FALSE)
fit <- f(); secs <- median(sapply(seq_len({reps}), function(i) system.time(f())[["elapsed"]]))
cat(sprintf('{{"seconds": %.3f, "loglik": %.6f}}\\n', secs, as.numeric(logLik(fit))))
"""

R_INSTEVAL_BINARY = """suppressPackageStartupMessages(library(glmmTMB))
d <- lme4::InstEval; d$yb <- as.numeric(d$y >= 4); d$ds <- interaction(d$dept, d$service)
f <- function() glmmTMB(yb ~ service + (1|s) + (1|d) + (1|ds), d, family=binomial)
fit <- f(); secs <- median(sapply(seq_len({reps}), function(i) system.time(f())[["elapsed"]]))
cat(sprintf('{{"seconds": %.3f, "loglik": %.6f}}\\n', secs, as.numeric(logLik(fit))))
"""

R_VERBAGG = """suppressPackageStartupMessages({{library(lme4); library(glmmTMB)}})
va <- read.csv("{path}")
form <- r2 ~ anger + male + btype_scold + btype_shout + situ_self + mode_do + (1|id) + (1|item)
g <- function() glmer(form, va, family=binomial)
t <- function() glmmTMB(form, va, family=binomial)
fg <- g(); ft <- t()
sg <- median(sapply(seq_len({reps}), function(i) system.time(g())[["elapsed"]]))
st <- median(sapply(seq_len({reps}), function(i) system.time(t())[["elapsed"]]))
cat(sprintf('{{"glmer": %.3f, "glmer_loglik": %.6f, "glmmTMB": %.3f, "glmmTMB_loglik": %.6f}}\\n',
            sg, as.numeric(logLik(fg)), st, as.numeric(logLik(ft))))
"""


def _rscript(code: str) -> dict:
    """Run R code that prints one JSON line; its values."""
    out = subprocess.run(["Rscript", "-e", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _fit_twice(formula: str, frame: pd.DataFrame, **options):
    """(result, seconds of the first fit, seconds of the second)."""
    start = time.perf_counter()
    gllamm.fit(formula, frame, **options)
    first = time.perf_counter()
    result = gllamm.fit(formula, frame, **options)
    return result, first - start, time.perf_counter() - first


def _insteval(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path)
    frame["service"] = (frame["service"].astype(str) == "1").astype(float)
    frame["dept_service"] = frame["dept"].astype(str) + ":" + frame["service"].astype(int).astype(str)
    return frame


def _report(name: str, result, first: float, second: float, r_seconds: dict, r_loglik: dict) -> None:
    print(f"{name}: gllamm first fit {first:.1f} s, second {second:.1f} s, {result.iterations} iterations, "
          f"log L {result.loglik:.6f}, converged {result.converged}")
    for engine, seconds in r_seconds.items():
        print(f"  {engine:8s} {seconds:7.1f} s  log L {r_loglik[engine]:.6f}  ratio {engine}/gllamm "
              f"{seconds / second:.2f} (second fit), {seconds / first:.2f} (first fit)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-r", action="store_true", help="skip R even if installed")
    parser.add_argument("--insteval", type=Path, help="a CSV of lme4::InstEval (s, d, dept, service, y)")
    parser.add_argument("--reps", type=int, default=1, help="R fits per timing (median)")
    parser.add_argument("--binary", action="store_true", help="also InstEval's ratings >= 4 as a crossed logit")
    args = parser.parse_args()
    use_r = shutil.which("Rscript") is not None and not args.no_r
    with tempfile.TemporaryDirectory() as tmp:
        path, r_fit = args.insteval, None
        if use_r:
            path = path or Path(tmp) / "insteval.csv"
            r_fit = _rscript(R_INSTEVAL.format(path=path, reps=args.reps))
        if path is None:
            print("InstEval skipped: no R to export lme4::InstEval and no --insteval CSV")
        else:
            result, first, second = _fit_twice(INSTEVAL_FORMULA, _insteval(path))
            r_seconds = {"lmer": r_fit["seconds"]} if r_fit else {}
            _report("InstEval (Gaussian, exact)", result, first, second, r_seconds,
                    {"lmer": r_fit["loglik"]} if r_fit else {})
            if args.binary:
                frame = _insteval(path).assign(yb=lambda f: (f["y"] >= 4).astype(float))
                formula = INSTEVAL_FORMULA.replace("y ~", "yb ~")
                result, first, second = _fit_twice(formula, frame, family="binomial")
                tmb = _rscript(R_INSTEVAL_BINARY.format(reps=args.reps)) if use_r else None
                _report("InstEval ratings >= 4 (binary, Laplace)", result, first, second,
                        {"glmmTMB": tmb["seconds"]} if tmb else {}, {"glmmTMB": tmb["loglik"]} if tmb else {})
        verbagg = gllamm.datasets.load("verbagg")
        result, first, second = _fit_twice(VERBAGG_FORMULA, verbagg, family="binomial")
        r_seconds, r_loglik = {}, {}
        if use_r:
            csv = Path(tmp) / "verbagg.csv"
            verbagg.to_csv(csv, index=False)
            times = _rscript(R_VERBAGG.format(path=csv, reps=args.reps))
            r_seconds = {"glmer": times["glmer"], "glmmTMB": times["glmmTMB"]}
            r_loglik = {"glmer": times["glmer_loglik"], "glmmTMB": times["glmmTMB_loglik"]}
        _report("VerbAgg (binary, Laplace)", result, first, second, r_seconds, r_loglik)


if __name__ == "__main__":
    main()
