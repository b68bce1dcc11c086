"""lavaan-style model syntax -> ModelSyntax (a list of statements).

    visual  =~ x1 + x2 + x3        # measurement: loadings (first fixed at 1 by default)
    speed   ~  visual + textual    # structural: latent on latent (B) or on covariates (Gamma)
    x1      ~  age                 # a covariate effect on one response
    f3      ~  f1:f2               # a latent interaction (product of two exogenous latent variables)
    visual  ~~ textual             # covariance;  f ~~ 1*f fixes a variance;  x1 ~~ x1 a residual variance

Modifiers: ``0.5*x`` fixes, ``NA*x`` frees, ``a*x`` labels (equal labels = equality constraints).
Defined parameters: ``indirect := a*b``, ``total := c + a*b`` (functions of labelled parameters, estimated with
delta-method standard errors after the fit).
Statements are separated by newlines or ';'; '#' starts a comment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import GllammError

_NAME = re.compile(r"^[A-Za-z_.][A-Za-z0-9_.]*$")
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
OPERATORS = ("=~", "~~", "~")


@dataclass(frozen=True)
class Term:
    """One right-hand-side variable with its modifier: fixed value, free (NA) or label."""

    name: str
    value: float | None = None
    free: bool = False
    label: str | None = None
    per_group: tuple | None = None  # c(a1, a2)*x: one modifier per group (with group=; syntax/multiple_groups.py)


@dataclass(frozen=True)
class Statement:
    """One statement: lhs, operator (=~, ~, ~~), right-hand terms, source line and level block."""

    lhs: str
    op: str
    rhs: tuple[Term, ...]
    line: int
    text: str
    level: int = 1  # lavaan's level block: 1 = within (units), 2 = between (clusters), 3 = clusters of clusters...


@dataclass(frozen=True)
class Definition:
    """A defined parameter ``name := expression`` of labelled parameters."""

    name: str
    expression: str
    line: int


@dataclass(frozen=True)
class ModelSyntax:
    """A parsed model: its statements in order, its defined parameters, and the source text."""

    text: str
    statements: tuple[Statement, ...]
    definitions: tuple[Definition, ...] = ()
    equalities: tuple[tuple[str, str, int], ...] = ()  # label == label (or number), with its line

    @property
    def formula(self) -> str:
        """The statements joined by '; ' (shown in summaries)."""
        return "; ".join(s.text for s in self.statements)

    @property
    def multilevel(self) -> bool:
        """True when the syntax has a 'level: 2' (or higher) block."""
        return any(s.level >= 2 for s in self.statements)

    @property
    def n_levels(self) -> int:
        """Number of level blocks (1 without them): the units and every level of clusters above them."""
        return max(s.level for s in self.statements)

    @property
    def latent_names(self) -> tuple[str, ...]:
        """Latent variables (left of =~) in order of appearance."""
        names: list[str] = []
        for s in self.statements:
            if s.op == "=~" and s.lhs not in names:
                names.append(s.lhs)
        return tuple(names)

    @property
    def indicators(self) -> tuple[str, ...]:
        """Observed responses (right of =~) in order of appearance."""
        names: list[str] = []
        for s in self.statements:
            if s.op == "=~":
                for term in s.rhs:
                    if term.name not in names:
                        names.append(term.name)
        return tuple(names)


def _error(text: str, line_number: int, column: int, message: str) -> GllammError:
    return GllammError(f"{message} (line {line_number}):\n  {text}\n  {' ' * max(column, 0)}^")


def _parse_term(raw: str, text: str, line_number: int, offset: int) -> Term:
    raw_stripped = raw.strip()
    column = offset + (len(raw) - len(raw.lstrip()))
    if "*" in raw_stripped:
        modifier, name = (part.strip() for part in raw_stripped.split("*", 1))
    else:
        modifier, name = None, raw_stripped
    if ":" in (name or "") and all(_NAME.match(part.strip()) for part in name.split(":")) and name.count(":") == 1:
        name = ":".join(part.strip() for part in name.split(":"))  # a product of two latent variables
    elif not _NAME.match(name or ""):
        where = column + (raw_stripped.index(name) if name and name in raw_stripped else 0)
        raise _error(text, line_number, where, f"'{name}' is not a variable name")
    if modifier is None:
        return Term(name)
    if modifier.upper() == "NA":
        return Term(name, free=True)
    if _NUMBER.match(modifier):
        return Term(name, value=float(modifier))
    if _NAME.match(modifier):
        return Term(name, label=modifier)
    per_group = re.fullmatch(r"c\((.*)\)", modifier)
    if per_group:
        parts = tuple(part.strip() for part in per_group.group(1).split(","))
        if all(part.upper() == "NA" or _NUMBER.match(part) or _NAME.match(part) for part in parts):
            return Term(name, per_group=parts)
    raise _error(text, line_number, column, f"'{modifier}' is not a number, NA, a label or c(...) of them (one per "
                 "group)")


def parse_model_syntax(text: str) -> ModelSyntax:
    """Parse lavaan-style syntax; errors show the line with a caret under the problem."""
    statements: list[Statement] = []
    definitions: list[Definition] = []
    equalities: list[tuple[str, str, int]] = []
    level = 1
    for line_number, raw_line in enumerate(text.splitlines(), start=1):
        line = re.split(r"[#!]", raw_line, maxsplit=1)[0]
        for piece in line.split(";"):
            if not piece.strip():
                continue
            stripped = piece.strip()
            match = re.match(r"^level\s*:\s*(\S*)$", stripped)
            if match:
                name = match.group(1)
                if name not in ("within", "between") and not (name.isdigit() and int(name) >= 1):
                    raise _error(stripped, line_number, stripped.index(":") + 1,
                                 "A level block is 'level: 1' (within units), 'level: 2' (between clusters), "
                                 "'level: 3' (clusters of clusters) and so on")
                level = {"within": 1, "between": 2}.get(name) or int(name)
                continue
            if "==" in stripped:  # an equality constraint between labels (or a label and a number)
                left, _, right = (part.strip() for part in stripped.partition("=="))
                if not _NAME.match(left) or not (_NAME.match(right) or _number(right) is not None):
                    raise _error(stripped, line_number, 0, "A constraint is written 'a == b' (two labels) or "
                                 "'a == 0.5' (a label and a number); other expressions are not available yet")
                equalities.append((left, right, line_number))
                continue
            if ":=" in stripped:  # a defined parameter
                name, _, expression = (part.strip() for part in stripped.partition(":="))
                if not _NAME.match(name):
                    raise _error(stripped, line_number, 0, f"'{name}' is not a name for a defined parameter")
                if not expression:
                    raise _error(stripped, line_number, len(stripped), "A defined parameter needs an expression")
                definitions.append(Definition(name, expression, line_number))
                continue
            statements += _statements(stripped, line_number, level)
    if not statements:
        raise GllammError("The model syntax has no statements.")
    _check_duplicates(statements)
    if not any(s.op == "=~" for s in statements):
        raise GllammError("The model syntax defines no latent variable (no '=~' statement).")
    return ModelSyntax(text, tuple(statements), tuple(definitions), tuple(equalities))


def _statements(stripped: str, line_number: int, level: int) -> list[Statement]:
    """The statements of one 'lhs op rhs' piece: one per left-hand side (lavaan's 'f1 + f2 ~ x'), none for an
    intercept ('y ~ 1', always in the model)."""
    op = next((o for o in OPERATORS if o in stripped), None)
    if op is None:
        raise _error(stripped, line_number, len(stripped), "Expected one of =~, ~ or ~~")
    position = stripped.index(op)
    lhs_text, rhs = stripped[:position].strip(), stripped[position + len(op):]
    names = [name.strip() for name in lhs_text.split("+")]
    for lhs in names:
        if not _NAME.match(lhs):
            raise _error(stripped, line_number, 0, f"'{lhs}' is not a variable name")
    if op == "~" and rhs.strip() == "1":
        return []
    terms = []
    offset = position + len(op)
    for part in rhs.split("+"):
        if not part.strip():
            raise _error(stripped, line_number, offset, "Empty term")
        terms.append(_parse_term(part, stripped, line_number, offset))
        offset += len(part) + 1
    return [Statement(lhs, op, tuple(terms), line_number, stripped if len(names) == 1 else f"{lhs} {op}{rhs}", level)
            for lhs in names]


def _check_duplicates(statements) -> None:
    """A parameter written twice (``f =~ x1 + x2 + x2``, or ``x1 ~~ x1`` on two lines) is an error, as in lavaan
    (which fits the first kind unidentified): give its modifiers once, on one term."""
    seen = {}
    for statement in statements:
        for term in statement.rhs:
            pair = tuple(sorted((statement.lhs, term.name))) if statement.op == "~~" else (statement.lhs, term.name)
            key = (statement.level, statement.op, pair)
            if key in seen:
                where = "the same line" if seen[key] == statement.line else f"line {seen[key]}"
                raise _error(statement.text, statement.line, 0,
                             f"'{statement.lhs} {statement.op} {term.name}' is already in the model ({where}); write "
                             "each parameter once, with its modifiers (e.g. 'f =~ NA*x1 + x2')")
            seen[key] = statement.line


def _number(text: str) -> float | None:
    """The number ``text`` spells, or None."""
    try:
        return float(text)
    except ValueError:
        return None


def looks_like_syntax(model: str) -> bool:
    """True for lavaan-style syntax (has '=~'), False for an lme4 formula."""
    return "=~" in model
