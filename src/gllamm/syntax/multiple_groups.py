"""Multiple groups (lavaan's group=): the model fitted in every group, with parameters equal across groups as asked.

The groups' models are written as one model: every latent variable and indicator gets a copy per group, named with
the group's number (``visual.g2``, ``x2.g2``; groups numbered in order of appearance in the data, as lavaan does),
an indicator's copy holding its values in that group's units and missing elsewhere, and latent variables of
different groups uncorrelated. A unit then has responses only on its own group's copies, and its likelihood is that
of its group's model: the log-likelihood is the sum over groups, as in lavaan. Observed covariates keep their names.
Labels in the syntax keep theirs, so a label shared by the groups' copies makes them equal (lavaan's rule);
``c(a1, a2)*x2`` gives each group its own modifier (label, value or NA), as in lavaan.

``group_equal`` adds equality across groups by kind of parameter: "loadings", "intercepts", "residuals",
"regressions", "thresholds", "lv.variances", "lv.covariances" (by the parameter's name with the group numbers taken
out; equal latent variances use Cholesky factors with scaled rows, in which each variance is one parameter and the
rows' directions, the correlations' factor, are the other parameters: equal covariances come with equal variances); ``group_partial`` names
parameters (lavaan style, ``visual=~x2``) left free. With equal intercepts the latent variables' means are free in
every group but the first (a path on a constant column ``_mean.g<k>``, named ``visual.g2~_mean.g2``).
"""

from __future__ import annotations

import re

import pandas as pd

from ..errors import GllammError, closest
from .model_syntax import ModelSyntax

KINDS = ("loadings", "intercepts", "residuals", "regressions", "thresholds", "means", "lv.variances", "lv.covariances")
MIN_UNITS = 3  # units a group needs


def group_labels(data: pd.DataFrame, group: str) -> list:
    """The groups' values in order of appearance (lavaan's numbering), each with enough units."""
    if group not in data.columns:
        raise GllammError(f"group= names '{group}', which is not a column of the data.{closest(group, list(data.columns))}")
    values = data[group]
    if values.isna().any():
        raise GllammError(f"group= column '{group}' has missing values; give every unit a group or drop those units.")
    labels = list(pd.unique(values))
    if len(labels) < 2:
        raise GllammError(f"group= column '{group}' has {len(labels)} value; multiple groups need at least 2.")
    counts = values.value_counts()
    small = [label for label in labels if counts[label] < MIN_UNITS]
    if small:
        raise GllammError(f"Group(s) {small} of '{group}' have fewer than {MIN_UNITS} units; merge or drop them.")
    return labels


def grouped_model(syntax: ModelSyntax, data: pd.DataFrame, group: str, group_equal) -> tuple[str, pd.DataFrame, list]:
    """(the syntax of all groups' models as one, the data with per-group indicator copies, the group labels)."""
    labels = group_labels(data, group)
    equal = _checked_kinds(group_equal)
    latent = list(dict.fromkeys(s.lhs for s in syntax.statements if s.op == "=~"))
    indicators = list(syntax.indicators)
    renamed = set(latent) | set(indicators)
    frame = data.copy()
    for k, label in enumerate(labels, start=1):
        member = (data[group] == label).to_numpy()
        for name in indicators:
            frame[f"{name}.g{k}"] = data[name].where(member)
    levels = sorted({s.level for s in syntax.statements})
    lines = []
    for level in levels:
        if syntax.multilevel:
            lines.append(f"level: {level}")
        lines += _level_lines(syntax, level, level == levels[-1], labels, equal, renamed, frame)
    lines += [f"{d.name} := {d.expression}" for d in syntax.definitions]
    lines += [f"{a} == {b}" for a, b, _ in syntax.equalities]
    return "\n".join(lines), frame.drop(columns=indicators), labels


def _level_lines(syntax: ModelSyntax, level: int, top: bool, labels: list, equal: set, renamed: set,
                 frame: pd.DataFrame) -> list[str]:
    """The statements of one level block for every group: each group's copy (its own modifiers picked), the latent
    means of later groups once intercepts are equal (at the top level, where the intercepts are; a constant column
    ``_mean.g<k>`` added to ``frame``), and latent variables of different groups uncorrelated."""
    statements = [s for s in syntax.statements if s.level == level]
    latent = list(dict.fromkeys(s.lhs for s in statements if s.op == "=~"))
    lines = []
    for k in range(1, len(labels) + 1):
        lines += [_renamed(_group_modifiers(s.text, k, len(labels)), renamed, k) for s in statements]
        if "intercepts" in equal and k > 1 and "means" not in equal and top:  # latent means free beyond group 1
            frame[f"_mean.g{k}"] = 1.0
            lines += [f"{name}.g{k} ~ _mean.g{k}" for name in latent]
            # (a regression makes a latent variable endogenous, whose disturbance is by default uncorrelated: keep
            # the covariances the exogenous factors had)
            lines += [f"{a}.g{k} ~~ {b}.g{k}" for a, b in _correlated_pairs(statements, latent)]
    copies = [f"{name}.g{k}" for k in range(1, len(labels) + 1) for name in latent]
    for i, a in enumerate(copies):
        for b in copies[i + 1:]:
            if a.rsplit(".g", 1)[1] != b.rsplit(".g", 1)[1]:
                lines.append(f"{a} ~~ 0*{b}")
    return lines


