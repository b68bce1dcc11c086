"""Post-estimation for latent classes: posterior class probabilities, classification, profiles.

With class probabilities pi_jc (the membership model at cluster j's covariates) and the
class-conditional likelihoods f(y_j | e_c), Bayes' rule gives the posterior

    P(c | y_j) = pi_jc f(y_j | e_c) / sum_d pi_jd f(y_j | e_d);

the modal class maximises it, and the relative entropy

    E = 1 - sum_j sum_c -P(c | y_j) log P(c | y_j) / (N log C)

is 1 for perfect classification and 0 when the posteriors equal 1/C.
Predictions per class use eta_ic = x_i'beta + a_i'e_c (a_i the row's loadings on the latent
coordinates); conditional-on-data predictions average them with the posterior, marginal ones
with the class probabilities.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from ..errors import GllammError, check_choice
from ..families.links import inverse_link_numpy


def _check(result):
    if result.spec.discrete_level is None:
        raise GllammError("This result has no latent classes; fit with classes= for class probabilities.")


def class_names(result) -> list[str]:
    """Class labels 'C1', 'C2', ... (syntax) or 'class1', ... (formula models)."""
    level = result.spec.discrete_level
    return [f"{level.class_name}{c + 1}" for c in range(level.classes)]


def _class_index(result) -> pd.Index:
    """The units classes belong to (the discrete level's units)."""
    design, level = result.design, result.spec.discrete_level
    labels = design.top_labels if result.spec.discrete_index == 1 and design.top_labels is not None \
        else design.cluster_labels
    return pd.Index(labels, name=level.name)


def posterior_class_probabilities(result) -> pd.DataFrame:
    """P(c | y_j) for every cluster (rows, indexed by cluster) and class (columns); rows sum to 1."""
    _check(result)
    objective, data, modes = result._evaluation(nested_ok=True)
    probabilities = np.asarray(objective.class_probabilities(result.theta, data, modes))
    return pd.DataFrame(probabilities, index=_class_index(result), columns=class_names(result))


def prior_class_probabilities(result, newdata: pd.DataFrame | None = None) -> pd.DataFrame:
    """pi_jc from the class-membership model, per cluster of the fitted data (or per row of newdata)."""
    _check(result)
    from ..integrate.discrete import class_log_probabilities

    rho = np.asarray(result.table_spec.unpack(result.theta).class_logits)
    if newdata is None:
        V = np.asarray(result.design.data()["class_covariates"])
        index = _class_index(result)
    else:
        concomitant = result.options.get("concomitant")
        if result.spec.class_covariates != ("(Intercept)",) and not concomitant:
            raise GllammError("Class probabilities for new data need the class-membership formula; "
                              "available for formula models with concomitant=.")
        V = np.ones((len(newdata), 1))
        if concomitant:
            from ..design.design import model_matrix

            matrix = model_matrix(concomitant.strip(), newdata)
            names = ["(Intercept)" if n == "Intercept" else str(n) for n in matrix.columns]
            V = np.asarray(matrix, float)[:, [names.index(n) for n in result.spec.class_covariates]]
        index = newdata.index
    return pd.DataFrame(np.exp(np.asarray(class_log_probabilities(rho, V))), index=index, columns=class_names(result))


def modal_class(result) -> pd.Series:
    """The most probable class (1..C) of every cluster given its responses."""
    posterior = posterior_class_probabilities(result)
    return pd.Series(np.argmax(posterior.to_numpy(), axis=1) + 1, index=posterior.index, name="class")


def classification_entropy(result) -> float:
    """Relative entropy 1 - sum -p log p / (N log C) of the posterior class probabilities (1 = perfect)."""
    p = posterior_class_probabilities(result).to_numpy()
    C = p.shape[1]
    if C == 1:
        return 1.0
    terms = -np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    return float(1.0 - terms.sum() / (p.shape[0] * np.log(C)))


def class_profiles(result) -> pd.DataFrame:
    """One row per class: its probability (the average of pi_jc over clusters), its locations and, for latent
    class models, the predicted mean response of every item in the class (P(y = 1 | class) for binary items)."""
    _check(result)
    level = result.spec.discrete_level
    unpacked = result.table_spec.unpack(result.theta)
    E = np.asarray(unpacked.locations[result.spec.discrete_index])
    prior = prior_class_probabilities(result).to_numpy()
    weight = np.asarray(result.design.data()["cluster_weight"])
    out = pd.DataFrame({"probability": weight @ prior / weight.sum()}, index=pd.Index(class_names(result), name="class"))
    for k, name in enumerate(level.latent_names):
        out[f"location:{name}"] = E[:, k]
    if level.naming == "syntax":
        family = result.family
        for k, name in enumerate(level.latent_names):
            member = family.members[family.labels.index(name)] if family.name == "mixed" else family
            out[f"mean:{name}"] = inverse_link_numpy(member.link.name, E[:, k])
    return out


def start_summary(result) -> pd.DataFrame:
    """Log-likelihood, convergence and iterations from every starting value (best first)."""
    _check(result)
    rows = json.loads(result.options.get("start_summary") or "[]")
    frame = pd.DataFrame(rows, columns=["loglik", "converged", "iterations"])
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="start")
    return frame.sort_values("loglik", ascending=False, na_position="last")


