"""Each runnable example in examples/ runs (on its bundled data) and produces its output."""

import runpy
import sys
from pathlib import Path
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_irt_2pl_example(tmp_path, monkeypatch, capsys):
    output = tmp_path / "icc.png"
    monkeypatch.setattr(sys, "argv", ["irt_2pl.py", str(output)])
    runpy.run_path(str(EXAMPLES / "irt_2pl.py"), run_name="__main__")
    assert output.exists() and output.stat().st_size > 5_000
    assert "theta=~Q2" in capsys.readouterr().out


def test_mimic_dif_example_recovers_the_direct_effect():
    example = runpy.run_path(str(EXAMPLES / "mimic_dif.py"))
    result = example["main"]()
    assert result.converged
    for name, value in example["TRUTH"].items():
        assert abs(result.params[name] - value) < 4 * result.se[name], name


def test_measurement_error_example_removes_the_attenuation():
    example = runpy.run_path(str(EXAMPLES / "measurement_error.py"))
    result, naive = example["main"]()
    assert result.converged
    for name, value in example["TRUTH"].items():
        assert abs(result.params[name] - value) < 3 * result.se[name], name
    # the naive regression on the error-prone mean is attenuated well below the truth
    assert naive.params["xbar"] < example["TRUTH"]["xi=~d"] - 2 * result.se["xi=~d"]


@pytest.mark.slow
def test_multilevel_sem_example_equals_the_multivariate_normal_likelihood():
    """The example's model is linear-Gaussian: each class's responses are jointly normal, so the exact
    log-likelihood is a sum of multivariate normal log densities, computed here independently."""
    import numpy as np
    from scipy import stats

    example = runpy.run_path(str(EXAMPLES / "multilevel_sem.py"))
    result = example["main"]()
    assert result.converged
    for name, value in example["TRUTH"].items():
        assert abs(result.params[name] - value) < 3 * result.se[name], name
    p = result.params
    lam = np.array([1.0, p["fw=~y2"], p["fw=~y3"]])
    kap = np.array([1.0, p["fb=~t2"], p["fb=~t3"]])
    nu = np.array([p[f"y{i}~1"] for i in (1, 2, 3)])
    tau = np.array([p[f"t{i}~1"] for i in (1, 2, 3)])
    theta_y = np.diag([p[f"y{i}~~y{i}"] for i in (1, 2, 3)])
    theta_t = np.diag([p[f"t{i}~~t{i}"] for i in (1, 2, 3)])
    b, g, psi, phi, delta = p["fw~fb"], p["fw~w"], p["fw~~fw"], p["fb~~fb"], p["fb~v"]
    data = example["simulate"]()
    total = 0.0
    for _, group in data.groupby("cls"):
        n = len(group)
        v = group.v.iloc[0]
        mean = np.concatenate([nu + lam * (g * w + b * delta * v) for w in group.w] + [tau + kap * delta * v])
        cov = np.zeros((3 * n + 3, 3 * n + 3))
        for j in range(n):
            for k in range(n):
                cov[3 * j:3 * j + 3, 3 * k:3 * k + 3] = np.outer(lam, lam) * (b * b * phi + (psi if j == k else 0))
            cov[3 * j:3 * j + 3, 3 * j:3 * j + 3] += theta_y
            cov[3 * j:3 * j + 3, -3:] = np.outer(lam, kap) * b * phi
            cov[-3:, 3 * j:3 * j + 3] = np.outer(kap, lam) * b * phi
        cov[-3:, -3:] = np.outer(kap, kap) * phi + theta_t
        values = np.concatenate([group[["y1", "y2", "y3"]].to_numpy().ravel(), group[["t1", "t2", "t3"]].iloc[0]])
        total += stats.multivariate_normal(mean, cov).logpdf(values)
    assert abs(result.loglik - total) < 1e-6
    # predictions: with identity links the marginal mean is the mean with both disturbances at 0,
    # nu + lambda (g w + b delta v) for student items and tau + kappa delta v for class items
    design = result.design
    item = design.Z.argmax(axis=1)  # y1, y2, y3, t1, t2, t3
    person = data.loc[design.row_index]
    expected = np.where(item < 3, np.r_[nu, tau][item] + np.r_[lam, kap][item] * (g * person.w + b * delta * person.v),
                        np.r_[nu, tau][item] + np.r_[lam, kap][item] * delta * person.v)
    np.testing.assert_allclose(result.predict(layout="long", latent="marginal", nip=6), expected, rtol=1e-9)
    np.testing.assert_allclose(result.predict(layout="long", latent="zero"), expected, rtol=1e-9)
    conditional = result.predict(layout="long", latent="eb")  # the EB values of both levels plugged in
    assert np.corrcoef(conditional, design.y)[0, 1] > np.corrcoef(expected, design.y)[0, 1] + 0.2
    eb = result.empirical_bayes()
    assert set(eb) == {"unit", "cls"} and len(eb["cls"]) == 120
    assert abs(np.corrcoef(eb["cls"]["fb"], data.groupby("cls").v.first())[0, 1]) > 0.3  # includes Gamma3 v


