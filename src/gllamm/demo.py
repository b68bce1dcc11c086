"""The demo: the seed article's Table 1, a random-intercept logit for PISA 2000 reading proficiency.

    logit P(pass_read_ij = 1 | zeta_j) = g00 + g01 mn_ses_j + b1 female_ij + b2 ses_ij
                                         + b3 high_school_ij + b4 college_ij + b5 test_lang_ij + zeta_j,
    zeta_j ~ N(0, psi),   12-point adaptive quadrature.
"""

from __future__ import annotations

import numpy as np

DEMO_FORMULA = "pass_read ~ mn_ses + female + ses + high_school + college + test_lang + (1 | id_school)"


def table1(result) -> str:
    """Est (SE), odds ratio and its 95% CI for each fixed effect, then psi, as in Table 1."""
    table = result.table()
    lines = ["Table 1  Maximum likelihood estimates for logistic random intercept model", "",
             f"{'Parameter':14s}{'Est':>8s} {'(SE)':>8s} {'OR':>6s}   (95% CI)"]
    for name in result.spec.fixed_names:
        row = table.loc[name]
        if name == "(Intercept)":
            lines.append(f"{name:14s}{row.estimate:8.2f} ({row.se:5.2f})")
        else:
            lines.append(f"{name:14s}{row.estimate:8.2f} ({row.se:5.2f}) {np.exp(row.estimate):6.1f}   "
                         f"({np.exp(row.ci_lower):.1f},{np.exp(row.ci_upper):.1f})")
    key = "var((Intercept)|id_school)"
    lines.append(f"{'psi':14s}{table.loc[key].estimate:8.2f} ({table.loc[key].se:5.2f})")
    lines.append(f"\nLog likelihood {result.loglik:.2f}; {result.nobs} students in {result.design.n_clusters} schools.")
    return "\n".join(lines)


def figure1(result, pisa, path):
    """The seed article's Figure 1: conditional (median) and marginal probabilities against school mean SES,
    for boys with mean SES whose parents' highest education is high school, by language spoken at home."""
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    grid_ses = np.linspace(pisa.mn_ses.min(), pisa.mn_ses.max(), 60)
    grid = pd.DataFrame([dict(mn_ses=m, female=0, ses=0.0, high_school=1, college=0, test_lang=t)
                         for t in (0, 1) for m in grid_ses])
    fig = result.plot_conditional_marginal(grid, x="mn_ses", by="test_lang",
                                           labels={0: "(no English at home)", 1: "(English at home)"})
    ax = fig.axes[0]
    ax.set_xlabel("School mean SES")
    ax.set_ylabel("Probability of reading proficiency")
    ax.set_title("Figure 1: conditional (black) and marginal (blue) probabilities")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


def run_demo(figure: str | None = "gllamm_figure1.png") -> None:
    """Fit the Table 1 model on the bundled PISA data, print the table and summary, save Figure 1."""
    from . import datasets, fit

    pisa = datasets.load("pisa_usa_2000")
    result = fit(DEMO_FORMULA, pisa, family="binomial", nip=12)
    print(table1(result))
    print()
    print(result.summary())
    if figure:
        print(f"\nFigure 1 (conditional and marginal probabilities) saved to {figure1(result, pisa, figure)}")
