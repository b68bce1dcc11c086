"""mkdocs hook: the gallery. Every script in ``examples/`` runs when the site is built (a script that fails fails
the build, and so does one whose fit does not converge) and gets a page: its docstring (the model in equations),
its code, what it printed and the figures it saved. Scripts whose usage line offers a figure path (``python examples/x.py [figure.png]``) are given one.

``GLLAMM_DOCS_EXAMPLES`` (a comma-separated list of script names) runs only those, e.g. while writing a page;
the others then get a page without output."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
TIMEOUT = 900  # seconds per script


def _scripts() -> list[Path]:
    return sorted(EXAMPLES.glob("*.py"))


def _docstring(path: Path) -> str:
    import ast

    return ast.get_docstring(ast.parse(path.read_text())) or path.stem


def _title(path: Path) -> str:
    return _docstring(path).splitlines()[0].rstrip(".")


def _short_title(path: Path) -> str:
    """The title up to its colon, for the navigation."""
    return _title(path).split(":")[0]


def _markdown(docstring: str) -> str:
    """The docstring after its first line as Markdown: indented blocks (equations, commands) become text blocks."""
    out, block = [], []
    for line in docstring.splitlines()[1:] + [""]:
        if line.startswith("    ") or (block and not line.strip()):
            block.append(line[4:])
            continue
        if block:
            while block and not block[-1].strip():
                block.pop()
            out += ["", "```text", *block, "```", ""]
            block = []
        out.append(line)
    return "\n".join(out).strip()


def _run(path: Path, folder: Path) -> str:
    args = [f"{path.stem}.png"] if re.search(r"\.py \[[^\]]*\.png\]", _docstring(path)) else []
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, str(path), *args], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT)
    if done.returncode != 0:
        raise RuntimeError(f"gallery: examples/{path.name} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    if "ConvergenceWarning" in done.stderr:  # a worked example must show fits that can be trusted
        raise RuntimeError(f"gallery: a fit of examples/{path.name} did not converge:\n{done.stderr[-3000:]}")
    return done.stdout


def _page(path: Path, output: str | None, figures: list[str]) -> str:
    parts = [f"# {_title(path)}", "", _markdown(_docstring(path)), "", "## The script", "",
             f"`examples/{path.name}`:", "", "```python", path.read_text().rstrip(), "```", ""]
    if output is None:
        parts += ["*(not run in this build)*"]
    else:
        parts += ["## What it prints", "", "```text", output.rstrip() or "(nothing)", "```", ""]
        parts += [f"![{path.stem} figure]({name})" for name in figures]
    return "\n".join(parts) + "\n"


def on_config(config):
    """Put every example's page under the Gallery entry of the navigation."""
    pages = [{"Overview": "gallery/index.md"}] + [{_short_title(p): f"gallery/{p.stem}.md"} for p in _scripts()]
    for index, entry in enumerate(config["nav"]):
        if isinstance(entry, dict) and "Gallery" in entry:
            config["nav"][index] = {"Gallery": pages}
    return config


def on_files(files, config):
    """Run the examples and add their pages (and figures) to the site."""
    chosen = os.environ.get("GLLAMM_DOCS_EXAMPLES")
    chosen = None if chosen is None else {name.strip().removesuffix(".py") for name in chosen.split(",")}
    rows = ["# Gallery", "", "Every script in `examples/` of the repository, run when this site was built: the model "
            "in equations, the code that fits it, what it prints and the figures it draws.", "",
            "| Example | Script |", "|---|---|"]
    for path in _scripts():
        rows.append(f"| [{_title(path)}]({path.stem}.md) | `examples/{path.name}` |")
        output, figures = None, []
        if chosen is None or path.stem in chosen:
            with tempfile.TemporaryDirectory() as folder:
                output = _run(path, Path(folder))
                for k, image in enumerate(sorted(Path(folder).glob("*.png"))):
                    name = f"{path.stem}_{k}.png"
                    files.append(File.generated(config, f"gallery/{name}", content=image.read_bytes()))
                    figures.append(name)
        files.append(File.generated(config, f"gallery/{path.stem}.md", content=_page(path, output, figures)))
    files.append(File.generated(config, "gallery/index.md", content="\n".join(rows) + "\n"))
    return files
