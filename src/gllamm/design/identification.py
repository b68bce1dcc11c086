"""Designs whose latent variables the data cannot identify, refused before any fitting.

A binary (Bernoulli or ordinal) response has no variance of its own to compare a random effect's
with: given the linear predictor, the latent response's variance is fixed by the link (pi^2/3 for
the logit, 1 for the probit). With one response per cluster, a cluster's random effect only adds
to that fixed variance, so its variance is identified only by the shape of the link function: the
likelihood is nearly flat along it, and a quadrature rule's error decides where the optimiser ends
(variances of 100 with every slope inflated by 4-5, reported as converged). lme4 refuses such
designs for the same reason (``check.nobs.vs.nlev``); so does gllamm.

Counts (Poisson) and binomial responses with several trials keep one response per cluster
identified: an observation-level random effect then models overdispersion.
"""

from __future__ import annotations

import numpy as np

from ..errors import GllammError


def check_identified(spec, design) -> None:
    """GllammError when every unit of the lowest latent level has a single binary or ordinal response."""
    if not spec.levels or spec.levels[0].discrete or design.set_size != 1 or design.choice is not None:
        return
    family = spec.family
    binary = family.name == "ordinal" or (family.name == "binomial" and bool(np.all(design.trials == 1)))
    if not binary or len(design.cluster_codes) == 0:
        return
    counts = np.bincount(np.asarray(design.cluster_codes))
    if counts.max() > 1:
        return
    level = spec.levels[0].name
    raise GllammError(
        f"Every unit of '{level}' has a single {family.name} response, so the variance of its latent variables is "
        f"not identified (with one binary or ordinal response per unit it cannot be told apart from the "
        f"link's own variance). Remove the random terms of '{level}', or group the responses by a factor with "
        f"several responses per unit.")


def check_response_varies(spec, design) -> None:
    """GllammError when the response takes one value only (all 0, all successes, one constant): its
    parameters would run off to infinity (or a variance to 0) while the fit reported convergence."""
    family = spec.family
    if family.name in ("mixed", "multinomial", "ordinal") or design.choice is not None or len(design.y) == 0:
        return
    used = np.asarray(design.weights) > 0
    y, trials = np.asarray(design.y)[used], np.asarray(design.trials)[used]
    if len(y) == 0:
        return
    name = design.response_name
    if family.name == "binomial":
        if np.all(y == 0) or np.all(y == trials):
            what = "0 (no successes)" if np.all(y == 0) else "a success in every trial"
            raise GllammError(f"The response '{name}' is {what} in every one of its {len(y)} rows, so the "
                              "probability of success has no estimate (its logit runs to infinity). Check the "
                              "response column and the rows kept.")
    elif family.counts and np.all(y == 0):
        raise GllammError(f"The response '{name}' is 0 in every one of its {len(y)} rows, so the rate has no "
                          "estimate (its log runs to minus infinity). Check the response column and the rows kept.")
    elif np.all(y == y[0]):
        raise GllammError(f"The response '{name}' has the same value ({y[0]:g}) in every one of its {len(y)} rows: "
                          "nothing varies to be modelled. Check the response column and the rows kept.")


def check_separation(spec, design) -> None:
    """GllammError naming the covariates when the fixed effects separate a binomial response.

    Complete or quasi-complete separation (Albert and Anderson 1984): some direction d != 0 of the fixed
    effects has x_i'd >= 0 wherever y_i = n_i (all successes), x_i'd <= 0 wherever y_i = 0, x_i'd = 0
    where both occur, and x_i'd != 0 somewhere. Along d every cluster's conditional likelihood rises
    for every value of the latent variables, so the marginal likelihood has no maximum: the estimates run
    to infinity. Found, as by R's detectseparation (Konis 2007), from the linear programme

        maximise sum_i s_i x_i'd   subject to s_i x_i'd >= 0 (s_i = +1 / -1), x_i'd = 0 (0 < y_i < n_i),
        -1 <= d_k <= 1,

    which has a positive optimum exactly when the data are separated (identical rows counted once). The
    covariates named are those of the separating direction with the least sum |d_k| (a second programme),
    so that a covariate merely allowed along is not blamed."""
    from scipy.optimize import linprog

    family = spec.family
    X = np.asarray(design.X, dtype=float)
    if family.name != "binomial" or design.choice is not None or X.ndim != 2 or X.shape[1] == 0:
        return
    used = np.asarray(design.weights) > 0
    y, trials, X = np.asarray(design.y)[used], np.asarray(design.trials)[used], X[used]
    sign = np.where(y == 0, -1.0, np.where(y == trials, 1.0, 0.0))
    rows = np.unique(np.column_stack([X, sign]), axis=0)
    X, sign = rows[:, :-1], rows[:, -1]
    scale = np.maximum(np.abs(X).max(axis=0), 1e-300)
    X = X / scale  # (columns on a common scale: the bounds on d treat them alike)
    ends, middle = sign != 0, sign == 0
    programme = linprog(-(sign[ends] @ X[ends]), A_ub=-(sign[ends, None] * X[ends]), b_ub=np.zeros(ends.sum()),
                        A_eq=X[middle] if middle.any() else None, b_eq=np.zeros(middle.sum()) if middle.any() else None,
                        bounds=[(-1, 1)] * X.shape[1], method="highs")
    if programme.status != 0 or -programme.fun <= 1e-7 * max(1, ends.sum()):
        return
    direction = _sparsest_direction(X, sign, spec.fixed_names)
    involved = [name for name, value in zip(spec.fixed_names, direction) if abs(value) > 1e-6]
    covariates = [name for name in involved if name != "(Intercept)"] or involved
    raise GllammError(
        f"The fixed effects separate the response '{design.response_name}': a combination of "
        f"{', '.join(repr(c) for c in covariates)} predicts it perfectly (every row on one side has the same "
        f"outcome), so {'its coefficient runs' if len(covariates) == 1 else 'their coefficients run'} to infinity "
        "and no maximum-likelihood estimate exists. Remove or merge the separating covariate(s), or combine the "
        "categories that have only one outcome.")


def _sparsest_direction(X: np.ndarray, sign: np.ndarray, names) -> np.ndarray:
    """A separating direction d with the least sum of |d_k| over the covariates (the intercept is free):
    minimise sum (p_k + m_k) over d = p - m, p, m >= 0, subject to the separation constraints and
    sum_i s_i x_i'd >= 1."""
    from scipy.optimize import linprog

    k = X.shape[1]
    cost = np.array([0.0 if name == "(Intercept)" else 1.0 for name in names])
    ends, middle = sign != 0, sign == 0
    signed = sign[ends, None] * X[ends]
    A_ub = np.vstack([-np.hstack([signed, -signed]), -np.r_[signed.sum(axis=0), -signed.sum(axis=0)][None, :]])
    b_ub = np.r_[np.zeros(len(signed)), -1.0]
    A_eq = np.hstack([X[middle], -X[middle]]) if middle.any() else None
    programme = linprog(np.r_[cost, cost], A_ub=A_ub, b_ub=b_ub, A_eq=A_eq,
                        b_eq=np.zeros(middle.sum()) if middle.any() else None, bounds=[(0, None)] * (2 * k),
                        method="highs")
    if programme.status != 0:
        return np.ones(k)
    direction = programme.x[:k] - programme.x[k:]
    return direction / max(np.abs(direction).max(), 1e-300)
