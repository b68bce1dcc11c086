"""Frequency weights (gllamm's weight()): a fit on collapsed data, each row with the number of identical rows it
stands for, equals the fit on the expanded data: log-likelihood, estimates, standard errors, number of
observations and BIC."""

import numpy as np
import pytest

import gllamm
from gllamm.errors import GllammError

ITEMS = ["Q1", "Q2", "Q3", "Q4", "Q5"]


def _assert_same_fit(collapsed, expanded):
    assert collapsed.converged and expanded.converged
    assert collapsed.loglik == pytest.approx(expanded.loglik, abs=1e-8)
    np.testing.assert_allclose(collapsed.params.values, expanded.params.values, atol=1e-6)
    np.testing.assert_allclose(collapsed.bse.values, expanded.bse.values, rtol=1e-6)
    assert collapsed.nobs == expanded.nobs
    assert collapsed.bic == pytest.approx(expanded.bic, abs=1e-6)


@pytest.mark.slow
def test_collapsed_response_patterns_equal_the_expanded_persons():
    lsat = gllamm.datasets.load("lsat7")  # 1,000 persons, 32 distinct response patterns
    patterns = lsat.groupby(ITEMS).size().reset_index(name="count")
    model = "theta =~ Q1 + Q2 + Q3 + Q4 + Q5"
    expanded = gllamm.fit(model, lsat, family="binomial", nip=12)
    collapsed = gllamm.fit(model, patterns, family="binomial", nip=12, frequency_weights="count")
    _assert_same_fit(collapsed, expanded)
    assert expanded.nobs == 5000 and len(patterns) == 32


@pytest.mark.slow
def test_collapsed_rows_within_clusters_equal_the_expanded_rows():
    contraception = gllamm.datasets.load("contraception")
    columns = ["district", "urban", "use"]
    collapsed = contraception.groupby(columns).size().reset_index(name="n")
    assert len(collapsed) < len(contraception) / 5
    model = "use ~ urban + (1 | district)"
    expanded = gllamm.fit(model, contraception, family="binomial")
    fit = gllamm.fit(model, collapsed, family="binomial", frequency_weights="n")
    _assert_same_fit(fit, expanded)
    _assert_same_fit(fit.refit(collapsed), expanded)  # a refit counts the rows as the fit did


def test_frequency_weights_replace_sampling_weights():
    data = gllamm.datasets.load("lsat7").assign(w=1.0)
    with pytest.raises(GllammError, match="frequency_weights= .* replaces weights="):
        gllamm.fit("theta =~ Q1 + Q2 + Q3 + Q4 + Q5", data, family="binomial", weights="w", frequency_weights="w")
