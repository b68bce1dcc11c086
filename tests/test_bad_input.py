"""Bad input gets a clear error (or warning) that names the column, level or option."""

import warnings

import numpy as np
import pandas as pd
import pytest

import gllamm
from gllamm import DataWarning, GllammError


@pytest.fixture
def frame():
    rng = np.random.default_rng(2)
    g = np.repeat(np.arange(20), 5)
    return pd.DataFrame(dict(y=rng.integers(0, 2, g.size), x=rng.normal(size=g.size), g=g,
                             label=["a"] * g.size, count=rng.poisson(2, g.size)))


def test_missing_column_suggests_closest(frame):
    with pytest.raises(GllammError, match="Column 'xx'.*Did you mean 'x'"):
        gllamm.fit("y ~ xx + (1 | g)", frame, family="binomial")
    with pytest.raises(GllammError, match="Grouping column 'gg'.*Did you mean 'g'"):
        gllamm.fit("y ~ x + (1 | gg)", frame, family="binomial")


def test_non_numeric_response(frame):
    with pytest.raises(GllammError, match="Response 'label' is not numeric"):
        gllamm.fit("label ~ x + (1 | g)", frame, family="binomial")


def test_binomial_response_outside_range(frame):
    frame = frame.assign(y2=frame.y * 2)
    with pytest.raises(GllammError, match="values above 1 but no number of trials"):
        gllamm.fit("y2 ~ x + (1 | g)", frame, family="binomial")
    frame = frame.assign(n=1)
    with pytest.raises(GllammError, match="exceeds its number of trials"):
        gllamm.fit("y2 ~ x + (1 | g)", frame, family="binomial", trials="n")


def test_negative_counts(frame):
    frame = frame.assign(c=frame["count"] - 3)
    with pytest.raises(GllammError, match="Poisson response 'c' has negative counts"):
        gllamm.fit("c ~ x + (1 | g)", frame, family="poisson")


def test_missing_values_are_dropped_and_reported(frame):
    frame = frame.astype({"x": float})
    frame.loc[[3, 7, 11], "x"] = np.nan
    frame.loc[5, "x"] = np.inf
    with pytest.warns(DataWarning, match="Dropped 4 of 100 rows") as caught:
        result = gllamm.fit("count ~ x + (1 | g)", frame, family="poisson")
    assert result.nobs == 96 and result.design.n_dropped == 4
    assert caught[0].filename == __file__  # (attributed to the user's line, not to gllamm's own code)
    assert "4 rows with missing values dropped" in result.summary()


def test_grouping_factor_with_one_level(frame):
    frame = frame.assign(one=1)
    with pytest.raises(GllammError, match="'one' has 1 level"):
        gllamm.fit("y ~ x + (1 | one)", frame, family="binomial")


def test_too_many_random_effect_parameters(frame):
    small = frame[frame.g < 2]
    with pytest.raises(GllammError, match="too few to estimate 3 variance/covariance"):
        gllamm.fit("y ~ x + (1 + x | g)", small, family="binomial")
    single = frame.drop_duplicates("g")
    with pytest.raises(GllammError, match="single observation"):
        gllamm.fit("x ~ 1 + (1 | g)", single, family="gaussian")


def test_unknown_names_suggest_closest(frame):
    with pytest.raises(GllammError, match="Unknown family 'binomail'.*Did you mean 'binomial'"):
        gllamm.fit("y ~ x + (1 | g)", frame, family="binomail")
    with pytest.raises(GllammError, match="Unknown link 'logt'.*Did you mean 'logit'"):
        gllamm.fit("y ~ x + (1 | g)", frame, family="binomial", link="logt")
    with pytest.raises(GllammError, match="Unknown method 'adaptiv'.*Did you mean 'adaptive'"):
        gllamm.fit("y ~ x + (1 | g)", frame, family="binomial", method="adaptiv")
    with pytest.raises(GllammError, match="Unknown option 'nipp'.*Did you mean 'nip'"):
        gllamm.fit("y ~ x + (1 | g)", frame, family="binomial", nipp=5)
    with pytest.raises(GllammError, match="No bundled dataset 'sleepstdy'.*Did you mean 'sleepstudy'"):
        gllamm.datasets.load("sleepstdy")


def test_rank_deficient_fixed_effects(frame):
    frame = frame.assign(x2=2 * frame.x)
    with pytest.raises(GllammError, match="rank deficient: x2"):
        gllamm.fit("y ~ x + x2 + (1 | g)", frame, family="binomial")


def test_non_convergence_warns_and_never_returns_nan():
    data = gllamm.datasets.load("contraception")
    with pytest.warns(gllamm.ConvergenceWarning, match="did not converge") as caught:
        result = gllamm.fit("use ~ age + urban + (1 | district)", data, family="binomial", max_iter=1)
    assert not result.converged
    assert caught[0].filename == __file__
    assert np.all(np.isfinite(result.params))
    assert "NO" in result.summary()


def test_converged_requires_negative_definite_hessian():
    from gllamm.optimize import assess_convergence

    ok, message = assess_convergence(np.zeros(2), np.array([[-1.0, 0.0], [0.0, 0.0]]), 1e-8)
    assert not ok and "not negative definite" in message
    ok, _ = assess_convergence(np.array([1e-3, 0.0]), -np.eye(2), 1e-8)
    assert not ok
    ok, _ = assess_convergence(np.array([1e-6, 0.0]), -np.eye(2), 1e-8)
    assert ok
