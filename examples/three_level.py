"""A three-level random-intercept logit: children in mothers in communities (guImmun-style).

    logit P(y_ijk = 1 | u_jk, v_k) = b0 + b1 x_ijk + b2 w_k + u_jk + v_k,   u_jk ~ N(0, s_mother^2),  v_k ~ N(0, s_comm^2)

Children i of mothers j in communities k, as in the Guatemalan immunisation study that gllamm's manual and
Rodriguez and Goldman analyse (complete immunisation of a child, a child-level and a community-level
covariate). Few children per mother make this the model where the Laplace approximation shrinks the
mother-level variance: gllamm integrates level by level with adaptive quadrature (every higher level's rule
adapted to posterior means and SDs given the levels above), and the fit is compared with the Laplace fit
(lme4's glmer(nAGQ = 1) equals gllamm's method="laplace"; tests/test_three_level.py). Data are simulated with a
fixed seed (120 communities, 5 mothers each, 2 children per mother); run:  python examples/three_level.py
"""

import numpy as np
import pandas as pd

import gllamm

TRUTH = {"(Intercept)": -0.5, "x": 1.0, "w": 0.5, "var((Intercept)|mother)": 2.0, "var((Intercept)|community)": 1.0}


def simulate(communities: int = 120, mothers: int = 5, children: int = 2, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_mothers = communities * mothers
    community = np.repeat(np.arange(communities), mothers * children)
    mother = np.repeat(np.arange(n_mothers), children)
    w = rng.normal(size=communities)
    x = rng.normal(size=community.size)
    eta = (TRUTH["(Intercept)"] + TRUTH["x"] * x + TRUTH["w"] * w[community]
           + rng.normal(scale=np.sqrt(TRUTH["var((Intercept)|community)"]), size=communities)[community]
           + rng.normal(scale=np.sqrt(TRUTH["var((Intercept)|mother)"]), size=n_mothers)[mother])
    y = (rng.random(eta.size) < 1 / (1 + np.exp(-eta))).astype(int)
    return pd.DataFrame({"y": y, "x": x, "w": w[community], "community": community, "mother": mother})


def main():
    data = simulate()
    formula = "y ~ x + w + (1 | community) + (1 | mother)"
    adaptive = gllamm.fit(formula, data, family="binomial", nip=8)
    laplace = gllamm.fit(formula, data, family="binomial", method="laplace")
    print(adaptive.summary())
    print("\nAdaptive quadrature against the Laplace approximation (and the truth):")
    table = gllamm.compare(adaptive, laplace, names=["adaptive (8 points)", "Laplace"])
    print(table.to_string())
    print(f"\nTruth: {TRUTH}")
    return adaptive, laplace


if __name__ == "__main__":
    main()
