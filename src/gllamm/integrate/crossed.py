"""Crossed random effects: the Laplace approximation over all random effects jointly, exact for Gaussian
identity-link responses.

Factors k = 0..K-1 (not nested in one another) have n_k units with p_k standardised effects u_kj ~ N(0, I) each;
row i has eta_i = eta0_i + sum_k a_ik' u_{k, c_k(i)}, a_ik = (M_k L_k)' z_ik. With
h(u) = -sum_i w_i log f(y_i | eta_i) + u'u / 2 and H(u) its Hessian,

    log L = log int exp(-h(u)) (2 pi)^(-q/2) du  ~=  -h(u_hat) - log det H(u_hat) / 2,

exact when h is quadratic (Gaussian, identity link). H = I + A' D A with D = diag(-w_i d2 log f / d eta^2) is
sparse with a structure that block elimination exploits (as lme4 and MixedModels.jl do): the block of factor 0
(the one with most effects) is block diagonal (n_0 blocks p_0 x p_0: no row belongs to two of its units), so it is
eliminated unit by unit, leaving the dense Schur complement S = R - C' B^-1 C of the other factors' effects
(q_r = sum_{k>0} n_k p_k), factored by Cholesky. C is nonzero only where a unit of factor 0 meets a unit of
another factor in some row, so S is assembled from those contacts only:

    log det H = sum_j log det B_j + log det S.

Derivatives of log L: the mode is found without derivatives (``crossed_modes``); the log-likelihood then takes
``newton_steps`` differentiated Newton steps from it, which give the exact derivatives of the mode (implicit
function theorem; one step is exact for a quadratic h).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from . import small_linalg


@dataclass(frozen=True)
class CrossedModel:
    """Everything the joint Laplace approximation needs, as pure functions of arrays.

    row_kernel(eta) and row_derivatives(eta): log f(y | eta) per row and its first two derivatives in eta
    (rows as (chunks, width)); loadings[k]: (p_k, chunks, width) a_ik; codes[k]: (chunks, width) unit of row i."""

    row_kernel: callable
    row_derivatives: callable
    eta0: jnp.ndarray
    weight: jnp.ndarray
    loadings: tuple
    codes: tuple
    units: tuple  # n_k per factor (static)
    structure: dict  # the sparsity pattern of H (design/crossed_factors.py: crossed_structure)

    @property
    def dims(self) -> tuple:
        return tuple(a.shape[0] for a in self.loadings)

    @property
    def sizes(self) -> tuple:
        return tuple(n * p for n, p in zip(self.units, self.dims))

    def split(self, u):
        """The flat effects u (q,) as (n_k, p_k) per factor."""
        parts, start = [], 0
        for n, p in zip(self.units, self.dims):
            parts.append(u[start:start + n * p].reshape(n, p))
            start += n * p
        return parts

    def eta(self, u):
        value = self.eta0
        for a, code, part in zip(self.loadings, self.codes, self.split(u)):
            value = value + jnp.einsum("pcm,cmp->cm", a, part[code])
        return value

    def objective(self, u):
        """h(u) = -sum_i w_i log f(y_i | eta_i) + u'u / 2."""
        return -jnp.sum(self.weight * self.row_kernel(self.eta(u))) + 0.5 * jnp.sum(u * u)

    def gradient_and_curvature(self, u):
        """(grad h, the row curvatures d_i = -w_i d2 log f / d eta^2) at u."""
        d1, d2 = self.row_derivatives(self.eta(u))
        score = self.weight * d1
        gradient = [part - jax.ops.segment_sum((a * score[None]).reshape(a.shape[0], -1).T,
                                               code.reshape(-1), num_segments=n)
                    for a, code, part, n in zip(self.loadings, self.codes, self.split(u), self.units)]
        return jnp.concatenate([g.reshape(-1) for g in gradient]), -self.weight * d2


def _rest_loadings(model: CrossedModel):
    """Each row's loading on the rest effect it touches per (factor l >= 1, effect m): (E, rows)."""
    return jnp.concatenate([a.reshape(a.shape[0], -1) for a in model.loadings[1:]], axis=0)


