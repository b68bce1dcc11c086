"""Modification indices and expected parameter changes of a single-level SEM with continuous indicators, one group
or several (lavaan's modindices(): score tests with the expected information).

Every parameter the model fixes at 0 that lavaan would consider is a candidate tau: a cross-loading f =~ y, a
residual covariance y_i ~~ y_j, a covariance of latent disturbances fixed at 0. With the complete data's mean ybar
and covariance S (divisor n), the normal log-likelihood in moment form

    l(phi, tau) = -n/2 [log|Sigma| + tr(Sigma^{-1} (S + (ybar - mu)(ybar - mu)'))] + const,
    Sigma = Lambda' M Psi M' Lambda + Theta,   M = (I - B)^{-1},   mu = nu,

is differentiated exactly (JAX) at the estimates and tau = 0: the score d_j = dl/dtau_j and the expected
information I = n/2 J_Sigma' (W (x) W) J_Sigma + n J_mu' W J_mu (W = Sigma^{-1}, J the Jacobians of vec Sigma and mu
in (phi, tau); phi the model's free parameters). With observed covariates x (lavaan's fixed.x) the model is that of
y given x: mean nu + A x with A = Lambda' M Gamma + D (D the direct effects), Sigma the conditional covariance,

    l = -n/2 [log|Sigma| + tr(Sigma^{-1} C)],   C = S_yy - A S_xy - S_yx A' + A S_xx A' + d d',   d = ybar - nu - A xbar,

and the mean part of the information is n J_G' (Z (x) W) J_G for G = [nu, A] (column-major vec) and
Z = (1/n) sum_i z_i z_i', z_i = (1, x_i). For each candidate on its own,

    V_j = I_jj - I_j,phi I_phi,phi^{-1} I_phi,j,   mi_j = d_j^2 / V_j,   epc_j = d_j / V_j,

and sepc.all standardises epc by the model-implied SDs: a loading by sd(f)/sd(y), a residual covariance by
sqrt(theta_i theta_j), a latent covariance by sd(f_a) sd(f_b). With multiple groups the log-likelihood and the
information are sums over the groups (each group's copies of the indicators, moments of its own units), and the
candidates are those within a group.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from ..errors import GllammError
from .fit_measures import single_level_sem_reason


def modification_indices(result, minimum: float = 0.0, sort: bool = True) -> pd.DataFrame:
    """lhs, op, rhs, mi, epc, sepc.all of every candidate (see the module docstring); rows with mi >= ``minimum``,
    largest first with ``sort``. Candidates that would leave the model unidentified (no information left for them,
    e.g. a residual covariance in a just-identified factor model) are left out, as lavaan does."""
    items, groups = _complete_data(result)
    candidates = _candidates(result, items)
    if not candidates:
        return pd.DataFrame(columns=["lhs", "op", "rhs", "mi", "epc", "sepc.all"])
    free = _free_directions(result)
    phi0 = np.zeros(free.shape[1])
    theta0 = np.asarray(result.theta, dtype=float)

    def moments(phi, tau):
        return _moments(result, items, candidates, jnp.asarray(theta0) + jnp.asarray(free) @ phi, tau)

    def loglik(phi, tau):  # the groups' moment-form log-likelihoods (one group without group=)
        sigma_all, mu_all, A_all = moments(phi, tau)
        total_value = 0.0
        for index, n, mean, S, x_mean, S_xy, S_xx in groups:
            sigma, mu, A = sigma_all[np.ix_(index, index)], mu_all[index], A_all[index]
            centred = mean - mu - A @ x_mean
            C = S - A @ S_xy - S_xy.T @ A.T + A @ S_xx @ A.T + jnp.outer(centred, centred)
            _, log_det = jnp.linalg.slogdet(sigma)
            total_value = total_value - 0.5 * n * (log_det + jnp.trace(jnp.linalg.solve(sigma, C)))
        return total_value

    tau0 = np.zeros(len(candidates))
    score = np.asarray(jax.grad(loglik, argnums=1)(phi0, tau0))
    sigma = np.asarray(moments(phi0, tau0)[0])
    both = np.concatenate([phi0, tau0])
    jac_sigma = np.asarray(jax.jacfwd(lambda x: moments(x[: len(phi0)], x[len(phi0):])[0].reshape(-1))(both))
    jac_mean = np.asarray(jax.jacfwd(lambda x: _mean_coefficients(*moments(x[: len(phi0)], x[len(phi0):])))(both))
    information = 0.0
    for index, n, _, _, x_mean, _, S_xx in groups:  # expected information, summed over the groups
        W = np.linalg.inv(sigma[np.ix_(index, index)])
        rows = (np.asarray(index)[:, None] * len(items) + np.asarray(index)[None, :]).reshape(-1)
        J = jac_sigma[rows]
        Z = np.block([[np.ones((1, 1)), x_mean[None, :]], [x_mean[:, None], S_xx + np.outer(x_mean, x_mean)]])
        J_G = jac_mean[:, index].reshape(-1, jac_mean.shape[-1])  # vec G, column-major (G's columns: nu, A)
        information = information + 0.5 * n * J.T @ np.kron(W, W) @ J + n * J_G.T @ np.kron(Z, W) @ J_G
    k = len(phi0)
    I11, I12, I22 = information[:k, :k], information[:k, k:], information[k:, k:]
    V = np.diag(I22) - np.einsum("ij,ij->j", I12, np.linalg.solve(I11, I12))
    with np.errstate(divide="ignore", invalid="ignore"):
        mi = np.where(V > 1e-10 * np.abs(np.diag(I22)), score ** 2 / V, np.nan)
        epc = np.where(V > 1e-10 * np.abs(np.diag(I22)), score / V, np.nan)
    frame = pd.DataFrame({"lhs": [c[0] for c in candidates], "op": [c[1] for c in candidates],
                          "rhs": [c[2] for c in candidates], "mi": mi, "epc": epc,
                          "sepc.all": epc * _standardizers(result, items, candidates, theta0)})
    if len(groups) > 1:  # multiple groups: each candidate's group (the number its names carry, as lavaan's column)
        frame.insert(3, "group", [int(lhs.rsplit(".g", 1)[1]) for lhs in frame.lhs])
    frame = frame[frame.mi.notna() & (frame.mi >= minimum)]  # (a candidate the model cannot identify has none)
    return frame.sort_values("mi", ascending=False).reset_index(drop=True) if sort else frame.reset_index(drop=True)


def _mean_coefficients(sigma, mu, A):
    """G = [nu, A] (items, 1 + covariates): the conditional mean of y given x is G (1, x)."""
    return jnp.concatenate([mu[:, None], A], axis=1).T  # (1 + covariates, items): vec(G) column-major when flattened


def _complete_data(result):
    """(indicator names, per group (their positions, n, mean, covariance with divisor n, covariates' mean, S_xy,
    S_xx)): one group, or each group's copies of the indicators with its own units; refusing what the score tests
    here do not cover."""
    from .covariate_fit_measures import covariate_reason, observed_covariates

    grouped = result.options.get("group") is not None
    reason = single_level_sem_reason(result, groups=grouped, covariates=not grouped) or \
        (None if grouped else covariate_reason(result))
    if reason is None and result.design.weights_argument is not None:
        reason = "sampling weights"
    if reason is not None:
        raise GllammError("Modification indices are for single-level models in lavaan-style syntax with continuous "
                          f"(Gaussian identity-link) indicators and no weights ({reason}).")
    covariates = [] if grouped else observed_covariates(result.spec)
    items = list(result.design.response_name.split(", "))
    if any(f"{name}~~{name}" not in result.spec.dispersions for name in items):
        raise GllammError("Modification indices need a residual variance for every indicator.")
    suffixes = [name.rsplit(".g", 1)[1] if grouped else "" for name in items]
    groups = []
    for suffix in dict.fromkeys(suffixes):
        index = [j for j, s in enumerate(suffixes) if s == suffix]
        Y = result.design.model_frame[[items[j] for j in index]].to_numpy(dtype=float)
        X = result.design.model_frame[covariates].to_numpy(dtype=float).reshape(len(Y), len(covariates))
        used = ~np.isnan(Y).all(axis=1) & ~np.isnan(X).any(axis=1)  # (a group's units: other groups' copies empty)
        Y, X = Y[used], X[used]
        if np.isnan(Y).any():
            raise GllammError("Modification indices with missing responses are not available yet (lavaan computes "
                              "them from the observed-data information); fit the complete cases to screen for them.")
        joint = np.atleast_2d(np.cov(np.column_stack([Y, X]), rowvar=False, bias=True))
        p = Y.shape[1]
        groups.append((np.asarray(index), Y.shape[0], Y.mean(axis=0), joint[:p, :p], X.mean(axis=0), joint[p:, :p],
                       joint[p:, p:]))
    return items, groups


def _candidates(result, items: list[str]) -> list[tuple]:
    """(lhs, op, rhs, kind, indices) of the parameters fixed at 0 that lavaan's modindices() lists: cross-loadings,
    residual covariances of the indicators, covariances of latent disturbances fixed at 0."""
    level = result.spec.levels[0]
    latent = list(level.latent_names)
    # free loadings are no candidates; fixed ones are (at 0: cross-loadings; at another value, e.g. a marker's 1:
    # lavaan lists it too, and keeps it where the model identifies it, as in multiple groups with equal loadings)
    measured = {(l.latent, l.column) for l in level.loading_list if l.value is None}
    def group(name):  # multiple groups: candidates within a group only (its copies end in .g<k>)
        return name.rsplit(".g", 1)[1] if result.options.get("group") is not None else ""

    out = [(latent[k], "=~", items[j], "loading", (k, j))
           for k in range(len(latent)) for j in range(len(items))
           if (k, j) not in measured and group(latent[k]) == group(items[j])]
    out += [(items[i], "~~", items[j], "residual", (i, j)) for i in range(len(items)) for j in range(i + 1, len(items))
            if group(items[i]) == group(items[j])]
    endogenous = {p.lhs for p in level.paths}
    block_of = {r: b for b, block in enumerate(level.blocks) for r in block}
    out += [(latent[a], "~~", latent[b], "latent", (a, b)) for a in range(len(latent)) for b in range(a + 1, len(latent))
            if block_of[a] != block_of[b] and a not in endogenous and b not in endogenous
            and group(latent[a]) == group(latent[b])]
    return out


def _free_directions(result) -> np.ndarray:
    """theta = theta_hat + D phi: the model's free parameters (fixed ones and equality constraints respected)."""
    from ..spec.constraints import build_constraints

    constraints = build_constraints(result.table_spec, result.options.get("fix"), result.options.get("equal"))
    return constraints.matrix


