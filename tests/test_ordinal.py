"""Ordinal (cumulative link) responses: R's ordinal package, statsmodels, simulation, bad input.

References: tests/reference/wine.json (ordinal::clmm, logit, shared reference) and
wine_probit.json, wine_cloglog.json, wine_clm.json written by tests/reference/r/wine_clmm.R
(the exact R call is in each file's "call"). Tolerances as the issue states: log-likelihood
1e-3, coefficients 2e-3, SEs 2% relative, the judge variance 1% relative.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import gllamm
from reference_cases import load_reference

WINE = "rating ~ temp_warm + contact_yes + (1 | judge)"


def _check(result, ref):
    assert result.converged, result.message
    assert abs(result.loglik - ref["loglik"]) < 1e-3
    coefficients = ref.get("coef", ref.get("fixef"))
    errors = ref.get("coef_se", ref.get("fixef_se"))
    for name, value in coefficients.items():
        assert abs(result.params[name] - value) < 2e-3, name
        assert abs(result.se[name] / errors[name] - 1) < 0.02, name
    for row in ref.get("varcorr", []):
        assert abs(result.params["var((Intercept)|judge)"] / row["vcov"] - 1) < 0.01


@pytest.mark.slow
@pytest.mark.parametrize("link,reference", [("logit", "wine"), ("probit", "wine_probit")])
def test_wine_matches_clmm(link, reference):
    result = gllamm.fit(WINE, gllamm.datasets.load("wine"), family="ordinal", link=link, nip=10)
    _check(result, load_reference(reference))
    assert list(result.params.index[2:6]) == ["1|2", "2|3", "3|4", "4|5"]
    assert "(Intercept)" not in result.params.index


def _grid_loglik(data, kappa, beta, variance):
    """Independent check: sum over judges of log int prod_i P(y_i | u) N(u; 0, variance) du on a fine grid (cloglog)."""
    cdf = lambda x: -np.expm1(-np.exp(x))
    bounds = np.r_[-np.inf, kappa, np.inf]
    u = np.linspace(-10, 10, 20001) * np.sqrt(variance)
    density = np.exp(-u**2 / (2 * variance)) / np.sqrt(2 * np.pi * variance)
    total = 0.0
    for _, group in data.groupby("judge"):
        eta = group[["temp_warm", "contact_yes"]].to_numpy() @ beta
        probability = np.ones_like(u)
        for e, y in zip(eta, group.rating):
            probability *= cdf(bounds[y] - e - u) - cdf(bounds[y - 1] - e - u)
        total += np.log(np.sum(probability * density) * (u[1] - u[0]))
    return total


@pytest.mark.slow
def test_wine_cloglog_equals_direct_integration():
    """clmm (tests/reference/wine_cloglog.json) stops at loglik -82.726 with thresholds ~1 higher; the
    cloglog likelihood evaluated independently on a grid is larger at gllamm's optimum, which we check."""
    wine = gllamm.datasets.load("wine")
    result = gllamm.fit(WINE, wine, family="ordinal", link="cloglog", nip=10)
    assert result.converged
    p = result.params
    direct = _grid_loglik(wine, p[["1|2", "2|3", "3|4", "4|5"]].to_numpy(), p[["temp_warm", "contact_yes"]].to_numpy(),
                          p["var((Intercept)|judge)"])
    assert abs(result.loglik - direct) < 1e-5
    assert result.loglik > load_reference("wine_cloglog")["loglik"] + 1.0


def test_without_random_effects_matches_clm_and_statsmodels():
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    wine = gllamm.datasets.load("wine")
    result = gllamm.fit("rating ~ temp_warm + contact_yes", wine, family="ordinal")
    _check(result, load_reference("wine_clm"))
    for link, distr in (("logit", "logit"), ("probit", "probit")):
        ours = gllamm.fit("rating ~ temp_warm + contact_yes", wine, family="ordinal", link=link)
        sm = OrderedModel(wine.rating, wine[["temp_warm", "contact_yes"]], distr=distr).fit(method="bfgs", disp=False,
                                                                                           gtol=1e-10, maxiter=2000)
        assert abs(ours.loglik - sm.llf) < 1e-6
        np.testing.assert_allclose(ours.params[["temp_warm", "contact_yes"]], sm.params[:2], atol=1e-4)
        # statsmodels: first threshold, then log increments
        kappa = np.cumsum(np.r_[sm.params.iloc[2], np.exp(sm.params.iloc[3:])])
        np.testing.assert_allclose(ours.params[["1|2", "2|3", "3|4", "4|5"]], kappa, atol=1e-4)


