"""Four-level models (three nested levels of latent variables): adaptive quadrature at every level against
an independent nested Gauss-Hermite computation in NumPy, Laplace and Gaussian fits against lme4."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate
from scipy.special import expit, logsumexp

import gllamm

REFERENCE = Path(__file__).parent / "reference"
FORMULA = "y ~ x + (1 | cls) + (1 | school) + (1 | district)"
SD = {"cls": 0.8, "school": 0.5, "district": 0.7}


def _simulate(seed=1, districts=20, schools=3, classes=3, pupils=4):
    """Pupils in classes in schools in districts; y binary (logit), g Gaussian, both with effects at every level;
    g2 = g plus a school-level random slope of x."""
    rng = np.random.default_rng(seed)
    district = np.repeat(np.arange(districts), schools * classes * pupils)
    school = np.repeat(np.arange(districts * schools), classes * pupils)
    cls = np.repeat(np.arange(districts * schools * classes), pupils)
    x = rng.normal(size=cls.size)
    effects = (rng.normal(scale=SD["district"], size=districts)[district]
               + rng.normal(scale=SD["school"], size=districts * schools)[school]
               + rng.normal(scale=SD["cls"], size=districts * schools * classes)[cls])
    y = rng.binomial(1, expit(-0.3 + 0.8 * x + effects))
    g = 1.0 + 0.5 * x + effects + rng.normal(scale=0.6, size=cls.size)
    g2 = g + rng.normal(scale=0.3, size=districts * schools)[school] * x  # and a random slope of x by school
    return pd.DataFrame(dict(y=y, g=g, g2=g2, x=x, district=[f"d{k}" for k in district],
                             school=[f"s{k}" for k in school], cls=[f"c{k}" for k in cls]))


def brute_force(frame, beta, sds, nodes=40):
    """Log-likelihood and posterior means of the standardised effects at every level by nested Gauss-Hermite
    quadrature (not adaptive) on a full (u_district, u_school, u_class) grid:

    L_d = int phi(ud) prod_s int phi(us) prod_c int phi(uc) prod_i f(y_i | eta0_i + sum_l sd_l u_l) duc dus dud.
    """
    x, w = np.polynomial.hermite.hermgauss(nodes)
    u, log_w = np.sqrt(2) * x, np.log(w / np.sqrt(np.pi))
    total, means = 0.0, {"district": {}, "school": {}, "cls": {}}
    for d, in_district in frame.groupby("district"):
        log_district = np.zeros(nodes)  # sum over schools of log L_s(ud)
        school_terms = {}
        for s, in_school in in_district.groupby("school"):
            log_school = np.zeros((nodes, nodes))  # (ud, us): sum over classes of log L_c(ud, us)
            class_terms = {}
            for c, in_class in in_school.groupby("cls"):
                eta = (beta[0] + beta[1] * in_class.x.to_numpy())[None, None, None, :] \
                    + sds["district"] * u[:, None, None, None] + sds["school"] * u[None, :, None, None] \
                    + sds["cls"] * u[None, None, :, None]
                y = in_class.y.to_numpy()
                loglik = np.sum(y * eta - np.logaddexp(0, eta), axis=-1) + log_w  # (ud, us, uc)
                class_terms[c] = loglik
                log_school += logsumexp(loglik, axis=-1)
            school_terms[s] = (log_school, class_terms)
            log_district += logsumexp(log_school + log_w[None, :], axis=-1)
        total += logsumexp(log_district + log_w)
        posterior_d = np.exp(log_district + log_w - logsumexp(log_district + log_w))  # p(ud | y_d)
        means["district"][d] = posterior_d @ u
        for s, (log_school, class_terms) in school_terms.items():
            p_us = np.exp(log_school + log_w[None, :] - logsumexp(log_school + log_w[None, :], axis=1, keepdims=True))
            means["school"][s] = posterior_d @ (p_us @ u)  # E(us | y) = sum_ud p(ud|y) E(us | ud, y_s)
            for c, loglik in class_terms.items():
                p_uc = np.exp(loglik - logsumexp(loglik, axis=-1, keepdims=True))  # p(uc | ud, us, y_c)
                means["cls"][c] = np.einsum("d,ds,dsc,c->", posterior_d, p_us, p_uc, u)
    return total, means


def _variance_name(v) -> str:
    """gllamm's name of a row of lme4's VarCorr data frame."""
    if v["grp"] == "Residual":
        return "var(Residual)"
    if v.get("var2") is None:
        return f"var({v.get('var1') or '(Intercept)'}|{v['grp']})"
    return f"cov({v['var1']},{v['var2']}|{v['grp']})"


def _assert_equals_lme4(result, reference):
    """Log-likelihood within 1e-3, fixed effects within 2e-3 and their SEs within 2%, variance components
    within 2e-3 and 1% (relative) of an lme4 reference."""
    assert result.converged
    assert abs(result.loglik - reference["loglik"]) < 1e-3
    for name, value in reference["fixef"].items():
        assert abs(result.params[name] - value) < 2e-3, name
        assert abs(result.se[name] - reference["fixef_se"][name]) < 0.02 * reference["fixef_se"][name], name
    for v in reference["varcorr"]:
        name = _variance_name(v)
        assert abs(result.params[name] - v["vcov"]) < min(2e-3, 0.01 * abs(v["vcov"])), name


@pytest.fixture(scope="module")
def four_level():
    frame = _simulate()
    return frame, gllamm.fit(FORMULA, frame, family="binomial", nip=8)


@pytest.mark.slow  # (several seconds; CI runs it: python -m pytest -m slow)
def test_adaptive_quadrature_at_three_levels_matches_brute_force(four_level):
    frame, result = four_level
    assert result.converged
    assert result.n_groups == {"cls": 180, "school": 60, "district": 20}
    sds = {name: np.sqrt(result.params[f"var((Intercept)|{name})"]) for name in SD}
    reference, means = brute_force(frame, result.fixed_effects.to_numpy(), sds)
    assert abs(result.loglik - reference) < 1e-3
    eb = result.empirical_bayes()
    assert set(eb) == {"cls", "school", "district"}
    for name in SD:  # posterior means on the variance scale: sd * E(u | y)
        expected = pd.Series(means[name]) * sds[name]
        got = eb[name]["(Intercept)"]
        assert got.index.equals(expected.sort_index().index) or set(got.index) == set(expected.index)
        np.testing.assert_allclose(got.loc[expected.index].to_numpy(), expected.to_numpy(), atol=1e-3)
        assert (eb[name]["sd((Intercept))"] < sds[name]).all()
    assert "Level 4:      district, 20 units" in result.summary()


@pytest.mark.slow  # (several seconds; CI runs it: python -m pytest -m slow)
def test_laplace_at_three_levels_equals_lme4(four_level):
    """Joint Laplace over a district's effects at all levels is lme4's nAGQ = 1. Reference:
    tests/reference/four_level_laplace.json from tests/reference/r/four_level.R on
    tests/reference/four_level.csv (this module's _simulate): glmer(y ~ x + (1 | cls) + (1 | school) +
    (1 | district), family = binomial, tolPwrss = 1e-10)."""
    frame = pd.read_csv(REFERENCE / "four_level.csv")
    np.testing.assert_allclose(frame[["y", "x"]].to_numpy(), four_level[0][["y", "x"]].to_numpy())
    reference = json.loads((REFERENCE / "four_level_laplace.json").read_text())
    laplace = gllamm.fit(FORMULA, frame, family="binomial", method="laplace")
    _assert_equals_lme4(laplace, reference)
    modes = laplace.empirical_bayes()  # conditional modes and conditional SDs (lme4's ranef, condVar)
    for name, table in reference["ranef"].items():
        got = modes[name].loc[list(table["label"])]
        np.testing.assert_allclose(got["(Intercept)"].to_numpy(), table["mode"], atol=2e-3)
        np.testing.assert_allclose(got["sd((Intercept))"].to_numpy(), table["sd"], rtol=0.02)
    assert four_level[1].loglik - laplace.loglik > 0.1  # Laplace is below the quadrature optimum


def test_gaussian_four_level_model_equals_lmer():
    """Gaussian responses: the nested quadrature is exact. Reference: tests/reference/four_level_lmer.json
    from tests/reference/r/four_level.R: lmer(g ~ x + (1 | cls) + (1 | school) + (1 | district), REML = FALSE)."""
    frame = pd.read_csv(REFERENCE / "four_level.csv")
    reference = json.loads((REFERENCE / "four_level_lmer.json").read_text())
    result = gllamm.fit("g ~ x + (1 | cls) + (1 | school) + (1 | district)", frame, nip=4)
    _assert_equals_lme4(result, reference)


@pytest.mark.slow  # (several seconds; CI runs it: python -m pytest -m slow)
def test_slash_formula_predictions_and_simulation(four_level):
    frame, result = four_level
    restarted = frame.assign(school=frame.school.str.len(), cls=frame.cls.str[-1])  # not unique on their own
    restarted["school"] = frame.groupby("district").school.transform(lambda s: pd.factorize(s)[0])
    restarted["cls"] = frame.groupby("school").cls.transform(lambda s: pd.factorize(s)[0])
    again = gllamm.fit("y ~ x + (1 | district/school/cls)", restarted, family="binomial", nip=8)
    assert again.loglik == pytest.approx(result.loglik, abs=1e-6)
    # marginal mean of a row: E expit(eta0 + e), e ~ N(0, sum of the variances), by SciPy's quad
    total_sd = np.sqrt(sum(result.params[f"var((Intercept)|{name})"] for name in SD))
    eta0 = result.predict(latent="zero", type="linear")
    marginal = result.predict(latent="marginal")
    for i in (0, 7):
        expected = integrate.quad(lambda e: expit(eta0[i] + e) * np.exp(-0.5 * (e / total_sd) ** 2)
                                  / (np.sqrt(2 * np.pi) * total_sd), -12 * total_sd, 12 * total_sd)[0]
        assert marginal[i] == pytest.approx(expected, abs=1e-6)
    eb = result.empirical_bayes()
    linear = result.predict(latent="eb", type="linear")
    by_level = sum(eb[name]["(Intercept)"].loc[frame[name]].to_numpy() for name in SD)
    np.testing.assert_allclose(linear, eta0 + by_level, atol=1e-10)
    new = frame.iloc[:4].assign(cls="new class")  # a new class in a known school: school and district EB only
    np.testing.assert_allclose(result.predict(new, latent="eb", type="linear"), linear[:4]
                               - eb["cls"]["(Intercept)"].loc[frame.cls[:4]].to_numpy(), atol=1e-10)
    simulated, latent = result.simulate(seed=2, return_latent=True)
    assert {name: len(latent[name]) for name in SD} == {"cls": 180, "school": 60, "district": 20}
    assert set(np.unique(simulated.y)) <= {0, 1}


@pytest.mark.slow  # (several seconds; CI runs it: python -m pytest -m slow)
def test_parts_of_districts_give_the_same_fit(four_level):
    """Districts split into parts (several parts scanned on one device): the same log-likelihood and EB at
    the same parameters, and the same estimates up to the optimiser's tolerance (the two fits take different
    Newton paths: 6 and 8 iterations here, both stopping at a Newton decrement below 1e-8)."""
    frame, result = four_level
    parted = gllamm.fit(FORMULA, frame, family="binomial", nip=8, chunk_size=150)
    assert parted.options["parts"] > 1 and parted.converged
    assert np.all(np.abs(parted.params - result.params) < 1e-3 * result.se)
    at_same = gllamm.fit(FORMULA, frame, family="binomial", nip=8, chunk_size=150, start=result, max_iter=0)
    assert at_same.options["parts"] > 1
    assert at_same.loglik == pytest.approx(result.loglik, abs=1e-8)
    eb, eb_parted = result.empirical_bayes(), at_same.empirical_bayes()
    for name in SD:
        np.testing.assert_allclose(eb_parted[name].to_numpy(), eb[name].to_numpy(), atol=1e-7)


# The path fc ~ fs is fixed at its true value: with it free, the school-level covariance var(fs) a a'
# (a = lc b + ls, rank one: 4 numbers) would have 5 parameters (b, three free loadings of fs, var(fs)),
# a direction along which the likelihood is flat (the fit says so: "the data do not determine fc~fs, ...").
SYNTAX = """
level: 1
fw =~ y1 + y2 + y3 + y4
fw ~ x
level: 2
fc =~ y1 + y2 + y3 + y4
fc ~ 0.8*fs
level: 3
fs =~ y1 + y2 + y3 + y4
"""


def _simulate_factors(seed=5, schools=30, classes=4, pupils=6):
    """Four items of pupils in classes in schools with a factor at every level; the class factor is
    regressed on the school factor (0.8) and the pupil factor on x (0.5)."""
    rng = np.random.default_rng(seed)
    school = np.repeat(np.arange(schools), classes * pupils)
    cls = np.repeat(np.arange(schools * classes), pupils)
    x = rng.normal(size=cls.size)
    fs = rng.normal(scale=0.6, size=schools)
    fc = 0.8 * fs[np.arange(schools * classes) // classes] + rng.normal(scale=0.5, size=schools * classes)
    fw = 0.5 * x + rng.normal(size=cls.size)
    y = (fw[:, None] * [1, 0.8, 1.2, 0.9] + fc[cls][:, None] * [1, 0.9, 1.1, 0.7] + fs[school][:, None] * [1, 1.1, 0.6, 0.9]
         + rng.normal(scale=0.7, size=(cls.size, 4)))
    return pd.DataFrame(y, columns=["y1", "y2", "y3", "y4"]).assign(
        x=x, cls=[f"c{k}" for k in cls], school=[f"s{k}" for k in school])


@pytest.mark.slow  # (several seconds; CI runs it: python -m pytest -m slow)
def test_syntax_with_factors_at_three_levels_equals_the_multivariate_normal_likelihood():
    """level: 1/2/3 blocks with cluster=["cls", "school"]. Independent check: each school's responses are
    multivariate normal with mean nu_j + lambda_j gamma x_i and covariance
    var(fw) lambda lambda' (same pupil) + var(fc) lc lc' (same class) + var(fs) a a' (same school)
    + diag(theta) (same pupil and item), a_j = lc_j b + ls_j; the log-likelihood at the estimates and the
    EB means E(fs | y) = cov(fs, y) Sigma^-1 (y - mu) and E(fc | y) likewise are computed from it."""
    from scipy.stats import multivariate_normal

    frame = _simulate_factors()
    result = gllamm.fit(SYNTAX, frame, cluster=["cls", "school"], nip=4)
    assert result.converged
    assert result.n_groups == {"unit": 720, "cls": 120, "school": 30}
    p = result.params
    items = ["y1", "y2", "y3", "y4"]
    lam = np.array([1.0] + [p[f"fw=~{y}"] for y in items[1:]])
    lc = np.array([1.0] + [p[f"fc=~{y}"] for y in items[1:]])
    ls = np.array([1.0] + [p[f"fs=~{y}"] for y in items[1:]])
    nu = np.array([p[f"{y}~1"] for y in items])
    theta = np.array([p[f"{y}~~{y}"] for y in items])
    a = lc * p["fc~fs"] + ls
    total, eb_school, eb_class = 0.0, {}, {}
    for s, rows in frame.groupby("school"):
        n = len(rows)
        y = rows[items].to_numpy().ravel()  # pupil-major, item-minor
        mu = (nu[None, :] + lam[None, :] * p["fw~x"] * rows.x.to_numpy()[:, None]).ravel()
        pupil = np.repeat(np.arange(n), 4)
        same_class = np.repeat(rows.cls.to_numpy(), 4)
        item = np.tile(np.arange(4), n)
        cov = (p["fw~~fw"] * np.outer(lam[item], lam[item]) * (pupil[:, None] == pupil[None, :])
               + p["fc~~fc"] * np.outer(lc[item], lc[item]) * (same_class[:, None] == same_class[None, :])
               + p["fs~~fs"] * np.outer(a[item], a[item]) + np.diag(theta[item]))
        total += multivariate_normal(mu, cov).logpdf(y)
        solved = np.linalg.solve(cov, y - mu)
        eb_school[s] = p["fs~~fs"] * a[item] @ solved
        for c in np.unique(rows.cls):
            cov_fc = p["fc~fs"] * p["fs~~fs"] * a[item] + p["fc~~fc"] * lc[item] * (same_class == c)
            eb_class[c] = cov_fc @ solved
    assert abs(result.loglik - total) < 1e-6
    eb = result.empirical_bayes()
    assert set(eb) == {"unit", "cls", "school"}
    np.testing.assert_allclose(eb["school"]["fs"].loc[list(eb_school)].to_numpy(), list(eb_school.values()), atol=1e-6)
    np.testing.assert_allclose(eb["cls"]["fc"].loc[list(eb_class)].to_numpy(), list(eb_class.values()), atol=1e-6)
    # marginal means: nu_j + lambda_j gamma x_i (every latent variable has mean zero apart from fw's x effect)
    marginal = result.predict(layout="long", latent="marginal")
    item = result.design.Z.argmax(axis=1)
    expected = nu[item] + lam[item] * p["fw~x"] * frame.x.loc[result.design.row_index].to_numpy()
    np.testing.assert_allclose(marginal, expected, atol=1e-8)
    _, latent = result.simulate(seed=3, return_latent=True)
    assert {name: len(values) for name, values in latent.items()} == {"unit": 720, "cls": 120, "school": 30}
    with pytest.raises(gllamm.GllammError, match="needs 2 nested cluster columns"):
        gllamm.fit(SYNTAX, frame, cluster="cls")
    with pytest.raises(gllamm.GllammError, match="'school' is not nested in 'cls'"):
        gllamm.fit(SYNTAX, frame, cluster=["school", "cls"])


@pytest.mark.parametrize("method,nip", [("adaptive", 6), ("laplace", 1)])
@pytest.mark.slow  # (several seconds; CI runs it: python -m pytest -m slow)
def test_gradient_and_hessian_match_finite_differences(four_level, method, nip):
    """Exact derivatives through the nested rules against central differences of the log-likelihood.
    Adaptive: the adaptation state held fixed (as within a Newton step; the log-likelihood is then an exact
    function of theta). Laplace: the joint modes found again at every theta (the differentiated Newton steps
    give the exact derivatives of the modes only at their fixed point)."""
    from gllamm.integrate import Integration

    frame = four_level[0].iloc[:288]  # eight districts
    spec, design = gllamm.build_design(gllamm.parse_formula(FORMULA), frame, gllamm.make_family("binomial"))
    objective = gllamm.make_objective(gllamm.ParameterTable(spec), Integration(method, nip))
    arrays = design.data()
    theta = np.array([-0.4, 0.8, -0.3, -0.6, -0.2])
    state = objective.modes(theta, arrays, objective.mode_start(arrays))
    _, grad = objective.value_and_grad(theta, arrays, state)
    h = 1e-5

    def f(t):
        return float(objective.value(t, arrays, state))

    numeric = np.array([(f(theta + h * e) - f(theta - h * e)) / (2 * h) for e in np.eye(len(theta))])
    np.testing.assert_allclose(np.asarray(grad), numeric, rtol=1e-6, atol=1e-6)
    hess = np.asarray(objective.hessian(theta, arrays, state))

    def g(t):
        at = state if method == "adaptive" else objective.modes(t, arrays, state)
        return np.asarray(objective.value_and_grad(t, arrays, at)[1])

    numeric_h = np.array([(g(theta + h * e) - g(theta - h * e)) / (2 * h) for e in np.eye(len(theta))])
    np.testing.assert_allclose(hess, numeric_h, rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_random_slope_at_a_middle_level_equals_lmer():
    """Correlated random intercept and slope at the school level of a four-level Gaussian model (a
    two-dimensional rule at that level). Reference: tests/reference/four_level_lmer_slope.json from
    tests/reference/r/four_level.R: lmer(g2 ~ x + (1 | cls) + (1 + x | school) + (1 | district), REML = FALSE)."""
    frame = pd.read_csv(REFERENCE / "four_level.csv")
    reference = json.loads((REFERENCE / "four_level_lmer_slope.json").read_text())
    result = gllamm.fit("g2 ~ x + (1 | cls) + (1 + x | school) + (1 | district)", frame, nip=3)
    _assert_equals_lme4(result, reference)


@pytest.mark.slow  # (several seconds; CI runs it: python -m pytest -m slow)
def test_weights_at_a_middle_level_equal_duplicated_units(four_level, tmp_path):
    """level_weights={"school": w} with integer w: the pseudo-likelihood equals the likelihood of the data in
    which every school appears w times (copies with their own school and class ids), and the duplicated
    data's fit is converged at the weighted estimates."""
    frame = four_level[0]
    frame = frame[frame.district.isin([f"d{k}" for k in range(8)])]
    weight = (frame.school.str[1:].astype(int) % 3 == 0) + 1.0  # every third school counts twice
    weighted = gllamm.fit(FORMULA, frame.assign(w=weight), family="binomial", nip=6, level_weights={"school": "w"})
    assert weighted.converged
    copies = frame[weight.to_numpy() == 2].assign(school=lambda d: d.school + "copy", cls=lambda d: d.cls + "copy")
    duplicated = pd.concat([frame, copies])
    again = gllamm.fit(FORMULA, duplicated, family="binomial", nip=6, start=weighted, max_iter=0)
    assert again.loglik == pytest.approx(weighted.loglik, abs=1e-6)
    assert np.max(np.abs(again.gradient)) < 1e-3
    unweighted = gllamm.fit(FORMULA, frame, family="binomial", nip=6, start=weighted, max_iter=0)
    assert abs(unweighted.loglik - weighted.loglik) > 1.0  # the weights matter
    loaded = gllamm.load(weighted.save(tmp_path / "weighted.gllamm"))  # (text unit ids, level weights kept)
    assert loaded.loglik == weighted.loglik
    np.testing.assert_allclose(loaded.empirical_bayes()["school"].to_numpy(),
                               weighted.empirical_bayes()["school"].to_numpy(), atol=1e-8)
    with pytest.raises(gllamm.GllammError, match="not a middle grouping level"):
        gllamm.fit(FORMULA, frame.assign(w=weight), family="binomial", level_weights={"cls": "w"})
    with pytest.raises(gllamm.GllammError, match="constant within each 'school'"):
        gllamm.fit(FORMULA, frame.assign(w=np.arange(len(frame)) % 2 + 1.0), family="binomial",
                   level_weights={"school": "w"})


