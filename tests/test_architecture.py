"""The package's shape: no import cycles among gllamm's modules (imports inside functions count too: a lazy import
is still a dependency), ``gllamm.fit`` a short composition of named stages, and files and functions of a size a
reader can hold: no file over 400 lines, no function over 60 (an exception, while it lasts, is listed with the size
it may not exceed)."""

import ast
import inspect
from pathlib import Path

import gllamm

PACKAGE = Path(gllamm.__file__).parent
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60
FILES_STILL_TOO_LONG: dict = {}  # file -> lines it may not exceed until it is split
FUNCTIONS_STILL_TOO_LONG: dict = {}  # (file, function) -> body lines it may not exceed until it is split


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ("gllamm",) + path.relative_to(PACKAGE).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(name: str, path: Path, modules: dict) -> set[str]:
    """The gllamm modules ``name`` imports, anywhere in its file."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
            elif (node.module or "").startswith("gllamm"):
                base = node.module
            else:
                continue
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("gllamm")}
    return {m for m in found if m in modules and m != name}


def _cycles(graph: dict) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, components = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return components


def test_no_import_cycles():
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert _cycles(graph) == []


def test_the_cycle_check_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _body_lines(function) -> int:
    body = function.body
    docstring = isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant)
    first = body[1] if docstring and len(body) > 1 else body[0]
    return function.end_lineno - first.lineno + 1


def test_fit_is_a_short_composition_of_stages():
    source = inspect.getsource(gllamm.fit.__wrapped__.__wrapped__)
    function = ast.parse(source).body[0]
    assert _body_lines(function) < 40
    called = {node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
              for node in ast.walk(function) if isinstance(node, ast.Call)
              and isinstance(node.func, (ast.Attribute, ast.Name))}
    assert {"split_options", "build_model", "fit"} <= called


def test_files_and_functions_stay_within_their_sizes():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        name = path.relative_to(PACKAGE).as_posix()
        lines = len(path.read_text().splitlines())
        if lines > FILES_STILL_TOO_LONG.get(name, MAX_FILE_LINES):
            offenders.append(f"{name}: {lines} lines")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                limit = FUNCTIONS_STILL_TOO_LONG.get((name, node.name), MAX_FUNCTION_LINES)
                if _body_lines(node) > limit:
                    offenders.append(f"{name}: {node.name}() {_body_lines(node)} lines")
    assert offenders == []