def _eliminated_blocks(model: CrossedModel, d):
    """B_j = I + sum_{i in unit j} d_i a_i0 a_i0' (n_0, p_0, p_0) and its inverse."""
    a0 = model.loadings[0].reshape(model.dims[0], -1)
    outer = jnp.einsum("pi,qi,i->ipq", a0, a0, d.reshape(-1))
    blocks = jax.ops.segment_sum(outer, model.codes[0].reshape(-1), num_segments=model.units[0]) + jnp.eye(a0.shape[0])
    if a0.shape[0] == 1:
        return blocks, 1.0 / blocks
    return blocks, small_linalg.inverse_spd(blocks)  # (no batched LAPACK call: see nested_laplace._eliminate)


def _rest_block(model: CrossedModel, d, q_rest: int):
    """R = I + sum_i d_i r_i r_i' over the rest effects (dense q_r x q_r; each row adds E^2 entries)."""
    s = model.structure
    col = s["crossed_rest_col"].reshape(s["crossed_rest_col"].shape[0], -1)
    a = _rest_loadings(model)
    values = jnp.einsum("ei,fi,i->efi", a, a, d.reshape(-1))
    rows = jnp.broadcast_to(col[:, None, :], values.shape)
    cols = jnp.broadcast_to(col[None, :, :], values.shape)
    return jnp.eye(q_rest, dtype=d.dtype).at[rows.reshape(-1), cols.reshape(-1)].add(values.reshape(-1))


@dataclass(frozen=True)
class _Factored:
    """H = [[B, C], [C', R]] factored by eliminating B (block diagonal, factor 0): B_j, B_j^-1, the nonzero blocks
    C_t (p_0,) of C at the contacts t = (j_t, r_t), W_t = B_j^-1 C_t, and chol(S), S = R - C'B^-1C."""

    b: jnp.ndarray  # (n_0, p_0, p_0)
    b_inv: jnp.ndarray  # (n_0, p_0, p_0)
    c: jnp.ndarray  # (T, p_0)
    w: jnp.ndarray  # (T, p_0)
    unit: jnp.ndarray  # (T,) j_t
    col: jnp.ndarray  # (T,) r_t
    s: jnp.ndarray  # (q_r, q_r)
    s_inv: jnp.ndarray  # (q_r, q_r)
    s_log_det: jnp.ndarray

    def log_det(self):
        """log det H = sum_j log det B_j + log det S."""
        _, log_det_b = jnp.linalg.slogdet(self.b)
        return jnp.sum(log_det_b) + self.s_log_det

    def solve(self, g):
        """H^-1 g for g (q,): x_r = S^-1 (g_r - C'B^-1 g_0), x_0 = B^-1 (g_0 - C x_r)."""
        n0, p0, _ = self.b.shape
        q_rest = self.s_inv.shape[0]
        g0, g_rest = g[:n0 * p0].reshape(n0, p0), g[n0 * p0:]
        y0 = jnp.einsum("jpq,jq->jp", self.b_inv, g0)
        rhs = g_rest - jax.ops.segment_sum(jnp.sum(self.c * y0[self.unit], axis=1), self.col, num_segments=q_rest)
        x_rest = inverse_times(self.s, self.s_inv, rhs)
        x0 = y0 - jax.ops.segment_sum(self.w * x_rest[self.col][:, None], self.unit, num_segments=n0)
        return jnp.concatenate([x0.reshape(-1), x_rest])


def factor_hessian(model: CrossedModel, d) -> _Factored:
    """H = I + A'DA by block elimination of factor 0, with the sparsity of C (see design/crossed_factors.py)."""
    s = model.structure
    q_rest = sum(model.sizes[1:])
    b, b_inv = _eliminated_blocks(model, d)
    a0 = model.loadings[0].reshape(model.dims[0], -1)
    unit, col = s["crossed_contact_unit"], s["crossed_contact_col"]
    contact = s["crossed_contact"].reshape(s["crossed_contact"].shape[0], -1)
    terms = (d.reshape(-1) * _rest_loadings(model))[:, :, None] * a0.T[None]  # (E, rows, p_0)
    c = jax.ops.segment_sum(terms.reshape(-1, a0.shape[0]), contact.reshape(-1), num_segments=unit.shape[0])
    w = jnp.einsum("tpq,tq->tp", b_inv[unit], c)
    first, second = s["crossed_pair_first"], s["crossed_pair_second"]
    products = jnp.sum(c[first] * w[second], axis=1)
    S = _rest_block(model, d, q_rest).at[col[first], col[second]].add(-products)
    S = 0.5 * (S + S.T)
    s_inv, s_log_det = spd_inverse_and_log_det(S)
    return _Factored(b, b_inv, c, w, unit, col, S, s_inv, s_log_det)


