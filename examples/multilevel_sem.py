"""Multilevel SEM: a student-level factor regressed on a class-level factor (GLLAMM lecture, slides 23-24).

Students j in classes k. The student-level factor eta2 ("fw", e.g. a student's attitude) is measured by
three student items; the class-level factor eta3 ("fb", e.g. the teacher's style) by three class-level
items (one value per class). The structural model relates latent variables across levels,

    fw_jk = b fb_k + g w_jk + zeta_jk,          fb_k = d v_k + zeta_k,  zeta_k ~ N(0, phi)
    y_ijk = nu_i + lambda_i fw_jk + e_ijk,      t_ik = tau_i + kappa_i fb_k + eps_ik

so b is the effect of the class-level factor on the student-level factor. In gllamm: 'level: 1' and
'level: 2' blocks with cluster="cls"; 'fw ~ fb' in the student block is the cross-level path. Items
measured only by class-level factors are class-level variables and enter once per class. The latent
variables are integrated level by level (students inside classes) by adaptive quadrature.
Data are simulated with a fixed seed; run:  python examples/multilevel_sem.py
"""

import numpy as np
import pandas as pd

import gllamm

TRUTH = {"fw~fb": 0.6, "fw~w": 0.4, "fb~v": 0.5, "fw~~fw": 0.64, "fb~~fb": 1.0, "fw=~y2": 0.8, "fb=~t3": 0.7}
MODEL = """
level: 1
fw =~ y1 + y2 + y3
fw ~ fb + w          # cross-level: the student factor on the class factor, and a student covariate
level: 2
fb =~ t1 + t2 + t3   # class-level items
fb ~ v               # a class-level covariate of the class factor
"""


def simulate(classes: int = 120, students: int = 8, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cls = np.repeat(np.arange(classes), students)
    v = rng.normal(size=classes)
    fb = TRUTH["fb~v"] * v + rng.normal(scale=np.sqrt(TRUTH["fb~~fb"]), size=classes)
    w = rng.normal(size=classes * students)
    fw = TRUTH["fw~fb"] * fb[cls] + TRUTH["fw~w"] * w + rng.normal(scale=np.sqrt(TRUTH["fw~~fw"]), size=len(cls))
    data = pd.DataFrame({"cls": cls, "w": w, "v": v[cls]})
    for j, lam in enumerate([1.0, TRUTH["fw=~y2"], 1.2], start=1):
        data[f"y{j}"] = 2 + lam * fw + rng.normal(scale=0.5, size=len(cls))
    for j, lam in enumerate([1.0, 0.9, TRUTH["fb=~t3"]], start=1):
        data[f"t{j}"] = (1 + lam * fb + rng.normal(scale=0.5, size=classes))[cls]
    return data


def main():
    data = simulate()
    result = gllamm.fit(MODEL, data, cluster="cls")
    print(result.summary())
    print(f"\nEffect of the class factor on the student factor: {result.params['fw~fb']:.3f} "
          f"(SE {result.se['fw~fb']:.3f}); truth {TRUTH['fw~fb']}")
    return result


if __name__ == "__main__":
    main()