def _moments(result, items, candidates, theta, tau):
    """(Sigma, nu, A) of the indicators at theta with the candidate parameters tau added: the covariance and mean
    nu + A x given the observed covariates x (A with no columns without covariates)."""
    from ..objective import latent_structure

    table = result.table_spec
    params = table.unpack(theta)
    loadings, _, _ = latent_structure(table, params)
    q = loadings.shape[0]
    B = params.structural[0] if params.structural[0] is not None else jnp.zeros((q, q))
    L = params.cholesky[0]
    psi = L @ L.T
    residual = jnp.exp(2 * params.log_dispersion)
    index = jnp.array([list(result.spec.dispersions).index(f"{name}~~{name}") for name in items])
    Theta = jnp.diag(residual[index])
    for t, (_, _, _, kind, where) in enumerate(candidates):
        if kind == "loading":
            loadings = loadings.at[where].add(tau[t])
        elif kind == "residual":
            Theta = Theta.at[where].add(tau[t]).at[where[::-1]].add(tau[t])
        else:
            psi = psi.at[where].add(tau[t]).at[where[::-1]].add(tau[t])
    M = jnp.linalg.inv(jnp.eye(q) - B)
    cov_eta = M @ psi @ M.T
    sigma = loadings.T @ cov_eta @ loadings + Theta
    intercepts = {name: k for k, name in enumerate(result.spec.fixed_names)}
    mu = jnp.stack([params.beta[intercepts[f"{name}~1"]] for name in items])
    grouped = result.options.get("group") is not None
    if grouped and result.spec.levels[0].covariate_paths:  # multiple groups' free latent means (paths on their
        # _mean.g<k> column, each latent variable on its own group's only): mu = nu + Lambda' M Gamma 1
        mu = mu + loadings.T @ M @ params.covariate_effects[0] @ jnp.ones(params.covariate_effects[0].shape[1])
    return sigma, mu, _covariate_effects(result, items, params, loadings, M, grouped)


