"""Exact Gaussian integration with one covariance per pattern of rows (integrate/shared_gaussian.py) against the
per-cluster computation (a Newton step and a Cholesky factor per cluster), and the expected information with one
Sigma against the per-cluster one: same log-likelihood, gradient, Hessian and information at parameters away from
the estimates."""

import jax
import numpy as np
import pytest

import gllamm
from gllamm.integrate.shared_gaussian import PATTERN_KEYS, ROW_PATTERN
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
    return {key: value for key, value in data.items() if key not in PATTERN_KEYS}


def test_complete_wide_data_share_their_rows(sem_fit):
    assert np.all(np.asarray(sem_fit.design.data()[ROW_PATTERN]) == 0)  # one pattern


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
    assert np.all(np.asarray(data[ROW_PATTERN]) == 0)
    modes = np.zeros((data["cluster_weight"].shape[0], 2))
    theta = fit.theta + 0.1

    def f(t, d):
        return loglik(fit.table_spec, fit.integration, t, d, modes, newton_steps=1)

    assert float(f(theta, data)) == pytest.approx(float(f(theta, _without_marker(data))), rel=1e-13)
    np.testing.assert_allclose(jax.hessian(f)(theta, data), jax.hessian(f)(theta, _without_marker(data)), rtol=1e-9)


def test_units_with_missing_responses_form_their_own_patterns():
    """Units with a missing response have other rows (another covariance): a pattern of their own, and the same
    likelihood and derivatives as the per-cluster computation."""
    data = gllamm.datasets.load("holzinger")
    data.loc[[5, 40], "x4"] = np.nan
    data.loc[7, "x2"] = np.nan
    fit = gllamm.fit("visual =~ x1 + x2 + x3; textual =~ x4 + x5 + x6", data, max_iter=0)
    arrays = fit.design.data()
    pattern = np.asarray(arrays[ROW_PATTERN])
    assert len(set(pattern)) == 3 and pattern[5] == pattern[40] != pattern[7] and np.sum(pattern == pattern[0]) == 298
    assert not _same_covariance(_information_arrays(fit.design))  # (the expected information: per cluster)
    modes = np.zeros((301, 2))
    theta = fit.theta + np.random.default_rng(5).normal(scale=0.05, size=fit.theta.size)

    def f(t, d):
        return loglik(fit.table_spec, fit.integration, t, d, modes, newton_steps=1)

    assert float(f(theta, arrays)) == pytest.approx(float(f(theta, _without_marker(arrays))), rel=1e-13)
    np.testing.assert_allclose(jax.hessian(f)(theta, arrays), jax.hessian(f)(theta, _without_marker(arrays)),
                               rtol=1e-9, atol=1e-8)


def test_clusters_of_many_patterns_keep_the_per_cluster_path():
    """exam: schools of different sizes, nearly every one its own pattern (and several chunks for large ones)."""
    unequal = gllamm.fit("normexam ~ standlrt + (1 | school)", gllamm.datasets.load("exam"), max_iter=0)
    assert ROW_PATTERN not in unequal.design.data()
