"""Latent classes, concomitant variables, NPML and known classes (issue: discrete latent variables).

Reference numbers come from an EM algorithm for the binary latent class model written here
independently of gllamm, from Bayes' rule computed by hand, from brute-force Gateaux
derivatives, and from recovery of simulated values.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logsumexp

import gllamm
from gllamm.errors import ConvergenceWarning

ITEMS = ["Q1", "Q2", "Q3", "Q4", "Q5"]


def em_latent_classes(Y, counts, classes, seed, iterations=20000, tol=1e-13):
    """EM for binary items: pi_c and p_cj = P(y_j = 1 | c) from response patterns Y with frequencies counts."""
    rng = np.random.default_rng(seed)
    pi = np.full(classes, 1.0 / classes)
    p = rng.uniform(0.2, 0.8, (classes, Y.shape[1]))
    previous = -np.inf
    for _ in range(iterations):
        log_joint = np.log(pi) + Y @ np.log(p).T + (1 - Y) @ np.log1p(-p).T  # (patterns, classes)
        log_lik = logsumexp(log_joint, axis=1)
        loglik = counts @ log_lik
        r = np.exp(log_joint - log_lik[:, None]) * counts[:, None]
        pi = r.sum(axis=0) / counts.sum()
        p = np.clip((r.T @ Y) / r.sum(axis=0)[:, None], 1e-300, 1 - 1e-16)
        if loglik - previous < tol:
            break
        previous = loglik
    return loglik, pi, p


@pytest.fixture(scope="module")
def lsat7():
    return gllamm.datasets.load("lsat7")


def _patterns(data):
    patterns = data.groupby(ITEMS).size().reset_index(name="n")
    return patterns[ITEMS].to_numpy(float), patterns["n"].to_numpy(float)


@pytest.fixture(scope="module")
def two_classes(lsat7):
    return gllamm.fit("C =~ Q1 + Q2 + Q3 + Q4 + Q5", lsat7, family="binomial", classes=2, seed=1)


def test_two_classes_match_independent_em(lsat7, two_classes):
    Y, counts = _patterns(lsat7)
    best = max((em_latent_classes(Y, counts, 2, seed) for seed in range(5)), key=lambda r: r[0])
    loglik, pi, p = best
    res = two_classes
    assert res.converged
    assert abs(res.loglik - loglik) < 1e-6
    order = np.argsort(-pi)  # gllamm's rule: largest class first
    profiles = res.class_profiles()
    np.testing.assert_allclose(profiles["probability"], pi[order], atol=1e-5)
    np.testing.assert_allclose(profiles[[f"mean:{q}" for q in ITEMS]].to_numpy(), p[order], atol=1e-5)
    np.testing.assert_allclose(res.params[["P(C1)", "P(C2)"]], pi[order], atol=1e-5)
    assert len(res.starts) == 10 and np.isclose(res.starts.loglik.iloc[0], res.loglik)


@pytest.mark.slow  # (several seconds; CI runs it: python -m pytest -m slow)
def test_three_classes_match_independent_em(lsat7):
    Y, counts = _patterns(lsat7)
    loglik = max(em_latent_classes(Y, counts, 3, seed)[0] for seed in range(8))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = gllamm.fit("C =~ Q1 + Q2 + Q3 + Q4 + Q5", lsat7, family="binomial", classes=3, seed=2)
    assert abs(res.loglik - loglik) < 1e-6
    # lsat7 with 3 classes has item probabilities at 0 in the smallest class: said, not hidden
    assert "boundary" in res.message and any("boundary" in str(w.message) for w in caught)


def test_posterior_class_probabilities_follow_bayes_rule(lsat7, two_classes):
    res = two_classes
    posterior = res.class_probabilities()
    np.testing.assert_allclose(posterior.sum(axis=1), 1.0, atol=1e-12)
    profiles = res.class_profiles()
    p = profiles[[f"mean:{q}" for q in ITEMS]].to_numpy()
    pi = profiles["probability"].to_numpy()
    Y = lsat7[ITEMS].to_numpy(float)
    joint = pi * np.prod(np.where(Y[:, None, :] == 1, p[None], 1 - p[None]), axis=2)
    by_hand = joint / joint.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(posterior.to_numpy(), by_hand, atol=1e-10)
    np.testing.assert_array_equal(res.modal_class().to_numpy(), np.argmax(by_hand, axis=1) + 1)
    entropy = 1 + np.sum(by_hand * np.log(by_hand)) / (len(Y) * np.log(2))
    assert abs(res.entropy - entropy) < 1e-10
    # EB: posterior mean of the class-specific logits; predictions average the classes' probabilities
    eb = res.empirical_bayes()
    E = np.column_stack([res.params[[f"C1:{q}", f"C2:{q}"]] for q in ITEMS])
    np.testing.assert_allclose(eb[ITEMS].to_numpy(), by_hand @ E, atol=1e-10)
    per_class = res.predict(latent="class")
    np.testing.assert_allclose(per_class.iloc[:5].to_numpy(), p.T[np.arange(5)], atol=1e-12)


def _simulate_lca(n=1500, seed=11):
    """Two classes, 6 binary items, membership logit(P(class 1)) = 0.4 + 1.0 w."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=n)
    first = rng.random(n) < expit(0.4 + 1.0 * w)
    logits = np.where(first[:, None], [2.0, 1.5, 1.0, 1.5, 2.0, 0.5], [-1.5, -1.0, -2.0, 0.0, -1.0, -0.5])
    data = pd.DataFrame((rng.random((n, 6)) < expit(logits)).astype(float), columns=[f"y{k}" for k in range(1, 7)])
    data["w"] = w
    return data, logits


