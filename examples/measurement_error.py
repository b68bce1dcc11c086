"""Covariate measurement error: a disease model on a true exposure measured twice with error.

The seed's covariate measurement error model has three parts (GLLAMM lecture, "Examples of GLLAMMs"):

    exposure model:     xi_j = g age_j + zeta_j,             zeta_j ~ N(0, psi)
    measurement model:  x_kj = c_k + xi_j + e_kj,  k = 1, 2  (replicate measurements, e ~ N(0, theta_k))
    disease model:      logit P(d_j = 1) = b0 + b xi_j + a age_j

Regressing d on the observed (error-prone) exposure attenuates b towards 0; treating the true exposure
xi as a latent variable measured by x1, x2 and "measured" by d too (a mixed-response factor model:
Gaussian replicates, a binary disease with its own loading b) removes the attenuation. Data are
simulated with a fixed seed; run:  python examples/measurement_error.py
"""

import numpy as np
import pandas as pd

import gllamm

TRUTH = {"xi=~d": 0.8, "xi~age": 0.5, "d~age": -0.3, "xi~~xi": 1.0, "x1~~x1": 0.5, "x2~~x2": 0.5}
MODEL = """
xi =~ 1*x1 + 1*x2 + d      # replicates with loading 1; the disease's loading is the log odds ratio b
xi ~ age                   # exposure model
d ~ age                    # disease model's other covariate
"""


def simulate(n: int = 1500, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.normal(size=n)
    xi = TRUTH["xi~age"] * age + rng.normal(scale=np.sqrt(TRUTH["xi~~xi"]), size=n)
    x1 = 2.0 + xi + rng.normal(scale=np.sqrt(TRUTH["x1~~x1"]), size=n)
    x2 = 2.0 + xi + rng.normal(scale=np.sqrt(TRUTH["x2~~x2"]), size=n)
    logit = -0.5 + TRUTH["xi=~d"] * xi + TRUTH["d~age"] * age
    d = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    return pd.DataFrame(dict(x1=x1, x2=x2, d=d, age=age))


def main():
    data = simulate()
    result = gllamm.fit(MODEL, data, family={"x1": "gaussian", "x2": "gaussian", "d": "binomial"})
    print(result.summary())
    naive = gllamm.fit("d ~ xbar + age", data.assign(xbar=(data.x1 + data.x2) / 2), family="binomial")
    print(f"\nLog odds ratio of the true exposure: {result.params['xi=~d']:.3f} (SE {result.se['xi=~d']:.3f}); "
          f"naive logistic regression on the mean measurement: {naive.params['xbar']:.3f}; "
          f"truth {TRUTH['xi=~d']}")
    return result, naive


if __name__ == "__main__":
    main()
