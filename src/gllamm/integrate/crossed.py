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
(q_r = sum_{k>0} n_k p_k), factored by Cholesky:

    log det H = sum_j log det B_j + log det S.

Derivatives of log L: the mode is found without derivatives (``crossed_modes``); the log-likelihood then takes
``newton_steps`` differentiated Newton steps from it, which give the exact derivatives of the mode (implicit
function theorem; one step is exact for a quadratic h).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp


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


def _outer_blocks(model: CrossedModel, d):
    """Diagonal blocks I + sum_i d_i a_ik a_ik' per unit (n_k, p_k, p_k), and the cross blocks
    sum_i d_i a_ik a_il' (n_k p_k, n_l p_l) for k < l."""
    flat_a = [a.reshape(a.shape[0], -1) for a in model.loadings]
    flat_code = [c.reshape(-1) for c in model.codes]
    flat_d = d.reshape(-1)
    diagonal = []
    for a, code, n in zip(flat_a, flat_code, model.units):
        outer = jnp.einsum("pi,qi,i->ipq", a, a, flat_d)
        diagonal.append(jax.ops.segment_sum(outer, code, num_segments=n) + jnp.eye(a.shape[0]))
    cross = {}
    for k in range(len(flat_a)):
        for l in range(k + 1, len(flat_a)):
            n_l = model.units[l]
            pk, pl = flat_a[k].shape[0], flat_a[l].shape[0]
            outer = jnp.einsum("pi,qi,i->ipq", flat_a[k], flat_a[l], flat_d)
            block = jax.ops.segment_sum(outer, flat_code[k] * n_l + flat_code[l], num_segments=model.units[k] * n_l)
            block = block.reshape(model.units[k], n_l, pk, pl).transpose(0, 2, 1, 3)
            cross[k, l] = block.reshape(model.units[k] * pk, n_l * pl)
    return diagonal, cross


def _block_diagonal(blocks):
    """A dense matrix from (n, p, p) diagonal blocks."""
    n, p, _ = blocks.shape
    eye = jnp.eye(n, dtype=blocks.dtype)
    return jnp.einsum("jpq,jk->jpkq", blocks, eye).reshape(n * p, n * p)


@dataclass(frozen=True)
class _Factored:
    """H = [[B, C], [C', R]] factored by eliminating B (block diagonal): chol(B_j) and chol(S), S = R - C'B^-1C."""

    b_chol: jnp.ndarray  # (n_0, p_0, p_0)
    b_inv_c: jnp.ndarray  # (n_0, p_0, q_r)
    c: jnp.ndarray  # (n_0, p_0, q_r)
    s_chol: jnp.ndarray  # (q_r, q_r)

    def log_det(self):
        diagonal = jnp.diagonal(self.b_chol, axis1=1, axis2=2)
        return 2.0 * jnp.sum(jnp.log(diagonal)) + 2.0 * jnp.sum(jnp.log(jnp.diagonal(self.s_chol)))

    def solve(self, g):
        """H^-1 g for g (q,)."""
        n0, p0, _ = self.b_chol.shape
        g0, g_rest = g[:n0 * p0].reshape(n0, p0), g[n0 * p0:]
        b_inv_g0 = _block_solve(self.b_chol, g0)
        x_rest = jax.scipy.linalg.cho_solve((self.s_chol, True), g_rest - jnp.einsum("jpr,jp->r", self.c, b_inv_g0))
        x0 = b_inv_g0 - jnp.einsum("jpr,r->jp", self.b_inv_c, x_rest)
        return jnp.concatenate([x0.reshape(-1), x_rest])


def _block_solve(chol, rhs):
    """B_j^-1 rhs_j per unit, from the Cholesky factors (n, p, p); rhs (n, p) or (n, p, r)."""
    vector = rhs.ndim == 2
    rhs = rhs[..., None] if vector else rhs
    y = jax.scipy.linalg.solve_triangular(chol, rhs, lower=True)
    x = jax.scipy.linalg.solve_triangular(jnp.swapaxes(chol, 1, 2), y, lower=False)
    return x[..., 0] if vector else x


def factor_hessian(model: CrossedModel, d) -> _Factored:
    """H = I + A' D A by block elimination of factor 0 (see the module docstring)."""
    diagonal, cross = _outer_blocks(model, d)
    K = len(diagonal)
    rest_rows = []
    for k in range(1, K):
        row = []
        for l in range(1, K):
            if l == k:
                row.append(_block_diagonal(diagonal[k]))
            elif l > k:
                row.append(cross[k, l])
            else:
                row.append(cross[l, k].T)
        rest_rows.append(jnp.concatenate(row, axis=1))
    R = jnp.concatenate(rest_rows, axis=0)
    n0, p0 = model.units[0], model.dims[0]
    c = jnp.concatenate([cross[0, l] for l in range(1, K)], axis=1).reshape(n0, p0, -1)
    b_chol = jnp.linalg.cholesky(diagonal[0])
    b_inv_c = _block_solve(b_chol, c)
    S = R - jnp.einsum("jpr,jps->rs", c, b_inv_c)
    return _Factored(b_chol, b_inv_c, c, jnp.linalg.cholesky(0.5 * (S + S.T)))


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


def crossed_loglik(model: CrossedModel, modes, newton_steps: int = 1):
    """-h(u) - log det H(u) / 2 at u = ``newton_steps`` differentiated Newton steps from the modes."""
    u = jax.lax.stop_gradient(modes)
    for _ in range(newton_steps):
        u = newton_step(model, u)
    _, d = model.gradient_and_curvature(u)
    return -model.objective(u) - 0.5 * factor_hessian(model, d).log_det()


def crossed_posterior(model: CrossedModel, modes):
    """Posterior modes u_hat and the diagonal of H(u_hat)^-1 (conditional variances of the standardised effects,
    lme4's condVar on the u scale), each split by factor as (n_k, p_k)."""
    _, d = model.gradient_and_curvature(modes)
    factored = factor_hessian(model, d)
    q = modes.shape[0]
    variances = jax.lax.map(lambda e: factored.solve(e) @ e, jnp.eye(q, dtype=modes.dtype), batch_size=64)
    return model.split(modes), model.split(variances)
