"""Formulas that evaluate nothing but arithmetic on columns.

formulaic evaluates the Python parts of a formula (``I(x**2)``, ``np.log(x)``, ``{x + 1}``) with
``eval``. A formula is text that may come from a file (``gllamm.load``), so before formulaic sees
one, every Python factor is parsed (``ast``) and accepted only when it is made of

* names (data columns, or the functions listed below),
* numbers, strings, ``True``/``False``/``None``, tuples and lists of them,
* arithmetic, comparison and boolean operators, and ``a if c else b``,
* calls of the listed functions: formulaic's transforms (``C``, ``I``, ``log``, ``center``, ``scale``,
  ``poly``, ``bs``, ...), safe builtins (``abs``, ``round``, ``min``, ``max``, ``pow``, ``float``,
  ``int``), NumPy's element-wise functions (``np.log``, ``np.sqrt``, ...) and contrasts
  (``contr.treatment``, ...).

Attribute access other than ``np.<function>`` / ``contr.<kind>``, subscripts, lambdas,
comprehensions, starred arguments and names with double underscores are refused, so a formula
can neither import a module nor reach an object's internals. Formulas are also evaluated with an
empty context (``SAFE_CONTEXT``): no module's globals are visible to them.
"""

from __future__ import annotations

import ast
import re

from ..errors import GllammError

SAFE_CONTEXT: dict = {}  # formulaic's evaluation context: the data and formulaic's transforms only

TRANSFORMS = frozenset({
    "I", "C", "Q", "log", "log10", "log2", "exp", "exp2", "exp10", "center", "scale", "standardize", "poly",
    "bs", "cr", "cs", "cc", "lag", "hashed", "Treatment", "Sum", "Helmert", "Poly", "Diff",
})
BUILTINS = frozenset({"abs", "round", "min", "max", "pow", "float", "int", "bool"})
NUMPY = frozenset({
    "log", "log1p", "log2", "log10", "exp", "expm1", "exp2", "sqrt", "cbrt", "square", "abs", "absolute", "fabs",
    "power", "reciprocal", "sign", "floor", "ceil", "trunc", "round", "rint", "clip", "where", "maximum",
    "minimum", "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh",
    "arccosh", "arctanh", "isnan", "isfinite", "logical_and", "logical_or", "logical_not", "logical_xor",
    "pi", "e", "inf", "nan", "float64", "int64",
})
CONTRASTS = frozenset({"treatment", "poly", "sum", "helmert", "diff", "custom"})
FUNCTIONS = TRANSFORMS | BUILTINS

_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.Call, ast.Name,
          ast.Load, ast.Constant, ast.Tuple, ast.List, ast.keyword, ast.operator, ast.unaryop, ast.boolop,
          ast.cmpop, ast.Attribute)


def _attribute_allowed(node: ast.Attribute) -> bool:
    """``np.f`` / ``numpy.f`` for the element-wise functions above, ``contr.kind`` for contrasts."""
    if not isinstance(node.value, ast.Name):
        return False
    if node.value.id in ("np", "numpy"):
        return node.attr in NUMPY
    return node.value.id == "contr" and node.attr in CONTRASTS


def check_expression(expression: str, where: str) -> None:
    """Raise GllammError unless the Python expression is made only of the parts the module docstring lists."""
    try:  # (`quoted names` are names: formulaic replaces them before evaluating)
        tree = ast.parse(re.sub(r"`[^`]*`", "quoted_name", expression.strip()), mode="eval")
    except SyntaxError as error:
        raise GllammError(f"Cannot read '{expression}' in {where}: {error.msg}.") from None
    for node in ast.walk(tree):
        refused = None
        if not isinstance(node, _NODES):
            refused = f"'{type(node).__name__}' expressions are not allowed"
        elif isinstance(node, ast.Name) and "__" in node.id:
            refused = f"the name '{node.id}' is not allowed"
        elif isinstance(node, ast.Attribute) and not _attribute_allowed(node):
            refused = f"'{ast.unparse(node)}' is not an allowed function (np.<element-wise function> or contr.<kind>)"
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id not in FUNCTIONS:
                refused = f"'{func.id}(...)' is not an allowed function"
            elif not isinstance(func, (ast.Name, ast.Attribute)):
                refused = "only named functions may be called"
        elif isinstance(node, ast.Constant) and isinstance(node.value, bytes):
            refused = "byte strings are not allowed"
        if refused:
            raise GllammError(
                f"The expression '{expression}' in {where} cannot be evaluated: {refused}. Formulas may use columns, "
                f"numbers, arithmetic and these functions: {', '.join(sorted(FUNCTIONS))}, np.<{'|'.join(sorted(NUMPY)[:6])}|...>."
            )


def check_formula(text: str, where: str = "the formula") -> None:
    """Check every Python factor of a formulaic formula with ``check_expression`` (parsing only, no evaluation)."""
    from formulaic import Formula
    from formulaic.parser.types import Factor
    from formulaic.utils.structured import Structured

    try:
        formula = Formula(text)
    except Exception as error:  # formulaic's parse errors
        raise GllammError(f"Cannot parse '{text}' in {where}: {error}") from None
    parts = list(formula._flatten()) if isinstance(formula, Structured) else [formula]
    for part in parts:
        for term in part:
            for factor in term.factors:
                if factor.eval_method == Factor.EvalMethod.PYTHON:
                    check_expression(factor.expr, where)
