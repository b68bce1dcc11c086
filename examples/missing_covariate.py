"""Missing covariate model: the true exposure observed exactly for a validation subgroup, missing for the rest.

The seed's missing covariate model (GLLAMM lecture, "Examples of GLLAMMs") has a subgroup with complete data, where
the true covariate x is observed, and a subgroup where it is missing and only an error-prone measurement w is:

    exposure model:     xi_j = zeta_j,                         zeta_j ~ N(mu, psi)
    measurement model:  w_j  = c + xi_j + e_j,                 e_j ~ N(0, theta)   (everyone)
                        x_j  = xi_j                            (no error: x ~~ 0*x; the validation subgroup)
    outcome model:      y_j  = b0 + b xi_j + a age_j + d_j,   d_j ~ N(0, sigma^2)

The true covariate is a latent variable xi; where x is observed, xi equals it (a residual variance of exactly 0),
where it is missing, xi is integrated out given w and y. Regressing y on w instead attenuates b, and dropping the
units without x throws most of the data away.

The seed's disease model is often binary (a disease d with logit P(d = 1) = b0 + b xi + a age): the same model with
``family={"x": "gaussian", "w": "gaussian", "d": "binomial"}`` is integrated by adaptive quadrature, conditioned
exactly on x where it is observed (``disease()`` below). Data are simulated with a fixed seed; run:
python examples/missing_covariate.py
"""

import numpy as np
import pandas as pd

import gllamm

TRUTH = {"xi=~y": 0.7, "y~age": 0.4, "xi~~xi": 1.0, "w~~w": 0.6, "y~~y": 0.5}
MODEL = """
xi =~ 1*x + 1*w + y     # x measures xi exactly, w with error; y's loading is the regression slope b
x ~~ 0*x                # the true covariate, where observed, has no error
y ~ age                 # the outcome model's other covariate
"""


def simulate(n: int = 1200, validated: float = 0.25, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.normal(size=n)
    xi = 2.0 + rng.normal(scale=np.sqrt(TRUTH["xi~~xi"]), size=n)
    w = 0.3 + xi + rng.normal(scale=np.sqrt(TRUTH["w~~w"]), size=n)
    y = 1.0 + TRUTH["xi=~y"] * xi + TRUTH["y~age"] * age + rng.normal(scale=np.sqrt(TRUTH["y~~y"]), size=n)
    x = np.where(rng.uniform(size=n) < validated, xi, np.nan)  # the true value, for a validation subgroup only
    return pd.DataFrame(dict(y=y, x=x, w=w, age=age))


DISEASE_TRUTH = {"xi=~d": 1.2, "d~age": 0.5}
DISEASE_MODEL = """
xi =~ 1*x + 1*w + d     # d's loading is the log odds ratio per unit of the true exposure
x ~~ 0*x
d ~ age
"""


def disease(n: int = 1200, seed: int = 12):
    """The missing-covariate model with a binary disease d; and the logistic regression on the error-prone w."""
    import warnings

    data = simulate(n, seed=seed)
    rng = np.random.default_rng(seed + 1)
    xi = simulate(n, validated=1.0, seed=seed).x  # the exposure of every unit (the same draws, all validated)
    logit = -3.0 + DISEASE_TRUTH["xi=~d"] * xi + DISEASE_TRUTH["d~age"] * data.age
    data["d"] = (rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-logit))).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gllamm.DataWarning)
        result = gllamm.fit(DISEASE_MODEL, data, family={"x": "gaussian", "w": "gaussian", "d": "binomial"})
    naive = gllamm.fit("d ~ w + age", data, family="binomial")
    return result, naive


def main():
    import warnings

    data = simulate()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gllamm.DataWarning)  # (x is missing for most units, by design)
        result = gllamm.fit(MODEL, data)
    print(result.summary())
    naive = gllamm.fit("y ~ w + age", data)
    print(f"\nslope of the true covariate: {result.params['xi=~y']:.3f} (SE {result.se['xi=~y']:.3f}); "
          f"regressing y on w instead gives {naive.params['w']:.3f}, attenuated")
    return result, naive


if __name__ == "__main__":
    main()
    sick, naive_logit = disease()
    print(f"\nbinary disease: log odds ratio per unit of exposure {sick.params['xi=~d']:.3f} "
          f"(SE {sick.se['xi=~d']:.3f}); the logit on w gives {naive_logit.params['w']:.3f}, attenuated")
