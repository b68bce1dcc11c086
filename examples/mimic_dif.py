"""MIMIC model with a direct effect: an item response model with differential item functioning (DIF).

    logit P(y_ij = 1 | f_j) = beta_i + lambda_i f_j + delta x_j [i = 3],   f_j = gamma x_j + zeta_j

The covariate x (e.g. a group indicator) affects the latent trait f (gamma), and item 3 also
directly (delta): for equal trait levels, the two groups answer item 3 differently (DIF).
Data are simulated here with a fixed seed; run:  python examples/mimic_dif.py
"""

import numpy as np
import pandas as pd

import gllamm

TRUTH = {"f~x": 0.6, "y3~x": -0.8, "f=~y2": 1.2, "f=~y4": 0.8, "f~~f": 1.0}


def simulate(n: int = 2000, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.binomial(1, 0.5, n).astype(float)
    f = TRUTH["f~x"] * x + rng.normal(scale=np.sqrt(TRUTH["f~~f"]), size=n)
    loadings = [1.0, TRUTH["f=~y2"], 1.0, TRUTH["f=~y4"]]
    intercepts = [0.5, -0.2, 0.3, 0.0]
    data = {"x": x}
    for i, (b, lam) in enumerate(zip(intercepts, loadings), start=1):
        eta = b + lam * f + (TRUTH["y3~x"] * x if i == 3 else 0.0)
        data[f"y{i}"] = rng.binomial(1, 1 / (1 + np.exp(-eta))).astype(float)
    return pd.DataFrame(data)


def main():
    data = simulate()
    result = gllamm.fit("f =~ y1 + y2 + y3 + y4\n f ~ x\n y3 ~ x", data, family="binomial", nip=12)
    print(result.summary())
    print("\nDIF for item 3 (direct effect y3~x):")
    print(result.table().loc[["y3~x", "f~x"]])
    return result


if __name__ == "__main__":
    main()
