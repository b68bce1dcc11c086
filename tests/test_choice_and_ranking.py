"""Discrete choice and rankings in long format (family="multinomial", choice_set=...).

Independent checks: a discrete choice without random effects equals statsmodels' ConditionalLogit;
rankings (full and partial, unequal set sizes) equal an exploded-logit likelihood written here in
NumPy and maximised with SciPy; with a random coefficient, one person's likelihood equals a
brute-force integral over a fine grid and the parameters are recovered (fixed seed, within 3.5 SEs).
"""

import runpy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats
from scipy.special import logsumexp

import gllamm

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TRUTH = {"C(alt)[T.car]": 0.5, "C(alt)[T.train]": -0.3, "price": -0.6, "time": -0.7, "var(price|person)": 0.16}


def _simulate(persons=150, tasks=6, seed=3, partial=0.0, drop=0.0):
    """Rankings of 3 alternatives by eta + Gumbel noise (exploded logit); a random price coefficient per person.

    partial: share of sets ranked only first (others missing); drop: share of sets without 'train'.
    """
    rng = np.random.default_rng(seed)
    alternatives = np.array(["bus", "car", "train"])
    asc = np.array([0.0, TRUTH["C(alt)[T.car]"], TRUTH["C(alt)[T.train]"]])
    slope = TRUTH["price"] + rng.normal(0, np.sqrt(TRUTH["var(price|person)"]), persons)
    rows = []
    for p in range(persons):
        for t in range(tasks):
            keep = np.arange(2 if rng.uniform() < drop else 3)
            price, time = rng.uniform(1, 5, 3)[keep], rng.uniform(0, 2, 3)[keep]
            eta = asc[keep] + slope[p] * price + TRUTH["time"] * time
            rank = np.argsort(np.argsort(-(eta + rng.gumbel(size=len(keep))))) + 1.0
            if rng.uniform() < partial:
                rank[rank > 1] = np.nan
            for a in keep:
                rows.append(dict(person=p, case=f"{p}-{t}", alt=alternatives[a], price=price[a], time=time[a],
                                 rank=rank[a]))
    data = pd.DataFrame(rows)
    data["chosen"] = (data["rank"] == 1).astype(int)
    return data


def _exploded_loglik(beta, X, ranks, sets):
    """sum over sets and stages t of eta_(t) - log sum_{not ranked before t} exp(eta), written independently."""
    eta = X @ beta
    total = 0.0
    for rows in sets:
        e, r = eta[rows], ranks[rows]
        r = np.where(np.isnan(r), np.inf, r)
        for t in range(1, int(min(np.sum(np.isfinite(r)), len(rows) - 1)) + 1):
            total += e[r == t][0] - logsumexp(e[r >= t])
    return total


def test_discrete_choice_equals_statsmodels_conditional_logit():
    from statsmodels.discrete.conditional_models import ConditionalLogit

    data = _simulate(persons=100, drop=0.3)
    ours = gllamm.fit("chosen ~ C(alt) + price + time", data, family="multinomial", choice_set="case")
    assert ours.converged and ours.nobs == data.case.nunique()
    X = pd.get_dummies(data.alt, drop_first=True).astype(float).assign(price=data.price, time=data.time)
    model = ConditionalLogit(data.chosen, X, groups=data.case)
    theirs = model.fit(disp=False, method="newton", maxiter=100)
    # their log-likelihood function at our estimates and our log-likelihood agree exactly
    assert abs(model.loglike(ours.params.to_numpy()) - ours.loglik) < 1e-9
    assert abs(theirs.llf - ours.loglik) < 1e-6
    np.testing.assert_allclose(ours.params.to_numpy(), theirs.params.to_numpy(), atol=1e-5)
    np.testing.assert_allclose(ours.se.to_numpy(), theirs.bse.to_numpy(), rtol=1e-4)


