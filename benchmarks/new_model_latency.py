"""What a new model costs before any arithmetic: first fits in a fresh process with an empty compilation cache,
and a second formula of the same kind in the same process. Prints times; speed is measured here, never asserted.

    python benchmarks/new_model_latency.py

Each case runs in its own interpreter with ``GLLAMM_CACHE_DIR`` set to a new empty folder: "first fit" is that
process's wall time from start to printed result (imports included), "warm fit" the same model fitted again in the
process, "second formula" the model with one more covariate (or indicator) fitted next in the process, with the
number of programs JAX compiled for it (from JAX's compile log).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

CASES = {  # name -> (dataset, model, second model of the same kind, options)
    "contraception": ("contraception", "use ~ age + urban + (1 | district)",
                      "use ~ age + urban + livch1 + (1 | district)", dict(family="binomial")),
    "sleepstudy": ("sleepstudy", "reaction ~ days + (1 + days | subject)",
                   "reaction ~ days + I(days**2) + (1 + days | subject)", {}),
    "wine ordinal": ("wine", "rating ~ temp_warm + (1 | judge)", "rating ~ temp_warm + contact_yes + (1 | judge)",
                     dict(family="ordinal")),
    "LSAT 2PL": ("lsat7", "theta =~ Q1 + Q2 + Q3 + Q4", "theta =~ Q1 + Q2 + Q3 + Q4 + Q5", dict(family="binomial")),
    "Holzinger CFA": ("holzinger", "visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6",
                      "visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6\n visual ~ ageyr", {}),
    "two-level SEM": ("twolevel", "level: 1\n fw =~ y1 + y2 + y3\n level: 2\n fb =~ y1 + y2 + y3\n y1 ~~ 0*y1\n"
                      " y2 ~~ 0*y2\n y3 ~~ 0*y3",
                      "level: 1\n fw =~ y1 + y2 + y3 + y4\n level: 2\n fb =~ y1 + y2 + y3 + y4\n y1 ~~ 0*y1\n"
                      " y2 ~~ 0*y2\n y3 ~~ 0*y3\n y4 ~~ 0*y4", dict(cluster="cluster")),
}

WORKER = r'''
import json, logging, sys, time, warnings
start = time.perf_counter()
import jax
import gllamm
dataset, first, second, options = json.loads(sys.argv[1])
data = gllamm.datasets.load(dataset)
warnings.simplefilter("ignore")
gllamm.fit(first, data, **options)
first_done = time.perf_counter()
t = time.perf_counter(); gllamm.fit(first, data, **options); warm = time.perf_counter() - t
names = []
class Count(logging.Handler):
    def emit(self, record):
        if record.getMessage().startswith("Compiling "):
            names.append(record.getMessage().split(" with ")[0])
jax.config.update("jax_log_compiles", True)
logging.getLogger("jax").addHandler(Count(logging.WARNING))
t = time.perf_counter(); gllamm.fit(second, data, **options); second_time = time.perf_counter() - t
print(json.dumps(dict(first=first_done - start, warm=warm, second=second_time, compiled=len(names))))
'''


def main() -> None:
    print(f"{'case':16s} {'first fit (s)':>14s} {'warm fit (s)':>13s} {'second formula (s)':>19s} {'programs':>9s}")
    for name, (dataset, first, second, options) in CASES.items():
        with tempfile.TemporaryDirectory() as cache:
            run = subprocess.run([sys.executable, "-c", WORKER, json.dumps([dataset, first, second, options])],
                                 capture_output=True, text=True, env={**os.environ, "GLLAMM_CACHE_DIR": cache})
            if run.returncode:
                print(f"{name:16s} failed: {run.stderr.strip().splitlines()[-1]}")
                continue
            numbers = json.loads(run.stdout.strip().splitlines()[-1])
            print(f"{name:16s} {numbers['first']:14.2f} {numbers['warm']:13.3f} {numbers['second']:19.3f} "
                  f"{numbers['compiled']:9d}")


if __name__ == "__main__":
    main()
