"""Two-parameter logistic IRT model: the LSAT section 7 items, with item characteristic curves.

    logit P(y_ij = 1 | theta_j) = beta_i + lambda_i theta_j,   theta_j ~ N(0, psi),  lambda_1 = 1

Run:  python examples/irt_2pl.py [output.png]
"""

import sys

import matplotlib

matplotlib.use("Agg")

import gllamm


def main(output: str = "irt_2pl_icc.png"):
    data = gllamm.datasets.load("lsat7")
    result = gllamm.fit("theta =~ Q1 + Q2 + Q3 + Q4 + Q5", data, family="binomial", nip=20)
    print(result.summary())
    scores = result.empirical_bayes()
    print("\nEB ability scores (first 5 persons):\n", scores.head())
    fig = result.plot_item_characteristic_curves()
    fig.savefig(output, dpi=110)
    print(f"\nItem characteristic curves saved to {output}")
    return result


if __name__ == "__main__":
    main(*sys.argv[1:])
