"""lme4-style model formulas -> FormulaSpec.

``y ~ x1 * x2 + C(g) + offset(log(n)) + (1 + x | school)`` is split into

* the response (a column or expression, or ``cbind(successes, failures)``),
* the fixed part, handed to formulaic unchanged (interactions, ``C()``, ``I()``),
* ``offset(...)`` terms,
* random terms ``(expr | group)`` (correlated) and ``(expr || group)``
  (uncorrelated: one block per column of expr's model matrix).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import GllammError


@dataclass(frozen=True)
class RandomTerm:
    """A random-effects term ``(expr | group)``: latent variables multiplying expr's columns."""

    expr: str
    group: str
    correlated: bool = True


@dataclass(frozen=True)
class FormulaSpec:
    """A parsed lme4-style formula."""

    formula: str
    response: str
    fixed: str
    offsets: tuple[str, ...]
    random: tuple[RandomTerm, ...]
    cbind: tuple[str, str] | None = None

    @property
    def groups(self) -> tuple[str, ...]:
        """Grouping factors in order of first appearance."""
        seen: list[str] = []
        for term in self.random:
            if term.group not in seen:
                seen.append(term.group)
        return tuple(seen)


def _caret(text: str, pos: int, message: str) -> GllammError:
    return GllammError(f"{message}\n  {text}\n  {' ' * pos}^")


def _split_top_level(text: str, formula: str, offset: int) -> list[tuple[str, str]]:
    """Split text at depth-0 '+' / '-' into (sign, term) pairs."""
    parts: list[tuple[str, str]] = []
    depth, start, sign = 0, 0, "+"
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise _caret(formula, offset + i, "Unbalanced ')' in formula:")
        elif ch in "+-" and depth == 0:
            parts.append((sign, text[start:i].strip()))
            sign, start = ch, i + 1
    if depth != 0:
        raise _caret(formula, offset + len(text), "Missing ')' in formula:")
    parts.append((sign, text[start:].strip()))
    return parts


_RANDOM = re.compile(r"^\((?P<body>.*)\)$", re.S)
_OFFSET = re.compile(r"^offset\((?P<body>.*)\)$", re.S)
_CBIND = re.compile(r"^cbind\((?P<a>[^,]+),(?P<b>[^,]+)\)$", re.S)


def _bar_position(body: str) -> int:
    depth = 0
    for i, ch in enumerate(body):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "|" and depth == 0:
            return i
    return -1


def parse_formula(formula: str) -> FormulaSpec:
    """Parse an lme4-style formula string into a FormulaSpec: the response, the fixed part (formulaic's syntax)
    and the random terms ``(expr | group)``, ``(expr || group)`` (uncorrelated) and ``(expr | a/b)`` (nested),
    each a set of latent variables at its grouping level."""
    if not isinstance(formula, str) or "~" not in formula:
        raise GllammError(f"A formula needs a response and '~', e.g. 'y ~ x + (1 | group)'; got {formula!r}.")
    tilde = formula.index("~")
    response = formula[:tilde].strip()
    if not response:
        raise _caret(formula, 0, "The formula has no response before '~':")
    rhs = formula[tilde + 1 :]
    if not rhs.strip():
        raise _caret(formula, len(formula), "The formula has nothing after '~' (write 'y ~ 1' for a model with an "
                                            "intercept only):")
    fixed_parts: list[str] = []
    offsets: list[str] = []
    random: list[RandomTerm] = []
    for sign, term in _split_top_level(rhs, formula, tilde + 1):
        if not term:
            if sign == "-" or fixed_parts or random or offsets:
                pos = formula.find(sign + sign) if sign + sign in formula else len(formula)
                raise _caret(formula, max(pos, 0), "Empty term in formula:")
            continue
        match_random = _RANDOM.match(term)
        if match_random and _bar_position(match_random.group("body")) >= 0:
            if sign == "-":
                raise _caret(formula, formula.find(term), "A random term cannot be subtracted:")
            body = match_random.group("body")
            bar = _bar_position(body)
            correlated = not (bar + 1 < len(body) and body[bar + 1] == "|")
            expr = body[:bar].strip()
            group = body[bar + (1 if correlated else 2) :].strip()
            if not expr or not group:
                raise _caret(formula, formula.find(term), "A random term needs '(terms | group)':")
            if "/" in group:  # lme4's (expr | a/b) = (expr | a) + (expr | a:b)
                parts = [g.strip() for g in group.split("/")]
                for k in range(len(parts)):
                    random.append(RandomTerm(expr, ":".join(parts[: k + 1]), correlated))
            else:
                random.append(RandomTerm(expr, group, correlated))
            continue
        match_offset = _OFFSET.match(term)
        if match_offset:
            offsets.append(match_offset.group("body").strip())
            continue
        fixed_parts.append(term if sign == "+" and not fixed_parts else f"{sign} {term}")
    fixed = " ".join(fixed_parts).strip()
    if fixed.startswith("+ "):
        fixed = fixed[2:]
    if not fixed:
        fixed = "1"
    cbind = None
    match_cbind = _CBIND.match(response.replace(" ", ""))
    if match_cbind:
        cbind = (match_cbind.group("a"), match_cbind.group("b"))
    return FormulaSpec(formula, response, fixed, tuple(offsets), tuple(random), cbind)
