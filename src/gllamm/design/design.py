"""Data frame + parsed formula -> Design: the arrays the likelihood reads.

Rows are grouped by the top-level cluster and laid out as fixed-width chunks
(see chunks.py), feature-major for X and Z: shape (features, chunks, width).
The likelihood is a sum of per-cluster terms, so the chunk axis (kept sorted
by cluster) can later be sharded.
Padded rows have weight 0; padded values are chosen so every log density is finite.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..runtime.startup import quiet_imports
from ..errors import DataWarning, GllammError, closest, warn_user
from ..families import Family
from ..spec import LevelSpec, ModelSpec
from ..syntax import FormulaSpec
from ..syntax.safe_expressions import SAFE_CONTEXT, check_formula
from .chunks import choose_width, chunk_rows
from .data_checks import check_columns, check_frame, complete_rows
from .choice_sets import check_varies_within_sets, code_ranks, slot_values, stage_layout
from .nominal import code_nominal
from .nominal import expand as expand_nominal
from .ordinal_response import code_ordinal
from ..families.mixed import make_mixed_family


def _formulaic():
    """formulaic, imported on first use (it takes a fifth of a second to import and models written in
    lavaan-style syntax never need it); the first import runs with the collector paused (see runtime/startup.py)."""
    if "formulaic" not in sys.modules:
        with quiet_imports():
            import formulaic  # noqa: F401
    return sys.modules["formulaic"]


def model_matrix(formula: str, data, **kwargs):
    """formulaic's model_matrix (imported on first use), for a formula whose Python parts are checked first
    (``check_formula``: arithmetic on columns and listed functions only) and evaluated in an empty context."""
    _formulaic()
    check_formula(formula)
    return _formulaic().model_matrix(formula, data, context=SAFE_CONTEXT, **kwargs)


def Formula(expression: str):
    """formulaic's Formula (imported on first use; parsing evaluates nothing)."""
    return _formulaic().Formula(expression)


@dataclass(frozen=True)
class Chunks:
    """Rows laid out as (chunks, width) arrays; ``arrays`` is the JAX pytree the likelihood reads.

    arrays: y, trials, constant, offset, weight (chunks, width); X (p, chunks, width);
    Z (q, chunks, width); chunk_cluster (chunks,); cluster_weight (clusters,).
    """

    arrays: dict
    row_positions: np.ndarray  # (chunks, width) index into the complete-case rows, -1 = padding


@dataclass(frozen=True)
class Design:
    """Arrays for one model and data set (complete cases only)."""

    y: np.ndarray
    trials: np.ndarray
    X: np.ndarray
    Z: np.ndarray
    offset: np.ndarray
    weights: np.ndarray
    cluster_codes: np.ndarray
    cluster_labels: np.ndarray
    chunks: Chunks
    row_index: pd.Index  # labels of the used rows in the user's data frame
    n_dropped: int
    response_name: str
    fixed_model_spec: object = None  # formulaic ModelSpec of the fixed part (rebuilds X for new data)
    random_model_specs: tuple = ()  # formulaic ModelSpecs of the random terms (rebuild Z)
    group_columns: tuple = ()  # data columns that identify the clusters
    cluster_weights: np.ndarray | None = None  # level-2 (cluster) weights, one per cluster
    model_frame: pd.DataFrame | None = None  # the used columns of the complete rows
    offset_argument: np.ndarray | None = None  # the offset= values of the complete rows (formula offsets excluded)
    weights_argument: np.ndarray | None = None  # the weights= values of the complete rows, as given (before scaling)
    cluster_weights_argument: np.ndarray | None = None  # the cluster_weights= values of the complete rows
    top_weights_argument: np.ndarray | None = None  # the top_weights= values (level 3) of the complete rows
    level_weights_argument: dict | None = None  # the level_weights= values {grouping factor: complete rows' values}
    level_units: dict | None = None  # number of units per level, innermost first
    Z_levels: tuple = ()  # Z of every level (Z is the first)
    top_labels: np.ndarray | None = None  # labels of the top-level units when levels are nested
    middle_labels: tuple = ()  # labels of the units of the levels between the first and the top (4+ levels)
    dispersion_index: np.ndarray | None = None  # which residual variance/dispersion applies to each row
    cluster_covariates: np.ndarray | None = None  # w (clusters, n_w) for the structural model
    scale_matrix: np.ndarray | None = None  # V (rows, n_scale) of the level-1 log-scale model
    scale_model_spec: object = None  # formulaic ModelSpec of V (rebuilds it for new data)
    member: np.ndarray | None = None  # mixed responses: the response type (family) of each row
    set_size: int = 1  # multinomial: rows (category slots) per observation
    choice: object = None  # choice/ranking data: the ChoiceLayout (slots -> data rows)
    nominal_categories: tuple = ()  # nominal response: category labels (slot order) and the base's index
    nominal_base: int = 0
    threshold_matrix: np.ndarray | None = None  # T (rows, n_t) of the threshold covariates (non-proportional odds)
    threshold_model_spec: object = None  # formulaic ModelSpec of T (rebuilds it for new data)
    threshold_item: np.ndarray | None = None  # ordinal items with own thresholds: each row's item (group) index

    @property
    def n_obs(self) -> int:
        """Number of responses (observations; a multinomial response has set_size rows; a choice set is one)."""
        return self.choice.n_sets if self.choice is not None else int(self.y.shape[0]) // self.set_size

    @property
    def n_clusters(self) -> int:
        """Number of units at the first grouping level."""
        return int(len(self.cluster_labels))

    def unit_labels(self, index: int) -> np.ndarray:
        """Labels of the units of latent level ``index`` (0: the first grouping level; the last: the top)."""
        if index == 0:
            return self.cluster_labels
        if index <= len(self.middle_labels):
            return self.middle_labels[index - 1]
        return self.top_labels

    def level_codes(self, index: int) -> np.ndarray:
        """Each row's unit at latent level ``index`` (0: the first grouping level), through the parent pointers."""
        codes = self.cluster_codes
        for level in range(1, index + 1):
            codes = np.asarray(self.chunks.arrays["parent" if level == 1 else f"parent{level}"])[codes]
        return codes

    def data(self) -> dict:
        """The pytree passed to jitted likelihood functions."""
        return self.chunks.arrays