def gateaux(result, points=None) -> pd.Series:
    """Gateaux derivative D(e) = sum_j w_j [f(y_j | e) / L_j - 1] of the log-likelihood towards a point mass at e.

    Non-positive everywhere at the NPML estimate (and 0 at its mass points). ``points``: (n, q) or a
    vector for one latent variable; by default a grid covering the mass points.
    """
    _check(result)
    from .gateaux import gateaux_derivative, gateaux_grid

    points = gateaux_grid(result) if points is None else np.asarray(points, float).reshape(len(points), -1)
    values = gateaux_derivative(result, points)
    names = result.spec.levels[0].latent_names
    index = pd.Index(points[:, 0], name=names[0]) if points.shape[1] == 1 else \
        pd.MultiIndex.from_arrays([points[:, k] for k in range(points.shape[1])], names=list(names))
    return pd.Series(values, index=index, name="gateaux")


def class_prediction(result, newdata, type: str, latent: str, offset):
    """Predictions of a model with latent classes (see the module docstring).

    latent="class": a DataFrame with one column per class; "eb": posterior-weighted; "marginal":
    weighted by the class probabilities; "zero": at location 0 (the mean, for centred locations).
    """
    latent = check_choice("latent", latent, ("zero", "eb", "marginal", "class"))
    type = check_choice("type", type, ("linear", "mean"))
    from .predict import _design_for, _mean, _members

    if len(result.spec.levels) > 1:
        return _within_class_prediction(result, newdata, type, latent, offset)
    level = result.spec.levels[0]
    if latent == "zero" and not all(level.centred):
        raise GllammError("Latent classes have no location 0 here (class-specific intercepts); use latent='class', "
                          "'eb' or 'marginal'.")
    X, Z, total_offset, codes = _design_for(result, newdata, offset)
    unpacked = result.table_spec.unpack(result.theta)
    E = np.asarray(unpacked.locations[0])
    A = Z @ np.asarray(unpacked.loadings[0]).T  # (rows, q): the row's loading on each latent coordinate
    eta0 = (X @ np.asarray(unpacked.beta) if X.shape[1] else 0.0) + total_offset
    eta = eta0[:, None] + A @ E.T  # (rows, C)
    if latent == "zero":
        eta = np.asarray(eta0, float)[:, None] * np.ones((1, 1))
    member = _members(result, newdata)
    values = eta if type == "linear" else np.column_stack([_mean(result, eta[:, c], 0.0, member)
                                                           for c in range(eta.shape[1])])
    if latent == "zero":
        return values[:, 0]
    if latent == "class":
        return pd.DataFrame(values, index=result.design.row_index if newdata is None else newdata.index,
                            columns=class_names(result))
    if newdata is None:
        rows = result.design.cluster_codes
        weights = (posterior_class_probabilities(result) if latent == "eb" else prior_class_probabilities(result))
        weights = weights.to_numpy()[rows]
    else:
        weights = prior_class_probabilities(result, newdata).to_numpy()
        if latent == "eb":
            seen = codes >= 0
            weights[seen] = posterior_class_probabilities(result).to_numpy()[codes[seen]]
    return np.sum(weights * values, axis=1)


