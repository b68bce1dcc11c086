"""Factor models, structural equations and IRT from lavaan-style syntax, against lavaan and brute-force ML.

References (tests/reference/): holzinger.json = lavaan::cfa(..., meanstructure = TRUE), holzinger_sem.json =
lavaan::sem with speed ~ visual + textual (calls in each file's "call"; lavaan's default SEs use the expected
information, which gllamm uses by default for Gaussian models written in syntax); lsat7_2pl.json and
lsat7_rasch.json = independent brute-force ML (tests/reference/irt_reference.py, 201-point Gauss-Hermite).
"""

import numpy as np
import pandas as pd
import pytest

import gllamm
from reference_cases import load_reference

HOLZINGER = "visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6\n speed =~ x7 + x8 + x9"


def _lavaan_name(row):
    return f"{row['lhs']}~1" if row["op"] == "~1" else f"{row['lhs']}{row['op']}{row['rhs']}"


@pytest.mark.parametrize("name,extra", [("holzinger", ""), ("holzinger_sem", "\n speed ~ visual + textual")])
def test_matches_lavaan(name, extra):
    ref = load_reference(name)
    result = gllamm.fit(HOLZINGER + extra, gllamm.datasets.load("holzinger"))
    assert result.converged
    assert abs(result.loglik - ref["loglik"]) < 1e-3
    compared = 0
    for row in ref["params"]:
        key = _lavaan_name(row)
        if row["se"] == 0:  # fixed in lavaan: first loadings (1) and latent means (0)
            assert key not in result.params.index
            continue
        assert abs(result.params[key] - row["est"]) < 2e-3, key
        assert abs(result.se[key] / row["se"] - 1) < 0.02, key
        compared += 1
    assert compared == len(result.params)
    assert "visual=~x2" in result.summary()


def test_observed_information_is_available_for_sem():
    observed = gllamm.fit(HOLZINGER, gllamm.datasets.load("holzinger"), information="observed")
    expected = gllamm.fit(HOLZINGER, gllamm.datasets.load("holzinger"))
    np.testing.assert_allclose(observed.params, expected.params)
    assert not np.allclose(observed.se, expected.se, rtol=1e-3)


def test_two_parameter_logistic_irt_matches_brute_force():
    ref = load_reference("lsat7_2pl")
    data = gllamm.datasets.load("lsat7")
    items = [f"Q{i}" for i in range(1, 6)]
    result = gllamm.fit("theta =~ " + " + ".join(items), data, family="binomial", nip=20)
    assert result.converged
    assert abs(result.loglik - ref["loglik"]) < 1e-3
    sd = np.sqrt(result.params["theta~~theta"])
    loadings = np.array([1.0] + [result.params[f"theta=~{q}"] for q in items[1:]]) * sd
    np.testing.assert_allclose(np.abs(loadings), np.abs(ref["loadings"]), atol=2e-3)
    np.testing.assert_allclose([result.params[f"{q}~1"] for q in items], ref["intercepts"], atol=2e-3)
    # the same model with the factor variance fixed at 1 (all loadings free)
    scaled = gllamm.fit("theta =~ " + " + ".join(items), data, family="binomial", nip=20, factor_scale="variance")
    assert abs(scaled.loglik - ref["loglik"]) < 1e-3
    free = np.array([scaled.params[f"theta=~{q}"] for q in items])
    np.testing.assert_allclose(np.abs(free), np.abs(ref["loadings"]), atol=2e-3)


def test_rasch_model_matches_brute_force():
    ref = load_reference("lsat7_rasch")
    items = [f"Q{i}" for i in range(1, 6)]
    result = gllamm.fit("theta =~ " + " + ".join(f"1*{q}" for q in items), gllamm.datasets.load("lsat7"),
                        family="binomial", nip=20)
    assert abs(result.loglik - ref["loglik"]) < 1e-3
    assert abs(result.params["theta~~theta"] - ref["latent_variance"]) < 2e-3
    np.testing.assert_allclose([result.params[f"{q}~1"] for q in items], ref["intercepts"], atol=2e-3)


def test_equality_labels_and_fixed_values():
    data = gllamm.datasets.load("holzinger")
    result = gllamm.fit("visual =~ x1 + a*x2 + a*x3\n x1 ~~ 0.5*x1", data)
    assert result.params["visual=~x2"] == pytest.approx(result.params["visual=~x3"], abs=1e-10)
    assert "x1~~x1" not in result.params.index or result.params["x1~~x1"] == pytest.approx(0.5)


