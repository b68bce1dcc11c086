"""Wide data stacked to one row per observed response: which responses a unit keeps (units with a missing covariate
are dropped, a missing response drops only itself, items measured only at a cluster level enter once per cluster),
coded per family, in cluster order, with each row's unit and item."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import DataWarning, GllammError, warn_user
from .data_checks import check_columns
from .formula_levels import nested_order
from .syntax_levels import family_of, item_level


@dataclass
class Stacked:
    """The responses of the wide data (units x items), which of them are kept, and the long rows made of them."""

    values: np.ndarray  # (units, items) coded responses, NaN where missing
    item_effects: set  # (response, covariate) pairs whose covariate varies across items (long data)
    person_columns: list  # columns each unit needs (covariates, cluster ids)
    ordinal_items: list
    threshold_groups: tuple  # ordinal items: (item, categories) each
    cluster_items: set  # items measured only by latent variables of a cluster level
    dropped: int  # units dropped for a missing covariate
    person: np.ndarray  # each long row's unit (row of the data)
    item: np.ndarray  # each long row's item
    keep_people: np.ndarray  # the units kept, in cluster order
    codes: np.ndarray  # each long row's unit among the kept ones


def stack_responses(data: pd.DataFrame, indicators: list, covariates: list, response_effects: list, clusters: list,
                    blocks: list, family) -> Stacked:
    """Stack the indicators' responses into long rows, warning of what is left out."""
    item_effects = {(lhs, c) for lhs, c, _ in response_effects if item_level(c, data)}
    person_columns = sorted(set(covariates) | {c for lhs, c, _ in response_effects if (lhs, c) not in item_effects}
                            | set(clusters))
    check_columns(data, list(indicators) + person_columns)
    complete_person = data[person_columns].notna().all(axis=1).to_numpy() if person_columns else np.ones(len(data), bool)
    responses = data[indicators]
    threshold_groups = ()
    ordinal_items = [name for name in indicators if family_of(family, name).name == "ordinal"]
    values = np.full((len(data), len(indicators)), np.nan)
    groups = []
    for j, name in enumerate(indicators):
        if name in ordinal_items:  # each ordinal item its own categories and thresholds (graded response model)
            from .ordinal_response import code_ordinal

            present = responses[name].notna().to_numpy()
            codes_j, categories_j = code_ordinal(responses[name][present], name)
            values[present, j] = codes_j
            groups.append((name, categories_j))
        else:
            if not pd.api.types.is_numeric_dtype(responses[name]):
                raise GllammError(f"Response '{name}' is not numeric (dtype {responses[name].dtype}).")
            values[:, j] = responses[name].to_numpy(dtype=float)
    threshold_groups = tuple(groups)
    observed = np.isfinite(values) & complete_person[:, None]
    item_observed = np.ones_like(observed)
    for lhs, covariate in item_effects:  # a response whose own item-level covariate is missing is left out
        item_observed[:, indicators.index(lhs)] &= data[f"{covariate}@{lhs}"].notna().to_numpy()
    observed &= item_observed
    cluster_items = _once_per_cluster(observed, values, data, indicators, clusters, blocks)
    dropped_people = _announce_left_out(values, complete_person, item_observed, person_columns, len(data))
    if clusters:  # order units by their clusters at every level so that chunks are sorted by each level
        cluster_codes_all = nested_order([data[c].to_numpy() for c in clusters])[0][0]
        unit_order = np.argsort(cluster_codes_all, kind="stable")
    else:
        unit_order = np.arange(len(data))
    observed_sorted = observed[unit_order]
    position, item = np.nonzero(observed_sorted)  # unit by unit, in cluster order
    person = unit_order[position]
    keep_people = unit_order[np.unique(position)]
    codes = np.searchsorted(np.unique(position), position)
    return Stacked(values, item_effects, person_columns, ordinal_items, threshold_groups, cluster_items,
                   dropped_people, person, item, keep_people, codes)


def _measured(block, within: bool) -> set:
    """Names the statements of a level block use as responses: indicators of its factors and, at the unit
    level, also the responses and covariates of its regressions."""
    names = {t.name for s in block if s.op == "=~" for t in s.rhs}
    if within:
        names |= {t.name for s in block if s.op == "~" for t in s.rhs} | {s.lhs for s in block if s.op == "~"}
    return names


def _once_per_cluster(observed, values, data, indicators, clusters, blocks) -> set:
    """Items measured only by latent variables of a cluster level (returned) must be constant within those clusters;
    each enters once per cluster, on the cluster's first unit that has it (``observed`` changed in place)."""
    cluster_items = set()
    for j, name in enumerate(indicators):  # items measured only at a level of clusters: once per cluster
        measured_at = [k for k, block in enumerate(blocks) if name in _measured(block, k == 0)]
        if not clusters or not measured_at or min(measured_at) == 0:
            continue
        column = clusters[min(measured_at) - 1]
        cluster_items.add(name)
        clusters_of_rows = data[column].to_numpy()
        present = observed[:, j]
        frame = pd.DataFrame({"c": clusters_of_rows[present], "v": values[present, j]})
        if (frame.groupby("c")["v"].nunique() > 1).any():
            raise GllammError(f"'{name}' is measured only by level-{min(measured_at) + 1} latent variables, so it "
                              f"must be a cluster-level variable, constant within each '{column}'; it varies. Add a "
                              "level-1 factor for it, or use its cluster mean.")
        first = ~pd.Series(clusters_of_rows).where(present).duplicated(keep="first").to_numpy()
        observed[:, j] = present & first
    return cluster_items


def _announce_left_out(values, complete_person, item_observed, person_columns, n_units: int) -> int:
    """DataWarnings for the units dropped for a missing covariate (their number, returned), the missing responses
    and the responses whose item-level covariate is missing."""
    dropped_people = int((~complete_person).sum())
    if dropped_people:
        warn_user(f"Dropped {dropped_people} of {n_units} units with missing covariates "
                  f"({', '.join(person_columns)}).", DataWarning)
    missing_responses = int((~np.isfinite(values) & complete_person[:, None]).sum())
    if missing_responses:
        warn_user(f"{missing_responses} missing responses are left out (each unit keeps its observed responses).",
                  DataWarning)
    missing_item_covariates = int((np.isfinite(values) & complete_person[:, None] & ~item_observed).sum())
    if missing_item_covariates:
        warn_user(f"{missing_item_covariates} responses with a missing item-level covariate are left out.", DataWarning)
    return dropped_people
