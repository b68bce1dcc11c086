"""The model between parsing and estimation: ``Model`` = parsed structure (ModelSpec) + the data's arrays (Design).

    model text + data + DataOptions + ModelOptions  --build_model-->  Model  --Model.fit(EstimationOptions)-->  FitResult

A formula (``y ~ x + (1 | g)``) and lavaan-style syntax (``f =~ y1 + y2 + y3``) meet here: both give a ModelSpec
(which latent variables at which level, the family, the parameters' layout) and a Design (the rows' arrays), and
everything after this point is shared. Syntax also implies constraints (fixed values ``1*y1``, labels ``a*x``
shared by several parameters) and defined parameters (``ind := a*b``), kept on the model.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from .design import Design, build_design
from .design.identification import check_identified, check_response_varies
from .design.syntax_design import build_syntax_design, widen
from .errors import DataWarning, GllammError, warn_user
from .families import make_family
from .families.misclassification import misclassified_family
from .options import OPTION_NAMES, DataOptions, EstimationOptions, ModelOptions, ScaleOptions, split_options
from .results.defined_parameters import resolve as resolve_definitions
from .spec import ModelSpec, ParameterTable
from .syntax import parse_formula
from .syntax.model_syntax import looks_like_syntax, parse_model_syntax
from .syntax.multiple_groups import equal_latent_variances, group_equalities, grouped_model


@dataclass(frozen=True)
class Model:
    """A GLLAMM ready to fit: its text, the (wide, for syntax on long data) data, the structure and the arrays.

    ``implied_fix`` / ``implied_equal``: constraints the syntax writes (``1*y1``, shared labels); ``definitions``:
    its defined parameters. ``Model.fit(**estimation options)`` maximises the likelihood; ``gllamm.fit`` is
    ``build_model(...).fit(...)``."""

    text: str
    data: pd.DataFrame
    spec: ModelSpec
    design: Design
    syntax: bool
    data_options: DataOptions
    model_options: ModelOptions
    implied_fix: dict
    implied_equal: tuple
    definitions: tuple = ()

    def fit(self, estimation: EstimationOptions | None = None, scale: ScaleOptions | None = None, **options):
        """Maximum likelihood estimates (``FitResult``). Options as ``EstimationOptions`` and ``ScaleOptions``, or
        their fields by keyword (``model.fit(nip=12, max_iter=50)``)."""
        from .estimate import fit_model

        if options:
            early = [name for name in options if name in DataOptions.__dataclass_fields__
                     or name in ModelOptions.__dataclass_fields__]
            unknown = [name for name in options if name not in OPTION_NAMES]
            if early or unknown:
                split_options(options)  # (names an unknown option and the closest known one)
                raise GllammError(f"{', '.join(early)}: options of the model, fixed when it was built; give them to "
                                  f"gllamm.build_model() (or gllamm.fit()).")
            names = {f: options.pop(f) for f in list(options) if f in ScaleOptions.__dataclass_fields__}
            scale = ScaleOptions(**names) if names else scale
            estimation = EstimationOptions(**options) if options else estimation
        from dataclasses import replace

        estimation, scale = estimation or EstimationOptions(), scale or ScaleOptions()
        return replace(fit_model(self, estimation, scale), estimation=estimation, scale_options=scale)


    def refit(self, data: pd.DataFrame, options: dict):
        """The same model text on other data (e.g. simulated), with ``options`` as ``gllamm.fit`` takes them."""
        options = _without_implied(self, options)
        if self.data_options.group is not None:  # the groups' copies back to one column per indicator
            data = _ungrouped(self, data)
            options = {**options, "group": self.data_options.group, "group_equal": self.model_options.group_equal,
                       "group_partial": self.model_options.group_partial}
        data_options, model_options, estimation, scale = split_options(options)
        return build_model(self.text, data, data_options, model_options).fit(estimation, scale)


def _without_implied(model: "Model", options: dict) -> dict:
    """A result's fix/equal options less the constraints the model text implies (labels, 1*x, group_equal), which
    the refitted model implies again: given twice, an equality would enter the constraint map twice."""
    implied_equal = {tuple(group) for group in model.implied_equal}
    equal = [group for group in (options.get("equal") or []) if tuple(group) not in implied_equal]
    fix = {name: value for name, value in (options.get("fix") or {}).items()
           if name not in model.implied_fix or model.implied_fix[name] != value}
    return {**options, "equal": equal or None, "fix": fix or None}


def _ungrouped(model: "Model", data: pd.DataFrame) -> pd.DataFrame:
    """Data of a multiple-group model as the user gives it: data with the group column as they are; data of the
    groups' copies (``x2.g1``, ``x2.g2``: simulate's) merged into ``x2`` from each unit's group, the group column
    taken from the fitted data (same units in the same order)."""
    group = model.data_options.group
    copies = [c for c in data.columns if re.fullmatch(r".+\.g\d+", str(c))]
    if not copies:
        return data
    if len(data) != len(model.data):
        raise GllammError(f"Data with the groups' copies ({copies[0]}, ...) must have the fitted units' rows "
                          f"({len(model.data)}); got {len(data)}.")
    labels = list(pd.unique(model.data[group]))
    member = {k: (model.data[group] == label).to_numpy() for k, label in enumerate(labels, start=1)}
    out = data.drop(columns=copies).copy()
    for name in dict.fromkeys(str(c).rsplit(".g", 1)[0] for c in copies):
        values = np.full(len(data), np.nan)
        for k, inside in member.items():
            if f"{name}.g{k}" in data:
                values = np.where(inside, data[f"{name}.g{k}"].to_numpy(dtype=float), values)
        out[name] = values
    out[group] = model.data[group].to_numpy()
    return out


def build_model(text: str, data: pd.DataFrame, data_options: DataOptions | None = None,
                model_options: ModelOptions | None = None, **options) -> Model:
    """Parse the model text (formula or syntax), check the options that apply to it, and build its spec and design.

    Options as ``DataOptions`` and ``ModelOptions`` or their fields by keyword:
    ``gllamm.build_model("use ~ age + (1 | district)", data, family="binomial").fit(nip=12)``.
    Refuses, before any fitting, options that do not apply to the kind of model, responses without variation and
    designs whose random effects the data cannot identify (``design/identification.py``)."""
    if options:
        given_data, given_model, estimation, scale = split_options(options)
        later = [name for name in options if name in EstimationOptions.__dataclass_fields__
                 or name in ScaleOptions.__dataclass_fields__]
        if later:
            raise GllammError(f"{', '.join(later)}: options of the estimation; give them to Model.fit(), e.g. "
                              f"model.fit({later[0]}=...).")
        data_options = data_options or given_data
        model_options = model_options or given_model
    data_options, model_options = data_options or DataOptions(), model_options or ModelOptions()
    if not isinstance(text, str) or not text.strip():
        raise GllammError(f"model must be a formula such as 'y ~ x + (1 | group)' or lavaan-style syntax such as "
                          f"'f =~ y1 + y2 + y3'; got {text!r}.")
    d, m = data_options, model_options
    family = m.family if isinstance(m.family, dict) else make_family(m.family, m.link)
    if m.misclassification is not None:
        family = misclassified_family(family, m.misclassification, m.scale)
    if looks_like_syntax(text):
        model = _syntax_model(text, data, d, m, family)
    else:
        model = _formula_model(text, data, d, m, family)
    spec, design = model.spec, model.design
    if m.classes is not None and model.definitions:
        raise GllammError("Defined parameters (:=) with latent classes are not available yet; compute them from "
                          "res.params.")
    if m.classes is None:
        for name, value in dict(concomitant=m.concomitant, known_class=m.known_class).items():
            if value is not None:
                raise GllammError(f"{name}= is for models with latent classes; give classes= as well.")
        check_response_varies(spec, design)
        check_identified(spec, design)
        if not model.syntax and (d.cluster is not None or d.long is not None):
            raise GllammError("cluster= and long= are for model syntax; in a formula write the grouping in the random "
                              "terms, (1 | cluster).")
    return model


def _syntax_model(text: str, data: pd.DataFrame, d: DataOptions, m: ModelOptions, family) -> Model:
    """A model in lavaan-style syntax (with group=, every group's copies as one model)."""
    syntax = parse_model_syntax(text)
    for name, value in dict(top_weights=d.top_weights, offset=d.offset, trials=d.trials, scale=m.scale,
                            base=m.base, choice_set=m.choice_set, nominal=m.nominal,
                            zero_inflation=m.zero_inflation, ordered_thresholds=m.ordered_thresholds or None).items():
        if value is not None:
            raise GllammError(f"{name}= is not available with model syntax yet; use a formula model.")
    if d.long is not None:
        data = widen(data, d.long["unit"], d.long["item"], d.long["response"])
    if m.family_by is not None:
        raise GllammError("family_by= is for formula models on long data; in model syntax key the family "
                          "mapping by indicator names.")
    indicators = list(syntax.indicators)
    original = data
    per_group = [f"c({', '.join(t.per_group)})*{t.name}" for st in syntax.statements for t in st.rhs if t.per_group]
    if per_group and d.group is None:
        raise GllammError(f"{per_group[0]} gives one modifier per group: add group= (the column of the groups), or "
                          "write a single label, value or NA.")
    if d.group is not None:  # one model of every group's copies (syntax/multiple_groups.py)
        grouped_text, data, groups = grouped_model(syntax, data, d.group, m.group_equal)
        syntax = parse_model_syntax(grouped_text)
        if isinstance(family, dict):
            family = {f"{name}.g{k}": value for k in range(1, len(groups) + 1) for name, value in family.items()}
    elif m.group_equal is not None or m.group_partial is not None:
        raise GllammError("group_equal= and group_partial= go with group= (the column of the groups).")
    with warnings.catch_warnings():  # (the other groups' copies are missing by construction: not announced)
        if d.group is not None:
            warnings.filterwarnings("ignore", message=r"\d+ missing responses are left out", category=DataWarning)
        spec, design, implied = build_syntax_design(syntax, data, family, factor_scale=m.factor_scale,
                                                    cluster=d.cluster, weights=d.row_weights,
                                                    cluster_weights=d.cluster_weights,
                                                    level_weights=d.level_weights)
    if d.group is not None:
        missing = int(original[indicators].isna().to_numpy().sum())
        if missing:
            warn_user(f"{missing} missing responses are left out (each unit keeps its observed responses).",
                      DataWarning)
    equal = tuple(implied.equal)
    if d.group is not None and equal_latent_variances(m.group_equal):  # (linear in theta with scaled rows)
        spec = replace(spec, levels=tuple(level if level.discrete else replace(level, scaled_rows=True)
                                          for level in spec.levels))
    if d.group is not None:
        equal += tuple(group_equalities(ParameterTable(spec).reported_names(), indicators, m.group_equal,
                                        m.group_partial))
    return Model(text, data, spec, design, True, d, m, dict(implied.fix), equal,
                 resolve_definitions(syntax.definitions, implied.labels or {}))


def _formula_model(text: str, data: pd.DataFrame, d: DataOptions, m: ModelOptions, family) -> Model:
    """A model given by an lme4-style formula."""
    if d.group is not None:
        raise GllammError("group= (multiple groups) is for models in lavaan-style syntax; in a formula model "
                          "interact the effects with the group, e.g. 'y ~ x * C(group) + (1 | g)'.")
    spec, design = build_design(parse_formula(text), data, family, weights=d.row_weights, offset=d.offset,
                                trials=d.trials, cluster_weights=d.cluster_weights, top_weights=d.top_weights,
                                level_weights=d.level_weights, scale_weights=d.scale_weights, scale=m.scale,
                                family_by=m.family_by, base=m.base, choice_set=m.choice_set, nominal=m.nominal,
                                discrete=m.classes is not None, zero_inflation=m.zero_inflation)
    if m.ordered_thresholds:
        if not spec.threshold_covariates or spec.threshold_groups:
            raise GllammError("ordered_thresholds=True is how the covariates of nominal= act on the thresholds of an "
                              "ordinal response (on the first threshold and the log gaps, gllamm's ethresh); give "
                              "nominal='~ x' with family='ordinal'.")
        spec = replace(spec, ordered_thresholds=True)
    return Model(text, data, spec, design, False, d, m, {}, ())