def _simulate_ordinal(link, seed=3, clusters=300, size=8):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(clusters), size)
    x = rng.normal(size=g.size)
    eta = 0.8 * x + rng.normal(scale=np.sqrt(0.7), size=clusters)[g]
    kappa = np.array([-1.0, 0.3, 1.5])
    noise = {"logit": rng.logistic, "probit": rng.normal, "cloglog": lambda size: np.log(rng.exponential(size=size))}[link]
    # latent response y* = eta + e with F the cdf of e, so P(y <= k) = F(kappa_k - eta);
    # for cloglog F(t) = 1 - exp(-exp(t)) is the cdf of log(Exponential(1))
    latent = eta + noise(size=g.size)
    y = 1 + np.searchsorted(kappa, latent)
    return pd.DataFrame(dict(y=y, x=x, g=g)), dict(zip(["1|2", "2|3", "3|4"], kappa)) | {"x": 0.8, "var((Intercept)|g)": 0.7}


@pytest.mark.slow
@pytest.mark.parametrize("link", ["logit", "probit", "cloglog"])
def test_recovers_simulated_ordinal_model(link):
    data, truth = _simulate_ordinal(link)
    result = gllamm.fit("y ~ x + (1 | g)", data, family="ordinal", link=link)
    assert result.converged
    for name, value in truth.items():  # within 3.5 standard errors (seeded data, fixed outcome)
        assert abs(result.params[name] - value) < 3.5 * result.se[name], (name, result.params[name], value)


def test_ordered_categorical_response_uses_its_category_order():
    wine = gllamm.datasets.load("wine")
    labels = np.array(["awful", "bad", "fair", "good", "great"])
    wine["taste"] = pd.Categorical(labels[wine.rating - 1], categories=list(labels), ordered=True)
    result = gllamm.fit("taste ~ temp_warm + contact_yes + (1 | judge)", wine, family="ordinal", nip=10)
    assert list(result.params.index[2:6]) == ["awful|bad", "bad|fair", "fair|good", "good|great"]
    assert abs(result.loglik - load_reference("wine")["loglik"]) < 1e-3


@pytest.mark.parametrize("change,message", [
    (lambda d: d.assign(rating=d.rating.replace(3, 2)), "no observations in categories 3"),
    (lambda d: d.assign(rating=1), "single category"),
    (lambda d: d.assign(rating=pd.Categorical(d.rating.astype(str))), "unordered categorical"),
    (lambda d: d.assign(rating=pd.Categorical(d.rating, categories=[1, 2, 3, 4, 5, 6], ordered=True)),
     "categories with no observations: 6"),
    (lambda d: d.assign(rating=d.rating + 0.5), "non-integer"),
])
def test_bad_ordinal_responses_are_explained(change, message):
    wine = change(gllamm.datasets.load("wine"))
    with pytest.raises(gllamm.GllammError, match=message):
        gllamm.fit(WINE, wine, family="ordinal")


def test_category_probabilities_simulation_and_save_load(tmp_path):
    from scipy import stats

    wine = gllamm.datasets.load("wine")
    labels = np.array(["awful", "bad", "fair", "good", "great"])
    wine["taste"] = pd.Categorical(labels[wine.rating - 1], categories=list(labels), ordered=True)
    result = gllamm.fit("taste ~ temp_warm + contact_yes + (1 | judge)", wine, family="ordinal", nip=10)
    conditional = result.predict(type="probability")
    marginal = result.predict(type="probability", latent="marginal")
    assert list(marginal.columns) == list(labels)
    np.testing.assert_allclose(conditional.sum(axis=1), 1.0)
    np.testing.assert_allclose(marginal.sum(axis=1), 1.0)
    # marginal P(y = k) of row 4 (warm, no contact) by direct integration over the judge effect
    p = result.params
    kappa = np.r_[-np.inf, p[["awful|bad", "bad|fair", "fair|good", "good|great"]], np.inf]
    sd = np.sqrt(p["var((Intercept)|judge)"])
    u = np.linspace(-10, 10, 8001) * sd
    weight = stats.norm.pdf(u, scale=sd) * (u[1] - u[0])
    eta = p["temp_warm"] * wine.temp_warm[4] + p["contact_yes"] * wine.contact_yes[4]
    direct = [np.sum((stats.logistic.cdf(kappa[k + 1] - eta - u) - stats.logistic.cdf(kappa[k] - eta - u)) * weight)
              for k in range(5)]
    np.testing.assert_allclose(marginal.iloc[4], direct, atol=2e-4)
    simulated = result.simulate(seed=4)
    assert isinstance(simulated.taste.dtype, pd.CategoricalDtype) and set(simulated.taste) <= set(labels)
    path = tmp_path / "wine.gllamm"
    result.save(path)
    assert abs(gllamm.load(path).loglik - result.loglik) < 1e-9
    with pytest.raises(gllamm.GllammError, match="type='probability'"):
        result.predict(type="mean")