@pytest.mark.slow  # (several seconds; CI runs it: python -m pytest -m slow)
def test_rankings_equal_an_independent_exploded_logit():
    data = _simulate(persons=80, partial=0.3, drop=0.2)
    ours = gllamm.fit("rank ~ C(alt) + price + time", data, family="multinomial", choice_set="case")
    assert ours.converged
    X = np.column_stack([data.alt == "car", data.alt == "train", data.price, data.time]).astype(float)
    sets = [np.flatnonzero(data.case.to_numpy() == c) for c in data.case.unique()]
    ranks = data["rank"].to_numpy()
    best = optimize.minimize(lambda b: -_exploded_loglik(b, X, ranks, sets), np.zeros(4), method="BFGS",
                             options=dict(gtol=1e-9))
    assert abs(-best.fun - ours.loglik) < 1e-6
    np.testing.assert_allclose(ours.params.to_numpy(), best.x, atol=1e-4)
    # at the same parameters the two likelihoods are equal to rounding
    assert abs(_exploded_loglik(ours.params.to_numpy(), X, ranks, sets) - ours.loglik) < 1e-9
    # a first-choice-only ranking is the discrete choice model
    chosen = gllamm.fit("chosen ~ C(alt) + price + time", data, family="multinomial", choice_set="case")
    first = gllamm.fit("rank ~ C(alt) + price + time", data.assign(rank=data["rank"].where(data["rank"] == 1)),
                       family="multinomial", choice_set="case")
    assert abs(chosen.loglik - first.loglik) < 1e-9


@pytest.mark.slow  # (several seconds; CI runs it: python -m pytest -m slow)
def test_ranking_with_random_coefficient_recovers_and_integrates_correctly(tmp_path):
    data = _simulate(persons=250, partial=0.2)
    result = gllamm.fit("rank ~ C(alt) + price + time + (0 + price | person)", data, family="multinomial",
                        choice_set="case", nip=12)
    assert result.converged
    for name, value in TRUTH.items():
        assert abs(result.params[name] - value) < 3.5 * result.se[name], name
    # person 0's likelihood: a grid over the random price coefficient b ~ N(0, var)
    p = result.params
    rows = data[data.person == 0]
    grid = np.linspace(-8, 8, 4001) * np.sqrt(p["var(price|person)"])
    X = np.column_stack([rows.alt == "car", rows.alt == "train", rows.price, rows.time]).astype(float)
    beta = p[["C(alt)[T.car]", "C(alt)[T.train]", "price", "time"]].to_numpy()
    sets = [np.flatnonzero(rows.case.to_numpy() == c) for c in rows.case.unique()]
    values = np.array([_exploded_loglik(beta + np.array([0, 0, b, 0]), X, rows["rank"].to_numpy(), sets) for b in grid])
    density = stats.norm(0, np.sqrt(p["var(price|person)"])).pdf(grid)
    brute = np.log(np.sum(np.exp(values) * density) * (grid[1] - grid[0]))
    assert abs(brute - result.cluster_loglik().loc[0]) < 1e-6
    # first-choice probabilities: sum to one in every set; u = 0 equals the softmax by hand
    probability = result.predict(type="probability")
    assert np.allclose(pd.Series(probability).groupby(data.case.to_numpy()).sum(), 1.0)
    eta = X @ beta
    np.testing.assert_allclose(probability[rows.index[:3]], np.exp(eta[:3] - logsumexp(eta[:3])), rtol=1e-10)
    # marginal: the average over the random coefficient, by the grid
    marginal = result.predict(type="probability", latent="marginal")
    weights = density / density.sum()
    by_grid = sum(w * np.exp((eta[:3] + b * X[:3, 2]) - logsumexp(eta[:3] + b * X[:3, 2]))
                  for w, b in zip(weights, grid))
    np.testing.assert_allclose(marginal[rows.index[:3]], by_grid, atol=1e-6)
    eb = result.predict(type="probability", latent="eb")
    # simulation keeps each set's number of ranked alternatives; save/load gives the same predictions
    simulated = result.simulate(seed=4)
    ranked = lambda frame: frame["rank"].notna().groupby(frame.case).sum()  # noqa: E731
    assert ranked(simulated).equals(ranked(data))
    assert set(simulated["rank"].dropna().unique()) <= {1.0, 2.0, 3.0}
    path = tmp_path / "ranking.gllamm"
    result.save(path)
    np.testing.assert_allclose(gllamm.load(path).predict(type="probability", latent="eb"), eb, atol=1e-10)


