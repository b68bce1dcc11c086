"""Empirical Bayes, predictions, robust SEs, weights, constraints, simulation, save/load and plots."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import gllamm
from reference_cases import REFERENCE_DIR, load_reference, varcorr_name

CONTRACEPTION = "use ~ age + age2 + urban + livch1 + livch2 + livch3 + (1 | district)"


def _reference_theta(spec_result, name):
    """theta at the R reference estimates (fixed effects + VarCorr), to compare EB at identical parameters."""
    ref = load_reference(name)
    values = dict(ref["fixef"])
    for row in ref["varcorr"]:
        values[varcorr_name(row)] = row["vcov"]
    return spec_result.table_spec.from_reported(values)


@pytest.fixture(scope="module")
def contraception_fit():
    return gllamm.fit(CONTRACEPTION, gllamm.datasets.load("contraception"), family="binomial", nip=25)


def test_eb_linear_mixed_model_equals_lme4_conditional_modes():
    # R: ranef(lmer(reaction ~ days + (1 + days | subject), REML = FALSE), condVar = TRUE) -> sleepstudy_eb.json
    data = gllamm.datasets.load("sleepstudy")
    fitted = gllamm.fit("reaction ~ days + (1 + days | subject)", data)
    at_ref = gllamm.fit("reaction ~ days + (1 + days | subject)", data, start=_reference_theta(fitted, "sleepstudy"),
                        max_iter=0)
    ref = json.loads((REFERENCE_DIR / "sleepstudy_eb.json").read_text())
    for kind in ("mean", "mode"):
        eb = at_ref.empirical_bayes(kind)
        for group in ref["groups"]:
            row = eb.loc[int(group["id"])]
            np.testing.assert_allclose(row[["(Intercept)", "days"]].to_numpy(float), group["mode"], atol=1e-4)
            np.testing.assert_allclose(row[["sd((Intercept))", "sd(days)"]].to_numpy(float), group["sd"], atol=1e-4)
    # at gllamm's own (tighter) optimum the predictions differ from lme4's only by its optimiser tolerance
    np.testing.assert_allclose(fitted.empirical_bayes()["days"].to_numpy(),
                               [g["mode"][1] for g in ref["groups"]], atol=1e-3)


def test_eb_modes_of_logit_equal_lme4(contraception_fit):
    # R: ranef(glmer(..., nAGQ = 25), condVar = TRUE) -> contraception_eb_modes.json
    at_ref = gllamm.fit(CONTRACEPTION, gllamm.datasets.load("contraception"), family="binomial", nip=25,
                        start=_reference_theta(contraception_fit, "contraception"), max_iter=0)
    ref = json.loads((REFERENCE_DIR / "contraception_eb_modes.json").read_text())
    eb = at_ref.empirical_bayes("mode")
    for group in ref["groups"]:
        row = eb.loc[int(group["id"])]
        assert abs(row["(Intercept)"] - group["mode"]) < 1e-3
        assert abs(row["sd((Intercept))"] - group["sd"]) < 1e-3


def _brute_force_posterior(result, cluster_position, grid=np.linspace(-8, 8, 4001)):
    """Posterior mean and SD of b for one cluster by a fine grid (independent of gllamm's quadrature)."""
    design = result.design
    rows = design.cluster_codes == cluster_position
    beta = result.fixed_effects.to_numpy()
    sd = np.sqrt(result.params["var((Intercept)|district)"])
    b = grid * sd
    eta = (design.X[rows] @ beta)[:, None] + b[None, :]
    y = design.y[rows][:, None]
    loglik = np.sum(y * eta - np.logaddexp(0, eta), axis=0) - 0.5 * grid**2
    w = np.exp(loglik - loglik.max())
    mean = np.sum(w * b) / np.sum(w)
    return mean, np.sqrt(np.sum(w * (b - mean) ** 2) / np.sum(w))


def test_eb_means_agree_with_brute_force(contraception_fit):
    eb = contraception_fit.empirical_bayes("mean")
    for position in (0, 10, 33, 59):
        mean, sd = _brute_force_posterior(contraception_fit, position)
        label = contraception_fit.design.cluster_labels[position]
        assert abs(eb.loc[label, "(Intercept)"] - mean) < 1e-5
        assert abs(eb.loc[label, "sd((Intercept))"] - sd) < 1e-5


def test_marginal_probabilities_agree_with_numerical_integration():
    from scipy import integrate
    from scipy.special import expit

    dataset, formula = "pisa_usa_2000", "pass_read ~ mn_ses + female + ses + high_school + college + test_lang + (1 | id_school)"
    result = gllamm.fit(formula, gllamm.datasets.load(dataset), family="binomial", nip=12)
    grid = pd.DataFrame(dict(mn_ses=[-1.0, 0.0, 1.0], female=0, ses=0.0, high_school=1, college=0, test_lang=[0, 1, 1]))
    marginal = result.predict(grid, latent="marginal")
    conditional = result.predict(grid, latent="zero")
    eta = result.predict(grid, type="linear")
    psi = result.params["var((Intercept)|id_school)"]
    for m, e in zip(marginal, eta):
        direct = integrate.quad(lambda b: np.exp(-b * b / (2 * psi)) / np.sqrt(2 * np.pi * psi) * expit(e + b),
                                -np.inf, np.inf, epsabs=1e-12)[0]
        assert abs(m - direct) < 1e-8
    np.testing.assert_allclose(conditional, 1 / (1 + np.exp(-eta)))
    # marginal probabilities are closer to 0.5 than the conditional (median) ones
    assert np.all(np.abs(marginal - 0.5) < np.abs(conditional - 0.5))


def test_sandwich_agrees_with_independent_per_cluster_scores(contraception_fit):
    result = gllamm.fit("use ~ urban + (1 | district)", gllamm.datasets.load("contraception"), family="binomial", nip=12)
    design = result.design
    x_nodes, w_nodes = np.polynomial.hermite.hermgauss(80)

    def cluster_logliks(theta):  # non-adaptive 80-point quadrature in plain NumPy
        beta, sd = theta[:2], abs(theta[2])
        out = np.zeros(design.n_clusters)
        for j in range(design.n_clusters):
            rows = design.cluster_codes == j
            eta = (design.X[rows] @ beta)[:, None] + np.sqrt(2) * sd * x_nodes[None, :]
            y = design.y[rows][:, None]
            ll = np.sum(y * eta - np.logaddexp(0, eta), axis=0)
            out[j] = np.log(np.sum(w_nodes * np.exp(ll)) / np.sqrt(np.pi))
        return out

    theta, h = result.theta, 1e-5
    scores = np.stack([(cluster_logliks(theta + h * e) - cluster_logliks(theta - h * e)) / (2 * h)
                       for e in np.eye(3)], axis=1)
    G = design.n_clusters
    meat = G / (G - 1) * scores.T @ scores
    bread = result.theta_vcov
    expected = bread @ meat @ bread
    robust = result.robust_vcov()
    # fixed effects are on the same scale in theta and in the reported parameters
    np.testing.assert_allclose(np.sqrt(np.diag(robust.to_numpy())[:2]), np.sqrt(np.diag(expected)[:2]), rtol=1e-4)
    # a cluster-robust variant at the same level gives the same matrix
    np.testing.assert_allclose(result.robust_vcov(cluster=design.cluster_labels[design.cluster_codes]).to_numpy(),
                               robust.to_numpy(), rtol=1e-10)


def test_unit_weights_at_both_levels_equal_unweighted():
    data = gllamm.datasets.load("contraception")
    a = gllamm.fit("use ~ urban + (1 | district)", data, family="binomial")
    b = gllamm.fit("use ~ urban + (1 | district)", data.assign(w1=1.0, w2=1.0), family="binomial",
                   weights="w1", cluster_weights="w2")
    assert a.loglik == pytest.approx(b.loglik, abs=1e-9)
    np.testing.assert_allclose(a.params, b.params, atol=1e-7)


def test_pisa_with_sampling_weights_reports_robust_ses():
    pisa = gllamm.datasets.load("pisa_usa_2000")
    formula = "pass_read ~ mn_ses + female + ses + high_school + college + test_lang + (1 | id_school)"
    # As in Rabe-Hesketh & Skrondal (2006): w_fstuwt is the overall student weight, so the level-1 weight
    # is the conditional one, w_fstuwt / wnrschbw, scaled to sum to the school sample size; wnrschbw at level 2.
    pisa = pisa.assign(wt1=pisa.w_fstuwt / pisa.wnrschbw)
    result = gllamm.fit(formula, pisa, family="binomial", nip=12, weights="wt1", cluster_weights="wnrschbw",
                        scale_weights="size")
    assert result.converged
    table = result.table(vcov="robust")
    assert np.all(np.isfinite(table.se)) and np.all(table.se > 0)
    unweighted = gllamm.fit(formula, pisa, family="binomial", nip=12)
    assert np.max(np.abs(result.fixed_effects - unweighted.fixed_effects)) < 1.0


def test_cluster_weights_must_be_constant_within_clusters():
    data = gllamm.datasets.load("contraception")
    with pytest.raises(gllamm.GllammError, match="constant within each 'district'"):
        gllamm.fit("use ~ urban + (1 | district)", data, family="binomial", cluster_weights=np.arange(len(data)) + 1.0)


def test_fixing_and_equality_constraints(contraception_fit):
    data = gllamm.datasets.load("contraception")
    constrained = gllamm.fit(CONTRACEPTION, data, family="binomial", nip=25,
                             fix={"age": 0.0, "var((Intercept)|district)": 0.25}, equal=[("livch2", "livch3")])
    assert constrained.converged
    assert constrained.params["age"] == 0.0 and constrained.se["age"] == 0.0
    assert constrained.params["var((Intercept)|district)"] == pytest.approx(0.25)
    assert constrained.params["livch2"] == pytest.approx(constrained.params["livch3"], abs=1e-12)
    assert constrained.n_params == contraception_fit.n_params - 3
    assert constrained.loglik < contraception_fit.loglik
    test = gllamm.lr_test(constrained, contraception_fit)
    assert test["df"] == 3 and 0 < test["p"] < 1
    with pytest.raises(gllamm.GllammError, match="Cannot constrain 'agee'.*Did you mean 'age'"):
        gllamm.fit(CONTRACEPTION, data, family="binomial", fix={"agee": 0})


def test_wald_and_boundary_lr_tests(contraception_fit):
    wald = contraception_fit.wald_test(["livch1", "livch2", "livch3"])
    z = contraception_fit.params["livch1"] / contraception_fit.se["livch1"]
    assert wald["df"] == 3 and wald["p"] < 1e-4
    single = contraception_fit.wald_test("livch1")
    assert single["chi2"] == pytest.approx(z**2)
    # p of chi2(1) at z^2 is the two-sided normal p
    assert single["p"] == pytest.approx(contraception_fit.table().loc["livch1", "p"], rel=1e-6)


def test_evaluate_at_given_parameters(contraception_fit):
    data = gllamm.datasets.load("contraception")
    evaluated = gllamm.fit(CONTRACEPTION, data, family="binomial", nip=25, start=contraception_fit.theta, max_iter=0)
    assert evaluated.loglik == pytest.approx(contraception_fit.loglik, abs=1e-9)
    assert evaluated.iterations == 0


def test_predictions_residuals_and_cluster_contributions(contraception_fit):
    result = contraception_fit
    assert result.cluster_loglik().sum() == pytest.approx(result.loglik, abs=1e-8)
    p0, peb = result.predict(), result.predict(latent="eb")
    assert np.all((p0 > 0) & (p0 < 1)) and not np.allclose(p0, peb)
    eb = result.empirical_bayes()
    eta = result.predict(type="linear") + eb["(Intercept)"].to_numpy()[result.design.cluster_codes]
    np.testing.assert_allclose(result.predict(type="linear", latent="eb"), eta)
    pearson = result.residuals("pearson")
    np.testing.assert_allclose(pearson, (result.design.y - peb) / np.sqrt(peb * (1 - peb)))
    deviance = result.residuals("deviance")
    assert np.all(np.sign(deviance) == np.sign(pearson))
    # new data with an unseen cluster: latent variables at 0
    new = gllamm.datasets.load("contraception").head(3).assign(district=999)
    np.testing.assert_allclose(result.predict(new, latent="eb"), result.predict(new))


def test_save_load_round_trip(tmp_path, contraception_fit):
    path = contraception_fit.save(tmp_path / "fit.gllamm")
    loaded = gllamm.load(path)
    np.testing.assert_array_equal(loaded.params.to_numpy(), contraception_fit.params.to_numpy())
    np.testing.assert_array_equal(loaded.se.to_numpy(), contraception_fit.se.to_numpy())
    for latent in ("zero", "eb", "marginal"):
        np.testing.assert_array_equal(loaded.predict(latent=latent), contraception_fit.predict(latent=latent))
    new = gllamm.datasets.load("contraception").iloc[::50]
    np.testing.assert_array_equal(loaded.predict(new, latent="eb"), contraception_fit.predict(new, latent="eb"))
    assert loaded.loglik == contraception_fit.loglik


def test_simulation_study_recovers_parameters_with_coverage():
    """Monte Carlo study: 40 data sets simulated from the cbpp fit, refitted; bias and 95% coverage."""
    data = gllamm.datasets.load("cbpp")
    fitted = gllamm.fit("cbind(incidence, size - incidence) ~ period2 + period3 + period4 + (1 | herd)", data,
                        family="binomial")
    truth = fitted.params
    rng = np.random.default_rng(2024)
    estimates, covered = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(40):
            refit = fitted.refit(fitted.simulate(seed=rng), start=fitted)
            if not refit.converged:
                continue
            estimates.append(refit.params)
            table = refit.table()
            covered.append((table.ci_lower <= truth) & (truth <= table.ci_upper))
    estimates, covered = pd.DataFrame(estimates), pd.DataFrame(covered)
    coverage = covered.mean()
    print("\n95% interval coverage over", len(covered), "replications:\n", coverage.round(3).to_string())
    assert len(estimates) >= 35
    fixed = list(fitted.spec.fixed_names)
    mc_se = estimates[fixed].std() / np.sqrt(len(estimates))
    assert np.all(np.abs(estimates[fixed].mean() - truth[fixed]) < 4 * mc_se + 0.05)
    assert np.all(coverage[fixed] >= 0.8)


def test_bootstrap_and_simulated_latent_variables(contraception_fit):
    frame, latent = contraception_fit.simulate(seed=3, return_latent=True)
    assert len(latent) == 60 and set(frame.use.unique()) <= {0.0, 1.0}
    boot = contraception_fit.bootstrap(lambda r: r.params[["urban"]], n_boot=3, seed=1)
    assert boot.shape == (3 - boot.attrs["failed"], 1)


def test_plots_return_figures(contraception_fit, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    fig = contraception_fit.plot_caterpillar()
    assert len(fig.axes[0].lines) + len(fig.axes[0].collections) > 0
    grid = pd.DataFrame(dict(age=np.linspace(-10, 15, 20), age2=np.linspace(-10, 15, 20) ** 2, urban=1,
                             livch1=0, livch2=0, livch3=1))
    fig2 = contraception_fit.plot_conditional_marginal(grid, x="age")
    assert len(fig2.axes[0].lines) == 2
    fig2.savefig(tmp_path / "curves.png")


def test_demo_saves_figure1(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "figure1.png"
    run = subprocess.run([sys.executable, "-m", "gllamm", "demo", "--figure", str(path)], capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert path.exists() and path.stat().st_size > 10_000


def test_ml_estimates_of_cluster_effects_equal_closed_form():
    """Gaussian random intercept: the ML estimate of b_j is the mean of y - x'beta in cluster j, SE sigma/sqrt(n_j)."""
    data = gllamm.datasets.load("exam")
    result = gllamm.fit("normexam ~ standlrt + (1 | school)", data)
    ml = result.empirical_bayes("ml")
    design = result.design
    residual = design.y - design.X @ result.fixed_effects.to_numpy()
    n = np.bincount(design.cluster_codes)
    expected = np.bincount(design.cluster_codes, weights=residual) / n
    np.testing.assert_allclose(ml["(Intercept)"].to_numpy(), expected, atol=1e-6)
    np.testing.assert_allclose(ml["sd((Intercept))"].to_numpy(), np.sqrt(result.params["var(Residual)"] / n), rtol=1e-6)
    # EB means shrink the ML estimates towards 0
    eb = result.empirical_bayes()["(Intercept)"].to_numpy()
    assert np.all(np.abs(eb) <= np.abs(expected) + 1e-12)


def test_ml_estimate_that_does_not_exist_is_reported():
    rng = np.random.default_rng(0)
    g = np.repeat(np.arange(30), 6)
    y = rng.binomial(1, 0.5, g.size)
    y[g == 0] = 0  # the ML estimate for cluster 0 is minus infinity
    frame = pd.DataFrame(dict(y=y, g=g))
    result = gllamm.fit("y ~ 1 + (1 | g)", frame, family="binomial")
    with pytest.warns(gllamm.DataWarning, match="does not exist"):
        ml = result.empirical_bayes("ml")
    mixed = frame.groupby("g").y.nunique() == 2
    assert np.isnan(ml.loc[0, "(Intercept)"])
    assert np.all(np.isfinite(ml.loc[mixed[mixed].index, "(Intercept)"]))
    assert np.all(np.isnan(ml.loc[mixed[~mixed].index, "(Intercept)"]))


def test_sd_and_correlation_intervals():
    result = gllamm.fit("reaction ~ days + (1 + days | subject)", gllamm.datasets.load("sleepstudy"))
    components = result.variance_components()
    for _, row in components.iterrows():
        assert row.sd_cor_lower < row.sd_cor < row.sd_cor_upper
    correlation = components[components.var2.notna()].iloc[0]
    assert -1 < correlation.sd_cor_lower and correlation.sd_cor_upper < 1


def test_item_characteristic_curves():
    import matplotlib

    matplotlib.use("Agg")
    items = [f"Q{i}" for i in range(1, 6)]
    result = gllamm.fit("theta =~ " + " + ".join(items), gllamm.datasets.load("lsat7"), family="binomial", nip=10)
    fig = result.plot_item_characteristic_curves()
    lines = fig.axes[0].lines
    assert len(lines) == 5
    for line, item in zip(lines, items):  # at eta = 0 the curve is the item's intercept on the probability scale
        x, y = line.get_data()
        middle = np.argmin(np.abs(x))
        assert y[middle] == pytest.approx(1 / (1 + np.exp(-result.params[f"{item}~1"])), abs=0.01)


def test_save_load_with_cluster_weights(tmp_path):
    data = gllamm.datasets.load("contraception")
    weights = 1.0 + (data.district.to_numpy() % 3)  # constant within districts
    result = gllamm.fit("use ~ urban + (1 | district)", data, family="binomial", cluster_weights=weights)
    loaded = gllamm.load(result.save(tmp_path / "weighted.gllamm"))
    np.testing.assert_array_equal(loaded.design.cluster_weights, result.design.cluster_weights)
    np.testing.assert_array_equal(loaded.robust_vcov().to_numpy(), result.robust_vcov().to_numpy())


def test_statsmodels_and_broom_names(contraception_fit):
    """bse/pvalues/zvalues/llf/cov_params/conf_int/tidy read the same numbers as table(); lme4's type names."""
    fit = contraception_fit
    table = fit.table(level=0.9)
    np.testing.assert_array_equal(fit.bse, fit.table()["se"])
    np.testing.assert_array_equal(fit.pvalues, fit.table()["p"])
    np.testing.assert_array_equal(fit.tvalues, fit.table()["z"])
    assert fit.llf == fit.loglik and fit.cov_params() is fit.vcov
    intervals = fit.conf_int(level=0.9)
    np.testing.assert_array_equal(intervals["lower"], table["ci_lower"])
    z = 1.6448536269514722  # the 95th percentile of N(0, 1)
    np.testing.assert_allclose(intervals["upper"] - fit.params, z * fit.se, rtol=1e-12)
    tidy = fit.tidy()
    variance = [n for n in fit.params.index if n.startswith("var(")]
    assert list(tidy.term) == list(fit.params.index)
    assert set(tidy.loc[tidy.term.isin(variance), "group"]) == {"district"}
    assert (tidy.loc[tidy.term.isin(fit.spec.fixed_names), "effect"] == "fixed").all()
    np.testing.assert_array_equal(fit.predict(type="response"), fit.predict(type="mean"))
    np.testing.assert_array_equal(fit.predict(type="link"), fit.predict(type="linear"))
    with pytest.raises(gllamm.GllammError, match="method=.wald. gives Wald"):
        fit.conf_int(method="likelihood")


def test_boundary_correction_only_for_one_variance_at_zero():
    """Self and Liang's 50:50 mixture halves p when one variance is tested at 0; for a fixed effect it is refused."""
    data = gllamm.datasets.load("contraception")
    glm = gllamm.fit("use ~ age + urban", data, family="binomial")
    glmm = gllamm.fit("use ~ age + urban + (1 | district)", data, family="binomial")
    naive, mixture = gllamm.lr_test(glm, glmm), gllamm.lr_test(glm, glmm, boundary=True)
    assert mixture["p"] == pytest.approx(0.5 * naive["p"], rel=1e-12)
    bigger = gllamm.fit("use ~ age + urban + livch1 + (1 | district)", data, family="binomial")
    with pytest.raises(gllamm.GllammError, match="adds livch1, none a variance"):
        gllamm.lr_test(glmm, bigger, boundary=True)
