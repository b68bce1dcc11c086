"""Clusters equal in everything (responses included) are fitted as one with their summed weight
(integrate/equal_clusters.py): the same log-likelihood, gradient and Hessian, so the estimates are those of the
full data. Checked on the full data's own arrays: the log-likelihood at the estimates is the sum of the per-person
contributions, and its gradient there is zero."""

import numpy as np
import pytest

import gllamm
from gllamm.integrate.equal_clusters import collapse_equal_clusters
from gllamm.objective_programs import make_objective, settled_modes


def test_the_lsat_persons_are_fitted_as_their_32_response_patterns():
    data = gllamm.datasets.load("lsat7")
    result = gllamm.fit("theta =~ Q1 + Q2 + Q3 + Q4 + Q5", data, family="binomial", nip=20)
    assert result.converged and result.options["distinct_clusters"] == 32
    full = result.design.data()
    assert full["cluster_weight"].shape[0] == 1000
    assert result.cluster_loglik().sum() == pytest.approx(result.loglik, abs=1e-8)
    objective = make_objective(result.table_spec, result.integration)
    modes = settled_modes(objective, result.theta, full, objective.modes(result.theta, full, objective.mode_start(full)))
    value, gradient = objective.value_and_grad(result.theta, full, modes)
    assert float(value) == pytest.approx(result.loglik, abs=1e-8)
    assert np.abs(np.asarray(gradient)).max() < 1e-5


def test_weights_are_summed_and_unequal_clusters_kept():
    arrays = {"y": np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0],
                             [1.0, 0.0]]),
              "X": np.ones((1, 8, 2)), "cluster_weight": np.array([1.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5]),
              "chunk_cluster": np.arange(8, dtype=np.int32)}
    collapsed = collapse_equal_clusters(arrays)
    assert collapsed["cluster_weight"].shape == (2,)
    np.testing.assert_allclose(sorted(np.asarray(collapsed["cluster_weight"])), [1.0, 7.5])
    assert collapsed["X"].shape == (1, 2, 2)
    arrays["y"][:, 0] = np.arange(8)  # all different: nothing to collapse
    assert collapse_equal_clusters(arrays) is None
