"""Integration rules in four and five dimensions (issue #26): nodes, accuracy and time of the log-likelihood.

Binary-item factor models with q = 4 and q = 5 correlated factors (simulated: 2,000 persons, 24 and 20 items,
simple structure). The parameters are estimated once by the Laplace approximation; at those parameters the
log-likelihood is evaluated by adaptive quadrature with every rule, and compared with a high-accuracy product
rule (12 points per dimension in 4 dimensions: 20,736 nodes, within 5e-5 of 14 points; 7 in 5 dimensions: 16,807
nodes), in chunks of 100 persons. Printed per rule:
nodes, log L minus the reference, and the time of one warm evaluation (modes adapted, then the value).

    python benchmarks/integration_rules.py [q ...]
"""

from __future__ import annotations

import sys
import time
import warnings
from dataclasses import replace

import numpy as np
import pandas as pd

import gllamm
from gllamm.estimate.iterations import fitting_arrays
from gllamm.integrate.rules import standard_rule
from gllamm.optimize.quadrature_check import loglik_at

REFERENCE = {4: ("product", 12), 5: ("product", 7)}
RULES = [("product", 3), ("product", 4), ("product", 5), ("product", 6), ("spherical", 3), ("spherical", 4),
         ("spherical", 5), ("spherical", 6), ("sparse", 4), ("sparse", 5), ("sparse", 6), ("qmc", 512),
         ("qmc", 2048)]


def simulate(q: int, items: int, n: int = 2000, seed: int = 26) -> tuple[pd.DataFrame, str]:
    """Correlated factors (correlation 0.3), loadings 1.0-1.5, intercepts -1..1; item j measures factor j mod q."""
    rng = np.random.default_rng(seed)
    cov = 0.7 * np.eye(q) + 0.3
    eta = rng.multivariate_normal(np.zeros(q), cov, size=n)
    columns = {}
    for j in range(items):
        loading, intercept = 1.0 + 0.5 * (j % 2), -1.0 + 2.0 * (j % 5) / 4
        p = 1 / (1 + np.exp(-(intercept + loading * eta[:, j % q])))
        columns[f"y{j + 1}"] = (rng.random(n) < p).astype(float)
    syntax = "; ".join(f"f{k + 1} =~ " + " + ".join(f"y{j + 1}" for j in range(items) if j % q == k)
                       for k in range(q))
    return pd.DataFrame(columns), syntax


def main(dims=(4, 5)) -> None:
    warnings.simplefilter("ignore")
    for q in dims:
        data, syntax = simulate(q, 24 if q == 4 else 20)
        fitted = gllamm.fit(syntax, data, family="binomial", method="laplace", factor_scale="variance",
                            chunk_size=100)  # (the reference rules' nodes x persons x items in bounded memory)
        adaptive = replace(gllamm.integrate.Integration("adaptive", 1))
        arrays = fitting_arrays(fitted.design, adaptive)
        rule, nip = REFERENCE[q]
        reference = loglik_at(fitted.table_spec, replace(adaptive, rule=rule, nip=nip), fitted.theta, arrays)
        print(f"\nq = {q}: reference {rule} rule, nip={nip} ({standard_rule(rule, nip, q).size} nodes): "
              f"log L = {reference:.4f}")
        print(f"{'rule':>10} {'nip':>5} {'nodes':>7} {'log L - reference':>18} {'seconds':>8}")
        for rule, nip in RULES:
            integration = replace(adaptive, rule=rule, nip=nip)
            value = loglik_at(fitted.table_spec, integration, fitted.theta, arrays)  # (compiles)
            start = time.perf_counter()
            loglik_at(fitted.table_spec, integration, fitted.theta, arrays)
            seconds = time.perf_counter() - start
            print(f"{rule:>10} {nip:>5} {standard_rule(rule, nip, q).size:>7} {value - reference:>18.5f} "
                  f"{seconds:>8.2f}", flush=True)


if __name__ == "__main__":
    main(tuple(int(a) for a in sys.argv[1:]) or (4, 5))
