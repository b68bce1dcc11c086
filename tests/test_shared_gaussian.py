"""Exact Gaussian integration with one covariance per pattern of rows (integrate/shared_gaussian.py) against the
per-cluster computation (a Newton step and a Cholesky factor per cluster), and the expected information with one
Sigma against the per-cluster one: same log-likelihood, gradient, Hessian and information at parameters away from
the estimates."""

import jax
import numpy as np
import pytest

import gllamm
from gllamm.integrate.shared_gaussian import PATTERN_KEYS, ROW_PATTERN, collapse_identical_clusters
from gllamm.objective import loglik
from gllamm.objective_programs import make_objective
from gllamm.results.information import _grouped, _information_arrays, _information_function, _same_covariance

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


@pytest.mark.slow  # (several seconds; CI runs it: python -m pytest -m slow)
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


@pytest.mark.slow  # (several seconds; CI runs it: python -m pytest -m slow)
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


@pytest.mark.slow  # (several seconds; CI runs it: python -m pytest -m slow)
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


def _same_likelihood_collapsed(fit, arrays, theta):
    """log L, gradient and Hessian from the design's arrays and from its collapsed groups agree."""
    collapsed = collapse_identical_clusters(arrays)
    q = fit.table_spec.spec.levels[0].dim

    def f(t, d):
        return loglik(fit.table_spec, fit.integration, t, d, np.zeros((d["cluster_weight"].shape[0], q)))

    assert float(f(theta, collapsed)) == pytest.approx(float(f(theta, arrays)), rel=1e-12)
    np.testing.assert_allclose(jax.grad(f)(theta, collapsed), jax.grad(f)(theta, arrays), rtol=1e-9, atol=1e-8)
    np.testing.assert_allclose(jax.hessian(f)(theta, collapsed), jax.hessian(f)(theta, arrays), rtol=1e-9, atol=1e-7)
    return collapsed


@pytest.mark.slow  # (several seconds; CI runs it: python -m pytest -m slow)
def test_identical_units_collapse_into_their_weighted_moments():
    """A CFA's units with unequal sampling weights, and two patterns of missing responses: three groups (the
    weighted mean response and scatter of each), the same likelihood and derivatives as unit by unit."""
    data = gllamm.datasets.load("holzinger")
    data.loc[[5, 40], "x4"] = np.nan
    data.loc[7, "x2"] = np.nan
    data["w"] = np.random.default_rng(6).uniform(0.5, 2.0, len(data))
    fit = gllamm.fit("visual =~ x1 + x2 + x3; textual =~ x4 + x5 + x6", data, weights="w", max_iter=0)
    arrays = fit.design.data()
    assert np.unique(np.asarray(arrays["cluster_weight"])).size > 100  # (the weights are the units')
    theta = fit.theta + np.random.default_rng(7).normal(scale=0.05, size=fit.theta.size)
    collapsed = _same_likelihood_collapsed(fit, arrays, theta)
    assert collapsed["cluster_weight"].shape == (3,)
    np.testing.assert_allclose(np.sort(np.asarray(collapsed["cluster_weight"])),
                               np.sort([data.w[[5, 40]].sum(), data.w[7], data.w.sum() - data.w[[5, 7, 40]].sum()]))


@pytest.mark.slow  # (several seconds; CI runs it: python -m pytest -m slow)
def test_a_balanced_repeated_measures_design_collapses_into_one_group():
    """sleepstudy: the same days (X and Z rows) for every subject, so the 18 subjects are one group."""
    fit = gllamm.fit("reaction ~ days + (1 + days | subject)", gllamm.datasets.load("sleepstudy"), max_iter=0)
    collapsed = _same_likelihood_collapsed(fit, fit.design.data(), fit.theta + 0.1)
    assert collapsed["cluster_weight"].shape == (1,) and float(collapsed["cluster_weight"][0]) == 18