def test_multinomial_predictions_nominal_form():
    import statsmodels.api as sm

    rng = np.random.default_rng(2)
    n = 600
    x = rng.normal(size=n)
    eta = np.stack([np.zeros(n), 0.3 + 0.8 * x, -0.4 - 0.5 * x], 1)
    p = np.exp(eta - logsumexp(eta, axis=1, keepdims=True))
    y = (p.cumsum(1) < rng.uniform(size=(n, 1))).sum(1)
    data = pd.DataFrame(dict(mode=pd.Categorical(np.array(["bus", "car", "train"])[y]), x=x))
    ours = gllamm.fit("mode ~ x", data, family="multinomial")
    theirs = sm.MNLogit(y, sm.add_constant(x)).fit(disp=False, method="newton")
    np.testing.assert_allclose(ours.predict(type="probability").to_numpy(), theirs.predict(), atol=1e-6)
    new = pd.DataFrame(dict(x=[-1.0, 0.0, 2.0]))
    np.testing.assert_allclose(ours.predict(new, type="probability").to_numpy(),
                               theirs.predict(sm.add_constant(new.x, has_constant="add")), atol=1e-6)
    simulated = ours.simulate(seed=1)
    assert isinstance(simulated["mode"].dtype, pd.CategoricalDtype)
    assert set(simulated["mode"]) <= {"bus", "car", "train"}
    with pytest.raises(gllamm.GllammError, match="type='probability'"):
        ours.predict(type="mean")


@pytest.mark.parametrize("change, message", [
    (lambda d: d.assign(rank=d["rank"].replace(3.0, 2.0)), "ties are not allowed"),
    (lambda d: d.assign(rank=d["rank"].replace(2.0, 4.0)), "skip a number"),
    (lambda d: d.assign(rank=d["rank"].where(d.case != "0-0")), "no chosen alternative"),
    (lambda d: d.assign(rank=d["rank"] - 0.5), "whole-number ranks"),
])
def test_bad_rankings_are_explained(change, message):
    data = _simulate(persons=10)
    with pytest.raises(gllamm.GllammError, match=message):
        gllamm.fit("rank ~ C(alt) + price", change(data), family="multinomial", choice_set="case")


def test_unidentified_choice_models_are_explained():
    data = _simulate(persons=10)
    data["age"] = data.person * 1.0
    fit = lambda formula, **kw: gllamm.fit(formula, data, family="multinomial", **kw)  # noqa: E731
    with pytest.raises(gllamm.GllammError, match="age take"):
        fit("chosen ~ C(alt) + price + age", choice_set="case")
    with pytest.raises(gllamm.GllammError, match="shared by all alternatives cancels"):
        fit("chosen ~ C(alt) + price + (1 | person)", choice_set="case")
    with pytest.raises(gllamm.GllammError, match="different 'person' units"):
        gllamm.fit("chosen ~ C(alt) + price + (0 + price | person)",
                   data.assign(person=np.arange(len(data)) % 7), family="multinomial", choice_set="case")
    with pytest.raises(gllamm.GllammError, match="weights= differ within choice set"):
        fit("chosen ~ C(alt) + price", choice_set="case", weights=np.arange(len(data)) + 1.0)
    with pytest.raises(gllamm.GllammError, match="choice_set= is for discrete choice"):
        gllamm.fit("chosen ~ price", data, family="binomial", choice_set="case")
    with pytest.raises(gllamm.GllammError, match="Column 'cases'"):
        fit("chosen ~ C(alt) + price", choice_set="cases")


@pytest.mark.slow
def test_multilevel_multinomial_example():
    example = runpy.run_path(str(EXAMPLES / "multilevel_multinomial.py"))
    result, conditional, marginal = example["main"]()
    assert result.converged
    for name, value in example["TRUTH"].items():
        assert abs(result.params[name] - value) < 3.5 * result.se[name], name
    assert np.allclose(marginal.sum(axis=1), 1.0) and np.allclose(conditional.sum(axis=1), 1.0)
    assert np.abs(marginal.to_numpy() - conditional.to_numpy()).max() > 0.01  # averaging over schools matters


@pytest.mark.slow  # (several seconds; CI runs it: python -m pytest -m slow)
def test_ranking_example():
    example = runpy.run_path(str(EXAMPLES / "ranking.py"))
    result = example["main"]()
    assert result.converged
    for name, value in example["TRUTH"].items():
        assert abs(result.params[name] - value) < 3.5 * result.se[name], name