def _covariate_effects(result, items, params, loadings, M, grouped: bool):
    """A = d E(y | x) / d x (items, covariates): through the latent variables (Lambda' M Gamma) and direct (D)."""
    from .covariate_fit_measures import covariate_paths, observed_covariates

    gamma, direct = covariate_paths(result.spec, params, items, [] if grouped else observed_covariates(result.spec))
    return loadings.T @ M @ gamma + direct


def _standardizers(result, items, candidates, theta) -> np.ndarray:
    """The factor that turns each candidate's epc into sepc.all (model-implied SDs at the estimates)."""
    from .standardized import _moments as standardized_moments

    _, cov_eta, _, theta_items, var_y = (np.asarray(x) for x in standardized_moments(result, jnp.asarray(theta)))
    sd_y, sd_eta = np.sqrt(var_y), np.sqrt(np.diag(cov_eta))  # model-implied total SDs (covariates' part included)
    out = []
    for _, _, _, kind, (a, b) in candidates:
        if kind == "loading":
            out.append(sd_eta[a] / sd_y[b])
        elif kind == "residual":
            out.append(1.0 / np.sqrt(theta_items[a] * theta_items[b]))
        else:
            out.append(1.0 / (sd_eta[a] * sd_eta[b]))
    return np.asarray(out)
