"""Mixed responses: different families and links for different rows sharing latent variables.

Checked against an independent computation (per-cluster likelihood by brute-force grid integration
in NumPy/SciPy), by simulation recovery (fixed seeds, within 3.5 SEs), and through the examples.
"""

import runpy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import gllamm

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
FAMILIES = {"score": "gaussian", "count": "poisson"}
FORMULA = "resp ~ 0 + C(type) + C(type):x + (1 | id)"


def _score_and_count(n=500, k=3, seed=2):
    """A Gaussian score and a Poisson count per occasion, sharing a random intercept u ~ N(0, 0.49)."""
    rng = np.random.default_rng(seed)
    u = rng.normal(scale=0.7, size=n)
    ids = np.repeat(np.arange(n), k)
    x = rng.normal(size=n * k)
    score = 1.0 + 0.5 * x + u[ids] + rng.normal(scale=0.6, size=n * k)
    count = rng.poisson(np.exp(0.2 + 0.3 * x + u[ids])).astype(float)
    return pd.concat([pd.DataFrame(dict(id=ids, x=x, resp=score, type="score")),
                      pd.DataFrame(dict(id=ids, x=x, resp=count, type="count"))], ignore_index=True)


def test_mixed_gaussian_poisson_likelihood_and_recovery(tmp_path):
    data = _score_and_count()
    result = gllamm.fit(FORMULA, data, family=FAMILIES, family_by="type")
    assert result.converged
    truth = {"C(type)[score]": 1.0, "C(type)[count]": 0.2, "C(type)[score]:x": 0.5, "C(type)[count]:x": 0.3,
             "var((Intercept)|id)": 0.49, "var(Residual|score)": 0.36}
    for name, value in truth.items():
        assert abs(result.params[name] - value) < 3.5 * result.se[name], name
    # each cluster's contribution against a brute-force integral over a fine grid
    p = result.params
    u = np.linspace(-8, 8, 4001) * np.sqrt(p["var((Intercept)|id)"])
    prior = stats.norm.pdf(u, scale=np.sqrt(p["var((Intercept)|id)"])) * (u[1] - u[0])
    contributions = result.cluster_loglik()
    for cluster in [0, 1, 2, 77]:
        rows = data[data.id == cluster]
        log_f = np.zeros_like(u)
        for _, row in rows.iterrows():
            eta = p[f"C(type)[{row.type}]"] + p[f"C(type)[{row.type}]:x"] * row.x + u
            if row.type == "score":
                log_f += stats.norm.logpdf(row.resp, eta, np.sqrt(p["var(Residual|score)"]))
            else:
                log_f += stats.poisson.logpmf(row.resp, np.exp(eta))
        assert abs(np.log(np.sum(np.exp(log_f) * prior)) - contributions.loc[cluster]) < 1e-7
    assert "score: gaussian/identity, count: poisson/log" in result.summary()
    # predictions use each row's own link; save/load keeps the family mapping
    mean = result.predict()
    rows = result.design.member == list(result.family.labels).index("count")
    eta = result.predict(type="linear")
    np.testing.assert_allclose(mean[rows], np.exp(eta[rows]))
    np.testing.assert_allclose(mean[~rows], eta[~rows])
    path = tmp_path / "mixed.gllamm"
    result.save(path)
    assert abs(gllamm.load(path).loglik - result.loglik) < 1e-9


@pytest.mark.slow
def test_endogenous_treatment_example_removes_confounding_bias():
    example = runpy.run_path(str(EXAMPLES / "endogenous_treatment.py"))
    result, naive = example["main"]()
    assert result.converged
    for name, value in example["TRUTH"].items():
        assert abs(result.params[name] - value) < 3.5 * result.se[name], name
    assert naive.params["d"] - example["TRUTH"]["y~d"] > 4 * naive.se["d"]  # the regression is biased


@pytest.mark.slow  # ~40 s
def test_dependent_dropout_example():
    example = runpy.run_path(str(EXAMPLES / "dependent_dropout.py"))
    result = example["main"]()
    assert result.converged
    for name in ("i=~d1", "s=~d1", "s~~s", "y1~~y1"):
        assert abs(result.params[name] - example["TRUTH"][name]) < 3.5 * result.se[name], name
    data = example["simulate"]()
    last = example["T"] - 1
    truth = example["MEANS"][last]
    observed = data[f"y{last}"].mean()
    assert abs(result.params[f"y{last}~1"] - truth) < 0.5 * abs(observed - truth)  # dropout bias mostly removed


@pytest.mark.parametrize("options,message", [
    (dict(family={"score": "gaussian", "cnt": "poisson"}, family_by="type"), "response 'cnt'.*Did you mean 'count'"),
    (dict(family={"score": "gaussian"}, family_by="type"), "no family for the responses count"),
    (dict(family=FAMILIES), "family_by='column'"),
    (dict(family="gaussian", family_by="type"), "family_by= needs family= as a mapping"),
    (dict(family=FAMILIES, family_by="type", link="log"), "inside it"),
    (dict(family=FAMILIES, family_by="typ"), "Column 'typ'"),
])
def test_bad_family_mappings_are_explained(options, message):
    with pytest.raises(gllamm.GllammError, match=message):
        gllamm.fit(FORMULA, _score_and_count(n=50), **options)


def test_syntax_family_mapping_must_name_indicators():
    data = pd.DataFrame(np.random.default_rng(0).binomial(1, 0.5, (100, 3)), columns=["a", "b", "c"]).astype(float)
    with pytest.raises(gllamm.GllammError, match="response 'd'"):
        gllamm.fit("f =~ a + b + c", data, family={"a": "binomial", "b": "binomial", "d": "binomial"})