def _variables(expression: str) -> set[str]:
    """The data columns an expression reads (functions it calls, such as abs in I(abs(x)), are not columns)."""
    from formulaic.utils.variables import Variable

    check_formula(expression)
    try:
        variables = Formula(expression).required_variables
    except Exception as exc:  # formulaic parse errors
        raise GllammError(f"Cannot parse '{expression}': {exc}") from exc
    return {str(v) for v in variables if Variable.Role.CALLABLE not in v.roles}


def _group_columns(group: str) -> list[str]:
    return [part.strip() for part in group.split(":")]


def _check_columns(names: set[str], data: pd.DataFrame, where: str) -> None:
    for name in sorted(names):
        if name not in data.columns:
            raise GllammError(f"Column '{name}' used in {where} is not in the data.{closest(name, data.columns)}")


def _numeric_column(values, name: str) -> np.ndarray:
    series = pd.Series(values)
    if series.dtype == bool:
        return series.to_numpy(dtype=float)
    if not pd.api.types.is_numeric_dtype(series):
        raise GllammError(
            f"Response '{name}' is not numeric (dtype {series.dtype}). Recode it as numbers, e.g. 0/1 for a binary response."
        )
    return series.to_numpy(dtype=float)


def _as_column(value, data: pd.DataFrame, option: str) -> np.ndarray | None:
    if value is None:
        return None
    if isinstance(value, str):
        if value not in data.columns:
            raise GllammError(f"Column '{value}' given as {option}= is not in the data.{closest(value, data.columns)}")
        column = data[value]
        if column.dtype != bool and not pd.api.types.is_numeric_dtype(column):
            raise GllammError(f"Column '{value}' given as {option}= is not numeric (dtype {column.dtype}); "
                              f"{option}= needs numbers.")
        return column.to_numpy(dtype=float)
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise GllammError(f"{option}= must be a column name or an array of numbers, one per row.") from None
    if array.shape != (len(data),):
        raise GllammError(f"{option}= must be a column name or an array with one value per row ({len(data)}); got shape {array.shape}.")
    return array


def _rename_intercept(names) -> list[str]:
    return ["(Intercept)" if n == "Intercept" else str(n) for n in names]