@pytest.mark.slow
def test_structural_recovery_of_b_and_gamma():
    """Simulated MIMIC-type model: f1 ~ w (Gamma), f2 ~ f1 (B); recovery within 4 SEs."""
    import pandas as pd

    rng = np.random.default_rng(11)
    n = 1500
    w = rng.normal(size=n)
    f1 = 0.7 * w + rng.normal(scale=0.8, size=n)
    f2 = 0.5 * f1 + rng.normal(scale=0.6, size=n)
    data = {}
    for j, lam in enumerate([1.0, 0.8, 1.2]):
        data[f"a{j}"] = 1.0 + lam * f1 + rng.normal(scale=0.5, size=n)
        data[f"b{j}"] = 2.0 + lam * f2 + rng.normal(scale=0.5, size=n)
    frame = pd.DataFrame(data).assign(w=w)
    result = gllamm.fit("f1 =~ a0 + a1 + a2\n f2 =~ b0 + b1 + b2\n f1 ~ w\n f2 ~ f1", frame)
    truth = {"f1~w": 0.7, "f2~f1": 0.5, "f1~~f1": 0.64, "f2~~f2": 0.36, "f1=~a1": 0.8, "f2=~b2": 1.2}
    for name, value in truth.items():
        assert abs(result.params[name] - value) < 4 * result.se[name], name
    # predictions include the covariate effects: E(b2 | w) = nu + lambda * (f2~f1) * (f1~w) * w (identity link),
    # both marginally and with the disturbances at 0
    # (predictions are units x indicators)
    p = result.params
    expected = p["b2~1"] + p["f2=~b2"] * p["f2~f1"] * p["f1~w"] * w
    np.testing.assert_allclose(result.predict(latent="marginal", nip=8)["b2"], expected, rtol=1e-9)
    np.testing.assert_allclose(result.predict(latent="zero")["b2"], expected, rtol=1e-9)
    # new units: EB from their own responses (= their fitted-data values), marginal means from covariates alone
    first = result.predict(latent="eb").iloc[:5]  # persons 0-4
    np.testing.assert_allclose(result.predict(frame.iloc[:5], latent="eb"), first, rtol=1e-8)
    marginal = result.predict(frame[["w"]].iloc[:5], latent="marginal", nip=8)
    np.testing.assert_allclose(marginal, result.predict(latent="marginal", nip=8).iloc[:5], rtol=1e-9)
    with pytest.raises(gllamm.GllammError, match="lacks the column"):
        result.predict(frame[["w"]].iloc[:5], latent="eb")


@pytest.mark.parametrize("syntax,message", [
    ("f =~ x1 + + x2", "Empty term"),
    ("f =~ x1 + 2x", "not a variable name"),
    ("f =~ x1 + x2\n g = x3", "Expected one of.*line 2"),
    ("f =~ x1 + nope", "'nope'.*neither a latent variable nor a column"),
    ("f =~ x1 + x2\n g =~ x3 + x4\n f ~ g\n g ~ f", "loop"),
    ("f =~ NA*x1 + x2 + x3", "not identified"),
    ("level: top\n f =~ x1 + x2", "level: 1.*level: 2.*level: 3"),
    ("level: 1\n f =~ x1 + x2\n level: 3\n g =~ x1 + x2", "no latent variables at level 2"),
])
def test_syntax_errors_name_the_problem(syntax, message):
    with pytest.raises(gllamm.GllammError, match=message):
        gllamm.fit(syntax, gllamm.datasets.load("holzinger"))


def test_parse_error_shows_caret():
    with pytest.raises(gllamm.GllammError) as error:
        gllamm.fit("f =~ x1 + 2x", gllamm.datasets.load("holzinger"))
    text = str(error.value)
    assert "line 1" in text and "^" in text


def test_syntax_model_save_load_simulate_refit(tmp_path):
    items = [f"Q{i}" for i in range(1, 6)]
    result = gllamm.fit("theta =~ " + " + ".join(items), gllamm.datasets.load("lsat7"), family="binomial", nip=10)
    loaded = gllamm.load(result.save(tmp_path / "irt.gllamm"))
    np.testing.assert_array_equal(loaded.params.to_numpy(), result.params.to_numpy())
    np.testing.assert_array_equal(loaded.empirical_bayes().to_numpy(), result.empirical_bayes().to_numpy())
    simulated = result.simulate(seed=5)
    assert simulated.shape == (1000, 5) and set(np.unique(simulated.to_numpy())) <= {0.0, 1.0}
    refitted = result.refit(simulated, start=result)
    assert refitted.converged
    for name in ["Q1~1", "theta=~Q3"]:
        assert abs(refitted.params[name] - result.params[name]) < 4 * result.se[name]


