"""Multilevel multinomial logit: school leavers' destinations, with correlated school effects.

Each of 2,400 pupils in 120 schools goes to work (the base category), vocational training or
university. For pupil i in school j and each non-base destination c,

    log P(y_ij = c) / P(y_ij = work) = beta_0c + beta_1c ses_ij + beta_2c female_ij + u_jc,

with (u_j,vocational, u_j,university) bivariate normal: some schools send many pupils on to any
further education (positively correlated effects). The model has one copy of every fixed and
random effect per non-base category ("university:ses", "var(university:(Intercept)|school)").
The example prints the fit, then the conditional (school effect 0) and population-averaged
(marginal) probabilities of each destination over ses, which differ because the softmax is
non-linear. Data are simulated with a fixed seed; run:  python examples/multilevel_multinomial.py
"""

import numpy as np
import pandas as pd

import gllamm

DESTINATIONS = ["work", "vocational", "university"]
TRUTH = {"vocational:(Intercept)": 0.2, "vocational:ses": 0.4, "vocational:female": 0.3,
         "university:(Intercept)": -0.6, "university:ses": 1.1, "university:female": 0.2,
         "var(vocational:(Intercept)|school)": 0.4, "cov(vocational:(Intercept),university:(Intercept)|school)": 0.3,
         "var(university:(Intercept)|school)": 0.8}


def simulate(schools: int = 120, pupils: int = 20, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    school = np.repeat(np.arange(schools), pupils)
    ses, female = rng.normal(size=school.size), rng.binomial(1, 0.5, school.size)
    cov = np.array([[TRUTH["var(vocational:(Intercept)|school)"], TRUTH["cov(vocational:(Intercept),university:(Intercept)|school)"]],
                    [TRUTH["cov(vocational:(Intercept),university:(Intercept)|school)"], TRUTH["var(university:(Intercept)|school)"]]])
    u = rng.multivariate_normal([0, 0], cov, size=schools)[school]
    eta = np.stack([np.zeros(school.size)] + [
        TRUTH[f"{c}:(Intercept)"] + TRUTH[f"{c}:ses"] * ses + TRUTH[f"{c}:female"] * female + u[:, k]
        for k, c in enumerate(DESTINATIONS[1:])], axis=1)
    p = np.exp(eta - eta.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    choice = (p.cumsum(1) < rng.uniform(size=(school.size, 1))).sum(1)
    destination = pd.Categorical(np.asarray(DESTINATIONS)[choice], categories=DESTINATIONS)
    return pd.DataFrame(dict(destination=destination, ses=ses, female=female, school=school))


def main():
    data = simulate()
    result = gllamm.fit("destination ~ ses + female + (1 | school)", data, family="multinomial", base="work")
    print(result.summary())
    grid = pd.DataFrame(dict(ses=np.linspace(-2, 2, 5), female=0, school=-1))
    conditional = result.predict(grid, type="probability")
    marginal = result.predict(grid, type="probability", latent="marginal")
    table = pd.concat({"conditional (u = 0)": conditional, "marginal": marginal}, axis=1)
    table.index = pd.Index(grid.ses.round(1), name="ses")
    print("\nPredicted probabilities of each destination (boys):")
    print(table.round(3).to_string())
    return result, conditional, marginal


if __name__ == "__main__":
    main()