@pytest.mark.slow
def test_weights_of_a_middle_cluster_level_in_syntax_equal_duplicated_clusters(tmp_path):
    """Multilevel syntax with level_weights={"cls": w} (integer w): the pseudo-likelihood equals the likelihood
    of the data with every class (and its pupils) repeated w times, and that fit is converged at the weighted
    estimates; the weights survive save/load."""
    frame = _simulate_factors(schools=12)
    weight = (frame.cls.str[1:].astype(int) % 3 == 0) + 1.0
    weighted = gllamm.fit(SYNTAX, frame.assign(w=weight), cluster=["cls", "school"], nip=3, level_weights={"cls": "w"})
    assert weighted.converged
    copies = frame[weight.to_numpy() == 2].assign(cls=lambda d: d.cls + "copy")
    duplicated = pd.concat([frame, copies], ignore_index=True)
    again = gllamm.fit(SYNTAX, duplicated, cluster=["cls", "school"], nip=3, start=weighted, max_iter=0)
    assert again.loglik == pytest.approx(weighted.loglik, abs=1e-6)
    assert np.max(np.abs(again.gradient)) < 1e-3
    loaded = gllamm.load(weighted.save(tmp_path / "weighted.gllamm"))
    assert loaded.loglik == pytest.approx(weighted.loglik, abs=1e-9)
    with pytest.raises(gllamm.GllammError, match="not a cluster level below the top"):
        gllamm.fit(SYNTAX, frame.assign(w=weight), cluster=["cls", "school"], level_weights={"school": "w"})