def build_design(
    formula: FormulaSpec,
    data: pd.DataFrame,
    family: Family,
    *,
    weights=None,
    offset=None,
    trials=None,
    cluster_weights=None,
    top_weights=None,
    level_weights: dict | None = None,
    scale_weights: str = "none",
    chunk_width: int | None = None,
    scale: str | None = None,
    family_by: str | None = None,
    discrete: bool = False,
    base=None,
    choice_set: str | None = None,
    nominal: str | None = None,
) -> tuple[ModelSpec, Design]:
    """Build the ModelSpec and Design for an lme4-style formula on a data frame.

    Rows with a missing value in any used column are dropped (with a
    DataWarning saying how many), as lme4 does; in choice/ranking data (``choice_set=``)
    the whole choice set of such a row is dropped, and a missing rank means "not ranked".
    """
    check_frame(data)
    # -- which columns are used ------------------------------------------------
    if formula.cbind:
        response_vars = _variables(formula.cbind[0]) | _variables(formula.cbind[1])
    else:
        response_vars = _variables(formula.response)
    _check_columns(response_vars, data, "the response")
    fixed_vars = _variables(formula.fixed)
    _check_columns(fixed_vars, data, "the fixed part of the formula")
    offset_vars: set[str] = set()
    for expression in formula.offsets:
        offset_vars |= _variables(expression)
    _check_columns(offset_vars, data, "offset()")
    random_vars: set[str] = set()
    group_vars: list[str] = []
    for term in formula.random:
        random_vars |= _variables(term.expr)
        for column in _group_columns(term.group):
            if column not in data.columns:
                raise GllammError(f"Grouping column '{column}' in ({term.expr} | {term.group}) is not in the data.{closest(column, data.columns)}")
            group_vars.append(column)
    _check_columns(random_vars, data, "a random term")
    mapping = None
    if isinstance(family, dict):  # mixed responses: family per value of the family_by column
        mapping = family
        if family_by is None:
            raise GllammError("family= is a mapping {response type: family}: say which column holds the response "
                              "type with family_by='column' (one row per response, long format).")
        _check_columns({family_by}, data, "family_by=")
    elif family_by is not None:
        raise GllammError("family_by= needs family= as a mapping {value of the column: family}.")
    if choice_set is not None:
        if family.name != "multinomial":
            raise GllammError("choice_set= is for discrete choice and ranking data: use family='multinomial' "
                              "(the response holds ranks, 1 = chosen).")
        _check_columns({choice_set}, data, "choice_set=")
        if formula.cbind:
            raise GllammError("A choice/ranking response is one column of ranks, not cbind().")
    threshold_vars: set[str] = set()
    threshold_formula = None
    if nominal is not None:
        if family.name != "ordinal":
            raise GllammError("nominal= gives covariates of the thresholds (non-proportional odds) of an ordinal "
                              "response; use it with family='ordinal'.")
        threshold_formula = _one_sided(nominal, "nominal")
        threshold_vars = _variables(threshold_formula)
        _check_columns(threshold_vars, data, "nominal=")
    scale_vars: set[str] = set()
    if scale is not None:
        scale = _one_sided(scale, "scale")
        scale_vars = _variables(scale)
        _check_columns(scale_vars, data, "scale=")
    weight_values = _as_column(weights, data, "weights")
    offset_values = _as_column(offset, data, "offset")
    trial_values = _as_column(trials, data, "trials")
    cluster_weight_values = _as_column(cluster_weights, data, "cluster_weights")
    top_weight_values = _as_column(top_weights, data, "top_weights")
    if level_weights is not None and not isinstance(level_weights, dict):
        raise GllammError("level_weights= maps grouping factors to weight columns, e.g. {'school': 'w_school'}.")
    level_weight_values = {name: _as_column(value, data, f"level_weights['{name}']")
                           for name, value in (level_weights or {}).items()}

    # -- complete cases ----------------------------------------------------------
    used = sorted(response_vars | fixed_vars | offset_vars | random_vars | scale_vars | threshold_vars | set(group_vars)
                  | ({family_by} if family_by else set()) | ({choice_set} if choice_set else set()))
    check_columns(data, used)
    frame = data[used]
    checked = [name for name in used if not (choice_set is not None and name in response_vars)]  # missing rank = unranked
    complete = complete_rows(frame, checked)
    for extra, name in ((weight_values, "weights"), (offset_values, "offset"), (trial_values, "trials"),
                        (cluster_weight_values, "cluster_weights"), (top_weight_values, "top_weights"),
                        *((v, n) for n, v in level_weight_values.items())):
        if extra is not None:
            complete &= np.isfinite(extra)
    if choice_set is not None:  # an alternative cannot be dropped from its set: drop the whole set
        complete = pd.Series(complete).groupby(frame[choice_set].to_numpy()).transform("all").to_numpy()
    n_dropped = int((~complete).sum())
    if n_dropped:
        counts = {}
        for name in used:
            bad = frame[name].isna().to_numpy()
            if pd.api.types.is_numeric_dtype(frame[name]) and frame[name].dtype != bool:
                bad = bad | ~np.isfinite(frame[name].to_numpy(dtype=float))
            if bad.any():
                counts[name] = int(bad.sum())
        for extra, name in ((weight_values, "weights="), (offset_values, "offset="), (trial_values, "trials="),
                            (cluster_weight_values, "cluster_weights="), (top_weight_values, "top_weights="),
                            *((v, f"level_weights['{n}']") for n, v in level_weight_values.items())):
            if extra is not None and not np.all(np.isfinite(extra)):
                counts[name] = int((~np.isfinite(extra)).sum())
        detail = ", ".join(f"{k}: {v}" for k, v in counts.items())
        warn_user(f"Dropped {n_dropped} of {len(data)} rows with missing or non-finite values" + (f" ({detail})." if detail else "."),
                  DataWarning)
    if complete.sum() == 0:
        raise GllammError("No complete rows remain after dropping rows with missing values in the model's columns"
                          + (f" (missing or non-finite per column: {detail})" if n_dropped and detail else "")
                          + ". Check those columns, or leave them out of the model.")
    cc = data.loc[complete]

    # -- response ------------------------------------------------------------------
    categories, nominal = (), None
    member, dispersion_index, dispersion_names, dispersion_families = None, None, None, None
    if mapping is not None:
        if scale is not None:
            raise GllammError("scale= cannot yet be combined with mixed responses.")
        types = cc[family_by].astype(str)
        family, members = make_mixed_family(mapping, sorted(types.unique()))
        if any(f.name == "ordinal" for f in family.members):
            raise GllammError("Ordinal responses among mixed responses are available in model syntax, where each "
                              "ordinal item gets thresholds of its own (e.g. 'f =~ y + o' with family={'y': "
                              "'gaussian', 'o': 'ordinal'}); a formula's shared fixed part cannot hold them.")
        member = types.map(members).to_numpy().astype(np.int32)
        with_dispersion = [k for k, f in enumerate(family.members) if f.has_dispersion]
        dispersion_names = tuple(f"var(Residual|{family.labels[k]})" if family.members[k].name == "gaussian"
                                 else f"dispersion|{family.labels[k]}" for k in with_dispersion)
        dispersion_families = tuple(family.members[k].name for k in with_dispersion)
        lookup = np.zeros(len(family.members), dtype=np.int32)
        lookup[with_dispersion] = np.arange(len(with_dispersion))
        dispersion_index = lookup[member]
    if formula.cbind:
        successes = _numeric_column(_evaluate(formula.cbind[0], cc), formula.cbind[0])
        failures = _numeric_column(_evaluate(formula.cbind[1], cc), formula.cbind[1])
        if family.name != "binomial":
            raise GllammError("cbind(successes, failures) responses need family='binomial'.")
        if np.any(failures < 0):
            raise GllammError(f"cbind(): failures '{formula.cbind[1]}' has negative values.")
        y, n_trials = successes, successes + failures
        if family.name == "mixed":
            raise GllammError("cbind() responses cannot be combined with mixed responses; use trials= instead.")
    elif family.name == "multinomial" and choice_set is not None:
        if base is not None:
            raise GllammError("base= is for a nominal response (one row per observation); with choice_set= the "
                              "base alternative is the reference level of its alternative-specific constants, "
                              "e.g. C(mode, Treatment('bus')).")
        set_codes, set_labels = pd.factorize(cc[choice_set], sort=True)
        raw = cc[formula.response] if formula.response in cc.columns else _evaluate(formula.response, cc)
        y, n_trials = code_ranks(raw, set_codes, np.asarray(set_labels), formula.response).astype(float), None
    elif family.name == "multinomial":
        raw = cc[formula.response] if formula.response in cc.columns else _evaluate(formula.response, cc)
        nominal = code_nominal(raw, formula.response, base)
        y, n_trials = nominal[0].astype(float), None
    elif family.name == "ordinal":
        raw = cc[formula.response] if formula.response in cc.columns else _evaluate(formula.response, cc)
        y, categories = code_ordinal(raw, formula.response)
        n_trials = trial_values[complete] if trial_values is not None else None
    else:
        y = _numeric_column(_evaluate(formula.response, cc), formula.response)
        n_trials = trial_values[complete] if trial_values is not None else None
    if trial_values is not None and formula.cbind:
        raise GllammError("Give the number of trials either with cbind() or with trials=, not both.")
    if n_trials is not None and family.name not in ("binomial", "mixed"):
        raise GllammError(f"trials= applies to family='binomial' only (this model has family='{family.name}').")
    if member is not None:
        family.validate(y, n_trials, member)
    else:
        family.validate(y, n_trials, formula.response)
    if n_trials is None:
        n_trials = np.ones_like(y)
    if family.name == "binomial" and np.any(y != np.round(y)):
        raise GllammError(f"Binomial response '{formula.response}' must hold whole numbers of successes.")

    # -- fixed part ------------------------------------------------------------------
    X_frame = model_matrix(formula.fixed, cc, na_action="raise")
    fixed_names = _rename_intercept(X_frame.columns)
    X = np.asarray(X_frame, dtype=float)
    if X.shape[1] == 0:
        X = np.zeros((len(cc), 0))
    if (family.name == "ordinal" or choice_set is not None) and "(Intercept)" in fixed_names:
        # ordinal: the thresholds take its place; choice sets: a common intercept cancels
        keep = [j for j, name in enumerate(fixed_names) if name != "(Intercept)"]
        X, fixed_names = X[:, keep], [fixed_names[j] for j in keep]
    _check_rank(X, fixed_names, "fixed-effects")

    # -- offset ----------------------------------------------------------------------
    total_offset = np.zeros(len(cc))
    for expression in formula.offsets:
        total_offset += np.asarray(_evaluate(expression, cc), dtype=float)
    if offset_values is not None:
        total_offset += offset_values[complete]

    # -- weights -----------------------------------------------------------------------
    row_weights = np.ones(len(cc)) if weight_values is None else weight_values[complete]
    if np.any(row_weights < 0):
        raise GllammError(f"weights= must be non-negative; {int(np.sum(row_weights < 0))} rows have negative weights.")
    if len(row_weights) and not np.any(row_weights > 0):
        raise GllammError("weights= are 0 in every row kept, so no row contributes to the likelihood.")

    # -- latent variables per grouping level (innermost first) ------------------------------
    keys = {}
    for group in formula.groups:
        columns = _group_columns(group)
        keys[group] = cc[columns].astype(str).agg(":".join, axis=1) if len(columns) > 1 else cc[columns[0]]
        if keys[group].nunique() < 2:
            raise GllammError(f"Grouping factor '{group}' has {keys[group].nunique()} level; a random effect needs at least 2 groups.")
    groups = sorted(formula.groups, key=lambda g: -keys[g].nunique())  # more units = lower level
    for lower, higher in zip(groups, groups[1:]):
        if not_nested(keys[lower].to_numpy(), keys[higher].to_numpy()):
            raise GllammError(
                f"'{lower}' is not nested in '{higher}': some '{lower}' units occur in several '{higher}' units. "
                f"If '{lower}' ids restart within each '{higher}', write (1 | {higher}/{lower}); crossed random "
                "effects are not available yet (they will need method='laplace')."
            )
    levels, Z_levels, random_specs = [], [], []
    for group in groups:
        Z_parts, latent_names, blocks = [], [], []
        for term in [t for t in formula.random if t.group == group]:
            Z_frame = model_matrix(term.expr, cc, na_action="raise")
            random_specs.append(Z_frame.model_spec)
            names = _rename_intercept(Z_frame.columns)
            if not names:
                raise GllammError(f"Random term ({term.expr} | {term.group}) has no columns.")
            start = len(latent_names)
            for name in names:
                if name in latent_names:
                    raise GllammError(f"'{name}' appears in more than one random term for '{group}'.")
            latent_names.extend(names)
            Z_parts.append(np.asarray(Z_frame, dtype=float))
            indices = tuple(range(start, start + len(names)))
            blocks.extend([indices] if term.correlated else [(i,) for i in indices])
        Z_level = np.concatenate(Z_parts, axis=1)
        _check_rank(Z_level, latent_names, f"random-effects ('{group}')")
        level = LevelSpec(group, tuple(latent_names), tuple(blocks))
        n_units = keys[group].nunique()
        n_cov = len(level.cholesky_positions)
        if n_units <= n_cov:
            raise GllammError(
                f"Grouping factor '{group}' has {n_units} groups, too few to estimate {n_cov} variance/covariance "
                f"parameters of the random effects ({', '.join(latent_names)}). Use fewer random terms or '||' for uncorrelated effects."
            )
        if family.name == "gaussian" and n_units >= len(cc) and not discrete:  # (a finite mixture is identified)
            raise GllammError(
                f"Every group of '{group}' has a single observation, so the random intercept cannot be told apart from the residual."
            )
        levels.append(level)
        Z_levels.append(Z_level)
    group = groups[0] if groups else "row"
    columns = _group_columns(group) if groups else []
    if not groups:  # no latent variables: every row is its own independent unit
        codes, labels, parent, top_labels = np.arange(len(cc)), np.asarray(cc.index), None, None
    elif len(groups) >= 2:  # units ordered by their higher units, so chunks are sorted by every level above
        hierarchy = _nested_order([keys[g].to_numpy() for g in groups])
        (codes, labels, parent), middle = hierarchy[0], hierarchy[1:-1]
        top_labels, top_of_row = hierarchy[-1][1], hierarchy[-1][0]
    else:
        codes, labels = pd.factorize(keys[group], sort=True)
        labels, parent, top_labels = np.asarray(labels), None, None
    Z = Z_levels[0] if Z_levels else np.zeros((len(cc), 0))
    per_cluster_weights = None
    if cluster_weight_values is not None:
        values = cluster_weight_values[complete]
        per_cluster_weights = np.zeros(len(labels))
        per_cluster_weights[codes] = values
        if np.any(np.abs(values - per_cluster_weights[codes]) > 1e-12 * np.abs(values).max()):
            raise GllammError(f"cluster_weights must be constant within each '{group}' cluster.")
        if np.any(per_cluster_weights < 0):
            raise GllammError("cluster_weights must be non-negative.")
    set_size, available = 1, None
    if family.name == "multinomial":  # choice sets of K slots (categories, or alternatives per ranking stage)
        if scale is not None:
            raise GllammError("scale= is not available for multinomial responses.")
        if choice_set is not None:
            layout, codes, labels = _choice_layout(choice_set, set_codes, np.asarray(set_labels), y, X, fixed_names,
                                                   Z_levels, levels, row_weights, codes if groups else None, labels)
            set_size = layout.set_size
            per_stage = layout.slot_rows.reshape(-1, set_size)[:, 0]  # every stage's first slot holds a row
            stage_codes = codes[per_stage]
            X, total_offset = slot_values(layout, X), slot_values(layout, total_offset)
            Z_levels = [slot_values(layout, Z_level) for Z_level in Z_levels]
            row_weights = np.repeat(row_weights[per_stage], set_size)
            codes = np.repeat(stage_codes, set_size)
            y, available, n_trials = layout.chosen, layout.available, np.ones(len(layout.chosen))
            chunk_width = set_size * choose_width(np.bincount(stage_codes, minlength=len(labels)).clip(1))
        else:
            if np.any(total_offset != 0):
                raise GllammError("offset= is not available for a nominal response (one row per observation).")
            set_size = len(nominal[1])
            y, X, fixed_names, Z_levels, levels = expand_nominal(*nominal, X, fixed_names, Z_levels, levels)
            chunk_width = set_size * choose_width(np.bincount(codes))
            codes, row_weights = np.repeat(codes, set_size), np.repeat(row_weights, set_size)
            total_offset, n_trials = np.zeros(len(y)), np.ones(len(y))
            available = np.ones(len(y))
        Z = Z_levels[0] if Z_levels else np.zeros((len(y), 0))
        if nominal is not None:
            _check_categories_across_groups(nominal[0], nominal[1], keys, levels)
        for level in levels:
            n_cov = len(level.cholesky_positions)
            if keys[level.name].nunique() <= n_cov:
                raise GllammError(f"Grouping factor '{level.name}' has too few groups to estimate {n_cov} "
                                  "variance/covariance parameters of the category-specific random effects; use '||'.")
    elif base is not None:
        raise GllammError("base= applies to family='multinomial'.")
    V, scale_names, scale_spec = _scale_matrix(scale, cc, family)
    T, threshold_covariates, threshold_spec = _threshold_matrix(threshold_formula, cc, fixed_names)
    spec = ModelSpec(formula, family, tuple(fixed_names), tuple(levels), categories=categories,
                     threshold_covariates=threshold_covariates,
                     scale_names=scale_names, dispersion_names=dispersion_names,
                     dispersion_families=dispersion_families, set_size=set_size)
    row_weights = _scale_level1_weights(row_weights, codes, scale_weights)
    if level_weight_values and len(groups) < 3:
        raise GllammError("level_weights= gives the weights of the levels between the first grouping level and the "
                          "top (models with three or more nested grouping factors); use cluster_weights= for the "
                          "first level and top_weights= for the top.")
    if top_weight_values is not None and parent is None:
        raise GllammError("top_weights= is for models with nested levels (weights of the top-level units); "
                          "with one level use cluster_weights=.")
    chunks = _make_chunks(y, n_trials, X, Z, total_offset, row_weights, codes, len(labels), family, chunk_width,
                          per_cluster_weights if parent is None else None, scale_matrix=V, dispersion_index=dispersion_index, member=member,
                          available=available, threshold_matrix=T,
                          threshold_rows=(np.zeros(len(y), int), np.full(len(y), len(categories))) if categories else None)
    if parent is not None:
        import jax
        import jax.numpy as jnp

        valid = chunks.row_positions >= 0
        safe = np.where(valid, chunks.row_positions, 0)
        Z_outer = np.stack([np.where(valid, Z_levels[1][safe, j], 0.0) for j in range(Z_levels[1].shape[1])])
        top_weight = np.ones(len(top_labels))
        if top_weight_values is not None:  # level-3 weights: one per top-level unit
            values = top_weight_values[complete]
            top_weight[top_of_row] = values
            if np.any(np.abs(values - top_weight[top_of_row]) > 1e-12 * np.abs(values).max()) or np.any(values < 0):
                raise GllammError(f"top_weights must be non-negative and constant within each '{groups[-1]}' unit.")
        chunks.arrays.update(Z_outer=jnp.asarray(Z_outer), parent=jax.device_put(np.asarray(parent, dtype=np.int32)),
                             cluster_weight=jnp.asarray(top_weight))
        for index, (_, _, above) in enumerate(middle, start=2):  # levels above the third: their own pointers
            Z_level = Z_levels[index]
            chunks.arrays[f"Z_outer{index}"] = jnp.asarray(
                np.stack([np.where(valid, Z_level[safe, j], 0.0) for j in range(Z_level.shape[1])]))
            chunks.arrays[f"parent{index}"] = jax.device_put(np.asarray(above, dtype=np.int32))
        if per_cluster_weights is not None:  # level-2 weights (units of the first grouping level)
            chunks.arrays["unit_weight"] = jnp.asarray(per_cluster_weights)
        for name, values in level_weight_values.items():  # weights of the levels between the first and the top
            if name not in groups[1:-1]:
                raise GllammError(f"level_weights= names '{name}', which is not a middle grouping level of this "
                                  f"model ({', '.join(groups[1:-1]) or 'none'}); the first level's weights are "
                                  f"cluster_weights= and the top level's top_weights=.")
            index = groups.index(name)
            per_unit = _per_unit_weights(values[complete], middle[index - 1][0], len(middle[index - 1][1]), name)
            chunks.arrays[f"unit_weight{index}"] = jnp.asarray(per_unit)
    design = Design(
        y=y, trials=n_trials, X=X, Z=Z, offset=total_offset, weights=row_weights,
        cluster_codes=codes, cluster_labels=labels, chunks=chunks, row_index=cc.index,
        n_dropped=n_dropped, response_name=formula.response, fixed_model_spec=X_frame.model_spec,
        random_model_specs=tuple(random_specs), group_columns=tuple(columns), cluster_weights=per_cluster_weights,
        model_frame=cc[used].copy(), offset_argument=None if offset_values is None else offset_values[complete],
        weights_argument=None if weight_values is None else weight_values[complete],
        cluster_weights_argument=None if cluster_weight_values is None else cluster_weight_values[complete],
        top_weights_argument=None if top_weight_values is None else top_weight_values[complete],
        level_weights_argument={name: values[complete] for name, values in level_weight_values.items()} or None,
        level_units={lv.name: int(keys[lv.name].nunique()) for lv in levels},
        top_labels=None if top_labels is None else np.asarray(top_labels),
        middle_labels=tuple(np.asarray(m[1]) for m in middle) if len(groups) > 2 else (),
        Z_levels=tuple(Z_levels), scale_matrix=V, scale_model_spec=scale_spec,
        threshold_matrix=T, threshold_model_spec=threshold_spec,
        dispersion_index=dispersion_index, member=member, set_size=set_size,
        choice=layout if choice_set is not None else None,
        nominal_categories=tuple(nominal[1]) if nominal is not None else (), nominal_base=nominal[2] if nominal is not None else 0,
    )
    return spec, design