def _continuous_and_ordinal(n=400, seed=4):
    rng = np.random.default_rng(seed)
    f = rng.normal(size=n)
    data = pd.DataFrame({f"y{j}": 1.0 + lam * f + rng.normal(scale=0.6, size=n) for j, lam in [(1, 1.0), (2, 0.8)]})
    for j, lam in [(1, 1.5), (2, 1.0), (3, 0.7)]:
        data[f"o{j}"] = 1 + ((lam * f + rng.logistic(size=n))[:, None] > np.array([-1.0, 0.0, 1.2])).sum(axis=1)
    return data


@pytest.mark.slow  # (several seconds; CI runs it: python -m pytest -m slow)
def test_factor_model_with_continuous_and_ordinal_items_equals_brute_force():
    """Mixed responses with ordinal members: Gaussian items and ordinal items (thresholds of their own,
    no intercepts) measure one factor; the likelihood is checked per unit by Gauss-Hermite quadrature."""
    from scipy.special import expit, logsumexp

    data = _continuous_and_ordinal()
    family = {"y1": "gaussian", "y2": "gaussian", "o1": "ordinal", "o2": "ordinal", "o3": ("ordinal", "logit")}
    res = gllamm.fit("f =~ y1 + y2 + o1 + o2 + o3", data, family=family, nip=12)
    assert res.converged
    p = res.params
    assert {"o1|t1", "o3|t3", "y1~1"} <= set(p.index) and "o1~1" not in p.index
    x, w = np.polynomial.hermite_e.hermegauss(120)
    f = np.sqrt(p["f~~f"]) * x  # (nodes,)
    log_lik = np.zeros((len(data), len(x)))
    for item, loading in (("y1", 1.0), ("y2", p["f=~y2"])):
        mean, var = p[f"{item}~1"] + loading * f, p[f"{item}~~{item}"]
        log_lik += stats.norm.logpdf(data[item].to_numpy()[:, None], mean, np.sqrt(var))
    for item in ("o1", "o2", "o3"):
        kappa = np.r_[-np.inf, [p[f"{item}|t{k}"] for k in (1, 2, 3)], np.inf]
        code = data[item].to_numpy() - 1
        eta = p[f"f=~{item}"] * f
        upper = expit(kappa[code + 1][:, None] - eta)
        lower = expit(kappa[code][:, None] - eta)
        log_lik += np.log(upper - lower)
    brute = logsumexp(log_lik + np.log(w / np.sqrt(2 * np.pi)), axis=1)
    np.testing.assert_allclose(res.cluster_loglik().to_numpy(), brute, atol=1e-6)
    truth = {"f=~o1": 1.5, "f=~o2": 1.0, "f=~o3": 0.7, "o1|t1": -1.0, "o2|t3": 1.2, "y2~~y2": 0.36}
    for name, value in truth.items():
        assert abs(p[name] - value) < 3 * res.se[name], name
    simulated = res.simulate(seed=2)
    assert set(np.unique(simulated.o1)) <= {1, 2, 3, 4} and simulated.y1.dtype == float
    # predicted means: Gaussian rows nu + lambda f, ordinal rows the expected category sum_k k P(y = k | f);
    # marginally integrated over f (120 nodes), or at the EB value of f
    design = res.design
    item = np.asarray(["y1", "y2", "o1", "o2", "o3"])[design.Z.argmax(axis=1)]
    person = design.cluster_codes
    eb = res.empirical_bayes()["f"].to_numpy()
    marginal, conditional = np.zeros(len(item)), np.zeros(len(item))
    for name in ("y1", "y2", "o1", "o2", "o3"):
        own = item == name
        loading = 1.0 if name == "y1" else p[f"f=~{name}"]
        if name.startswith("y"):
            marginal[own] = p[f"{name}~1"]
            conditional[own] = p[f"{name}~1"] + loading * eb[person[own]]
            continue
        kappa = np.array([p[f"{name}|t{k}"] for k in (1, 2, 3)])

        def expected(eta):
            cumulative = np.concatenate([expit(kappa - eta[..., None]), np.ones(eta.shape + (1,))], axis=-1)
            probabilities = np.diff(np.concatenate([np.zeros(eta.shape + (1,)), cumulative], axis=-1), axis=-1)
            return probabilities @ np.arange(1, 5)

        marginal[own] = expected(loading * f) @ (w / np.sqrt(2 * np.pi))
        conditional[own] = expected(loading * eb[person[own]])
    np.testing.assert_allclose(res.predict(layout="long", latent="marginal"), marginal, atol=1e-6)
    np.testing.assert_allclose(res.predict(layout="long", latent="eb"), conditional, atol=1e-10)
    letters = data.assign(o1=pd.Categorical(data.o1.map(dict(zip(range(1, 5), "abcd"))), ordered=True))
    named = gllamm.fit("f =~ y1 + y2 + o1 + o2 + o3", letters, family=family, nip=6, max_iter=0)
    with pytest.raises(gllamm.GllammError, match="'o1' are not numbers"):
        named.predict()


def test_formula_mixed_responses_with_an_ordinal_member_are_explained():
    data = _score_and_count(n=50)
    with pytest.raises(gllamm.GllammError, match="available in model syntax"):
        gllamm.fit(FORMULA, data, family={"score": "gaussian", "count": "ordinal"}, family_by="type")