def _graded_items(n, seed=1):
    """Graded response model: items with 4, 4, 3 and 2 categories, logit link, f ~ N(0, 1)."""
    rng = np.random.default_rng(seed)
    f = rng.normal(size=n)
    cuts = {"q1": [-1.0, 0.0, 1.0], "q2": [-0.5, 0.8, 1.5], "q3": [-1.0, 0.7], "q4": [0.3]}
    loadings = {"q1": 1.0, "q2": 1.4, "q3": 0.8, "q4": 1.2}
    data = pd.DataFrame({k: 1 + np.searchsorted(np.array(c), loadings[k] * f + rng.logistic(size=n))
                         for k, c in cuts.items()})
    data.loc[rng.choice(n, 40, replace=False), "q2"] = np.nan  # missing responses are left out
    return data, cuts, loadings


@pytest.mark.slow
def test_graded_response_model_items_with_own_thresholds():
    """Ordinal items in a factor model: thresholds per item ("q1|t1", as lavaan), checked by recovery and
    by the marginal likelihood of a 1-d grid integral written here."""
    data, cuts, loadings = _graded_items(1500)
    result = gllamm.fit("f =~ q1 + q2 + q3 + q4", data, family="ordinal", factor_scale="variance", nip=16)
    assert result.converged
    assert result.spec.threshold_names[:4] == ("q1|t1", "q1|t2", "q1|t3", "q2|t1")
    assert "q4|t2" not in result.params  # a binary item has one threshold
    for item, values in cuts.items():
        for k, value in enumerate(values):
            name = f"{item}|t{k + 1}"
            assert abs(result.params[name] - value) < 3.5 * result.se[name], name
        assert abs(result.params[f"f=~{item}"] - loadings[item]) < 3.5 * result.se[f"f=~{item}"], item
    # the log-likelihood by brute force: sum_i log int prod_j P(y_ij | lambda_j f) phi(f) df on a grid
    grid = np.linspace(-8, 8, 2001)
    log_lik = np.zeros((len(data), len(grid)))
    for item in cuts:
        kappa = np.r_[-np.inf, [result.params[f"{item}|t{k + 1}"] for k in range(len(cuts[item]))], np.inf]
        eta = result.params[f"f=~{item}"] * grid
        y = data[item].to_numpy()
        observed = ~np.isnan(y)
        code = y[observed].astype(int)
        cdf = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
        probability = cdf(kappa[code][:, None] - eta) - cdf(kappa[code - 1][:, None] - eta)
        log_lik[observed] += np.log(probability)
    brute = np.sum(np.log(np.exp(log_lik) @ (stats.norm.pdf(grid) * (grid[1] - grid[0]))))
    assert abs(brute - result.loglik) < 1e-5
    probabilities = result.predict(type="probability")
    assert np.allclose(probabilities.sum(axis=1), 1.0) and list(probabilities.columns) == ["1", "2", "3", "4"]
    simulated = result.simulate(seed=2)
    assert set(simulated.q4.dropna().unique()) <= {1.0, 2.0} and set(simulated.q3.dropna().unique()) <= {1.0, 2.0, 3.0}
    assert simulated.q2.isna().sum() == 40


def test_non_proportional_odds_matches_clm_nominal():
    """Thresholds on covariates: R's clm(rating ~ temp_warm, nominal = ~ contact_yes) on wine
    (script tests/reference/r/wine_nominal.R -> wine_nominal.json): log-likelihood -86.20855."""
    import json

    reference = json.loads((Path(__file__).parent / "reference" / "wine_nominal.json").read_text())
    wine = gllamm.datasets.load("wine")
    result = gllamm.fit("rating ~ temp_warm", wine, family="ordinal", nominal="~ contact_yes")
    assert result.converged
    assert abs(result.loglik - reference["loglik"]) < 1e-6
    for name, value in reference["coef"].items():
        ours = name.replace(".(Intercept)", "").replace(".contact_yes", ":contact_yes")
        assert abs(result.params[ours] - value) < 2e-4, name
        assert abs(result.se[ours] / reference["se"][name] - 1) < 1e-3, name
    # category probabilities use each row's own thresholds kappa_k + contact * gamma_k
    p = result.params
    row = wine.iloc[[40]]
    kappa = np.array([p[f"{k}|{k + 1}"] + row.contact_yes.iloc[0] * p[f"{k}|{k + 1}:contact_yes"] for k in range(1, 5)])
    cumulative = 1 / (1 + np.exp(-(kappa - p["temp_warm"] * row.temp_warm.iloc[0])))
    expected = np.diff(np.r_[0.0, cumulative, 1.0])
    np.testing.assert_allclose(result.predict(row, type="probability").to_numpy()[0], expected, atol=1e-12)
    with pytest.raises(gllamm.GllammError, match="in both the formula and nominal="):
        gllamm.fit("rating ~ temp_warm + contact_yes", wine, family="ordinal", nominal="~ contact_yes")
    with pytest.raises(gllamm.GllammError, match="family='ordinal'"):
        gllamm.fit("rating ~ temp_warm", wine, family="gaussian", nominal="~ contact_yes")
