"""One of two processes fitting one model with jax.distributed over localhost; each process holds
half of the clusters. Usage: two_processes_fit.py PROCESS_ID PORT OUT.json [formula]."""

import json
import sys

import numpy as np

import gllamm

FORMULA = "use ~ urban + age + livch1 + livch2 + livch3 + (1 + urban | district)"

if __name__ == "__main__":
    process_id, port, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    formula = sys.argv[4] if len(sys.argv) > 4 else FORMULA
    gllamm.initialize_distributed(f"localhost:{port}", num_processes=2, process_id=process_id)
    data = gllamm.datasets.load("contraception")
    districts = np.sort(data.district.unique())
    mine = data[data.district.isin(districts[process_id::2])]  # every other district
    try:
        res = gllamm.fit(formula, mine, family="binomial")
        eb = res.empirical_bayes()
        payload = dict(theta=res.theta.tolist(), loglik=res.loglik, se=res.se.tolist(), converged=res.converged,
                       nobs=res.nobs, groups=res.n_groups, processes=res.options.get("processes"),
                       robust_se=np.sqrt(np.diag(res.robust_vcov())).tolist(),
                       eb={str(k): v for k, v in eb.iloc[:, 0].items()}, eb_column=eb.columns[0])
    except gllamm.GllammError as error:
        payload = dict(error=str(error))
    with open(out, "w") as handle:
        json.dump(payload, handle)
