"""Predictions and simulation for multinomial responses (nominal, discrete choice, rankings).

Every observation is a choice set of K slots with linear predictors eta_a
(eta of the base category 0 for a nominal response); the probability of choosing
alternative a is the softmax over the available slots,

    P(a) = exp(eta_a) / sum_{b available} exp(eta_b),

with the latent variables at 0, at their EB means, or integrated out (latent="marginal":
the average of P(a) over Gauss-Hermite nodes of the latent distribution, which is not the
softmax of the average eta). For choice and ranking data P(a) is the probability that
alternative a is chosen (ranked first) among all alternatives of its set.

Simulation draws the latent variables, then for a nominal response one category per
observation; for choice/ranking data a ranking of each set by eta_a + Gumbel noise, which
is exactly the exploded logit (Plackett-Luce) distribution, keeping as many ranked
positions per set as the data have (1 for a discrete choice).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from ..design.choice_sets import slot_values, stage_layout
from ..design.design import _rename_intercept
from ..design.nominal import category_copies
from ..errors import GllammError
from .node_chunks import row_slices, warn_if_costly


def _row_arrays(result, frame: pd.DataFrame, offset=None):
    """Row-level X (fixed names of the spec before expansion), Z, offset and cluster codes for ``frame``."""
    from .predict import _design_for

    design = result.design
    if offset is None and frame is design.model_frame and design.offset_argument is not None:
        offset = design.offset_argument
    X, Z, total_offset, codes = _design_for(result, frame, offset, select_fixed=False)
    names = _rename_intercept(design.fixed_model_spec.column_names)
    if design.choice is not None:  # the common intercept was dropped
        keep = [j for j, n in enumerate(names) if n != "(Intercept)"]
        X, names = X[:, keep], [names[j] for j in keep]
    return X, Z, total_offset, codes, names


def slots(result, frame: pd.DataFrame | None = None, offset=None):
    """Slot arrays of first-choice sets for ``frame`` (default: the fitted data).

    Returns X (slots, p), Z (slots, r), offset (slots,), cluster code per slot (-1 unseen),
    available (slots,), K, and the data row of every slot (-1: empty slot).
    """
    design = result.design
    frame = design.model_frame if frame is None else frame
    if not isinstance(frame, pd.DataFrame):
        raise GllammError("newdata must be a pandas DataFrame.")
    X, Z, total_offset, codes, names = _row_arrays(result, frame, offset)
    if design.choice is not None:
        column = result.options["choice_set"]
        if column not in frame.columns:
            raise GllammError(f"newdata needs the choice-set column '{column}'.")
        set_codes, set_labels = pd.factorize(frame[column], sort=True)
        layout = stage_layout(set_codes, len(set_labels))
        rows = layout.slot_rows
        return (slot_values(layout, X), slot_values(layout, Z), slot_values(layout, total_offset),
                np.where(rows >= 0, codes[np.maximum(rows, 0)], -1), layout.available, layout.set_size, rows)
    K, base, n = len(design.nominal_categories), design.nominal_base, len(X)
    return (category_copies(X, K, base), category_copies(Z, K, base), np.zeros(n * K), np.repeat(codes, K),
            np.ones(n * K), K, np.repeat(np.arange(n), K))


def _probabilities(eta, available, K):
    """Softmax within sets of K slots over the available ones; eta (slots,) or (slots, nodes)."""
    shape = eta.shape
    e = eta.reshape((-1, K) + shape[1:])
    a = available.reshape((-1, K) + (1,) * (len(shape) - 1))
    masked = np.where(a > 0, e, -np.inf)
    return np.exp(masked - logsumexp(masked, axis=1, keepdims=True)).reshape(shape)


def multinomial_prediction(result, newdata, type: str, latent: str, offset, nip: int):
    """Category probabilities (nominal: DataFrame rows x categories) or first-choice probabilities
    (choice/ranking data: one per row of the data); type="linear" gives the linear predictors."""
    from ..integrate import product_rule
    from ..objective import latent_structure

    if type == "mean":
        raise GllammError("For a multinomial response predict the probabilities with type='probability' "
                          "(or the linear predictors with type='linear').")
    design = result.design
    X, Z, total_offset, codes, available, K, rows = slots(result, newdata, offset)
    eta = X @ result.fixed_effects.to_numpy() + total_offset
    params = result.table_spec.unpack(np.asarray(result.theta))
    if result.spec.levels:
        loadings, _, ML = (np.asarray(x) for x in latent_structure(result.table_spec, params))
        ZL = Z @ loadings.T
    if latent == "eb" and result.spec.levels:
        eb = result.empirical_bayes().iloc[:, : loadings.shape[0]].to_numpy()
        known = codes >= 0
        eta = eta + np.where(known, np.einsum("nk,nk->n", ZL, eb[np.where(known, codes, 0)]), 0.0)
    if type == "linear":
        values = eta
    elif latent == "marginal" and result.spec.levels:
        nodes, log_w = product_rule(nip, ML.shape[1])
        weights = np.exp(log_w) / np.pi ** (ML.shape[1] / 2)
        warn_if_costly(len(eta), len(weights), "The marginal prediction", nip, ML.shape[1])
        latent_nodes = (np.sqrt(2.0) * nodes @ ML.T).T
        values = np.concatenate([  # whole sets of K slots at a time, at most NODE_BUDGET slot x node values
            _probabilities(eta[rows, None] + ZL[rows] @ latent_nodes, available[rows], K) @ weights
            for rows in row_slices(len(eta), len(weights), group=K)])
    else:
        values = _probabilities(eta, available, K)
    if design.choice is not None:  # back to the rows of the data (stage 1 holds every alternative once)
        n_rows = len(design.model_frame if newdata is None else newdata)
        out = np.full(n_rows, np.nan)
        out[rows[rows >= 0]] = values[rows >= 0]
        return out
    return pd.DataFrame(values.reshape(-1, K), columns=list(design.nominal_categories))


def simulate_multinomial(result, eta_of, rng) -> pd.DataFrame:
    """The fitted frame with the response drawn from the model; ``eta_of(X, Z, offset, codes)`` adds the
    drawn latent variables to the linear predictor of slots."""
    design = result.design
    frame = design.model_frame.copy()
    response = result.spec.formula.response
    if response not in frame:
        raise GllammError(f"Cannot simulate the response expression '{response}'; use a plain column.")
    X, Z, total_offset, codes, available, K, rows = slots(result)
    eta = eta_of(X, Z, total_offset, codes)
    if design.choice is None:
        p = _probabilities(eta, available, K).reshape(-1, K)
        draws = (p.cumsum(axis=1) < rng.uniform(size=(len(p), 1))).sum(axis=1).clip(0, K - 1)
        labels = np.asarray(design.nominal_categories, dtype=object)[draws]
        original = frame[response]
        if isinstance(original.dtype, pd.CategoricalDtype):
            frame[response] = pd.Categorical(labels, categories=original.dtype.categories, ordered=original.dtype.ordered)
        else:
            frame[response] = pd.Series(labels, index=frame.index).astype(original.dtype)
        return frame
    # rank every set by eta + Gumbel noise; keep the data's number of ranked alternatives per set
    noisy = np.full(len(frame), np.nan)
    filled = rows >= 0
    noisy[rows[filled]] = eta[filled] + rng.gumbel(size=int(filled.sum()))
    set_ids = frame[result.options["choice_set"]]
    observed = frame[response]
    ranked = (observed.fillna(0).to_numpy(dtype=float) > 0)
    n_ranked = pd.Series(ranked).groupby(set_ids.to_numpy()).transform("sum").to_numpy()
    new_rank = pd.Series(-noisy).groupby(set_ids.to_numpy()).rank(method="first").to_numpy()
    unranked_value = np.nan if observed.isna().any() else 0
    values = np.where(new_rank <= n_ranked, new_rank, unranked_value)
    frame[response] = values if np.isnan(unranked_value) else values.astype(observed.dtype)
    return frame