def test_concomitant_variable_model_recovers_simulated_values():
    data, _ = _simulate_lca()
    model = "C =~ y1 + y2 + y3 + y4 + y5 + y6\nC ~ w"
    res = gllamm.fit(model, data, family="binomial", classes=2, starts=4, seed=3)
    assert res.converged
    # classes ordered by size: the class with logit 0.4 + w (about 57%) is first
    truth = {"C1~(Intercept)": 0.4, "C1~w": 1.0, "C1:y1": 2.0, "C2:y1": -1.5, "C1:y3": 1.0, "C2:y3": -2.0,
             "C2:y4": 0.0, "C1:y6": 0.5}
    for name, value in truth.items():
        assert abs(res.params[name] - value) < 3.5 * res.se[name], (name, res.params[name], res.se[name])
    prior = res.class_probabilities("prior")
    np.testing.assert_allclose(prior["C1"], expit(res.params["C1~(Intercept)"] + res.params["C1~w"] * data.w),
                               atol=1e-10)


def _npml_data(seed=5):
    rng = np.random.default_rng(seed)
    J, n = 250, 12
    b = rng.choice([-1.2, 0.3, 1.4], size=J, p=[0.3, 0.45, 0.25])
    g = np.repeat(np.arange(J), n)
    x = rng.normal(size=J * n)
    y = rng.binomial(1, expit(-0.3 + 0.8 * x + b[g]))
    return pd.DataFrame(dict(y=y, x=x, g=g))