def _per_unit_weights(values, codes, n_units: int, level: str) -> np.ndarray:
    """One weight per unit from the rows' values (which must be constant within units and non-negative)."""
    per_unit = np.ones(n_units)
    per_unit[codes] = values
    if np.any(np.abs(values - per_unit[codes]) > 1e-12 * np.abs(values).max()) or np.any(values < 0):
        raise GllammError(f"level_weights['{level}'] must be non-negative and constant within each '{level}' unit.")
    return per_unit


def not_nested(lower, higher) -> bool:
    """True when some unit of ``lower`` (row keys) occurs in several units of ``higher``."""
    return bool(pd.Series(higher).groupby(lower).nunique().max() > 1)


def _nested_order(keys: list) -> list:
    """Units of nested grouping levels (row keys per level, innermost first) ordered by their higher units.

    Returns per level (row codes, unit labels, parent of each unit at the level above; None at the top):
    the top units sorted by label, every lower level's units sorted by (parent code, label), so each parent
    pointer is sorted and row chunks sorted by first-level unit are sorted by every level above.
    """
    codes, labels = pd.factorize(keys[-1], sort=True)
    out = [(codes, np.asarray(labels), None)]
    for key in reversed(keys[:-1]):
        pairs = pd.DataFrame({"parent": out[0][0], "unit": key})
        order = pairs.drop_duplicates("unit").sort_values(["parent", "unit"])
        labels = order.unit.to_numpy()
        out.insert(0, (pd.Index(labels).get_indexer(key), labels, order.parent.to_numpy()))
    return out


