"""Exact Gaussian integration with one covariance for all clusters (integrate/shared_gaussian.py) against the
per-cluster computation (a Newton step and a Cholesky factor per cluster), and the expected information with one
Sigma against the per-cluster one: same log-likelihood, gradient, Hessian and information at parameters away from
the estimates."""

import jax
import numpy as np
import pytest

import gllamm
from gllamm.integrate.shared_gaussian import SHARED_ROWS
from gllamm.objective import loglik
from gllamm.results.information import _information_arrays, _information_function, _same_covariance

# a MIMIC-type structural model: factor on factors (B), factor on a covariate (Gamma), response on a covariate
SEM = """visual =~ x1 + x2 + x3
textual =~ x4 + x5 + x6
speed =~ x7 + x8 + x9
speed ~ visual + textual
visual ~ ageyr
x1 ~ sex"""


@pytest.fixture(scope="module")
def sem_fit():
    data = gllamm.datasets.load("holzinger")
    data = data.assign(ageyr=data.ageyr - data.ageyr.mean())
    return gllamm.fit(SEM, data, max_iter=3)  # (not converged: only the structure and the data are needed)


def _without_marker(data):
    return {key: value for key, value in data.items() if key != SHARED_ROWS}


def test_complete_wide_data_share_their_rows(sem_fit):
    assert SHARED_ROWS in sem_fit.design.data()


def test_shared_covariance_gives_the_per_cluster_likelihood_and_derivatives(sem_fit):
    table, integration = sem_fit.table_spec, sem_fit.integration
    data = sem_fit.design.data()
    theta = sem_fit.theta + np.random.default_rng(3).normal(scale=0.05, size=sem_fit.theta.size)
    modes = np.zeros((data["cluster_weight"].shape[0], table.spec.levels[0].dim))

    def f(t, d):
        return loglik(table, integration, t, d, modes, newton_steps=1)

    shared, general = data, _without_marker(data)
    assert float(f(theta, shared)) == pytest.approx(float(f(theta, general)), rel=1e-13)
    np.testing.assert_allclose(jax.grad(f)(theta, shared), jax.grad(f)(theta, general), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(jax.hessian(f)(theta, shared), jax.hessian(f)(theta, general), rtol=1e-9, atol=1e-8)


def test_shared_sigma_gives_the_per_cluster_expected_information(sem_fit):
    arrays = _information_arrays(sem_fit.design)
    assert _same_covariance(arrays)
    theta = sem_fit.theta + np.random.default_rng(4).normal(scale=0.05, size=sem_fit.theta.size)
    shared = np.asarray(_information_function(sem_fit.table_spec, True)(theta, arrays))
    general = np.asarray(_information_function(sem_fit.table_spec, False)(theta, arrays))
    np.testing.assert_allclose(shared, general, rtol=1e-10, atol=1e-10)


def test_a_repeated_measures_design_shares_its_rows_and_likelihood():
    """sleepstudy: every subject measured on days 0-9, so Z = (1, day) is the same for all (random slopes)."""
    fit = gllamm.fit("reaction ~ days + (1 + days | subject)", gllamm.datasets.load("sleepstudy"), max_iter=0)
    data = fit.design.data()
    assert SHARED_ROWS in data
    modes = np.zeros((data["cluster_weight"].shape[0], 2))
    theta = fit.theta + 0.1

    def f(t, d):
        return loglik(fit.table_spec, fit.integration, t, d, modes, newton_steps=1)

    assert float(f(theta, data)) == pytest.approx(float(f(theta, _without_marker(data))), rel=1e-13)
    np.testing.assert_allclose(jax.hessian(f)(theta, data), jax.hessian(f)(theta, _without_marker(data)), rtol=1e-9)


def test_clusters_with_other_rows_keep_the_per_cluster_path():
    """A unit with a missing response has fewer rows, so its covariance differs: no common covariance."""
    data = gllamm.datasets.load("holzinger")
    data.loc[5, "x4"] = np.nan
    fit = gllamm.fit("visual =~ x1 + x2 + x3; textual =~ x4 + x5 + x6", data, max_iter=0)
    assert SHARED_ROWS not in fit.design.data()
    assert not _same_covariance(_information_arrays(fit.design))
    unequal = gllamm.fit("normexam ~ standlrt + (1 | school)", gllamm.datasets.load("exam"), max_iter=0)
    assert SHARED_ROWS not in unequal.design.data()