@jax.custom_jvp
def spd_inverse_and_log_det(S):
    """(S^-1, log det S) of a symmetric positive definite S, from its Cholesky factor.

    Derivatives d S^-1 = -S^-1 dS S^-1 and d log det S = tr(S^-1 dS): matrix products, which cost far less than
    differentiating the factorisation itself (second derivatives of log L take both)."""
    chol = jnp.linalg.cholesky(S)
    inverse = jax.scipy.linalg.cho_solve((chol, True), jnp.eye(S.shape[0], dtype=S.dtype))
    return 0.5 * (inverse + inverse.T), 2.0 * jnp.sum(jnp.log(jnp.diagonal(chol)))


@jax.custom_jvp
def inverse_times(S, s_inv, b):
    """S^-1 b given s_inv = S^-1, differentiated as d(S^-1 b) = S^-1 (db - dS S^-1 b): matrix-vector products
    (the derivative of s_inv is not needed: it is S^-1's, which the rule writes out)."""
    return s_inv @ b


@inverse_times.defjvp
def _inverse_times_jvp(primals, tangents):
    (S, s_inv, b), (dS, _, db) = primals, tangents
    x = inverse_times(S, s_inv, b)
    return x, inverse_times(S, s_inv, db - dS @ x)


@spd_inverse_and_log_det.defjvp
def _spd_inverse_and_log_det_jvp(primals, tangents):
    (S,), (dS,) = primals, tangents
    inverse, log_det = spd_inverse_and_log_det(S)
    return (inverse, log_det), (-inverse @ dS @ inverse, jnp.sum(inverse * dS))


def newton_step(model: CrossedModel, u):
    """u - H(u)^-1 grad h(u)."""
    gradient, d = model.gradient_and_curvature(u)
    return u - factor_hessian(model, d).solve(gradient)


def crossed_modes(model: CrossedModel, start, max_steps: int = 100, tol: float = 1e-10):
    """The mode of exp(-h): Newton steps from ``start``, each halved until h does not increase (log-concave
    families need no halving near the mode), until the largest change is below ``tol``."""
    start = jax.lax.stop_gradient(start)

    def cond(state):
        _, change, step = state
        return (change > tol) & (step < max_steps)

    def body(state):
        u, _, step = state
        value = model.objective(u)
        direction = newton_step(model, u) - u

        def shrink(s):
            return (s[0] * 0.5, s[1] + 1)

        def worse(s):
            return (model.objective(u + s[0] * direction) > value + 1e-12 * jnp.abs(value)) & (s[1] < 30)

        scale, _ = jax.lax.while_loop(worse, shrink, (jnp.asarray(1.0, u.dtype), 0))
        new = u + scale * direction
        return new, jnp.max(jnp.abs(new - u)), step + 1

    u, _, _ = jax.lax.while_loop(cond, body, (start, jnp.asarray(jnp.inf, start.dtype), 0))
    return u


def crossed_loglik(model: CrossedModel, modes, newton_steps: int = 1, exact: bool = False):
    """-h(u) - log det H(u) / 2 at u = ``newton_steps`` differentiated Newton steps from the modes.

    ``exact`` (h quadratic: Gaussian responses, identity link): from u = 0, h(u_hat) = h(0) - g'H^-1 g / 2 with
    g = grad h(0), so one factorisation of H gives log L = -h(0) + g'H^-1 g / 2 - log det H / 2."""
    if exact:
        zero = jnp.zeros(sum(model.sizes), model.eta0.dtype)
        gradient, d = model.gradient_and_curvature(zero)
        factored = factor_hessian(model, d)
        return -model.objective(zero) + 0.5 * gradient @ factored.solve(gradient) - 0.5 * factored.log_det()
    u = jax.lax.stop_gradient(modes)
    for _ in range(newton_steps):
        u = newton_step(model, u)
    _, d = model.gradient_and_curvature(u)
    return -model.objective(u) - 0.5 * factor_hessian(model, d).log_det()