def _correlated_pairs(statements, latent: list[str]) -> list[tuple[str, str]]:
    """Pairs of latent variables whose covariance the syntax leaves free by default: both exogenous (regressed on
    nothing) and not fixed at 0 by a 'a ~~ 0*b' statement."""
    endogenous = {s.lhs for s in statements if s.op == "~" and s.lhs in latent}
    zero = {frozenset((s.lhs, t.name)) for s in statements if s.op == "~~" for t in s.rhs if t.value == 0}
    exogenous = [name for name in latent if name not in endogenous]
    return [(a, b) for i, a in enumerate(exogenous) for b in exogenous[i + 1:] if frozenset((a, b)) not in zero]


def _group_modifiers(text: str, k: int, n_groups: int) -> str:
    """A statement with every per-group modifier c(m_1, ..., m_G)*x replaced by group k's m_k*x (lavaan's
    group-specific labels and values: c(a1, a2)*x2 labels x2's loading a1 in the first group, a2 in the second)."""
    def pick(match):
        parts = [part.strip() for part in match.group(1).split(",")]
        if len(parts) != n_groups:
            raise GllammError(f"'{match.group(0)}' gives {len(parts)} modifiers for {n_groups} groups: give one per "
                              f"group, in the groups' order (order of appearance in the data), in:\n  {text}")
        return f"{parts[k - 1]}*"

    return re.sub(r"\bc\(([^()]*)\)\s*\*", pick, text)


def _renamed(text: str, names: set, k: int) -> str:
    """A statement with every latent variable and indicator name given the group suffix .g<k>."""
    def rename(match):
        word = match.group(0)
        return f"{word}.g{k}" if word in names else word

    return re.sub(r"(?<![\w.])[A-Za-z_][\w.]*(?![\w(])", rename, text)


def _checked_kinds(group_equal) -> set:
    kinds = [group_equal] if isinstance(group_equal, str) else list(group_equal or [])
    for kind in kinds:
        if kind not in KINDS:
            raise GllammError(f"group_equal= '{kind}' is not a kind of parameter.{closest(kind, KINDS)} Kinds: "
                              f"{', '.join(KINDS)}.")
    if "lv.covariances" in kinds and "lv.variances" not in kinds:
        raise GllammError("group_equal= 'lv.covariances' is taken together with 'lv.variances' (the latent "
                          "variables' whole covariance matrix equal across groups); equal covariances with free "
                          "variances are a non-linear constraint gllamm does not impose.")
    return set(kinds)


def equal_latent_variances(group_equal) -> bool:
    """True when ``group_equal`` equates the latent variables' variances across groups ("lv.variances"): their
    Cholesky factors then use scaled rows (``LevelSpec.scaled_rows``), in which a variance is one parameter."""
    return "lv.variances" in _checked_kinds(group_equal)


def group_equalities(names: list[str], indicators: list[str], group_equal, group_partial) -> list[tuple]:
    """Equality groups (tuples of reported names) of the parameters of the kinds in ``group_equal``, matched across
    groups by their names without the group numbers, except those ``group_partial`` names."""
    kinds = _checked_kinds(group_equal)
    partial = set([group_partial] if isinstance(group_partial, str) else (group_partial or []))
    matched: dict = {}
    for name in names:
        if ".g" not in name or "_mean.g" in name:
            continue
        common = re.sub(r"\.g\d+(?=\W|$)", "", name)
        kind = _kind(common, indicators)
        if kind == "lv.covariances" and common in partial:
            raise GllammError(f"group_partial= '{common}': with group_equal 'lv.covariances' the latent covariance "
                              "matrices are equal as a whole; free 'lv.covariances' instead.")
        if common in partial or kind not in kinds:
            continue
        matched.setdefault(common, []).append(name)
    unknown = sorted(partial - set(re.sub(r"\.g\d+(?=\W|$)", "", n) for n in names))
    if unknown:
        raise GllammError(f"group_partial= names {unknown}, not parameters of the model (write them as lavaan does, "
                          "e.g. 'visual=~x2').")
    return [tuple(group) for group in matched.values() if len(group) > 1]


def _kind(name: str, indicators: list[str]) -> str:
    """The group_equal kind of a parameter name (without group numbers)."""
    if "=~" in name:
        return "loadings"
    if name.endswith("~1"):
        return "intercepts"
    if "|t" in name:
        return "thresholds"
    if "~~" in name:
        left, right = name.split("~~")
        if left == right:
            return "residuals" if left in indicators else "lv.variances"
        return "covariances" if left in indicators or right in indicators else "lv.covariances"
    if "~" in name:
        return "regressions"
    return "other"