def test_class_level_items_must_be_constant_within_classes():
    import numpy as np
    import pytest

    import gllamm

    example = runpy.run_path(str(EXAMPLES / "multilevel_sem.py"))
    data = example["simulate"](classes=20, students=4)
    data["t1"] = data["t1"] + np.random.default_rng(0).normal(size=len(data))
    with pytest.raises(gllamm.GllammError, match="'t1' is measured only by level-2 latent variables"):
        gllamm.fit(example["MODEL"], data, cluster="cls")


def test_multilevel_sem_simulate_and_refit():
    import gllamm

    example = runpy.run_path(str(EXAMPLES / "multilevel_sem.py"))
    data = example["simulate"](classes=60, students=6)
    result = gllamm.fit(example["MODEL"], data, cluster="cls")
    simulated = result.simulate(seed=5)
    assert (simulated.groupby("cls")["t1"].nunique() == 1).all()  # class-level items stay class-level
    again = result.refit(simulated)
    assert again.converged and abs(again.params["fw~fb"] - result.params["fw~fb"]) < 4 * result.se["fw~fb"]


def test_missing_covariate_example_recovers_the_slope_that_the_error_prone_measure_attenuates():
    example = runpy.run_path(str(EXAMPLES / "missing_covariate.py"))
    result, naive = example["main"]()
    assert result.converged
    for name, value in example["TRUTH"].items():
        assert abs(result.params[name] - value) < 3 * result.se[name], name
    assert naive.params["w"] < example["TRUTH"]["xi=~y"] - 4 * result.se["xi=~y"]


@pytest.mark.slow
def test_missing_covariate_example_with_a_binary_disease():
    example = runpy.run_path(str(EXAMPLES / "missing_covariate.py"))
    result, naive = example["disease"]()
    assert result.converged and result.quadrature_check.passed
    for name, value in example["DISEASE_TRUTH"].items():
        assert abs(result.params[name] - value) < 3 * result.se[name], name
    assert naive.params["w"] < example["DISEASE_TRUTH"]["xi=~d"] - 2 * result.se["xi=~d"]


def test_measurement_invariance_example_runs_the_four_steps(capsys):
    example = runpy.run_path(str(EXAMPLES / "measurement_invariance.py"))
    fits = example["main"]()
    assert [f.n_params for f in fits.values()] == [60, 54, 48, 39]
    assert "scalar" in capsys.readouterr().out


@pytest.mark.slow  # 3 s: three fits, profiles and a bootstrap; CI runs it (python -m pytest -m slow)
def test_comparing_models_example(tmp_path, capsys):
    example = runpy.run_path(str(EXAMPLES / "comparing_models.py"))
    output = tmp_path / "intervals.png"
    glm, glmm, null, intervals = example["main"](output, n_boot=20)
    text = capsys.readouterr().out
    assert "chi-bar-square: var((Intercept)|herd) tested at 0" in text and "Pr(>Chisq)" in text
    assert output.exists() and output.stat().st_size > 5_000
    profile = intervals["profile"]
    assert (profile["lower"] < glmm.params).all() and (glmm.params < profile["upper"]).all()
