"""Crossed random effects: verbal aggression items answered by 316 persons (lme4's VerbAgg).

    logit P(r2_pi = 1 | u_p, v_i) = x_pi' beta + u_p + v_i,    u_p ~ N(0, s_p^2),  v_i ~ N(0, s_i^2)

Persons p and items i are crossed (every person answers every item), not nested: the "random item" Rasch
model with person covariates (anger, gender) and item covariates (behaviour type, situation, mode). Crossed
factors are integrated jointly by the Laplace approximation (glmer's and glmmTMB's method; its Hessian factored
by eliminating the persons one by one); for Gaussian responses the same route is exact. The same fit with a
Gaussian response: the penicillin assay, plates crossed with samples (lme4's Penicillin; equals lmer).
Run:  python examples/crossed_effects.py
"""

import gllamm


def main():
    verbagg = gllamm.datasets.load("verbagg")
    logit = gllamm.fit("r2 ~ anger + male + btype_scold + btype_shout + situ_self + mode_do + (1 | id) + (1 | item)",
                       verbagg, family="binomial")
    print(logit.summary())
    penicillin = gllamm.datasets.load("penicillin")
    gaussian = gllamm.fit("diameter ~ 1 + (1 | plate) + (1 | sample)", penicillin, reml=True)
    print()
    print(gaussian.summary())
    return logit, gaussian


if __name__ == "__main__":
    main()
