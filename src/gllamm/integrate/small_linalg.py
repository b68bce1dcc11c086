"""Cholesky factorisation and triangular solves of small q x q matrices, unrolled; inverse and log-determinant
in a loop.

The latent dimension q at a level is small and static, so writing the
algorithms out elementwise over a batch of clusters gives XLA simple fused
code that compiles far faster (and differentiates more cheaply) than batched
LAPACK calls. Matrices are (..., q, q). The inverse and log-determinant (of covariance matrices of many
responses, larger than q, and of the matrices shared by many clusters, in programs differentiated twice)
are a loop of elimination steps instead: a program of the same small size for any n.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def cholesky(a):
    """Lower-triangular R with R R' = a (a symmetric positive definite); NaN if not."""
    q = a.shape[-1]
    r = [[None] * q for _ in range(q)]
    for j in range(q):
        s = a[..., j, j] - sum(r[j][k] ** 2 for k in range(j)) if j else a[..., j, j]
        r[j][j] = jnp.sqrt(s)
        for i in range(j + 1, q):
            t = a[..., i, j] - sum(r[i][k] * r[j][k] for k in range(j)) if j else a[..., i, j]
            r[i][j] = t / r[j][j]
    zero = jnp.zeros_like(a[..., 0, 0])
    return jnp.stack([jnp.stack([r[i][j] if j <= i else zero for j in range(q)], axis=-1) for i in range(q)], axis=-2)


def solve_lower(r, b):
    """x with R x = b for lower-triangular R (..., q, q) and b (..., q)."""
    q = r.shape[-1]
    x = []
    for i in range(q):
        t = b[..., i] - sum(r[..., i, k] * x[k] for k in range(i)) if i else b[..., i]
        x.append(t / r[..., i, i])
    return jnp.stack(x, axis=-1)


def solve_upper_transposed(r, b):
    """x with R' x = b for lower-triangular R (..., q, q) and b (..., q)."""
    q = r.shape[-1]
    x = [None] * q
    for i in reversed(range(q)):
        t = b[..., i] - sum(r[..., k, i] * x[k] for k in range(i + 1, q)) if i < q - 1 else b[..., i]
        x[i] = t / r[..., i, i]
    return jnp.stack(x, axis=-1)


def solve_spd(a, b):
    """x with a x = b for symmetric positive definite a (..., q, q)."""
    r = cholesky(a)
    return solve_upper_transposed(r, solve_lower(r, b))


def inverse_spd(a):
    """a^{-1} for symmetric positive definite a (..., n, n) (see ``inverse_and_log_det_spd``)."""
    return inverse_and_log_det_spd(a)[0]


def inverse_and_log_det_spd(a):
    """(a^{-1}, log|a|) for symmetric positive definite a (..., n, n), by Gauss-Jordan elimination on [a | I].

    The pivots of a positive definite matrix are positive (they are those of its LU factorisation, whose
    product is |a|), so no pivoting is needed; log|a| is the sum of their logarithms (NaN if a is not
    positive definite). The n elimination steps run in a loop: the program stays small for any n (an
    unrolled n x n inverse, or Cholesky factor and triangular solves, make thousands of operations once
    differentiated twice, and loading a stored program takes time in proportion to its size) and makes no
    LAPACK call (no SciPy LAPACK to load in a new process)."""
    n = a.shape[-1]
    augmented = jnp.concatenate([a, jnp.broadcast_to(jnp.eye(n, dtype=a.dtype), a.shape)], axis=-1)
    diagonal = jnp.abs(jnp.diagonal(a, axis1=-2, axis2=-1))

    def eliminate(k, state):  # pivot row k scaled to 1; column k cleared from every other row
        m, log_det = state
        row = jnp.take(m, k, axis=-2)
        pivot = jnp.take(row, k, axis=-1)
        row = row / pivot[..., None]
        eliminated = m - jnp.take(m, k, axis=-1)[..., :, None] * row[..., None, :]
        # a pivot that is not clearly positive (relative to its diagonal entry) means a is singular to working
        # precision: log|a| is then NaN, not the huge value the rounding residue would give
        singular = pivot <= _SINGULAR_PIVOT * jnp.take(diagonal, k, axis=-1)
        log_pivot = jnp.where(singular, jnp.nan, jnp.log(jnp.where(singular, 1.0, pivot)))
        # (row k is set to the scaled pivot row itself: clearing it too and adding the row back would leave a
        # rounding residue of the size of a's entries, which swamps the inverse when they are large)
        m = jnp.where((jnp.arange(n) == k)[:, None], row[..., None, :], eliminated)
        return m, log_det + log_pivot

    m, log_det = jax.lax.fori_loop(0, n, eliminate, (augmented, jnp.zeros(a.shape[:-2], dtype=a.dtype)))
    return m[..., n:], log_det


_SINGULAR_PIVOT = 1e-13  # pivots below this share of their diagonal entry: singular to working precision
