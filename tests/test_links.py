"""Links that do not map onto the mean's parameter space: binomial log (relative risks) and identity (risk
differences), Poisson identity.

References: tests/reference/links.json, written by tests/reference/r/links.R (R 4.2, lme4):
- cbpp_log_glm:      glm(cbind(incidence, size - incidence) ~ period, binomial(link='log'), cbpp)   logLik -99.0292
- cbpp_identity_glm: glm(cbind(incidence, size - incidence) ~ period, binomial(link='identity'), cbpp)
- sal_identity_glm:  glm(count ~ minedno + cover, poisson(link='identity'), salamanders)             logLik -1149.1525
glmer's Laplace fits of the mixed versions are not used: for a non-canonical link glmer's Laplace takes the
expected (PIRLS) information in its determinant (at glmer's own estimates of cbpp_log_glmer it reports -91.6367
where the Laplace approximation with the observed Hessian is -91.5295), and with the identity links glmer fails
("PIRLS loop resulted in NaN value"). The mixed models are checked against brute-force quadrature instead.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.special import gammaln, roots_hermite

import gllamm
from gllamm.errors import GllammError

REFERENCE = json.loads((Path(__file__).parent / "reference" / "links.json").read_text())
CBPP = "cbind(incidence, size - incidence) ~ C(period)"


@pytest.fixture(scope="module")
def cbpp():
    return gllamm.datasets.load("cbpp")


@pytest.fixture(scope="module")
def salamanders():
    return gllamm.datasets.load("salamanders")


def _check_glm(result, ref, names, se=None):
    """log L and estimates against R's glm; SEs against glm's (expected information) or ``se``."""
    assert result.converged
    assert abs(result.loglik - ref["loglik"]) < 1e-6
    for k, (ours, theirs) in enumerate(zip(names, ref["coef"])):
        assert abs(result.params[ours] - ref["coef"][theirs]) < 1e-5, ours
        expected = ref["se"][theirs] if se is None else se[k]
        assert abs(result.se[ours] / expected - 1) < 1e-3, ours


@pytest.mark.parametrize("link", ["log", "identity"])
def test_binomial_glm_links_match_r(cbpp, link):
    result = gllamm.fit(CBPP, cbpp, family="binomial", link=link)
    names = ["(Intercept)", "C(period)[T.2]", "C(period)[T.3]", "C(period)[T.4]"]
    _check_glm(result, REFERENCE[f"cbpp_{link}_glm"], names)


def test_poisson_identity_glm_matches_r(salamanders):
    """SEs from the observed information X' diag(y / mu^2) X (gllamm's default; glm's SEs use the expected
    information X' diag(1 / mu) X, which differs for a non-canonical link)."""
    result = gllamm.fit("count ~ minedno + cover", salamanders, family="poisson", link="identity")
    X = result.design.X
    mu = X @ result.fixed_effects.to_numpy()
    observed = X.T @ (X * (salamanders["count"].to_numpy() / mu**2)[:, None])
    _check_glm(result, REFERENCE["sal_identity_glm"], ["(Intercept)", "minedno", "cover"],
               np.sqrt(np.diag(np.linalg.inv(observed))))


def _brute_force_loglik(cluster_codes, row_log_density, variance, points=100):
    """sum_j log int prod_i f(y_ij | eta_ij + b) phi(b; 0, variance) db by Gauss-Hermite in NumPy; nodes where
    the mean leaves its parameter space contribute 0 (row_log_density returns -inf there)."""
    x, w = roots_hermite(points)
    b = np.sqrt(2 * variance) * x
    per_row = row_log_density(b)  # (rows, points)
    total = 0.0
    for code in np.unique(cluster_codes):
        values = per_row[cluster_codes == code].sum(axis=0) + np.log(w / np.sqrt(np.pi))
        top = values.max()
        total += top + np.log(np.exp(values - top).sum())
    return total


def _loglik_with_more_points(result, formula, data, **options):
    """log L at the estimates by adaptive quadrature with 40 points (the integrand is cut off where the mean leaves
    its parameter space, so it needs more points than a smooth one for 1e-5)."""
    return gllamm.fit(formula, data, start=result, max_iter=0, nip=40, **options).loglik