def _choice_layout(column, set_codes, set_labels, ranks, X, fixed_names, Z_levels, levels, weights, codes, labels):
    """Stage layout of choice/ranking data, after checking what the sets identify.

    Returns the layout and the unit codes/labels of the rows (each choice set its own unit when
    the model has no random terms).
    """
    check_varies_within_sets(X, fixed_names, set_codes, "Fixed-effect term(s)",
                             "Give alternative-specific effects by interacting them with the alternative, "
                             "e.g. C(alt):x, or drop them.")
    for Z_level, level in zip(Z_levels, levels):
        check_varies_within_sets(Z_level, level.latent_names, set_codes, f"Random effect(s) of '{level.name}'",
                                 "A random intercept shared by all alternatives cancels; use alternative-specific "
                                 "ones, e.g. (0 + C(alt) | g), or random coefficients of attributes, (0 + price | g).")
    if codes is None:
        codes, labels = set_codes, set_labels
    else:
        spread = pd.Series(codes).groupby(set_codes).nunique().to_numpy()
        if spread.max() > 1:
            bad = set_labels[int(np.argmax(spread > 1))]
            raise GllammError(f"Choice set '{bad}' ({column}) has alternatives in different '{levels[0].name}' "
                              "units; every choice set must lie within one unit of the random effects.")
    uneven = pd.Series(weights).groupby(set_codes).nunique().to_numpy()
    if uneven.max() > 1:
        raise GllammError(f"weights= differ within choice set '{set_labels[int(np.argmax(uneven > 1))]}'; a weight "
                          "applies to a whole choice set (give every alternative of a set the same weight).")
    return stage_layout(set_codes, len(set_labels), ranks.astype(int)), codes, labels


