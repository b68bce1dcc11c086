"""Design: the arrays the likelihood reads (built by formula_design.build_design for formulas and
syntax_design.build_syntax_design for lavaan-style syntax), and the helpers both builders share.

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
from ..errors import GllammError, closest
from ..syntax.safe_expressions import SAFE_CONTEXT, check_formula
from .chunks import chunk_rows

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
    crossed_codes: tuple = ()  # crossed factors: each row's unit of every factor (levels' order)
    crossed_labels: tuple = ()  # crossed factors: the unit labels of every factor
    top_labels: np.ndarray | None = None  # labels of the top-level units when levels are nested
    middle_labels: tuple = ()  # labels of the units of the levels between the first and the top (4+ levels)
    dispersion_index: np.ndarray | None = None  # which residual variance/dispersion applies to each row
    cluster_covariates: np.ndarray | None = None  # w (clusters, n_w) for the structural model
    scale_matrix: np.ndarray | None = None  # V (rows, n_scale) of the level-1 log-scale model
    scale_model_spec: object = None  # formulaic ModelSpec of V (rebuilds it for new data)
    zero_inflation_matrix: np.ndarray | None = None  # W (rows, n_zi) of logit P(structural zero) = w' gamma
    zero_inflation_model_spec: object = None  # formulaic ModelSpec of W
    member: np.ndarray | None = None  # mixed responses: the response type (family) of each row
    set_size: int = 1  # multinomial: rows (category slots) per observation
    choice: object = None  # choice/ranking data: the ChoiceLayout (slots -> data rows)
    nominal_categories: tuple = ()  # nominal response: category labels (slot order) and the base's index
    nominal_base: int = 0
    threshold_matrix: np.ndarray | None = None  # T (rows, n_t) of the threshold covariates (non-proportional odds)
    threshold_model_spec: object = None  # formulaic ModelSpec of T (rebuilds it for new data)
    threshold_item: np.ndarray | None = None  # ordinal items with own thresholds: each row's item (group) index
    data_rows: np.ndarray | None = None  # position in the user's data frame of each row's source row (unit)
    data_index: pd.Index | None = None  # the user's data frame's index, dropped rows included

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
                 available=None, threshold_rows=None, threshold_matrix=None, row_patterns: bool = True,
                 zero_inflation_matrix=None) -> Chunks:
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
        offset=take(offset, family.pad_eta),  # eta on padded rows: inside the link's domain
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
    if zero_inflation_matrix is not None:
        arrays["ZI"] = np.stack([take(zero_inflation_matrix[:, j], 0.0) for j in range(zero_inflation_matrix.shape[1])])
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
    if family.exact_gaussian and row_patterns:  # clusters with the same pattern of rows share one marginal covariance
        mark_row_patterns(arrays)
    return Chunks(jax.device_put(arrays), rows)  # (one transfer of them all)