def _simulated(family, seed=5, clusters=60, size=15):
    """Means well inside the parameter space for every plausible random effect: binary P = 0.45 + 0.1 x + b with
    sd(b) = 0.05, or Poisson mu = 5 + 2 x + b with sd(b) = 0.8."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(clusters), size)
    x = rng.integers(0, 2, g.size).astype(float)
    if family == "binomial":
        p = 0.45 + 0.1 * x + rng.normal(0, 0.05, clusters)[g]
        y = (rng.random(g.size) < p).astype(float)
    else:
        y = rng.poisson(5 + 2 * x + rng.normal(0, 0.8, clusters)[g]).astype(float)
    return pd.DataFrame(dict(y=y, x=x, g=g))


def _mixed_case(formula, data, family, link, log_density, cluster_column, variance_name):
    result = gllamm.fit(formula, data, family=family, link=link)
    assert result.converged
    eta = result.design.X @ result.fixed_effects.to_numpy()
    reference = _brute_force_loglik(data[cluster_column].to_numpy(), lambda b: log_density(eta[:, None] + b[None, :]),
                                    result.params[variance_name])
    assert abs(_loglik_with_more_points(result, formula, data, family=family, link=link) - reference) < 1e-5


def _binomial_log_density(y, n, link):
    def log_density(linear):
        p = np.exp(linear) if link == "log" else linear
        valid = (p > 0) & (p < 1)
        p = np.where(valid, p, 0.5)
        value = gammaln(n + 1) - gammaln(y + 1) - gammaln(n - y + 1)
        value = value[:, None] + y[:, None] * np.log(p) + (n - y)[:, None] * np.log1p(-p)
        return np.where(valid, value, -np.inf)

    return log_density


@pytest.mark.slow
def test_binomial_log_link_mixed_equals_brute_force_quadrature(cbpp):
    y, n = cbpp["incidence"].to_numpy(float), cbpp["size"].to_numpy(float)
    _mixed_case(CBPP + " + (1|herd)", cbpp, "binomial", "log", _binomial_log_density(y, n, "log"), "herd",
                "var((Intercept)|herd)")


@pytest.mark.slow
def test_binomial_identity_link_mixed_equals_brute_force_quadrature():
    data = _simulated("binomial")
    y = data["y"].to_numpy()
    _mixed_case("y ~ x + (1|g)", data, "binomial", "identity", _binomial_log_density(y, np.ones_like(y), "identity"),
                "g", "var((Intercept)|g)")


@pytest.mark.slow
def test_poisson_identity_mixed_equals_brute_force_quadrature():
    data = _simulated("poisson")
    y = data["y"].to_numpy()

    def log_density(mu):
        valid = mu > 0
        mu = np.where(valid, mu, 1.0)
        return np.where(valid, y[:, None] * np.log(mu) - mu - gammaln(y + 1)[:, None], -np.inf)

    _mixed_case("y ~ x + (1|g)", data, "poisson", "identity", log_density, "g", "var((Intercept)|g)")


def test_an_optimum_outside_the_parameter_space_is_explained():
    """Every row with x = 1 has y = 1: the identity-link maximum wants P(y = 1) = 1 there and beyond."""
    rng = np.random.default_rng(1)
    x = rng.integers(0, 2, 200)
    y = np.where(x == 1, 1, rng.random(200) < 0.3).astype(float)
    import pandas as pd

    with pytest.warns(gllamm.ConvergenceWarning, match="edge of the identity link's parameter space"):
        result = gllamm.fit("y ~ x", pd.DataFrame(dict(y=y, x=x)), family="binomial", link="identity")
    assert not result.converged
    with pytest.raises(GllammError, match="latent response, which the binomial log link"):
        gllamm.fit("y ~ x", pd.DataFrame(dict(y=y, x=x)), family="binomial", link="log", scale="~ x")


def test_a_likelihood_that_is_not_finite_at_the_start_is_explained(salamanders):
    """Sites whose counts are all 0 put the mode of their effect on mu = 0 under the identity link."""
    with pytest.raises(GllammError, match="all zeros under an identity link"):
        gllamm.fit("count ~ minedno + (1|site)", salamanders, family="poisson", link="identity")