def test_two_level_factor_model_matches_lavaan():
    """twolevel_basic.json: lavaan::sem(cluster = "cluster") with between residual variances fixed at 0 (the GLLAMM
    form): fw varies over units (level 2 in GLLAMM terms), fb over clusters (level 3)."""
    ref = load_reference("twolevel_basic")
    result = gllamm.fit(ref["call"], gllamm.datasets.load("twolevel"), cluster="cluster", nip=4)
    assert result.converged
    assert result.n_groups == {"unit": 2500, "cluster": 200}
    assert abs(result.loglik - ref["loglik"]) < 1e-3
    for row in ref["params"]:
        if row["se"] == 0:  # fixed in lavaan: first loadings, level-1 means, between residual variances
            continue
        key = _lavaan_name(row)
        assert abs(result.params[key] - row["est"]) < 2e-3, key
        assert abs(result.se[key] / row["se"] - 1) < 0.02, key


def test_multilevel_syntax_errors():
    data = gllamm.datasets.load("twolevel")
    with pytest.raises(gllamm.GllammError, match="give the cluster column"):
        gllamm.fit("level: 1\n fw =~ y1 + y2 + y3\n level: 2\n fb =~ y1 + y2 + y3", data)
    with pytest.raises(gllamm.GllammError, match="between-level residual variances"):
        gllamm.fit("level: 1\n fw =~ y1 + y2 + y3\n level: 2\n fb =~ y1 + y2 + y3\n y1 ~~ y1", data, cluster="cluster")


@pytest.mark.slow  # ~60 s
def test_structural_recovery_at_two_levels():
    """Simulated two-level SEM: B within units (g ~ f), B between clusters (h ~ k), recovered within 4 SEs."""
    import pandas as pd

    rng = np.random.default_rng(21)
    n_clusters, per_cluster = 150, 8
    cluster = np.repeat(np.arange(n_clusters), per_cluster)
    k = rng.normal(scale=0.7, size=n_clusters)
    h = 0.6 * k + rng.normal(scale=0.5, size=n_clusters)
    f = rng.normal(size=cluster.size)
    g = 0.5 * f + rng.normal(scale=0.6, size=cluster.size)
    data = {"cluster": cluster}
    for j, lam in enumerate([1.0, 0.9, 1.1]):
        data[f"a{j}"] = lam * f + lam * k[cluster] + rng.normal(scale=0.5, size=cluster.size)
        data[f"b{j}"] = 1.0 + lam * g + lam * h[cluster] + rng.normal(scale=0.5, size=cluster.size)
    syntax = """level: 1
        f =~ a0 + a1 + a2
        g =~ b0 + b1 + b2
        g ~ f
        level: 2
        k =~ a0 + a1 + a2
        h =~ b0 + b1 + b2
        h ~ k"""
    result = gllamm.fit(syntax, pd.DataFrame(data), cluster="cluster", nip=4)
    assert result.converged
    truth = {"g~f": 0.5, "h~k": 0.6, "g~~g": 0.36, "k~~k": 0.49, "f=~a1": 0.9, "h=~b2": 1.1}
    for name, value in truth.items():
        assert abs(result.params[name] - value) < 4 * result.se[name], (name, result.params[name], result.se[name])


def test_long_format_data_with_an_item_column():
    wide = gllamm.datasets.load("lsat7")
    items = [f"Q{i}" for i in range(1, 6)]
    long = wide.reset_index().melt(id_vars="index", value_vars=items, var_name="item", value_name="correct")
    syntax = "theta =~ " + " + ".join(items)
    from_wide = gllamm.fit(syntax, wide, family="binomial", nip=10)
    from_long = gllamm.fit(syntax, long, family="binomial", nip=10,
                           long={"unit": "index", "item": "item", "response": "correct"})
    assert from_long.loglik == pytest.approx(from_wide.loglik, abs=1e-8)
    with pytest.raises(gllamm.GllammError, match="missing"):
        gllamm.fit(syntax, long, family="binomial", long={"unit": "index"})