def _check_categories_across_groups(codes, labels, keys, levels) -> None:
    """Category-specific random effects need each category in at least two groups: a category seen in
    one group only cannot separate that group's effect from the category's intercept."""
    for level in levels:
        groups = pd.Series(keys[level.name].to_numpy()).groupby(codes).nunique()
        for k, label in enumerate(labels):
            count = int(groups.get(k, 0))
            if count < 2:
                raise GllammError(f"Category '{label}' of the nominal response occurs in {count} group(s) of "
                                  f"'{level.name}' only, so its random effect across groups cannot be estimated. "
                                  "Merge the category with another, or drop the random effect.")


def _one_sided(expression: str, option: str) -> str:
    """'~ x + z' or 'x + z' -> 'x + z'; a two-sided formula is an error."""
    text = str(expression).strip()
    if "~" in text:
        left, _, right = text.partition("~")
        if left.strip():
            raise GllammError(f"{option}= takes a one-sided formula such as '~ x'; got '{expression}'.")
        text = right.strip()
    if not text:
        raise GllammError(f"{option}= is empty; give a one-sided formula such as '~ x'.")
    return text


def _scale_matrix(scale: str | None, frame: pd.DataFrame, family: Family):
    """V, the names "scale:v" and the formulaic spec of the level-1 log-scale model log s_i = v_i' alpha.

    Gaussian and gamma responses keep the intercept (it replaces the residual SD/dispersion);
    ordinal and binary responses drop it: their scale is fixed at 1 for v = 0 (identification).
    """
    if scale is None:
        return None, (), None
    if family.name == "poisson":
        raise GllammError("scale= models the level-1 scale, which a Poisson response does not have.")
    matrix = model_matrix(scale, frame, na_action="raise")
    names = _rename_intercept(matrix.columns)
    V = np.asarray(matrix, dtype=float)
    if family.name in ("ordinal", "binomial"):
        keep = [j for j, n in enumerate(names) if n != "(Intercept)"]
        V, names = V[:, keep], [names[j] for j in keep]
        if not names:
            raise GllammError(f"scale='{scale}' has no covariates; for a {family.name} response the scale is "
                              "identified only relative to a reference (give covariates, e.g. scale='~ x').")
    _check_rank(V, names, "scale")
    return V, tuple(f"scale:{n}" for n in names), matrix.model_spec