@pytest.mark.slow
def test_npml_stops_where_the_gateaux_derivative_is_non_positive():
    data = _npml_data()
    res = gllamm.fit("y ~ x + (1 | g)", data, family="binomial", classes="npml")
    C = res.spec.levels[0].classes
    assert C >= 2 and res.options["npml"]
    # independent brute force: cluster likelihoods at every grid point and at the mass points
    beta = res.params[["(Intercept)", "x"]].to_numpy()
    locations = res.params[[f"class{c}:(Intercept)|g" for c in range(1, C + 1)]].to_numpy()
    masses = res.params[[f"P(class{c})" for c in range(1, C + 1)]].to_numpy()
    eta = beta[0] + beta[1] * data.x.to_numpy()
    y, g = data.y.to_numpy(), data.g.to_numpy()

    def log_f(e):  # (clusters, points)
        p = expit(eta[:, None] + np.asarray(e)[None, :])
        rows = np.where(y[:, None] == 1, np.log(p), np.log1p(-p))
        return np.stack([np.bincount(g, weights=rows[:, k]) for k in range(rows.shape[1])], axis=1)

    log_l = logsumexp(log_f(locations) + np.log(masses), axis=1)
    grid = np.linspace(locations.min() - 6, locations.max() + 6, 1201)
    derivative = np.sum(np.exp(log_f(grid) - log_l[:, None]) - 1.0, axis=0)
    assert derivative.max() <= 1e-4
    np.testing.assert_allclose(res.gateaux(grid).to_numpy(), derivative, atol=1e-8)
    np.testing.assert_allclose(res.loglik, log_l.sum() + 0.0, atol=1e-8)  # binary: no constant
    # and with one point fewer the derivative is clearly positive somewhere: a point was needed
    path = json_path(res)
    assert path[-2][2] > 1e-2 and path[-1][2] <= 1e-4
    # recovery: the slope and the spread of the random intercept (true masses -1.2, 0.3, 1.4 with
    # probabilities .3, .45, .25: variance 0.9075 about the mean 0.125)
    assert abs(res.params["x"] - 0.8) < 3 * res.se["x"]
    variance = res.params["var((Intercept)|g)"]
    assert abs(variance - 0.9075) < 3 * res.se["var((Intercept)|g)"]
    assert abs(res.params["(Intercept)"] - (-0.3 + 0.125)) < 3 * res.se["(Intercept)"]


def json_path(res):
    import json

    return json.loads(res.options["npml_path"])


def test_cace_example_recovers_the_complier_average_causal_effect():
    import runpy
    from pathlib import Path

    example = runpy.run_path(str(Path(__file__).resolve().parents[1] / "examples" / "cace.py"))
    result = example["main"]()
    truth = example["TRUTH"]
    assert result.converged
    for name, value in {"class1:z|id": truth["CACE"], "class1~w": truth["a1"], "class1~(Intercept)": truth["a0"],
                        "class1:(Intercept)|id": truth["mu_c"], "x": truth["x"]}.items():
        assert abs(result.params[name] - value) < 3 * result.se[name], name
    # the treatment arm's classes are known: their posterior puts all mass on the observed class
    data = example["simulate"]()
    posterior = result.class_probabilities().to_numpy()
    known = data.known.to_numpy()
    np.testing.assert_allclose(posterior[known == 1, 0], 1.0)
    np.testing.assert_allclose(posterior[known == 2, 1], 1.0)


def test_latent_class_bad_input(lsat7):
    with pytest.raises(gllamm.GllammError, match="not identified"):
        gllamm.fit("C =~ Q1 + Q2 + Q3", lsat7, family="binomial", classes=3)
    with pytest.raises(gllamm.GllammError, match="distinct response patterns"):
        gllamm.fit("C =~ Q1 + Q2", lsat7.iloc[:40].assign(Q1=0, Q2=0), family="binomial", classes=2)
    data = lsat7.assign(w=1.0)
    with pytest.raises(gllamm.GllammError, match="'w' is constant"):
        gllamm.fit("C =~ Q1 + Q2 + Q3 + Q4 + Q5\nC ~ w", data, family="binomial", classes=2)
    with pytest.raises(gllamm.GllammError, match="classes must be"):
        gllamm.fit("C =~ Q1 + Q2 + Q3 + Q4 + Q5", lsat7, family="binomial", classes=0)
    npml = _npml_data()
    with pytest.raises(gllamm.GllammError, match="'w' varies within the clusters"):
        gllamm.fit("y ~ x + (1 | g)", npml.assign(w=npml.x), family="binomial", classes=2, concomitant="~ w")
    with pytest.raises(gllamm.GllammError, match="concomitant= is for models with latent classes"):
        gllamm.fit("y ~ x + (1 | g)", npml, family="binomial", concomitant="~ x")


