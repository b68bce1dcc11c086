"""Predictions, residuals and per-cluster log-likelihood contributions.

For row i of cluster j with fixed part eta0_i = x_i'beta + offset_i:

* ``type="linear"``: eta0_i (latent="zero") or eta0_i + z_i' E(b_j | y_j) (latent="eb");
* ``type="mean"`` with latent="zero" or "eb": h(linear predictor), the conditional mean;
* ``type="mean"`` with latent="marginal": the population-averaged mean
  int h(eta0_i + z_i' b) phi(b; 0, Psi) db, by Gauss-Hermite quadrature
  (``nip`` points per dimension, 40 by default: many, since this integrand is not peaked).

Means are per trial for binomial responses (probabilities).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import GllammError, check_choice
from ..families.links import inverse_link_numpy
from ..integrate import product_rule


def _design_for(result, newdata, offset):
    """X, Z, offset and cluster positions (-1 = unseen cluster) for the fitted or new data."""
    design = result.design
    if newdata is None:
        return design.X, design.Z, design.offset, design.cluster_codes
    if design.fixed_model_spec is None:
        raise GllammError("Predictions for new data need a formula model; for syntax models predict the fitted data.")
    if not isinstance(newdata, pd.DataFrame):
        raise GllammError("newdata must be a pandas DataFrame.")
    X = np.asarray(design.fixed_model_spec.get_model_matrix(newdata, na_action="raise"), dtype=float)
    Z = np.concatenate([np.asarray(s.get_model_matrix(newdata, na_action="raise"), dtype=float)
                        for s in design.random_model_specs], axis=1)
    total_offset = np.zeros(len(newdata))
    from ..design.design import _evaluate

    for expression in result.spec.formula.offsets:
        total_offset += np.asarray(_evaluate(expression, newdata), dtype=float)
    if offset is not None:
        total_offset += np.asarray(newdata[offset] if isinstance(offset, str) else offset, dtype=float)
    codes = np.full(len(newdata), -1)
    columns = list(design.group_columns)
    if all(c in newdata.columns for c in columns):
        keys = newdata[columns].astype(str).agg(":".join, axis=1) if len(columns) > 1 else newdata[columns[0]]
        lookup = {label: i for i, label in enumerate(design.cluster_labels)}
        codes = np.array([lookup.get(k, -1) for k in keys])
    return X, Z, total_offset, codes


def predict(result, newdata: pd.DataFrame | None = None, *, type: str = "mean", latent: str = "zero",
            offset=None, nip: int = 40) -> np.ndarray:
    """Predictions for the fitted data (newdata=None) or new data; see the module docstring."""
    type = check_choice("type", type, ("linear", "mean"))
    latent = check_choice("latent", latent, ("zero", "eb", "marginal"))
    if type == "linear" and latent == "marginal":
        raise GllammError("A marginal prediction is a mean: use type='mean' with latent='marginal'.")
    if len(result.spec.levels) > 1 and latent != "zero":
        if newdata is not None:
            raise GllammError("For nested levels, predictions for new data are available with latent='zero' only.")
        return _nested_prediction(result, type, latent, min(nip, 20))
    X, Z, total_offset, codes = _design_for(result, newdata, offset)
    beta = result.fixed_effects.to_numpy()
    eta = X @ beta + total_offset
    link = result.family.link.name
    if latent == "eb":
        from ..objective import latent_structure

        loadings = np.asarray(latent_structure(result.table_spec, result.table_spec.unpack(np.asarray(result.theta)))[0])
        eb = result.empirical_bayes().iloc[:, : loadings.shape[0]].to_numpy()
        known = codes >= 0
        eta = eta + np.where(known, np.einsum("nk,nk->n", Z @ loadings.T, eb[np.where(known, codes, 0)]), 0.0)
    if type == "linear":
        return eta
    if latent != "marginal":
        return inverse_link_numpy(link, eta)
    from ..objective import latent_structure

    params = result.table_spec.unpack(np.asarray(result.theta))
    loadings, _, ML = (np.asarray(x) for x in latent_structure(result.table_spec, params))
    nodes, log_w = product_rule(nip, ML.shape[1])
    weights = np.exp(log_w) / np.pi ** (ML.shape[1] / 2)
    b = np.sqrt(2.0) * nodes @ ML.T  # (nodes, q): latent values at the nodes
    return inverse_link_numpy(link, eta[:, None] + (Z @ loadings.T) @ b.T) @ weights


def _level_loadings(result):
    """Per level: the rows' loadings Zl (n, q) on the latent variables and the map ML from u to them."""
    from ..objective import latent_structure

    params = result.table_spec.unpack(np.asarray(result.theta))
    out = []
    for index, Z in enumerate(result.design.Z_levels):
        loadings, _, ML = (np.asarray(x) for x in latent_structure(result.table_spec, params, index))
        out.append((Z @ loadings.T, ML))
    return out


