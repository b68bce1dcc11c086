"""Level-1 scale modelled on covariates: scaled ordinal probit, Gaussian heteroscedasticity, scaled binary probit.

References: tests/reference/wine_clm_scale.json (ordinal::clm(scale = ~ contact_yes), probit; script
tests/reference/r/wine_clmm.R) and exam_heteroscedastic.json (glmmTMB dispformula = ~ girl, which
models log sigma^2, i.e. twice our log-SD coefficients; script tests/reference/r/heteroscedastic_glmmtmb.R).
"""

import numpy as np
import pandas as pd
import pytest

import gllamm
from reference_cases import load_reference


def test_scaled_ordinal_probit_matches_clm():
    ref = load_reference("wine_clm_scale")
    result = gllamm.fit("rating ~ temp_warm + contact_yes", gllamm.datasets.load("wine"), family="ordinal",
                        link="probit", scale="~ contact_yes")
    assert result.converged
    assert abs(result.loglik - ref["loglik"]) < 1e-6
    names = {"contact_yes.1": "scale:contact_yes"}
    for name, value in ref["coef"].items():
        ours = names.get(name, name)
        assert abs(result.params[ours] - value) < 2e-4, name
        assert abs(result.se[ours] / ref["coef_se"][name] - 1) < 0.02, name
    assert "Level-1 scale" in result.summary()


def test_gaussian_heteroscedastic_matches_glmmtmb():
    ref = load_reference("exam_heteroscedastic")
    result = gllamm.fit("normexam ~ standlrt + (1 | school)", gllamm.datasets.load("exam"), scale="~ girl")
    assert result.converged
    assert abs(result.loglik - ref["loglik"]) < 1e-4
    for name, value in ref["fixef"].items():
        assert abs(result.params[name] - value) < 2e-4
        assert abs(result.se[name] / ref["fixef_se"][name] - 1) < 0.02
    for (name, value), se in zip(ref["disp"].items(), ref["disp_se"].values()):
        assert abs(2 * result.params[f"scale:{name}"] - value) < 2e-4
        assert abs(2 * result.se[f"scale:{name}"] / se - 1) < 0.02
    assert abs(result.params["var((Intercept)|school)"] / ref["var_school"] - 1) < 0.01
    assert "var(Residual)" not in result.params.index


def test_scaled_probit_recovers_simulated_values():
    """Binary probit with a random intercept and latent-response SD exp(0.5 v): seeded data, 3.5 SE."""
    rng = np.random.default_rng(11)
    clusters, size = 400, 8
    g = np.repeat(np.arange(clusters), size)
    x, v = rng.normal(size=g.size), rng.binomial(1, 0.5, g.size)
    latent = 0.3 + 0.7 * x + rng.normal(scale=0.8, size=clusters)[g] + np.exp(0.5 * v) * rng.normal(size=g.size)
    data = pd.DataFrame(dict(y=(latent > 0).astype(float), x=x, v=v, g=g))
    result = gllamm.fit("y ~ x + (1 | g)", data, family="binomial", link="probit", scale="~ v")
    assert result.converged
    truth = {"(Intercept)": 0.3, "x": 0.7, "var((Intercept)|g)": 0.64, "scale:v": 0.5}
    for name, value in truth.items():
        assert abs(result.params[name] - value) < 3.5 * result.se[name], (name, result.params[name])
    # simulate() draws from the scaled model: a refit of simulated data stays near the estimates
    refit = result.refit(result.simulate(seed=5), start=result)
    assert abs(refit.params["scale:v"] - result.params["scale:v"]) < 4 * result.se["scale:v"]


def test_scale_errors_name_the_problem():
    wine = gllamm.datasets.load("wine")
    with pytest.raises(gllamm.GllammError, match="identified only relative"):
        gllamm.fit("rating ~ temp_warm", wine, family="ordinal", scale="~ 1")
    with pytest.raises(gllamm.GllammError, match="one-sided"):
        gllamm.fit("rating ~ temp_warm", wine, family="ordinal", scale="y ~ contact_yes")
    with pytest.raises(gllamm.GllammError, match="Column 'contct_yes'"):
        gllamm.fit("rating ~ temp_warm", wine, family="ordinal", scale="~ contct_yes")
    with pytest.raises(gllamm.GllammError, match="Poisson"):
        gllamm.fit("rating ~ temp_warm", wine, family="poisson", scale="~ contact_yes")
