"""Random-coefficient dependent dropout: a growth model for y and a dropout model sharing its random coefficients.

    y_tj = mu_t + i_j + s_j t + e_tj                     (Gaussian, t = 0..3)
    logit P(d_tj = 1) = a_t + g_i i_j + g_s s_j           (d_tj = 1: subject j drops out before occasion t)

Subjects whose outcome grows fast (large slope s_j) drop out more often, so the observed data at
late occasions are a selected sample (missing not at random). Modelling y and the dropout
indicators jointly, as two response types (Gaussian and binomial) sharing the random intercept
and slope, gives valid estimates of the mean trajectory mu_t; the loadings g_i, g_s measure how
dropout depends on the random coefficients (g_i = g_s = 0: dropout ignorable).
Data are simulated with a fixed seed in wide form (one row per subject, y and d missing after
dropout); run:  python examples/dependent_dropout.py
"""

import numpy as np
import pandas as pd

import gllamm

T = 4
TRUTH = {"i=~d1": 0.8, "s=~d1": 2.0, "s~~s": 0.25, "y1~~y1": 0.49}
MEANS = 1.0 + 0.5 * np.arange(T)


def model_syntax() -> str:
    y = [f"y{t}" for t in range(T)]
    d = [f"d{t}" for t in range(1, T)]
    lines = ["i =~ " + " + ".join([f"1*{v}" for v in y] + [f"gi*{v}" for v in d]),
             "s =~ " + " + ".join([f"{t}*{v}" for t, v in enumerate(y)] + [f"gs*{v}" for v in d]),
             "i ~~ s"]
    lines += [f"{v} ~~ e*{v}" for v in y]  # one residual variance for all occasions
    return "\n".join(lines)


def simulate(n: int = 800, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cov = np.array([[1.0, 0.3 * 0.5], [0.3 * 0.5, TRUTH["s~~s"]]])
    i, s = rng.multivariate_normal([0.0, 0.0], cov, size=n).T
    data, present = {}, np.ones(n, bool)
    for t in range(T):
        if t > 0:
            logit = -2.5 + TRUTH["i=~d1"] * i + TRUTH["s=~d1"] * s
            drop = rng.uniform(size=n) < 1 / (1 + np.exp(-logit))
            data[f"d{t}"] = np.where(present, drop.astype(float), np.nan)  # at risk only while present
            present &= ~drop
        y = MEANS[t] + i + s * t + rng.normal(scale=np.sqrt(TRUTH["y1~~y1"]), size=n)
        data[f"y{t}"] = np.where(present, y, np.nan)
    return pd.DataFrame(data)


def main():
    import warnings

    data = simulate()
    family = {f"y{t}": "gaussian" for t in range(T)} | {f"d{t}": "binomial" for t in range(1, T)}
    with warnings.catch_warnings():  # the missing responses after dropout are expected
        warnings.simplefilter("ignore", gllamm.DataWarning)
        result = gllamm.fit(model_syntax(), data, family=family)
    print(result.summary())
    observed = data[[f"y{t}" for t in range(T)]].mean().to_numpy()
    print("\nMean of y by occasion: truth, joint model, observed (complete cases at each occasion)")
    for t in range(T):
        print(f"  t={t}: {MEANS[t]:.3f}  {result.params[f'y{t}~1']:.3f}  {observed[t]:.3f}")
    return result


if __name__ == "__main__":
    main()
