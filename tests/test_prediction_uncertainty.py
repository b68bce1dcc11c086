"""Predictions on the user's rows (a Series on the data frame's index, NaN for dropped rows) and their standard
errors by the delta method, checked against a parametric simulation: 1,000 draws of the parameters from their
estimated normal distribution, each turned into predictions by an independent NumPy computation (the inverse
logit, and for marginal means 60-point Gauss-Hermite quadrature over the random intercept)."""

import numpy as np
import pandas as pd
import pytest
from scipy import special

import gllamm


@pytest.fixture(scope="module")
def contraception():
    data = gllamm.datasets.load("contraception")
    data.index = data.index + 1000
    data.loc[data.index[:5], "age"] = np.nan
    with pytest.warns(gllamm.DataWarning, match="Dropped 5"):
        result = gllamm.fit("use ~ age + urban + (1 | district)", data, family="binomial")
    return result, data


def test_predictions_are_aligned_to_the_data_frame(contraception):
    result, data = contraception
    from gllamm.results.predictions import predict

    prediction = result.predict()
    assert isinstance(prediction, pd.Series) and prediction.index.equals(data.index)
    assert prediction.iloc[:5].isna().all() and prediction.iloc[5:].notna().all()
    np.testing.assert_array_equal(prediction.iloc[5:].to_numpy(), predict(result, None))
    new = result.predict(data.iloc[:10])
    assert new.index.equals(data.index[:10]) and new.iloc[:5].isna().all()
    np.testing.assert_allclose(new.iloc[5:], prediction.iloc[5:10], rtol=1e-12)


def _draws(result, n=1000, seed=1):
    rng = np.random.default_rng(seed)
    return rng.multivariate_normal(np.asarray(result.theta), result.theta_vcov, size=n)


@pytest.mark.slow  # 6 s: 1,000 draws and a marginal Jacobian; CI runs it (python -m pytest -m slow)
def test_standard_errors_match_a_parametric_simulation(contraception):
    result, data = contraception
    frame = result.predict(se=True).iloc[5:]
    X = result.design.X
    draws = _draws(result)
    conditional = special.expit(draws[:, :3] @ X.T)  # (draws, rows): beta comes first in theta
    simulated = conditional.std(axis=0)
    assert np.median(np.abs(frame["se"].to_numpy() / simulated - 1)) < 0.05
    assert ((frame["lower"] < frame["mean"]) & (frame["mean"] < frame["upper"])).all()

    marginal = result.predict(se=True, latent="marginal").iloc[5:]
    np.testing.assert_allclose(marginal["mean"], result.predict(latent="marginal").iloc[5:], rtol=1e-8)
    nodes, weights = np.polynomial.hermite.hermgauss(60)
    sd = np.abs(draws[:, 3])  # the random intercept's SD (its Cholesky element)
    eta = draws[:, :3] @ X.T  # (draws, rows)
    means = np.einsum("k,dik->di", weights / np.sqrt(np.pi),
                      special.expit(eta[:, :, None] + np.sqrt(2) * sd[:, None, None] * nodes[None, None, :]))
    assert np.median(np.abs(marginal["se"].to_numpy() / means.std(axis=0) - 1)) < 0.05


def test_link_scale_standard_errors_are_exact_for_linear_predictors(contraception):
    result, data = contraception
    frame = result.get_prediction(data.iloc[5:15], type="link")
    X = result.design.X[:10]
    V = result.vcov.loc[list(result.spec.fixed_names), list(result.spec.fixed_names)].to_numpy()
    np.testing.assert_allclose(frame["se"], np.sqrt(np.einsum("ij,jk,ik->i", X, V, X)), rtol=1e-10)
    np.testing.assert_allclose(frame["upper"] - frame["mean"], 1.959963984540054 * frame["se"], rtol=1e-10)


def test_predictions_of_model_syntax_are_units_by_indicators():
    data = gllamm.datasets.load("holzinger")
    data.index = data.index + 100
    data.loc[101, "x2"] = np.nan
    with pytest.warns(gllamm.DataWarning, match="1 missing responses"):
        result = gllamm.fit("visual =~ x1 + x2 + x3", data)
    prediction = result.predict(latent="eb")
    assert list(prediction.columns) == ["x1", "x2", "x3"] and prediction.index.equals(data.index)
    assert np.isnan(prediction.loc[101, "x2"]) and prediction.drop(101).notna().all().all()
    from gllamm.results.predictions import predict

    values = prediction.to_numpy().ravel()
    np.testing.assert_array_equal(np.sort(values[~np.isnan(values)]), np.sort(predict(result, None, latent="eb")))
    with pytest.warns(gllamm.DataWarning):
        new = result.predict(data.iloc[:3], latent="eb")
    np.testing.assert_allclose(new.to_numpy(), prediction.iloc[:3].to_numpy(), rtol=1e-8)