def test_latent_class_fits_save_load_simulate_and_refit(tmp_path, two_classes):
    import gllamm as g

    path = two_classes.save(tmp_path / "lca.gllamm")
    loaded = g.load(path)
    np.testing.assert_allclose(loaded.params, two_classes.params, atol=1e-12)
    np.testing.assert_allclose(loaded.class_probabilities(), two_classes.class_probabilities(), atol=1e-10)
    frame, latent = two_classes.simulate(seed=4, return_latent=True)
    assert set(np.unique(frame[ITEMS].to_numpy())) <= {0.0, 1.0} and set(latent["class"]) == {1, 2}
    # the simulated items follow the drawn classes' probabilities (1000 units: within 5 SE)
    p = two_classes.class_profiles()[[f"mean:{q}" for q in ITEMS]].to_numpy()
    expected = p[latent["class"].to_numpy() - 1]
    se = np.sqrt((expected * (1 - expected)).sum(axis=0))
    assert np.all(np.abs(frame[ITEMS].to_numpy().sum(axis=0) - expected.sum(axis=0)) < 5 * se)
    again = two_classes.refit(frame, start=two_classes)
    assert again.converged and again.spec.levels[0].classes == 2


def test_confirmatory_constraints_on_class_parameters(lsat7, two_classes):
    """Equal class-specific logits for Q1 (one parameter fewer) and a fixed one; the LR statistic is positive."""
    equal = gllamm.fit("C =~ Q1 + Q2 + Q3 + Q4 + Q5", lsat7, family="binomial", classes=2, starts=3,
                       equal=[("C1:Q1", "C2:Q1")])
    assert equal.converged and equal.n_params == two_classes.n_params - 1
    assert equal.params["C1:Q1"] == equal.params["C2:Q1"]
    assert 0 < two_classes.loglik - equal.loglik
    fixed = gllamm.fit("C =~ Q1 + Q2 + Q3 + Q4 + Q5", lsat7, family="binomial", classes=2, starts=3,
                       fix={"C2:Q5": 0.0})
    assert fixed.params["C2:Q5"] == 0.0 and fixed.se["C2:Q5"] == 0.0 and fixed.loglik <= two_classes.loglik + 1e-9


def test_empty_class_is_reported(lsat7):
    with pytest.warns(ConvergenceWarning, match="empty"):
        res = gllamm.fit("C =~ Q1 + Q2 + Q3 + Q4 + Q5", lsat7, family="binomial", classes=3, starts=1,
                         fix={"C1~(Intercept)": -40.0})
    assert not res.converged and "empty" in res.message


def test_npml_cace_save_load(tmp_path):
    import runpy
    from pathlib import Path

    example = runpy.run_path(str(Path(__file__).resolve().parents[1] / "examples" / "cace.py"))
    data = example["simulate"](n=600, seed=2)
    res = gllamm.fit("y ~ 0 + x + (1 + z | id)", data, classes=2, concomitant="~ w", known_class="known",
                     fix={"class2:z|id": 0.0}, starts=2)
    loaded = gllamm.load(res.save(tmp_path / "cace.gllamm"))
    np.testing.assert_allclose(loaded.params, res.params, atol=1e-12)
    np.testing.assert_allclose(loaded.class_probabilities(), res.class_probabilities(), atol=1e-10)
    new = data.iloc[:5]
    np.testing.assert_allclose(loaded.class_probabilities("prior", new).iloc[:, 0],
                               expit(res.params["class1~(Intercept)"] + res.params["class1~w"] * new.w), atol=1e-10)


def _gauss_hermite_normal(points=60):
    x, w = np.polynomial.hermite_e.hermegauss(points)  # for exp(-x^2/2)
    return x, np.log(w / np.sqrt(2 * np.pi))


