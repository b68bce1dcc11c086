"""Ordered thresholds with threshold covariates (gllamm's ethresh): kappa_1(t) = kappa_1 + t'gamma_1,
kappa_k(t) = kappa_{k-1}(t) + (kappa_k - kappa_{k-1}) exp(t'gamma_k)."""

import numpy as np
import pytest

import gllamm
from gllamm.errors import GllammError

THRESHOLDS = ["1|2", "2|3", "3|4", "4|5"]


@pytest.mark.slow
def test_with_a_binary_covariate_both_parameterisations_fit_the_same_thresholds():
    # with one binary covariate each group's four thresholds are free in both forms (any ordered values), so the
    # maximum likelihood and the thresholds of the contact group are the same: the linear form is checked against
    # R's clm (test_ordinal.py), so this checks the ordered form
    wine = gllamm.datasets.load("wine")
    linear = gllamm.fit("rating ~ temp_warm", wine, family="ordinal", nominal="~ contact_yes")
    ordered = gllamm.fit("rating ~ temp_warm", wine, family="ordinal", nominal="~ contact_yes",
                         ordered_thresholds=True)
    assert linear.converged and ordered.converged
    assert ordered.loglik == pytest.approx(linear.loglik, abs=1e-6)
    p, q = linear.params, ordered.params
    kappa = q[THRESHOLDS].to_numpy()
    np.testing.assert_allclose(kappa, p[THRESHOLDS].to_numpy(), atol=1e-4)  # contact = 0: the same thresholds
    with_contact = np.cumsum(np.r_[kappa[0] + q["1|2:contact_yes"],
                                   np.diff(kappa) * np.exp(q[[f"{k}:contact_yes" for k in THRESHOLDS[1:]]])])
    expected = p[THRESHOLDS].to_numpy() + p[[f"{k}:contact_yes" for k in THRESHOLDS]].to_numpy()
    np.testing.assert_allclose(with_contact, expected, atol=1e-4)
    # predicted category probabilities of a contact row: the same in both forms
    row = wine.iloc[[2]]
    np.testing.assert_allclose(ordered.predict(row, type="probability").to_numpy(),
                               linear.predict(row, type="probability").to_numpy(), atol=1e-5)


@pytest.mark.slow
def test_thresholds_stay_ordered_for_any_covariate_value():
    rng = np.random.default_rng(4)
    wine = gllamm.datasets.load("wine").assign(t=lambda d: rng.normal(size=len(d)))
    res = gllamm.fit("rating ~ temp_warm", wine, family="ordinal", nominal="~ t", ordered_thresholds=True)
    assert res.converged
    extreme = wine.iloc[:5].assign(t=[-50.0, -5.0, 0.0, 5.0, 50.0])
    probabilities = res.predict(extreme, type="probability").to_numpy()
    assert np.all(probabilities >= 0) and np.allclose(probabilities.sum(axis=1), 1.0)


def test_ordered_thresholds_need_threshold_covariates():
    wine = gllamm.datasets.load("wine")
    with pytest.raises(GllammError, match="ordered_thresholds=True .* give nominal="):
        gllamm.fit("rating ~ temp_warm", wine, family="ordinal", ordered_thresholds=True)