def test_unsupported_standard_errors_say_what_to_do():
    data = gllamm.datasets.load("holzinger")
    result = gllamm.fit("visual =~ x1 + x2 + x3", data)
    with pytest.raises(gllamm.GllammError, match="model syntax.*bootstrap"):
        result.predict(se=True)


def test_posterior_mean_of_the_mean_is_gllapreds_mu(contraception):
    """latent='posterior' = E[expit(x'b + u) | y_j] (gllapred, mu), checked by brute force on a fine grid of the
    random intercept for three districts; latent='eb' plugs E[u | y_j] in instead and differs."""
    result, data = contraception
    posterior = result.predict(latent="posterior")
    eb = result.predict(latent="eb")
    frame = data.iloc[5:].copy()
    beta, sd = result.fixed_effects.to_numpy(), np.sqrt(result.params["var((Intercept)|district)"])
    eta = result.design.X @ beta
    grid = np.linspace(-8 * sd, 8 * sd, 4001)
    log_prior = -0.5 * (grid / sd) ** 2
    for district in frame.district.unique()[:3]:
        rows = np.flatnonzero(frame.district.to_numpy() == district)
        y = frame.use.to_numpy()[rows]
        p = special.expit(eta[rows, None] + grid[None, :])
        log_post = log_prior + np.sum(np.where(y[:, None] == 1, np.log(p), np.log1p(-p)), axis=0)
        weight = np.exp(log_post - log_post.max())
        weight /= weight.sum()
        np.testing.assert_allclose(posterior.iloc[5:].to_numpy()[rows], p @ weight, rtol=2e-6)
    assert np.abs(posterior - eb).max() > 1e-3
    with pytest.raises(gllamm.GllammError, match="leave out newdata"):
        result.predict(data.iloc[:3], latent="posterior")


@pytest.mark.slow  # 4 s: a three-level Laplace fit
def test_standard_errors_of_nested_and_crossed_models():
    """The marginal mean integrates every level's effects (nested or crossed): it equals predict(latent='marginal')
    (computed level by level by product rules); latent='zero' SEs are those of x'b."""
    from reference_cases import REFERENCE_DIR

    data = pd.read_csv(REFERENCE_DIR / "four_level.csv")
    nested = gllamm.fit("y ~ x + (1 | cls) + (1 | school) + (1 | district)", data, family="binomial",
                        method="laplace")
    frame = nested.predict(se=True, latent="marginal")
    np.testing.assert_allclose(frame["mean"], nested.predict(latent="marginal"), atol=1e-6)
    new = nested.predict(data.iloc[:4], se=True, latent="marginal")
    np.testing.assert_allclose(new.to_numpy(), frame.iloc[:4].to_numpy(), rtol=1e-10)
    link = nested.get_prediction(type="link")
    X, V = nested.design.X, nested.vcov.loc[["(Intercept)", "x"], ["(Intercept)", "x"]].to_numpy()
    np.testing.assert_allclose(link["se"], np.sqrt(np.einsum("ij,jk,ik->i", X, V, X)), rtol=1e-10)
    crossed = gllamm.fit("r2 ~ anger + male + (1 | id) + (1 | item)", gllamm.datasets.load("verbagg"),
                         family="binomial")
    np.testing.assert_allclose(crossed.predict(se=True, latent="marginal")["mean"],
                               crossed.predict(latent="marginal"), atol=1e-5)


def test_bad_options_of_the_new_post_estimation_are_named(contraception):
    result, data = contraception
    with pytest.raises(gllamm.GllammError, match="layout"):
        result.predict(layout="tall")
    with pytest.raises(gllamm.GllammError, match="level must be a number between 0 and 1"):
        result.predict(se=True, level=95)
    with pytest.raises(gllamm.GllammError, match="latent"):
        result.marginal_effects(latent="eb")
    with pytest.raises(gllamm.GllammError, match="type='probability'"):
        result.predict(se=True, type="probability")
    with pytest.raises(gllamm.GllammError, match="n_boot must be a positive whole number"):
        result.bootstrap(n_boot=0)


def test_saved_predictions_keep_the_data_frames_rows(contraception, tmp_path):
    """The rows' positions and a text index are saved as data (no pickle) and predictions stay aligned."""
    result, data = contraception
    labelled = data.set_axis([f"w{i}" for i in range(len(data))])
    with pytest.warns(gllamm.DataWarning):
        fit = gllamm.fit("use ~ age + urban + (1 | district)", labelled, family="binomial")
    path = fit.save(tmp_path / "fit.gllamm")
    loaded = gllamm.load(path)
    before, after = fit.predict(), loaded.predict()
    assert list(after.index) == list(labelled.index) and after.iloc[:5].isna().all()
    np.testing.assert_allclose(after.to_numpy(), before.to_numpy(), rtol=1e-12)