def _threshold_matrix(nominal: str | None, frame: pd.DataFrame, fixed_names):
    """T (rows, n_t), the covariate names and the formulaic spec of kappa_ik = kappa_k + t_i' gamma_k.

    The intercept is left out (the thresholds kappa_k are the intercepts); a covariate may not
    also be in the fixed part, where its effect would not be identified.
    """
    if nominal is None:
        return None, (), None
    matrix = model_matrix(nominal, frame, na_action="raise")
    names = _rename_intercept(matrix.columns)
    keep = [j for j, n in enumerate(names) if n != "(Intercept)"]
    T, names = np.asarray(matrix, dtype=float)[:, keep], [names[j] for j in keep]
    if not names:
        raise GllammError(f"nominal='{nominal}' has no covariates; give the covariates whose effects differ "
                          "between thresholds, e.g. nominal='~ x'.")
    both = sorted(set(names) & set(fixed_names))
    if both:
        raise GllammError(f"{', '.join(both)} is in both the formula and nominal=: its effect on every threshold "
                          "already includes the common (proportional-odds) effect; remove it from the formula.")
    _check_rank(T, names, "nominal (threshold covariates)")
    return T, tuple(names), matrix.model_spec


def _scale_level1_weights(weights: np.ndarray, codes: np.ndarray, method: str) -> np.ndarray:
    """Scale level-1 weights within clusters (Rabe-Hesketh & Skrondal 2006, Pfeffermann et al. 1998).

    "none": as given; "size": w_ij n_j / sum_i w_ij (sum to the cluster size);
    "effective": w_ij sum_i w_ij / sum_i w_ij^2 (sum to the effective cluster size).
    """
    from ..errors import check_choice

    method = check_choice("scale_weights", method, ("none", "size", "effective"))
    if method == "none":
        return weights
    total = np.bincount(codes, weights=weights)
    if method == "size":
        factor = np.bincount(codes) / np.where(total > 0, total, 1)
    else:
        factor = total / np.where(total > 0, np.bincount(codes, weights=weights**2), 1)
    return weights * factor[codes]


