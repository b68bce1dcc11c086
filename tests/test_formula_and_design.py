"""lme4-style formula parsing and the design stage (formulaic model matrices, chunks)."""

import numpy as np
import pandas as pd
import pytest

import gllamm
from gllamm.design.chunks import chunk_rows
from gllamm.syntax import RandomTerm, parse_formula


def test_parse_random_terms_offsets_and_cbind():
    spec = parse_formula("cbind(s, n - s) ~ x * z - 1 + offset(log(t)) + (1 + x || g) + (0 + z | g)")
    assert spec.cbind == ("s", "n-s")
    assert spec.fixed == "x * z - 1"
    assert spec.offsets == ("log(t)",)
    assert spec.random == (RandomTerm("1 + x", "g", False), RandomTerm("0 + z", "g", True))


def test_parse_errors_point_at_the_problem():
    with pytest.raises(gllamm.GllammError, match=r"Missing '\)'"):
        parse_formula("y ~ x + (1 | g")
    with pytest.raises(gllamm.GllammError, match="'~'"):
        parse_formula("y x")


def test_chunks_cover_every_row_once():
    codes = np.array([2, 0, 0, 1, 2, 2, 2, 0, 1, 2])
    rows, chunk_cluster = chunk_rows(codes, width=2)
    used = rows[rows >= 0]
    assert sorted(used) == list(range(len(codes)))
    for chunk, cluster in zip(rows, chunk_cluster):
        assert np.all(codes[chunk[chunk >= 0]] == cluster)
    assert np.all(np.diff(chunk_cluster) >= 0)


def _frame():
    rng = np.random.default_rng(0)
    n = 120
    return pd.DataFrame(dict(
        y=rng.normal(size=n), x=rng.normal(size=n), t=rng.uniform(1, 2, n),
        colour=rng.choice(["red", "green", "blue"], n), g=np.repeat(np.arange(12), 10),
    ))


def test_categorical_interaction_identity_and_offset_columns():
    frame = _frame()
    spec, design = gllamm.build_design(parse_formula("y ~ C(colour) * x + I(x**2) + offset(log(t)) + (1 + x | g)"),
                                       frame, gllamm.make_family("gaussian"))
    names = spec.fixed_names
    assert names[0] == "(Intercept)"
    assert "I(x ** 2)" in names or "I(x**2)" in names
    assert any(n.startswith("C(colour)") and ":x" in n for n in names)
    np.testing.assert_allclose(design.offset, np.log(frame.t))
    assert spec.levels[0].latent_names == ("(Intercept)", "x")
    assert design.X.shape == (120, len(names))
    # string columns become dummies without C()
    spec2, _ = gllamm.build_design(parse_formula("y ~ colour + (1 | g)"), frame, gllamm.make_family("gaussian"))
    assert len(spec2.fixed_names) == 3


def test_cbind_and_trials_give_the_same_likelihood():
    rng = np.random.default_rng(1)
    g = np.repeat(np.arange(30), 4)
    n = rng.integers(1, 8, g.size)
    s = rng.binomial(n, 0.4)
    frame = pd.DataFrame(dict(s=s, f=n - s, n=n, g=g))
    a = gllamm.fit("cbind(s, f) ~ 1 + (1 | g)", frame, family="binomial")
    b = gllamm.fit("s ~ 1 + (1 | g)", frame, family="binomial", trials="n")
    assert a.loglik == pytest.approx(b.loglik, abs=1e-8)
    assert a.params["(Intercept)"] == pytest.approx(b.params["(Intercept)"], abs=1e-6)
    # arithmetic of columns and numbers inside cbind(), as lme4 users write it: cbind(s, 7 - k) with k = s + 7 - n
    c = gllamm.fit("cbind(s, 7 - k) ~ 1 + (1 | g)", frame.assign(k=s + 7 - n), family="binomial")
    assert c.loglik == pytest.approx(a.loglik, abs=1e-10)


def test_unit_weights_and_zero_offset_change_nothing():
    frame = gllamm.datasets.load("cbpp")
    formula = "cbind(incidence, size - incidence) ~ period2 + period3 + period4 + (1 | herd)"
    a = gllamm.fit(formula, frame, family="binomial")
    b = gllamm.fit(formula, frame, family="binomial", weights=np.ones(len(frame)), offset=np.zeros(len(frame)))
    assert a.loglik == pytest.approx(b.loglik, abs=1e-9)


def test_frequency_weights_equal_duplicated_rows():
    frame = gllamm.datasets.load("cbpp")
    formula = "cbind(incidence, size - incidence) ~ period2 + (1 | herd)"
    doubled = pd.concat([frame, frame]).sort_values("herd")
    a = gllamm.fit(formula, frame, family="binomial", weights=np.full(len(frame), 2.0))
    b = gllamm.fit(formula, doubled, family="binomial")
    assert a.loglik == pytest.approx(b.loglik, abs=1e-6)
