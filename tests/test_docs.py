"""The documentation: every public name has an API entry, every Python block of the README and the docs runs as
written on bundled data, the distributed recipe runs, and the site builds with ``mkdocs build --strict`` (its
gallery runs every example), with screenshots of three pages when a headless Chromium is installed."""

import inspect
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import gllamm

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").rglob("*.md"))
DISTRIBUTED = "initialize_distributed()"  # blocks of the several-process recipe: run by their own test


def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


def test_every_public_name_and_fit_method_has_a_documented_api_entry():
    entries = set(re.findall(r"^::: gllamm\.(\w+)", (ROOT / "docs" / "api.md").read_text(), flags=re.M))
    assert set(gllamm.__all__) - entries == set()
    for name in gllamm.__all__:
        assert inspect.getdoc(getattr(gllamm, name)), name
    fields = gllamm.FitResult.__dataclass_fields__
    methods = [m for m in dir(gllamm.FitResult) if not m.startswith("_") and m not in fields]
    undocumented = [m for m in methods if not inspect.getdoc(getattr(gllamm.FitResult, m))]
    assert undocumented == []
    class_doc = inspect.getdoc(gllamm.FitResult)
    assert [f for f in fields if f"``{f}``" not in class_doc] == []  # every field described in the class docstring


def test_every_page_links_only_to_pages_that_exist():
    """Relative Markdown links of the hand-written pages point at files (the gallery's pages are generated)."""
    examples = {p.stem for p in (ROOT / "examples").glob("*.py")}
    missing = []
    for page in (ROOT / "docs").rglob("*.md"):
        for target in re.findall(r"\]\(([^)#:]+\.md)", page.read_text()):
            resolved = (page.parent / target).resolve()
            generated = resolved.parent.name == "gallery" and (resolved.stem in examples or resolved.stem == "index")
            if not resolved.exists() and not generated:
                missing.append(f"{page.relative_to(ROOT)} -> {target}")
    assert missing == []


@pytest.mark.slow
@pytest.mark.parametrize("page", [p for p in PAGES if _python_blocks(p)], ids=lambda p: str(p.relative_to(ROOT)))
def test_python_blocks_run_as_written(page, tmp_path, monkeypatch):
    """Each page's Python blocks, in order in one namespace, in an empty folder (as a reader pastes them); every fit
    in them converges and passes its quadrature check with the points it asks for (no ConvergenceWarning or
    QuadratureWarning: a page must not teach a fit that cannot be trusted)."""
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__main__"}
    with warnings.catch_warnings():
        warnings.simplefilter("error", gllamm.ConvergenceWarning)
        warnings.simplefilter("error", gllamm.QuadratureWarning)
        for block in _python_blocks(page):
            if DISTRIBUTED in block:
                continue
            exec(compile(block, f"{page.name} block", "exec"), namespace)


@pytest.mark.slow
def test_the_several_process_recipe_runs_as_written(tmp_path):
    """The README's recipe: partition the data, then two processes run fit.py and end with the same fit."""
    pytest.importorskip("pyarrow")
    readme = (ROOT / "README.md").read_text()
    blocks = _python_blocks(ROOT / "README.md")
    partition = next(b for b in blocks if "pisa_by_school/" in b and "to_parquet" in b)
    fit_script = next(b for b in blocks if DISTRIBUTED in b)
    launch = next(b for b in re.findall(r"```bash\n(.*?)```", readme, flags=re.S) if "JAX_PROCESS_ID" in b)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), JAX_PLATFORMS="cpu")
    subprocess.run([sys.executable, "-c", partition], cwd=tmp_path, env=env, check=True, timeout=300)
    (tmp_path / "fit.py").write_text(fit_script + "\nprint('LOGLIK', round(res.loglik, 6))\n")
    launch = launch.replace("python fit.py &", f"{sys.executable} fit.py > out$rank.txt 2>&1 &")
    subprocess.run(["bash", "-c", launch], cwd=tmp_path, env=env, check=True, timeout=600)
    lines = [next(line for line in (tmp_path / f"out{rank}.txt").read_text().splitlines() if line.startswith("LOGLIK"))
             for rank in (0, 1)]
    single = gllamm.fit("pass_read ~ ses + (1 | id_school)", gllamm.datasets.load("pisa_usa_2000"), family="binomial")
    assert lines[0] == lines[1] == f"LOGLIK {round(single.loglik, 6)}"


@pytest.mark.slow
def test_the_site_builds_strictly_and_looks_right(tmp_path):
    """``mkdocs build --strict`` (the gallery runs every example); with Chromium, screenshots of the home page, a
    gallery page and an API page are saved in ``site-screenshots/`` for a person to look at."""
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings_handlers.python")
    site = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)], cwd=ROOT,
                          capture_output=True, text=True, timeout=3000)
    assert done.returncode == 0, done.stderr[-5000:]
    for page in ["index.html", "gallery/irt_2pl/index.html", "api/index.html", "migration/stata/index.html"]:
        assert (site / page).exists(), page
    gallery = (site / "gallery" / "irt_2pl" / "index.html").read_text()
    assert "theta=~Q2" in gallery and "irt_2pl_0.png" in gallery  # its printed table and its figure
    assert "gllamm.FitResult.empirical_bayes" in (site / "api" / "index.html").read_text()
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        return
    shots = ROOT / "site-screenshots"
    shots.mkdir(exist_ok=True)
    for name, page in {"home": "index.html", "gallery": "gallery/irt_2pl/index.html",
                       "api": "api/index.html"}.items():
        target = shots / f"{name}.png"
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        "--window-size=1280,1600", f"--screenshot={target}", (site / page).as_uri()],
                       capture_output=True, timeout=120)
        assert target.exists() and target.stat().st_size > 20_000, name
