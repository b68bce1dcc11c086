"""A fit does not depend on the units of the data: rescaling a response or a covariate by 1e-4 ... 1e8 gives the
same fit, transformed (steps, trust region and convergence tests are scale-free; optimize/newton.py), to 1e-6
relative. The expected relations are exact: a covariate times k divides its coefficient by k; a Gaussian response
times k multiplies the fixed effects and SDs by k; a gamma or Poisson response's log mean shifts by log k."""

import numpy as np
import pandas as pd
import pytest

import gllamm

RTOL = 1e-6


def _assert_scaled(result, base, factors, rtol=RTOL):
    assert result.converged, result.message
    np.testing.assert_allclose(result.params.to_numpy(), base.params.to_numpy() * factors, rtol=rtol, atol=0)


@pytest.fixture(scope="module")
def sleepstudy():
    data = gllamm.datasets.load("sleepstudy")
    return data, gllamm.fit("reaction ~ days + (1 + days | subject)", data)


@pytest.mark.parametrize("k", [1e-4, 1e3, 1e8])
def test_gaussian_response_units(sleepstudy, k):
    data, base = sleepstudy  # reaction, var(...), cov(...), var(days|...), var(Residual)
    result = gllamm.fit("reaction ~ days + (1 + days | subject)", data.assign(reaction=data.reaction * k))
    _assert_scaled(result, base, np.array([k, k, k * k, k * k, k * k, k * k]))
    assert result.loglik == pytest.approx(base.loglik - len(data) * np.log(k), rel=1e-10)


@pytest.mark.parametrize("k", [1e-4, 1e4])
def test_gaussian_covariate_units(sleepstudy, k):
    data, base = sleepstudy
    result = gllamm.fit("reaction ~ days + (1 + days | subject)", data.assign(days=data.days * k))
    _assert_scaled(result, base, np.array([1, 1 / k, 1, 1 / k, 1 / k**2, 1]))


def test_income_in_dollars_fits_like_income_in_thousands():
    rng = np.random.default_rng(7)
    g = np.repeat(np.arange(80), 6)
    x = rng.normal(size=g.size)
    thousands = 40 + 5 * x + 8 * rng.normal(size=80)[g] + 15 * rng.normal(size=g.size)
    data = pd.DataFrame(dict(x=x, g=g, income=thousands))
    base = gllamm.fit("income ~ x + (1 | g)", data)
    result = gllamm.fit("income ~ x + (1 | g)", data.assign(income=thousands * 1000))
    _assert_scaled(result, base, np.array([1e3, 1e3, 1e6, 1e6]))
    assert result.iterations <= base.iterations + 1


@pytest.mark.parametrize("k", [1e-4, 1e4, 1e8])
def test_binomial_covariate_units(k):
    data = gllamm.datasets.load("contraception")
    base = gllamm.fit("use ~ age + urban + (1 | district)", data, family="binomial")
    result = gllamm.fit("use ~ age + urban + (1 | district)", data.assign(age=data.age * k), family="binomial")
    _assert_scaled(result, base, np.array([1, 1 / k, 1, 1]))


@pytest.mark.parametrize("k", [1e-4, 1e6])
def test_poisson_covariate_units(k):
    data = gllamm.datasets.load("epilepsy")
    base = gllamm.fit("y ~ lbase + trt + visit + (1 | subject)", data, family="poisson")
    result = gllamm.fit("y ~ lbase + trt + visit + (1 | subject)", data.assign(visit=data.visit * k),
                        family="poisson")
    _assert_scaled(result, base, np.array([1, 1, 1, 1 / k, 1]))


@pytest.mark.parametrize("k", [1e-4, 1e8])
def test_gamma_response_units(k):
    rng = np.random.default_rng(3)
    g = np.repeat(np.arange(40), 5)
    x = rng.normal(size=g.size)
    mean = np.exp(1 + 0.5 * x + 0.4 * rng.normal(size=40)[g])
    data = pd.DataFrame(dict(y=rng.gamma(4.0, mean / 4.0), x=x, g=g))
    base = gllamm.fit("y ~ x + (1 | g)", data, family="gamma", link="log")
    result = gllamm.fit("y ~ x + (1 | g)", data.assign(y=data.y * k), family="gamma", link="log")
    assert result.converged
    expected = base.params.copy()
    expected["(Intercept)"] += np.log(k)
    np.testing.assert_allclose(result.params.to_numpy(), expected.to_numpy(), rtol=RTOL)


def test_ordinal_covariate_units():
    data = gllamm.datasets.load("wine")
    base = gllamm.fit("rating ~ temp_warm + contact_yes + (1 | judge)", data, family="ordinal", nip=10)
    result = gllamm.fit("rating ~ temp_warm + contact_yes + (1 | judge)", data.assign(temp_warm=data.temp_warm * 1e4),
                        family="ordinal", nip=10)
    factors = np.ones(len(base.params))
    factors[list(base.params.index).index("temp_warm")] = 1e-4
    _assert_scaled(result, base, factors)


@pytest.mark.parametrize("k", [1e-4, 1e8])
def test_factor_model_indicator_units(k):
    data = gllamm.datasets.load("holzinger")
    model = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
    items = [f"x{i}" for i in range(1, 10)]
    base = gllamm.fit(model, data)
    result = gllamm.fit(model, data.assign(**{item: data[item] * k for item in items}))
    factors = np.array([1.0 if "=~" in name else (k if name.endswith("~1") else k * k) for name in base.params.index])
    _assert_scaled(result, base, factors)
