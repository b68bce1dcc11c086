"""What each startup device buys: whole-process times with each one turned off in a patched copy of gllamm.

    python benchmarks/startup_devices.py

Devices (src/gllamm/__init__.py, runtime/): the background thread that preloads the executables this command line
used last time (``preload_profile``), the paused collector and ``gc.freeze`` around the imports and at exit
(``quiet_imports``, ``freeze_at_exit``), the narrowed ROCm plugin scan (``narrow_rocm_plugin_scan``), and gllamm's
store of serialised executables (``CachedFunction``; without it JAX's own persistent compilation cache serves).
Each variant is a copy of the package with one device replaced by a no-op; times are medians of interleaved
runs with warm caches (one untimed run of each first): ``import gllamm`` alone, and a script that fits a
random-intercept logit (contraception, adaptive quadrature) and prints the log-likelihood.
"""

from __future__ import annotations

import compileall
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src" / "gllamm"
FIT = ("import gllamm; d = gllamm.datasets.load('contraception'); "
       "print(gllamm.fit('use ~ age + urban + (1 | district)', d, family='binomial').loglik)")
VARIANTS = {  # name -> (file, text replaced, replacement)
    "all devices on": None,
    "no preload thread": ("__init__.py", "    preload_profile()  #", "    pass  #"),
    "no gc.freeze": ("runtime/startup.py", "    enabled = gc.isenabled()\n    gc.disable()\n    try:\n        yield\n"
                     "    finally:\n        gc.freeze()\n        if enabled:\n            gc.enable()",
                     "    yield"),
    "no plugin-scan narrowing": ("runtime/startup.py", "    importlib.metadata.distributions = distributions\n    try:",
                                 "    try:"),
    "JAX's cache only": ("runtime/compiled_cache.py", "    directory = _cache_dir()\n        if directory is None:\n"
                         "            return self.jitted", "    return self.jitted"),
}


def _variant(root: Path, change) -> Path:
    target = root / "gllamm"
    shutil.copytree(SOURCE, target, ignore=shutil.ignore_patterns("__pycache__"))
    if change is not None:
        file, old, new = change
        path = target / file
        text = path.read_text()
        if old not in text:
            raise SystemExit(f"{file}: the text to replace is not there any more; update this benchmark")
        path.write_text(text.replace(old, new))
    compileall.compile_dir(str(target), quiet=1)
    return root


def _median(command: list[str], env: dict, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(repeats: int = 7) -> None:
    import os

    with tempfile.TemporaryDirectory() as tmp:
        roots = {name: _variant(Path(tmp) / str(k), change) for k, (name, change) in enumerate(VARIANTS.items())}
        rows = {}
        for name, root in roots.items():
            env = {**os.environ, "PYTHONPATH": str(root)}
            for script in ("import gllamm", FIT):  # warm-up: caches, profiles
                subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, env=env)
            rows[name] = (_median([sys.executable, "-c", "import gllamm"], env, repeats),
                          _median([sys.executable, "-c", FIT], env, repeats))
    base = rows["all devices on"]
    print(f"{'variant':26s} {'import gllamm (s)':>18s} {'fit script (s)':>15s}")
    for name, (imported, fitted) in rows.items():
        print(f"{name:26s} {imported:18.3f} {fitted:15.3f}   ({imported - base[0]:+.3f}, {fitted - base[1]:+.3f})")


if __name__ == "__main__":
    main()