def _evaluate(expression: str, frame: pd.DataFrame) -> np.ndarray:
    if expression in frame.columns:
        return frame[expression].to_numpy()
    matrix = model_matrix(f"0 + I({expression})", frame, na_action="raise")
    if matrix.shape[1] != 1:
        raise GllammError(f"'{expression}' must give one numeric column; it gives {matrix.shape[1]}.")
    return np.asarray(matrix, dtype=float)[:, 0]


def _check_rank(matrix: np.ndarray, names: list[str], what: str) -> None:
    if matrix.shape[1] == 0:
        return
    rank = np.linalg.matrix_rank(matrix)
    if rank < matrix.shape[1]:
        # find the columns that are linear combinations of earlier ones
        redundant, kept = [], []
        for j in range(matrix.shape[1]):
            if np.linalg.matrix_rank(matrix[:, kept + [j]]) == len(kept) + 1:
                kept.append(j)
            else:
                redundant.append(names[j])
        raise GllammError(
            f"The {what} design matrix is rank deficient: {', '.join(redundant)} "
            "is a linear combination of other columns (or constant). Remove it from the formula."
        )


def _make_chunks(y, trials, X, Z, offset, weights, codes, n_clusters, family, width, cluster_weights=None,
                 dispersion_index=None, cluster_covariates=None, scale_matrix=None, member=None,
                 available=None, threshold_rows=None, threshold_matrix=None) -> Chunks:
    """Chunk layout of the row arrays, plus per-cluster weights and covariates w (clusters, n_w)."""
    from ..runtime import jax_setup  # noqa: F401  (float64 on before arrays are made)
    import jax

    from ..integrate.shared_gaussian import mark_row_patterns

    rows, chunk_cluster = chunk_rows(codes, width)
    valid = rows >= 0
    safe = np.where(valid, rows, 0)

    def take(values, fill):
        return np.where(valid, values[safe], fill)

    constant = family.constant(y, trials) if member is None else family.constant(y, trials, member)
    arrays = dict(
        y=take(y, family.pad_value),
        trials=take(trials, 1.0),
        constant=take(constant, 0.0),
        offset=take(offset, 1.0),  # eta = 1 on padded rows: inside every link's domain
        weight=take(weights, 0.0),
        X=np.stack([take(X[:, j], 0.0) for j in range(X.shape[1])]) if X.shape[1] else np.zeros((0,) + rows.shape),
        Z=np.stack([take(Z[:, j], 0.0) for j in range(Z.shape[1])]) if Z.shape[1] else np.zeros((0,) + rows.shape),
        cluster_weight=np.ones(n_clusters) if cluster_weights is None else cluster_weights,
    )
    arrays["w"] = np.zeros((n_clusters, 1)) if cluster_covariates is None else cluster_covariates
    if available is not None:
        arrays["available"] = take(available, 1.0)
    if threshold_matrix is not None:
        arrays["T"] = np.stack([take(threshold_matrix[:, j], 0.0) for j in range(threshold_matrix.shape[1])])
    if scale_matrix is not None:
        arrays["V"] = np.stack([take(scale_matrix[:, j], 0.0) for j in range(scale_matrix.shape[1])])
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()}
    arrays["chunk_cluster"] = np.asarray(chunk_cluster, dtype=np.int32)
    if member is not None:
        arrays["member"] = np.asarray(np.where(valid, member[safe], 0), dtype=np.int32)
    if threshold_rows is not None:  # ordinal: where the row's item's thresholds start, and its number of categories
        start, n_categories = threshold_rows
        arrays["threshold_start"] = np.asarray(np.where(valid, start[safe], 0), dtype=np.int32)
        arrays["n_categories"] = np.asarray(np.where(valid, n_categories[safe], 2), dtype=np.int32)
    index = np.zeros(len(y), dtype=np.int32) if dispersion_index is None else dispersion_index
    arrays["dispersion_index"] = np.asarray(np.where(valid, index[safe], 0), dtype=np.int32)
    if family.exact_gaussian:  # clusters with the same pattern of rows share one marginal covariance
        mark_row_patterns(arrays)
    return Chunks(jax.device_put(arrays), rows)  # (one transfer of them all)
