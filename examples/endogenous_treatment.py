"""Endogenous treatment: a continuous outcome and a binary treatment sharing a latent variable.

    d_j* = a + g z_j + f_j + e_j,          d_j = 1[d_j* > 0]   (probit; e_j ~ N(0, 1))
    y_j  = c + tau d_j + b x_j + lambda f_j + eps_j,           eps_j ~ N(0, sigma^2)

f_j ~ N(0, 1) is an unobserved confounder: it raises the chance of treatment and the outcome,
so regressing y on d alone overstates the treatment effect tau. Treating d as a second response
with its own family (binomial/probit) that shares f with y removes the bias; z (an instrument)
moves the treatment but not the outcome. With var(f) fixed at 1 and d's loading at 1 the model
is identified (the residual correlation of y and d* is lambda / sqrt(2 (lambda^2 + sigma^2))).
Data are simulated with a fixed seed; run:  python examples/endogenous_treatment.py
"""

import numpy as np
import pandas as pd

import gllamm

TRUTH = {"y~d": 0.5, "y~x": 0.7, "d~z": 0.8, "f=~y": 0.6, "y~~y": 0.64}
MODEL = """
f =~ 1*d + y        # the confounder: loading 1 on the treatment, free on the outcome
f ~~ 1*f
y ~ d + x           # outcome equation: tau = y~d
d ~ z               # treatment equation (z is the instrument)
"""


def simulate(n: int = 2000, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x, z, f = rng.normal(size=n), rng.normal(size=n), rng.normal(size=n)
    d = (0.2 + TRUTH["d~z"] * z + f + rng.normal(size=n) > 0).astype(float)
    y = (1.0 + TRUTH["y~d"] * d + TRUTH["y~x"] * x + TRUTH["f=~y"] * f
         + rng.normal(scale=np.sqrt(TRUTH["y~~y"]), size=n))
    return pd.DataFrame(dict(y=y, d=d, x=x, z=z))


def main():
    data = simulate()
    naive = gllamm.fit("y ~ d + x", data)  # linear regression: ignores the confounder
    result = gllamm.fit(MODEL, data, family={"y": "gaussian", "d": ("binomial", "probit")})
    print(result.summary())
    print(f"\nTreatment effect: {result.params['y~d']:.3f} (SE {result.se['y~d']:.3f}); "
          f"naive regression: {naive.params['d']:.3f}; truth {TRUTH['y~d']}")
    return result, naive


if __name__ == "__main__":
    main()
