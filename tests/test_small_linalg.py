"""Unrolled small-matrix linear algebra against NumPy's LAPACK results."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gllamm.integrate import small_linalg


def _spd(q, batch=4, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(batch, q, q))
    return a @ np.swapaxes(a, -1, -2) + q * np.eye(q)


@pytest.mark.parametrize("q", [1, 3, 9, small_linalg.UNROLLED_MAX + 2])
def test_inverse_of_symmetric_positive_definite_matrices(q):
    a = _spd(q)
    np.testing.assert_allclose(np.asarray(small_linalg.inverse_spd(jnp.asarray(a))), np.linalg.inv(a),
                               rtol=1e-12, atol=1e-14)


def test_small_inverses_need_no_lapack_call():
    """Programs with only small inverses run without loading SciPy's LAPACK (a tenth of a second per process)."""
    small = jax.jit(small_linalg.inverse_spd).lower(jnp.asarray(_spd(9))).as_text()
    large = jax.jit(small_linalg.inverse_spd).lower(jnp.asarray(_spd(small_linalg.UNROLLED_MAX + 1))).as_text()
    assert "lapack" not in small and "lapack" in large


def test_cholesky_and_solves():
    a = _spd(5)
    b = np.random.default_rng(1).normal(size=(4, 5))
    r = np.asarray(small_linalg.cholesky(jnp.asarray(a)))
    np.testing.assert_allclose(r, np.linalg.cholesky(a), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(small_linalg.solve_spd(jnp.asarray(a), jnp.asarray(b))),
                               np.linalg.solve(a, b[..., None])[..., 0], rtol=1e-11)