def test_long_data_with_item_level_covariates_equals_the_random_intercept_glmm():
    """In long data a covariate that varies across a unit's items explains each response through 'y1 ~ x'
    (its value on that item's row). With all loadings 1 the model is the random-intercept logit
    resp ~ 0 + C(item) + C(item):x + (1 | person), fitted through the formula path."""
    rng = np.random.default_rng(12)
    persons, items = 300, ["y1", "y2", "y3"]
    theta = rng.normal(size=persons)
    long = pd.DataFrame([(p, item) for p in range(persons) for item in items], columns=["person", "item"])
    long["x"] = rng.normal(size=len(long))  # item-level: differs between a person's items
    slope = long.item.map({"y1": 0.8, "y2": 0.3, "y3": -0.5})
    eta = 0.2 + theta[long.person] + slope * long.x
    long["resp"] = (rng.random(len(long)) < 1 / (1 + np.exp(-eta))).astype(float)
    long.loc[5, "x"] = np.nan  # only that response is left out
    syntax = "theta =~ 1*y1 + 1*y2 + 1*y3\ny1 ~ x\ny2 ~ x\ny3 ~ x"
    with pytest.warns(gllamm.DataWarning):
        factor = gllamm.fit(syntax, long, family="binomial", nip=12,
                            long={"unit": "person", "item": "item", "response": "resp"})
    glmm = gllamm.fit("resp ~ 0 + C(item) + C(item):x + (1 | person)", long, family="binomial", nip=12)
    assert factor.nobs == glmm.nobs == 3 * persons - 1
    assert abs(factor.loglik - glmm.loglik) < 1e-6
    for item in items:
        assert abs(factor.params[f"{item}~x"] - glmm.params[f"C(item)[{item}]:x"]) < 1e-4
    assert abs(factor.params["theta~~theta"] - glmm.params["var((Intercept)|person)"]) < 1e-4
    with pytest.raises(gllamm.GllammError, match="varies across the items"):
        gllamm.fit("theta =~ y1 + y2 + y3\ntheta ~ x", long, family="binomial",
                   long={"unit": "person", "item": "item", "response": "resp"})


@pytest.mark.slow
def test_sampling_weights_in_model_syntax_equal_duplicated_units():
    """weights= (units, the rows of wide data) and cluster_weights= (clusters of multilevel syntax) act as
    gllamm's pweights: integer weights give the fit of the data with units (clusters) repeated."""
    import runpy
    from pathlib import Path

    import pandas as pd

    syntax = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
    data = gllamm.datasets.load("holzinger")
    plain = gllamm.fit(syntax, data)
    ones = gllamm.fit(syntax, data.assign(w=1.0), weights="w")
    assert ones.loglik == pytest.approx(plain.loglik, abs=1e-8) and ones.converged
    assert ones.options["information"] == "observed"  # the expected information assumes unit weights
    twice = (np.arange(len(data)) % 3 == 0).astype(float) + 1.0
    weighted = gllamm.fit(syntax, data.assign(w=twice), weights="w")
    # the duplicated data's log-likelihood at the weighted estimates: the same value, and its maximum
    # (converged: gradient ~ 0 and Hessian negative definite there)
    duplicated = gllamm.fit(syntax, pd.concat([data, data[twice == 2]], ignore_index=True), start=weighted,
                            max_iter=0)
    assert weighted.loglik == pytest.approx(duplicated.loglik, abs=1e-6) and duplicated.converged
    robust = np.sqrt(np.diag(weighted.robust_vcov()))
    assert np.all(np.isfinite(robust)) and np.all(robust > 0)
    with pytest.raises(gllamm.GllammError, match="non-negative"):
        gllamm.fit(syntax, data.assign(w=-1.0), weights="w")

    example = runpy.run_path(str(Path(__file__).parents[1] / "examples" / "multilevel_sem.py"))
    frame = example["simulate"](classes=30, students=4)
    model = example["MODEL"]
    heavy_unit = frame.index.to_numpy() % 4 == 0  # the first student of every class counts twice
    heavy_class = frame.cls.to_numpy() % 5 == 0  # every fifth class counts twice
    weighted = gllamm.fit(model, frame.assign(sw=1.0 + heavy_unit, wc=1.0 + heavy_class), cluster="cls",
                          weights="sw", cluster_weights="wc", nip=5)
    extra_units = frame[heavy_unit]
    extra_classes = frame[heavy_class].assign(cls=lambda d: d.cls + 1000)
    repeated = pd.concat([frame, extra_units, extra_classes, extra_units[extra_units.cls % 5 == 0].assign(
        cls=lambda d: d.cls + 1000)], ignore_index=True)
    duplicated = gllamm.fit(model, repeated, cluster="cls", nip=5, start=weighted, max_iter=0)
    assert weighted.loglik == pytest.approx(duplicated.loglik, abs=1e-6) and duplicated.converged
    with pytest.raises(gllamm.GllammError, match="constant within each 'cls'"):
        gllamm.fit(model, frame.assign(wc=np.arange(len(frame), dtype=float)), cluster="cls", cluster_weights="wc")
