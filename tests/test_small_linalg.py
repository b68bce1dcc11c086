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


@pytest.mark.parametrize("q", [1, 3, 9, 14])
def test_inverse_of_symmetric_positive_definite_matrices(q):
    a = _spd(q)
    np.testing.assert_allclose(np.asarray(small_linalg.inverse_spd(jnp.asarray(a))), np.linalg.inv(a),
                               rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("q", [1, 3, 9])
def test_inverse_and_log_determinant_with_their_derivatives(q):
    a = _spd(q, seed=q)
    inverse, log_det = small_linalg.inverse_and_log_det_spd(jnp.asarray(a))
    np.testing.assert_allclose(np.asarray(inverse), np.linalg.inv(a), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(np.asarray(log_det), np.linalg.slogdet(a)[1], rtol=1e-13)
    # d log|a| / da = a^{-1} (symmetric a), through the loop's derivative
    gradient = jax.grad(lambda m: jnp.sum(small_linalg.inverse_and_log_det_spd(m)[1]))(jnp.asarray(a))
    np.testing.assert_allclose(np.asarray(gradient), np.swapaxes(np.linalg.inv(a), -1, -2), rtol=1e-11, atol=1e-13)
    assert np.isnan(float(small_linalg.inverse_and_log_det_spd(-jnp.eye(q))[1]))  # not positive definite


def test_inverses_need_no_lapack_call_and_stay_small():
    """Programs with inverses run without loading SciPy's LAPACK (a tenth of a second per process), and the
    program does not grow with the matrix (stored programs load in time proportional to their size)."""
    texts = [jax.jit(small_linalg.inverse_spd).lower(jnp.asarray(_spd(q))).as_text() for q in (3, 30)]
    assert not any("lapack" in text for text in texts)
    assert len(texts[1].splitlines()) < 1.2 * len(texts[0].splitlines())


def test_cholesky_and_solves():
    a = _spd(5)
    b = np.random.default_rng(1).normal(size=(4, 5))
    r = np.asarray(small_linalg.cholesky(jnp.asarray(a)))
    np.testing.assert_allclose(r, np.linalg.cholesky(a), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(small_linalg.solve_spd(jnp.asarray(a), jnp.asarray(b))),
                               np.linalg.solve(a, b[..., None])[..., 0], rtol=1e-11)


@pytest.mark.parametrize("scale", [1e-20, 1.0, 1e10, 1e20])
def test_the_inverse_does_not_depend_on_the_scale_of_the_matrix(scale):
    # (clearing the pivot row and adding it back left a rounding residue of the size of the entries: at 1e19
    # the "inverse" was off by 1e3, and a fit of a response in units 1e8 times larger accepted a step to a
    # log-likelihood of +42,276)
    rng = np.random.default_rng(0)
    b = rng.normal(size=(10, 2))
    a = (b @ b.T + 0.5 * np.eye(10)) * scale
    inverse, log_det = small_linalg.inverse_and_log_det_spd(jnp.asarray(a)[None])
    np.testing.assert_allclose(np.asarray(inverse[0]) @ a, np.eye(10), atol=1e-12)
    assert float(log_det[0]) == pytest.approx(np.linalg.slogdet(a)[1], abs=1e-10)


def test_a_matrix_singular_to_working_precision_has_no_log_determinant():
    v = np.array([1.0, 2.0, 3.0])
    singular = np.outer(v, v) * 1e20 + 1e-30 * np.eye(3)  # rank one up to rounding
    _, log_det = small_linalg.inverse_and_log_det_spd(jnp.asarray(singular)[None])
    assert np.isnan(float(log_det[0]))