@pytest.mark.slow  # (several seconds; CI runs it: python -m pytest -m slow)
def test_units_with_few_covariate_values_collapse_by_them(sem_fit):
    """The SEM's covariates (age in whole years, sex) take 11 combinations: 11 groups, the same likelihood."""
    theta = sem_fit.theta + np.random.default_rng(8).normal(scale=0.05, size=sem_fit.theta.size)
    collapsed = _same_likelihood_collapsed(sem_fit, sem_fit.design.data(), theta)
    assert collapsed["cluster_weight"].shape == (11,)


def test_a_fit_on_collapsed_groups_reaches_the_unit_by_unit_estimates():
    data = gllamm.datasets.load("holzinger")
    model = "visual =~ x1 + x2 + x3; textual =~ x4 + x5 + x6; speed =~ x7 + x8 + x9"
    fit = gllamm.fit(model, data)
    data["noise"] = np.random.default_rng(9).normal(size=len(data))
    unit_by_unit = gllamm.fit(model + "; x1 ~ 0*noise", data)  # (a covariate of its own on every unit: no groups)
    assert collapse_identical_clusters(unit_by_unit.design.data()) is None
    assert fit.converged and unit_by_unit.converged
    assert fit.loglik == pytest.approx(unit_by_unit.loglik, abs=1e-9)
    np.testing.assert_allclose(fit.params, unit_by_unit.params[fit.params.index], atol=1e-6)
    np.testing.assert_allclose(fit.se, unit_by_unit.se[fit.se.index], rtol=1e-6)


@pytest.mark.slow
def test_one_program_gives_value_gradient_and_hessian_of_the_collapsed_groups():
    """The iterations on collapsed groups take log L, gradient and Hessian from one program
    (Objective.value_grad_hessian); they equal JAX's derivatives of the unit-by-unit log-likelihood."""
    data = gllamm.datasets.load("holzinger")
    data.loc[[5, 40], "x4"] = np.nan
    fit = gllamm.fit("visual =~ x1 + x2 + x3; textual =~ x4 + x5 + x6", data, max_iter=0)
    arrays = fit.design.data()
    collapsed = collapse_identical_clusters(arrays)
    theta = fit.theta + np.random.default_rng(10).normal(scale=0.05, size=fit.theta.size)
    objective = make_objective(fit.table_spec, fit.integration)
    value, gradient, hessian = objective.value_grad_hessian(theta, collapsed, np.zeros((2, 2)))

    def f(t):
        return loglik(fit.table_spec, fit.integration, t, _without_marker(arrays), np.zeros((301, 2)), newton_steps=1)

    assert float(value) == pytest.approx(float(f(theta)), rel=1e-12)
    np.testing.assert_allclose(gradient, jax.grad(f)(theta), rtol=1e-9, atol=1e-8)
    np.testing.assert_allclose(hessian, jax.hessian(f)(theta), rtol=1e-9, atol=1e-7)


def test_expected_information_of_equal_units_counts_each_group_once():
    """Units with the same rows (three patterns of missing responses) are evaluated once per group, weighted by
    its size: the same Fisher information as unit by unit."""
    data = gllamm.datasets.load("holzinger")
    data.loc[[5, 40], "x4"] = np.nan
    data.loc[7, "x2"] = np.nan
    fit = gllamm.fit("visual =~ x1 + x2 + x3; textual =~ x4 + x5 + x6", data, max_iter=0)
    units = _information_arrays(fit.design)
    groups = _grouped(units)
    assert groups["count"].shape == (3,) and sorted(groups["count"]) == [1, 2, 298]
    theta = fit.theta + np.random.default_rng(11).normal(scale=0.05, size=fit.theta.size)
    information = _information_function(fit.table_spec, False)
    np.testing.assert_allclose(np.asarray(information(theta, groups)), np.asarray(information(theta, units)),
                               rtol=1e-11, atol=1e-10)
