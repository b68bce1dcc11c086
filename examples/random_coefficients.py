"""Random coefficients: reaction times over ten days of sleep deprivation (lme4's sleepstudy).

    reaction_ij = b0 + b1 days_ij + u0_j + u1_j days_ij + e_ij,   (u0_j, u1_j) ~ N(0, Psi),   e_ij ~ N(0, sigma^2)

Each subject j has an intercept and a slope of their own; Psi holds their variances and covariance. The response
is Gaussian with identity link, so the latent variables are integrated exactly. The ML fit equals lme4's
lmer(REML = FALSE) and the REML fit lmer's default (tests/test_reference_fits.py, tests/test_reml.py). The
figure draws each subject's fitted line (EB predictions) over the data. Run:
python examples/random_coefficients.py [lines.png]
"""

import sys

import gllamm


def main(figure: str = "random_coefficients.png"):
    sleep = gllamm.datasets.load("sleepstudy")
    ml = gllamm.fit("reaction ~ days + (1 + days | subject)", sleep)
    reml = gllamm.fit("reaction ~ days + (1 + days | subject)", sleep, reml=True)
    print(reml.summary())
    print("\nVariance components, ML and REML:")
    print(ml.variance_components().to_string())
    print(reml.variance_components().to_string())
    print("\nEB (posterior) means and SDs of the first five subjects' intercepts and slopes:")
    print(ml.empirical_bayes().head().to_string())
    _plot(ml, sleep, figure)
    return ml, reml


def _plot(result, data, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fitted = result.predict(latent="eb")
    fig, axes = plt.subplots(3, 6, figsize=(12, 6), sharex=True, sharey=True)
    for ax, (subject, rows) in zip(axes.flat, data.groupby("subject")):
        ax.plot(rows["days"], rows["reaction"], "o", markersize=3)
        ax.plot(rows["days"], fitted[rows.index], "-")
        ax.set_title(str(subject), fontsize=8)
    fig.supxlabel("days of sleep deprivation")
    fig.supylabel("reaction time (ms)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    print(f"\nFigure saved to {path}")


if __name__ == "__main__":
    main(*sys.argv[1:])
