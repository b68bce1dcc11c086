"""Comparing models and reporting intervals: contagious bovine pleuropneumonia in 15 herds (lme4's cbpp).

    1. a logistic regression of the proportion of new cases on the period (a binomial GLM),
    2. the same with a random intercept for the herd (a GLMM, adaptive quadrature with 25 points),
    3. the GLMM without the period effect.

gllamm.anova tests the GLMM against each simpler model (the herd variance at 0 with the chi-bar-square
mixture, the period effect with 3 df), gllamm.compare puts the estimates side by side, wald_test_terms tests the
period factor as one term, and the GLMM's Wald, profile-likelihood and bootstrap intervals are printed and drawn.
The profile intervals equal lme4's confint(method="profile") (tests/test_profile_intervals.py). Run:

    python examples/comparing_models.py [intervals.png]
"""

import sys

import gllamm

RESPONSE = "cbind(incidence, size - incidence)"


def main(figure=None, n_boot: int = 200):
    data = gllamm.datasets.load("cbpp")
    glm = gllamm.fit(f"{RESPONSE} ~ C(period)", data, family="binomial")
    glmm = gllamm.fit(f"{RESPONSE} ~ C(period) + (1 | herd)", data, family="binomial", nip=25)
    null = gllamm.fit(f"{RESPONSE} ~ 1 + (1 | herd)", data, family="binomial", nip=25)
    names = ["GLM", "GLMM", "GLMM, no period"]
    print("Likelihood-ratio tests of the herd variance (at 0: chi-bar-square) and of the period effect:")
    print(gllamm.anova(glm, glmm, names=names[:2]).to_string(float_format=lambda x: f"{x:.4g}"))
    print(gllamm.anova(null, glmm, names=names[:0:-1]).to_string(float_format=lambda x: f"{x:.4g}"))
    print("\nEstimates (SE):")
    print(gllamm.compare(glm, glmm, null, names=names).to_string())
    print("\nWald tests of the GLMM's terms:")
    print(glmm.wald_test_terms().to_string(float_format=lambda x: f"{x:.4g}"))
    intervals = {"Wald": glmm.conf_int(), "profile": glmm.conf_int(method="profile"),
                 "bootstrap": glmm.conf_int(method="bootstrap", n_boot=n_boot, seed=1)}
    print("\n95% intervals of the GLMM's parameters:")
    for method, table in intervals.items():
        print(f"  {method}:")
        print(table.to_string(float_format=lambda x: f"{x:9.4f}"))
    if figure is not None:
        _plot(glmm, intervals, figure)
    return glm, glmm, null, intervals


def _plot(result, intervals, path):
    """Each parameter's estimate and its three intervals, one above the other."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(result.params.index)
    fig, ax = plt.subplots(figsize=(8, 4))
    for offset, (method, table) in zip((-0.2, 0.0, 0.2), intervals.items()):
        positions = [i + offset for i in range(len(names))]
        ax.hlines(positions, table["lower"], table["upper"], label=method, linewidth=2,
                  color={"Wald": "C0", "profile": "C1", "bootstrap": "C2"}[method])
    ax.plot(result.params.to_numpy(), range(len(names)), "k|", markersize=12, label="estimate")
    ax.axvline(0, color="grey", linewidth=0.5)
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlabel("95% interval")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
