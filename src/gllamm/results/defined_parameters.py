"""Defined parameters (lavaan's ``:=``): functions of labelled parameters with delta-method standard errors.

    m ~ a*x;  y ~ b*m + c*x;  indirect := a*b;  total := c + a*b

Each definition is an arithmetic expression (+ - * / **, numbers, exp, log, sqrt, abs) of labels and of
definitions before it. Its estimate is the expression at the reported estimates r, and its standard error
sqrt(g' V g) with g the exact gradient of the expression in r (JAX) and V the covariance of r.
"""

from __future__ import annotations

import ast
from statistics import NormalDist

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from ..errors import GllammError, closest

_FUNCTIONS = {"exp": jnp.exp, "log": jnp.log, "sqrt": jnp.sqrt, "abs": jnp.abs}
_OPERATORS = {ast.Add: jnp.add, ast.Sub: jnp.subtract, ast.Mult: jnp.multiply, ast.Div: jnp.divide,
              ast.Pow: jnp.power}


def resolve(definitions, labels: dict) -> tuple:
    """((name, expression, ((label, reported name), ...)), ...) for the syntax's definitions; GllammError for an
    expression that is not arithmetic of labels and earlier definitions, or that names an unknown label."""
    resolved, known = [], set()
    for definition in definitions:
        try:
            tree = ast.parse(definition.expression, mode="eval")
        except SyntaxError:
            raise GllammError(f"Line {definition.line} ({definition.name} := {definition.expression}): not an "
                              "arithmetic expression.") from None
        used = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                if not (isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS) or node.keywords:
                    raise GllammError(f"Line {definition.line}: only {', '.join(_FUNCTIONS)} may be called in a "
                                      "defined parameter.")
            elif isinstance(node, ast.Name) and node.id not in _FUNCTIONS:
                if node.id not in labels and node.id not in known:
                    choices = list(labels) + sorted(known)
                    raise GllammError(f"Line {definition.line} ({definition.name} := {definition.expression}): "
                                      f"'{node.id}' is not a label of the model.{closest(node.id, choices)} Labels: "
                                      f"{', '.join(choices) or 'none (label a parameter as a*x)'}.")
                used.append(node.id)
            elif not isinstance(node, (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Load, ast.Name,
                                       ast.operator, ast.unaryop, ast.Call)):
                raise GllammError(f"Line {definition.line}: '{definition.expression}' is not an arithmetic "
                                  "expression of labels.")
            elif isinstance(node, ast.Constant) and not isinstance(node.value, (int, float)):
                raise GllammError(f"Line {definition.line}: only numbers may appear as constants.")
        if definition.name in labels or definition.name in known:
            raise GllammError(f"Line {definition.line}: '{definition.name}' is already a label or a definition.")
        mapping = tuple((label, labels[label][0]) for label in dict.fromkeys(used) if label in labels)
        resolved.append((definition.name, definition.expression, mapping))
        known.add(definition.name)
    return tuple(resolved)


def _evaluate(node, values: dict):
    if isinstance(node, ast.Expression):
        return _evaluate(node.body, values)
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        return values[node.id]
    if isinstance(node, ast.UnaryOp):
        operand = _evaluate(node.operand, values)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp):
        return _OPERATORS[type(node.op)](_evaluate(node.left, values), _evaluate(node.right, values))
    return _FUNCTIONS[node.func.id](*[_evaluate(arg, values) for arg in node.args])


def defined_values(definitions: tuple, names: list[str], reported):
    """The defined parameters (vector) at the reported parameters ``reported`` (names in ``names``)."""
    position = {name: k for k, name in enumerate(names)}
    values, out = {}, []
    for name, expression, mapping in definitions:
        for label, reported_name in mapping:
            values[label] = reported[position[reported_name]]
        values[name] = _evaluate(ast.parse(expression, mode="eval"), values)
        out.append(values[name])
    return jnp.stack(out)


def defined_table(result, level: float = 0.95) -> pd.DataFrame:
    """estimate, se, z, p, ci_lower, ci_upper of the defined parameters (delta method; module docstring)."""
    names = list(result.params.index)
    reported = jnp.asarray(result.params.to_numpy())
    estimate = np.asarray(defined_values(result.definitions, names, reported))
    jacobian = np.asarray(jax.jacfwd(lambda r: defined_values(result.definitions, names, r))(reported))
    se = np.sqrt(np.clip(np.diag(jacobian @ result.vcov.to_numpy() @ jacobian.T), 0, None))
    normal = NormalDist()
    crit = normal.inv_cdf(0.5 + level / 2)
    z = estimate / np.where(se > 0, se, np.nan)
    return pd.DataFrame({"estimate": estimate, "se": se, "z": z,
                         "p": [2 * normal.cdf(-abs(v)) if np.isfinite(v) else np.nan for v in z],
                         "ci_lower": estimate - crit * se, "ci_upper": estimate + crit * se},
                        index=[d[0] for d in result.definitions])
