"""Latent classes with concomitant variables: class membership regressed on a covariate.

    P(C_j = c | x_j) = exp(a_c + g_c x_j) / sum_d exp(a_d + g_d x_j)     (multinomial logit; last class reference)
    logit P(y_ij = 1 | C_j = c) = e_ic                                     (item i's class-specific intercept)

Five binary items answered by 1,500 persons from two classes ("masters", who answer most items correctly, and
"non-masters"), the chance of being a master rising with a covariate x. The discrete latent variable is
summed out exactly; the model is fitted from 10 seeded random starts and the best is kept. The seed's "discrete
latent variable regressed on observed variables" (GLLAMM lecture). Data are simulated with a fixed seed; run:
python examples/latent_classes.py
"""

import numpy as np
import pandas as pd

import gllamm

TRUTH = {"C1~(Intercept)": 0.3, "C1~x": 1.0}  # class 1: the larger class (classes are ordered by size)


def simulate(n: int = 1500, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    master = rng.random(n) < 1 / (1 + np.exp(-(TRUTH["C1~(Intercept)"] + TRUTH["C1~x"] * x)))
    p_master = np.array([0.9, 0.85, 0.8, 0.75, 0.9])
    p_other = np.array([0.3, 0.2, 0.35, 0.1, 0.4])
    p = np.where(master[:, None], p_master, p_other)
    items = (rng.random((n, 5)) < p).astype(int)
    return pd.DataFrame(items, columns=[f"y{k}" for k in range(1, 6)]).assign(x=x)


def main():
    data = simulate()
    result = gllamm.fit("C =~ y1 + y2 + y3 + y4 + y5\nC ~ x", data, family="binomial", classes=2)
    print(result.summary())
    print("\nClass profiles (P(y = 1 | class)):")
    print(result.class_profiles().to_string())
    posterior = result.class_probabilities()
    print("\nPosterior class probabilities of the first five persons:")
    print(posterior.head().to_string())
    print(f"\nTruth: {TRUTH}")
    return result


if __name__ == "__main__":
    main()
