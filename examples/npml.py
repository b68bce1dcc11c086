"""Nonparametric maximum likelihood (NPML): a random intercept whose distribution is left unspecified.

    logit P(y_ij = 1 | e_j) = b0 + b1 x_ij + e_j,     e_j in {e_1, ..., e_K} with probabilities pi_k

Clusters j (200 of them, 20 binary responses each) whose intercepts come from two groups, not from a normal
distribution. Instead of a normal random intercept, the cluster effect takes one of K mass points whose
locations and probabilities are estimated; gllamm adds points while the Gateaux derivative
D(e) = sum_j [f(y_j | e) / L_j - 1] is positive somewhere, which is the NPML estimator (gllamm's ip(f) with
gateaux()). The fit is compared with the normal random intercept by adaptive quadrature. The locations are
centred (sum_k pi_k e_k = 0) so that b0 stays the mean intercept. Data are simulated with a fixed seed; run:
python examples/npml.py
"""

import numpy as np
import pandas as pd

import gllamm

TRUTH = {"(Intercept)": -0.25, "x": 0.8}  # intercepts -1.0 (70% of clusters) and 1.5 (30%): mean -0.25


def simulate(clusters: int = 200, size: int = 20, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    effect = np.where(rng.random(clusters) < 0.7, -1.0, 1.5) - TRUTH["(Intercept)"]
    cluster = np.repeat(np.arange(clusters), size)
    x = rng.normal(size=clusters * size)
    eta = TRUTH["(Intercept)"] + TRUTH["x"] * x + effect[cluster]
    y = (rng.random(eta.size) < 1 / (1 + np.exp(-eta))).astype(int)
    return pd.DataFrame({"y": y, "x": x, "cluster": cluster})


def main():
    data = simulate()
    normal = gllamm.fit("y ~ x + (1 | cluster)", data, family="binomial")
    npml = gllamm.fit("y ~ x + (1 | cluster)", data, family="binomial", classes="npml")
    print(npml.summary())
    print("\nMass points (locations and probabilities; the truth: -0.75 with 0.7, 1.75 with 0.3):")
    print(npml.class_profiles().to_string())
    print("\nEstimates (SE), normal random intercept and NPML:")
    print(gllamm.compare(normal, npml, names=["normal", "NPML"]).to_string())
    return normal, npml


if __name__ == "__main__":
    main()
