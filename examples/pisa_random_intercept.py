"""Random-intercept logit for PISA 2000 reading proficiency: the seed article's Table 1 and Figure 1.

    logit P(pass_read_ij = 1 | zeta_j) = g00 + g01 mn_ses_j + b1 female_ij + b2 ses_ij
                                         + b3 high_school_ij + b4 college_ij + b5 test_lang_ij + zeta_j,
    zeta_j ~ N(0, psi)

Students i in schools j; mn_ses is the school mean of the socio-economic index. Fitted by 12-point adaptive
quadrature. Figure 1 draws the conditional probability (a school with zeta_j = 0, the median school) and the
marginal (population-averaged) probability against school mean SES, by language spoken at home: the marginal
curve is flatter, as the seed article explains. Run:  python examples/pisa_random_intercept.py [figure1.png]
"""

import sys

import gllamm
from gllamm.demo import DEMO_FORMULA, figure1, table1


def main(figure: str = "pisa_figure1.png"):
    pisa = gllamm.datasets.load("pisa_usa_2000")
    result = gllamm.fit(DEMO_FORMULA, pisa, family="binomial", nip=12)
    print(table1(result))
    print()
    print(result.summary())
    figure1(result, pisa, figure)
    print(f"\nFigure 1 saved to {figure}")
    return result


if __name__ == "__main__":
    main(*sys.argv[1:])
