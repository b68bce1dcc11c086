"""A second formula of the same kind compiles no new program (optimize/shared_programs.py): its fixed effects are
padded to the same size bucket and the programs' key carries no names. Compilations are counted from JAX's own
log (``jax_log_compiles``)."""

import logging
import warnings

import jax
import numpy as np
import pandas as pd
import pytest

import gllamm
from gllamm.optimize.shared_programs import SharedPrograms, size_bucket


def _compilations(caplog, fit):
    """(result, names of the programs JAX compiled while ``fit()`` ran)."""
    caplog.clear()
    previous = jax.config.jax_log_compiles
    jax.config.update("jax_log_compiles", True)
    try:
        with caplog.at_level(logging.WARNING):
            result = fit()
    finally:
        jax.config.update("jax_log_compiles", previous)
    return result, [r.getMessage().split(" with ")[0] for r in caplog.records if r.getMessage().startswith("Compiling")]


def test_size_buckets_are_at_most_sixty_percent_larger():
    assert [size_bucket(n) for n in (0, 1, 4, 5, 9, 13, 17, 25, 33, 129, 200)] == \
        [4, 4, 4, 8, 12, 16, 24, 32, 48, 192, 256]
    for n in range(1, 400):
        assert n <= size_bucket(n) <= max(4, 1.6 * n)


def test_one_more_covariate_compiles_nothing(caplog):
    data = gllamm.datasets.load("contraception")
    first = gllamm.fit("use ~ age + urban + (1 | district)", data, family="binomial")
    second, compiled = _compilations(caplog, lambda: gllamm.fit("use ~ age + urban + livch1 + (1 | district)", data,
                                                                family="binomial"))
    assert first.converged and second.converged
    assert compiled == []
    assert list(second.params.index[:4]) == ["(Intercept)", "age", "urban", "livch1"]


def test_a_gaussian_model_with_other_covariates_of_the_same_count_compiles_nothing(caplog):
    data = gllamm.datasets.load("sleepstudy").assign(days2=lambda d: d.days ** 2, days3=lambda d: d.days ** 3)
    gllamm.fit("reaction ~ days + days2 + (1 | subject)", data)
    result, compiled = _compilations(caplog, lambda: gllamm.fit("reaction ~ days + days3 + (1 | subject)", data))
    assert compiled == []
    assert result.converged


def test_padded_programs_give_the_models_own_derivatives():
    """Value, gradient and Hessian through the padded programs equal those of the model's own programs."""
    from gllamm.estimate.iterations import fitting_arrays as _fitting_arrays
    from gllamm.objective_programs import make_objective

    data = gllamm.datasets.load("contraception")
    result = gllamm.fit("use ~ age + urban + livch1 + livch2 + (1 | district)", data, family="binomial", max_iter=0)
    shared = SharedPrograms(result.table_spec, result.integration)
    assert shared.padding == 3  # 5 fixed effects in a bucket of 8
    own = make_objective(result.table_spec, result.integration)
    arrays = _fitting_arrays(result.design, result.integration)
    from gllamm.integrate.padded_rules import RULE_LOG_WEIGHTS, RULE_NODES

    rule = shared.data(arrays)  # the 8-point rule as data, padded to 32 points of weight 0
    assert rule[RULE_NODES].shape == (32, 1) and np.isinf(np.asarray(rule[RULE_LOG_WEIGHTS][8:])).all()
    theta = np.asarray(result.theta) + 0.01
    modes = own.modes(theta, arrays, own.mode_start(arrays))
    value, grad = own.value_and_grad(theta, arrays, modes)
    shared_value, shared_grad = shared.value_and_grad(theta, arrays, modes)
    assert float(shared_value) == pytest.approx(float(value), abs=1e-10)
    np.testing.assert_allclose(shared_grad, grad, rtol=1e-10, atol=1e-10)
    directions = np.eye(len(theta))[:, [0, 2, 5]]
    np.testing.assert_allclose(shared.hessian(theta, arrays, modes, directions),
                               np.asarray(own.hessian(theta, arrays, modes, directions)), rtol=1e-9, atol=1e-9)


def test_another_number_of_quadrature_points_compiles_nothing(caplog):
    """One latent variable on small data: the rule is data, padded to 32 points (integrate/padded_rules.py), so a
    fit with 14 points (and its check with 22) runs the programs of the fit with 10 (checked with 18); the log-
    likelihood is the 14-point rule's (against the model's own programs, the rule a constant)."""
    from gllamm.estimate.iterations import fitting_arrays
    from gllamm.objective_programs import make_objective

    data = gllamm.datasets.load("contraception")
    gllamm.fit("use ~ age + urban + (1 | district)", data, family="binomial", nip=10)
    result, compiled = _compilations(caplog, lambda: gllamm.fit("use ~ age + urban + (1 | district)", data,
                                                                family="binomial", nip=14))
    assert result.converged and result.integration.nip == 14 and result.quadrature_check.check_nip == 22
    assert compiled == []
    own = make_objective(result.table_spec, result.integration)  # the 14-point rule as a constant
    arrays = fitting_arrays(result.design, result.integration)
    modes = own.modes(result.theta, arrays, own.mode_start(arrays))
    assert float(own.value(result.theta, arrays, modes)) == pytest.approx(result.loglik, abs=1e-9)