def _within_class_prediction(result, newdata, type: str, latent: str, offset, nip: int = 20):
    """Predictions with latent classes and continuous latent variables (two levels of latent variables),
    for the fitted data or new data.

    Per class: eta_ic(b) = x_i'beta + a_i'e_c + z_i'b. latent="class": h(eta_ic(0)) per class; "marginal":
    sum_c pi_c int h(eta_ic(b)) phi(b) db (Gauss-Hermite over the continuous latent variables); "eb":
    h at the EB linear predictor x'beta + a'E(e | y) + z'E(b | y) (units not in the fit: the prior mean of
    e, and b = 0); "zero": at e = 0, b = 0 (centred classes).
    """
    from ..integrate import product_rule
    from ..objective import latent_structure
    from .predict import _mean, _members, _nested_rows

    spec = result.spec
    d = spec.discrete_index
    c = 1 - d
    level = spec.levels[d]
    if latent == "zero" and not all(level.centred):
        raise GllammError("Latent classes have no location 0 here (class-specific intercepts); use latent='class', "
                          "'eb' or 'marginal'.")
    params = result.table_spec.unpack(np.asarray(result.theta))
    eta0, Z_levels, codes = _nested_rows(result, newdata, offset)
    A_d = Z_levels[d] @ np.asarray(params.loadings[d]).T
    loadings_c, _, ML = (np.asarray(x) for x in latent_structure(result.table_spec, params, c))
    A_c = Z_levels[c] @ loadings_c.T
    E = np.asarray(params.locations[d])
    unit_d, unit_c = codes[d], codes[c]
    member = _members(result, newdata)
    index = result.design.row_index if newdata is None else newdata.index
    if newdata is None:
        prior = prior_class_probabilities(result).to_numpy()[unit_d]  # (rows, C)
    else:  # the membership model at the new rows' covariates
        prior = prior_class_probabilities(result, newdata).to_numpy()

    def mean(eta):
        return eta if type == "linear" else _mean(result, eta, 0.0, member)

    if latent == "zero":
        return mean(np.asarray(eta0, float) * np.ones(len(eta0)))
    if latent == "class":
        return pd.DataFrame(np.column_stack([mean(eta0 + A_d @ E[k]) for k in range(len(E))]),
                            index=index, columns=class_names(result))
    if latent == "eb":
        posterior = posterior_class_probabilities(result).to_numpy()
        weights = np.where((unit_d >= 0)[:, None], posterior[np.maximum(unit_d, 0)], prior)
        eb = result.empirical_bayes()
        continuous = (eb[spec.levels[c].name] if isinstance(eb, dict) else eb).iloc[:, : spec.levels[c].dim].to_numpy()
        part_c = np.where(unit_c >= 0, np.einsum("nk,nk->n", A_c, continuous[np.maximum(unit_c, 0)]), 0.0)
        return mean(eta0 + np.einsum("nk,nk->n", A_d, weights @ E) + part_c)
    if type == "linear":
        raise GllammError("A marginal prediction is a mean: use type='mean' with latent='marginal'.")
    nodes, log_w = product_rule(nip, ML.shape[1])
    weights = np.exp(log_w) / np.pi ** (ML.shape[1] / 2)
    shift = A_c @ (np.sqrt(2.0) * nodes @ ML.T).T  # (rows, nodes)
    out = np.zeros(len(eta0))
    for k in range(len(E)):
        eta = (eta0 + A_d @ E[k])[:, None] + shift
        out += prior[:, k] * (_mean(result, eta, np.zeros(eta.shape[0]), member) @ weights)
    return out