@pytest.mark.slow  # (several seconds; CI runs it: python -m pytest -m slow)
def test_factor_mixture_equals_brute_force_and_recovers():
    """Latent classes with a within-class random intercept (beyond gllamm): class-specific item logits plus a
    continuous factor f integrated within every class."""
    rng = np.random.default_rng(5)
    n = 2000
    first = rng.random(n) < 0.6
    b = rng.normal(scale=0.8, size=n)
    truth = np.where(first[:, None], [2.0, 1.5, 1.0, 1.5, 2.0, 1.0], [-1.5, -1.0, -2.0, -0.5, -1.5, -1.0])
    Y = (rng.random((n, 6)) < expit(truth + b[:, None])).astype(float)
    data = pd.DataFrame(Y, columns=[f"y{k}" for k in range(1, 7)])
    model = "C =~ y1 + y2 + y3 + y4 + y5 + y6\nf =~ 1*y1 + 1*y2 + 1*y3 + 1*y4 + 1*y5 + 1*y6"
    res = gllamm.fit(model, data, family="binomial", classes={"C": 2}, starts=2, nip=12)
    assert res.converged
    # brute force: 60-point Gauss-Hermite over f in each class, summed over classes with their probabilities
    E = np.array([[res.params[f"C{c}:y{k}"] for k in range(1, 7)] for c in (1, 2)])
    pi = res.params[["P(C1)", "P(C2)"]].to_numpy()
    sd = np.sqrt(res.params["f~~f"])
    x, log_w = _gauss_hermite_normal()
    eta = E[None, :, None, :] + sd * x[None, None, :, None]  # (1, class, node, item)
    log_f = np.sum(np.where(Y[:, None, None, :] == 1, np.log(expit(eta)), np.log(expit(-eta))), axis=-1)
    loglik = logsumexp(np.log(pi)[None, :] + logsumexp(log_f + log_w, axis=2), axis=1).sum()
    assert abs(res.loglik - loglik) < 1e-4
    assert abs(res.params["f~~f"] - 0.64) < 3 * res.se["f~~f"]
    class_truth = {1: truth[first][0], 2: truth[~first][0]}  # the larger class (60%) is C1
    for c in (1, 2):
        for k in (1, 3, 6):
            name = f"C{c}:y{k}"
            assert abs(res.params[name] - class_truth[c][k - 1]) < 3.5 * res.se[name], name
    eb = res.empirical_bayes()
    assert list(eb.columns[:2]) == ["f", "sd(f)"] and np.corrcoef(eb["f"], b)[0, 1] > 0.4
    # marginal probabilities of the first unit's six items: classes and f integrated out
    direct = np.einsum("c,ckn,n->k", pi, expit(E[:, :, None] + sd * x[None, None, :]), np.exp(log_w))
    np.testing.assert_allclose(res.predict(layout="long", latent="marginal")[:6], direct, atol=1e-6)