def test_a_second_invariance_step_of_a_multiple_group_model_compiles_nothing(caplog):
    """Metric invariance after the configural fit: the same kind of model with constraints added (group_equal=)
    runs the configural fit's programs."""
    data = gllamm.datasets.load("holzinger")
    model = "visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6"
    gllamm.fit(model, data, group="school")
    result, compiled = _compilations(caplog, lambda: gllamm.fit(model, data, group="school", group_equal="loadings"))
    assert result.converged
    assert compiled == []


def test_a_second_crossed_formula_compiles_nothing(caplog):
    """Crossed factors (integrate/crossed.py): another fixed part of the same size on the same rows and factors."""
    data = gllamm.datasets.load("penicillin")
    data = data.assign(a=np.arange(len(data)) % 3, b=np.arange(len(data)) % 5)
    gllamm.fit("diameter ~ a + (1 | plate) + (1 | sample)", data)
    result, compiled = _compilations(caplog, lambda: gllamm.fit("diameter ~ b + (1 | plate) + (1 | sample)", data))
    assert result.spec.crossed and result.converged
    assert compiled == []


def test_a_second_zero_inflated_formula_compiles_nothing(caplog):
    """Zero-inflated counts: other count covariates and zero-inflation covariates of the same counts."""
    data = gllamm.datasets.load("salamanders")
    gllamm.fit("count ~ minedno + (1 | site)", data, family="poisson", zero_inflation="~ minedno", method="laplace")
    result, compiled = _compilations(caplog, lambda: gllamm.fit("count ~ cover + (1 | site)", data, family="poisson",
                                                                zero_inflation="~ cover", method="laplace"))
    assert result.converged and result.spec.zero_inflation_names == ("zi:(Intercept)", "zi:cover")
    assert compiled == []


def test_a_second_negative_binomial_formula_compiles_nothing(caplog):
    data = gllamm.datasets.load("salamanders")
    gllamm.fit("count ~ minedno + (1 | site)", data, family="negbin", method="laplace")
    result, compiled = _compilations(caplog, lambda: gllamm.fit("count ~ cover + (1 | site)", data, family="negbin",
                                                                method="laplace"))
    assert result.converged and compiled == []


def test_a_second_two_level_sem_compiles_nothing(caplog):
    """Two-level SEMs on complete data iterate on the closed form (integrate/two_level_gaussian.py): a direct effect
    of another covariate of the same count compiles nothing new."""
    data = gllamm.datasets.load("twolevel")
    model = "level: 1\n fw =~ y1 + y2 + y3\n level: 2\n fb =~ y1 + y2 + y3\n y1 ~~ 0*y1\n y2 ~~ 0*y2\n y3 ~~ 0*y3"
    gllamm.fit(model + "\n level: 1\n y1 ~ x1", data, cluster="cluster")
    result, compiled = _compilations(caplog, lambda: gllamm.fit(model + "\n level: 1\n y1 ~ x2", data,
                                                                cluster="cluster"))
    assert result.converged and result.integration.method == "exact"
    assert compiled == []


@pytest.mark.slow
def test_a_second_model_conditioned_on_an_error_free_response_compiles_nothing(caplog):
    """A binary outcome with a partly observed error-free covariate (integrate/exact_conditioning.py): the outcome
    on another covariate compiles nothing new."""
    rng = np.random.default_rng(4)
    n = 300
    xi = rng.normal(size=n)
    data = dict(x=np.where(rng.uniform(size=n) < 0.4, xi, np.nan), w=xi + rng.normal(scale=0.7, size=n),
                d=(rng.uniform(size=n) < 1 / (1 + np.exp(-xi))).astype(float), a=rng.normal(size=n),
                b=rng.normal(size=n))
    data = pd.DataFrame(data)
    families = {"x": "gaussian", "w": "gaussian", "d": "binomial"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gllamm.DataWarning)
        gllamm.fit("xi =~ 1*x + 1*w + d\n x ~~ 0*x\n d ~ a", data, family=families)
        result, compiled = _compilations(caplog, lambda: gllamm.fit("xi =~ 1*x + 1*w + d\n x ~~ 0*x\n d ~ b", data,
                                                                    family=families))
    assert result.converged and result.integration.method == "adaptive"
    assert compiled == []


@pytest.mark.slow
def test_second_formulas_of_the_new_kinds_compile_nothing(caplog):
    """Issue #26's additions share programs like every other kind: a spherical-rule fit, a MAP fit, a fit with
    ordered thresholds and one of a misclassified response, each on another covariate, compile nothing new."""
    contraception = gllamm.datasets.load("contraception")
    wine = gllamm.datasets.load("wine").assign(t=lambda d: np.linspace(-1.0, 1.0, len(d)))
    kinds = [
        (lambda x: gllamm.fit(f"use ~ {x} + (1 + urban | district)", contraception, family="binomial",
                              integration="spherical", nip=5), ("age", "livch1")),
        (lambda x: gllamm.fit(f"use ~ {x} + (1 + urban | district)", contraception, family="binomial",
                              priors={"cov": "wishart(3.5)", "sd:district": "gamma(2, 0)"}), ("age", "livch1")),
        (lambda x: gllamm.fit("rating ~ temp_warm", wine, family="ordinal", nominal=f"~ {x}",
                              ordered_thresholds=True), ("contact_yes", "t")),
        (lambda x: gllamm.fit(f"use ~ {x} + (1 | district)", contraception, family="binomial",
                              misclassification={"sensitivity": 0.9, "specificity": 0.95}), ("age", "livch1")),
    ]
    for fit, (first, second) in kinds:
        fit(first)
        result, compiled = _compilations(caplog, lambda: fit(second))
        assert result.converged, second
        assert compiled == [], (second, compiled)