def _nested_prediction(result, type, latent, nip):
    """EB or marginal predictions of the fitted data for two nested levels."""
    design = result.design
    eta = design.X @ result.fixed_effects.to_numpy() + design.offset
    parent = np.asarray(design.chunks.arrays["parent"])
    codes = [design.cluster_codes, parent[design.cluster_codes]]
    levels = _level_loadings(result)
    if latent == "eb":
        eb = result.empirical_bayes()
        for (zl, _), level, code in zip(levels, result.spec.levels, codes):
            values = eb[level.name].iloc[:, : level.dim].to_numpy()
            eta = eta + np.einsum("nk,nk->n", zl, values[code])
        return eta if type == "linear" else inverse_link_numpy(result.family.link.name, eta)
    dims = [ML.shape[1] for _, ML in levels]
    nodes, log_w = product_rule(nip, sum(dims))
    weights = np.exp(log_w) / np.pi ** (sum(dims) / 2)
    shift, start = np.zeros((len(eta), len(weights))), 0
    for (zl, ML), dim in zip(levels, dims):
        shift += zl @ (np.sqrt(2.0) * nodes[:, start : start + dim] @ ML.T).T
        start += dim
    return inverse_link_numpy(result.family.link.name, eta[:, None] + shift) @ weights


def residuals(result, type: str = "pearson") -> np.ndarray:
    """Pearson or deviance residuals of the fitted data, conditional on the EB means of the latent variables."""
    type = check_choice("residual type", type, ("pearson", "deviance", "response"))
    design, family = result.design, result.family
    mu = predict(result, latent="eb") * (design.trials if family.name == "binomial" else 1.0)
    y = design.y
    if type == "response":
        return y - mu
    params = result.params
    dispersion = np.asarray([params[n] for n in result.spec.dispersions] or [1.0])[
        design.dispersion_index if design.dispersion_index is not None else np.zeros(len(y), dtype=int)]
    if family.name == "gaussian":
        variance = dispersion
    elif family.name == "binomial":
        p = mu / design.trials
        variance = design.trials * p * (1 - p)
    elif family.name == "poisson":
        variance = mu
    else:
        variance = dispersion * mu**2
    if type == "pearson":
        return (y - mu) / np.sqrt(variance)
    with np.errstate(divide="ignore", invalid="ignore"):
        if family.name == "gaussian":
            unit = (y - mu) ** 2
        elif family.name == "binomial":
            m = design.trials
            unit = 2 * (np.where(y > 0, y * np.log(y / mu), 0) + np.where(m - y > 0, (m - y) * np.log((m - y) / (m - mu)), 0))
        elif family.name == "poisson":
            unit = 2 * (np.where(y > 0, y * np.log(y / mu), 0) - (y - mu))
        else:
            unit = 2 * (-np.log(y / mu) + (y - mu) / mu)
    return np.sign(y - mu) * np.sqrt(np.clip(unit, 0, None))


def cluster_loglik(result) -> pd.Series:
    """Each cluster's contribution log L_j to the log-likelihood (before cluster weights)."""
    objective, data, modes = result._evaluation(nested_ok=True)
    values = np.asarray(objective.cluster_values(result.theta, data, modes))
    top = result.spec.levels[-1].name
    labels = result.design.top_labels if len(result.spec.levels) > 1 else result.design.cluster_labels
    return pd.Series(values, index=pd.Index(labels, name=top), name="loglik")