def test_classes_at_the_top_of_two_nested_levels_equal_brute_force():
    """Schools belong to one of two classes (discrete school effect); classes within schools have normal
    random intercepts, integrated by adaptive quadrature inside every school class."""
    rng = np.random.default_rng(2)
    S, K, n = 60, 5, 6
    school = np.repeat(np.arange(S), K * n)
    group = np.repeat(np.arange(S * K), n)
    mass = rng.choice([-1.0, 0.8], size=S, p=[0.45, 0.55])
    x = rng.normal(size=S * K * n)
    y = rng.binomial(1, expit(0.2 + 0.5 * x + mass[school] + rng.normal(scale=0.7, size=S * K)[group]))
    data = pd.DataFrame(dict(y=y, x=x, school=school, group=group))
    res = gllamm.fit("y ~ x + (1 | school) + (1 | group)", data, family="binomial", classes={"school": 2},
                     starts=2, nip=12)
    assert res.converged
    beta = res.params[["(Intercept)", "x"]].to_numpy()
    e = res.params[["class1:(Intercept)|school", "class2:(Intercept)|school"]].to_numpy()
    pi = res.params[["P(class1)", "P(class2)"]].to_numpy()
    np.testing.assert_allclose(pi @ e, 0.0, atol=1e-10)  # centred: the intercept is the mean
    sd = np.sqrt(res.params["var((Intercept)|group)"])
    xs, log_w = _gauss_hermite_normal()
    eta = (beta[0] + beta[1] * x)[:, None, None] + e[None, :, None] + sd * xs[None, None, :]  # (rows, class, node)
    rows = np.where(y[:, None, None] == 1, np.log(expit(eta)), np.log(expit(-eta)))
    per_group = np.stack([np.stack([np.bincount(group, weights=rows[:, c, k]) for k in range(len(xs))], axis=1)
                          for c in range(2)], axis=1)  # (groups, class, node)
    group_class = logsumexp(per_group + log_w, axis=2)  # (groups, class)
    school_class = np.stack([np.bincount(np.arange(S * K) // K, weights=group_class[:, c]) for c in range(2)], axis=1)
    loglik = logsumexp(np.log(pi) + school_class, axis=1).sum()
    assert abs(res.loglik - loglik) < 1e-4
    posterior = res.class_probabilities()
    by_hand = np.exp(np.log(pi) + school_class - logsumexp(np.log(pi) + school_class, axis=1, keepdims=True))
    np.testing.assert_allclose(posterior.to_numpy(), by_hand, atol=1e-5)
    assert (posterior.to_numpy().argmax(axis=1) == (mass > 0)).mean() > 0.8


@pytest.mark.slow
def test_classes_of_inner_units_inside_a_normal_top_level_equal_brute_force():
    """Groups belong to latent classes (discrete group effects) while schools have a normal random intercept:
    the classes are summed exactly inside adaptive quadrature over the school effect."""
    rng = np.random.default_rng(8)
    S, K, n = 40, 6, 8
    school = np.repeat(np.arange(S), K * n)
    group = np.repeat(np.arange(S * K), n)
    mass = rng.choice([-1.2, 0.9], size=S * K, p=[0.4, 0.6])
    x = rng.normal(size=S * K * n)
    y = rng.binomial(1, expit(0.1 + 0.5 * x + mass[group] + rng.normal(scale=0.6, size=S)[school]))
    data = pd.DataFrame(dict(y=y, x=x, school=school, group=group))
    res = gllamm.fit("y ~ x + (1 | school) + (1 | group)", data, family="binomial", classes={"group": 2}, starts=2)
    assert res.converged
    fine = gllamm.fit("y ~ x + (1 | school) + (1 | group)", data, family="binomial", classes={"group": 2},
                      start=res, max_iter=0, nip=24)
    beta = res.params[["(Intercept)", "x"]].to_numpy()
    e = res.params[["class1:(Intercept)|group", "class2:(Intercept)|group"]].to_numpy()
    pi = res.params[["P(class1)", "P(class2)"]].to_numpy()
    sd = np.sqrt(res.params["var((Intercept)|school)"])
    xs, log_w = _gauss_hermite_normal(200)
    eta = (beta[0] + beta[1] * x)[:, None, None] + e[None, :, None] + sd * xs[None, None, :]  # (rows, class, node)
    rows = np.where(y[:, None, None] == 1, np.log(expit(eta)), np.log(expit(-eta)))
    per_group = np.stack([np.stack([np.bincount(group, weights=rows[:, c, k]) for k in range(len(xs))], axis=1)
                          for c in range(2)], axis=1)  # (groups, class, node)
    group_value = logsumexp(per_group + np.log(pi)[None, :, None], axis=1)  # (groups, node)
    school_value = np.stack([np.bincount(np.arange(S * K) // K, weights=group_value[:, k]) for k in range(len(xs))],
                            axis=1)
    loglik = logsumexp(school_value + log_w, axis=1).sum()
    assert abs(fine.loglik - loglik) < 1e-6
    assert abs(res.loglik - loglik) < 2e-3  # the fit's own 8-point adaptive rule
    # posterior class probabilities of the groups: P(c | y) averaged over the school effect's posterior
    posterior_school = np.exp(school_value + log_w - logsumexp(school_value + log_w, axis=1, keepdims=True))
    given = np.exp(per_group + np.log(pi)[None, :, None] - group_value[:, None, :])  # (groups, class, node)
    by_hand = np.einsum("gcn,gn->gc", given, posterior_school[np.arange(S * K) // K])
    np.testing.assert_allclose(fine.class_probabilities().to_numpy(), by_hand, atol=1e-6)
    assert (by_hand.argmax(axis=1) == (mass > 0)).mean() > 0.8
    # EB: class locations of the groups, and the school effects' posterior means and SDs over the 200 nodes
    eb = fine.empirical_bayes()
    np.testing.assert_allclose(eb["group"]["(Intercept)"], by_hand @ e, atol=1e-6)
    school_mean = posterior_school @ (sd * xs)
    school_sd = np.sqrt(posterior_school @ (sd * xs) ** 2 - school_mean ** 2)
    np.testing.assert_allclose(eb["school"]["(Intercept)"], school_mean, atol=1e-5)
    np.testing.assert_allclose(eb["school"]["sd((Intercept))"], school_sd, atol=1e-5)
    # EB predictions plug in both; new data: a known school and group get their EB values, new ones the prior
    eta0 = beta[0] + beta[1] * x
    expected = expit(eta0 + (by_hand @ e)[group] + school_mean[school])
    np.testing.assert_allclose(fine.predict(latent="eb"), expected, atol=1e-5)
    new = data.iloc[[0, 1]].assign(group=[0, 999], school=[0, 999])
    expected_new = expit(eta0[[0, 1]] + np.array([by_hand[0] @ e, pi @ e]) + np.array([school_mean[0], 0.0]))
    np.testing.assert_allclose(fine.predict(new, latent="eb"), expected_new, atol=1e-5)
    marginal = np.einsum("c,icn,n->i", pi, expit(eta0[[0, 1], None, None] + e[None, :, None] + sd * xs[None, None, :]),
                         np.exp(log_w))
    np.testing.assert_allclose(fine.predict(new, latent="marginal"), marginal, atol=1e-6)


def test_latent_classes_of_clusters_in_multilevel_syntax_equal_brute_force():
    """Model syntax with two levels: clusters belong to latent classes (class-specific item logits at level 2)
    while units have a normal random intercept f (level 1) integrated within every class."""
    rng = np.random.default_rng(21)
    K, n = 80, 6
    cl = np.repeat(np.arange(K), n)
    first = rng.random(K) < 0.55
    logits = np.where(first[:, None], [1.5, 1.0, 0.5, 1.2], [-1.0, -0.5, -1.5, 0.0])[cl]
    b = rng.normal(scale=0.8, size=K * n)
    Y = (rng.random((K * n, 4)) < expit(logits + b[:, None])).astype(float)
    data = pd.DataFrame(Y, columns=["y1", "y2", "y3", "y4"]).assign(cl=cl)
    model = "level: 1\nf =~ 1*y1 + 1*y2 + 1*y3 + 1*y4\nlevel: 2\nC =~ y1 + y2 + y3 + y4"
    res = gllamm.fit(model, data, family="binomial", classes={"C": 2}, cluster="cl", starts=2, nip=12)
    assert res.converged and res.n_groups == {"unit": K * n, "cl": K}
    E = np.array([[res.params[f"C{c}:y{k}"] for k in range(1, 5)] for c in (1, 2)])
    pi = res.params[["P(C1)", "P(C2)"]].to_numpy()
    x, log_w = _gauss_hermite_normal(80)
    eta = E[None, :, None, :] + np.sqrt(res.params["f~~f"]) * x[None, None, :, None]  # (1, class, node, item)
    log_f = np.sum(np.where(Y[:, None, None, :] == 1, np.log(expit(eta)), np.log(expit(-eta))), axis=-1)
    per_unit = logsumexp(log_f + log_w, axis=2)  # (units, class)
    per_cluster = np.stack([np.bincount(cl, weights=per_unit[:, c]) for c in range(2)], axis=1)
    loglik = logsumexp(np.log(pi) + per_cluster, axis=1).sum()
    assert abs(res.loglik - loglik) < 1e-5
    posterior = res.class_probabilities()
    assert len(posterior) == K and (posterior.to_numpy().argmax(axis=1) == (~first).astype(int)).mean() > 0.85


def test_predictions_with_classes_over_a_normal_level():
    """Fitted-data predictions of a model with classes of schools and normal group effects: per class (group
    effect 0), marginal (sum over classes of a 60-node integral over the group effect) and EB."""
    rng = np.random.default_rng(2)
    S, K, n = 30, 4, 6
    school = np.repeat(np.arange(S), K * n)
    group = np.repeat(np.arange(S * K), n)
    x = rng.normal(size=S * K * n)
    mass = rng.choice([-1.0, 0.8], size=S)
    y = rng.binomial(1, expit(0.2 + 0.5 * x + mass[school] + rng.normal(scale=0.7, size=S * K)[group]))
    data = pd.DataFrame(dict(y=y, x=x, school=school, group=group))
    res = gllamm.fit("y ~ x + (1 | school) + (1 | group)", data, family="binomial", classes={"school": 2}, starts=2)
    beta = res.params[["(Intercept)", "x"]].to_numpy()
    e = res.params[["class1:(Intercept)|school", "class2:(Intercept)|school"]].to_numpy()
    pi = res.params[["P(class1)", "P(class2)"]].to_numpy()
    eta0 = beta[0] + beta[1] * x
    per_class = res.predict(latent="class")
    np.testing.assert_allclose(per_class.to_numpy(), expit(eta0[:, None] + e[None, :]), atol=1e-12)
    xs, log_w = _gauss_hermite_normal(60)
    sd = np.sqrt(res.params["var((Intercept)|group)"])
    direct = np.einsum("c,icn,n->i", pi, expit(eta0[:, None, None] + e[None, :, None] + sd * xs[None, None, :]),
                       np.exp(log_w))
    np.testing.assert_allclose(res.predict(latent="marginal"), direct, atol=1e-6)
    posterior = res.class_probabilities().to_numpy()
    eb_group = res.empirical_bayes()["(Intercept)"].to_numpy()
    expected = expit(eta0 + (posterior @ e)[school] + eb_group[group])
    np.testing.assert_allclose(res.predict(latent="eb"), expected, atol=1e-10)


@pytest.mark.slow  # 4 s: starts two processes; CI runs it (python -m pytest -m slow)
def test_starts_in_parallel_processes_give_the_serial_runs():
    """n_jobs=2 shares the starts between two processes: the same runs, the same chosen fit."""
    data = gllamm.datasets.load("lsat7")
    model = "theta =~ Q1 + Q2 + Q3 + Q4 + Q5"
    serial = gllamm.fit(model, data, family="binomial", classes=2, starts=4)
    parallel = gllamm.fit(model, data, family="binomial", classes=2, starts=4, n_jobs=2)
    np.testing.assert_allclose(np.asarray(parallel.theta), np.asarray(serial.theta), rtol=1e-10)
    assert parallel.starts.equals(serial.starts)
    with pytest.raises(gllamm.GllammError, match="random starts of latent class models"):
        gllamm.fit(model, data, family="binomial", n_jobs=2)
    with pytest.raises(gllamm.GllammError, match="n_jobs must be a positive number"):
        gllamm.fit(model, data, family="binomial", classes=2, n_jobs=0)
