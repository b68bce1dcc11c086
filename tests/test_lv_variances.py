"""Equal latent variances across groups (group_equal="lv.variances") against lavaan 0.6-14
(tests/reference/lv_variances.json, made by tests/reference/r/lv_variances.R), and the scaled-row Cholesky
parameterisation that makes them linear constraints."""

import json
import pathlib
from dataclasses import replace

import numpy as np
import pytest

import gllamm
from gllamm.spec import ParameterTable
from reference_cases import assert_latent_covariances_match

REFERENCE = json.loads((pathlib.Path(__file__).parent / "reference" / "lv_variances.json").read_text())


@pytest.mark.parametrize("case", ["metric_lv", "lv_only"])
def test_equal_latent_variances_match_lavaan(case):
    reference = REFERENCE[case]
    fit = gllamm.fit(REFERENCE["model"], gllamm.datasets.load("holzinger"), group="school",
                     group_equal=reference["group_equal"])
    assert fit.converged
    assert fit.loglik == pytest.approx(reference["loglik"], abs=1e-6)
    assert fit.n_params == reference["npar"]
    assert_latent_covariances_match(fit, reference["latent_covariances"])
    assert fit.params["visual.g1~~visual.g1"] == fit.params["visual.g2~~visual.g2"]


def test_scaled_rows_represent_any_cholesky_factor():
    """pack (L -> theta) then unpack (theta -> L) returns L, for a correlated block of three, and each variance is
    the square of its diagonal entry of theta."""
    fit = gllamm.fit("visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6\n speed =~ x7 + x8 + x9",
                     gllamm.datasets.load("holzinger"), max_iter=0)
    spec = fit.spec
    scaled = replace(spec, levels=tuple(replace(level, scaled_rows=True) for level in spec.levels))
    table = ParameterTable(scaled)
    L = np.array([[0.9, 0.0, 0.0], [0.4, -0.7, 0.0], [0.2, 0.3, 0.5]])
    theta = table.pack(np.zeros(table.n_fixed), [L], np.zeros(len(spec.dispersions)))
    np.testing.assert_allclose(np.asarray(table.unpack(theta).cholesky[0]), L, atol=1e-14)
    frame = table.frame()
    diagonal = [frame.position[frame.name == f"chol[{n},{n}|{spec.levels[0].name}]"].item()
                for n in spec.levels[0].latent_names]
    np.testing.assert_allclose(theta[diagonal] ** 2, np.sum(L**2, axis=1), rtol=1e-14)
