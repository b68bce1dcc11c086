"""Fit three models on 1 device and on every visible device (run with
XLA_FLAGS=--xla_force_host_platform_device_count=8); print the largest differences as JSON."""

import json
import sys

import numpy as np
import pandas as pd

import gllamm


def three_level_data(seed=3, n3=30, n2=4, n1=4):
    rng = np.random.default_rng(seed)
    comm = np.repeat(np.arange(n3), n2 * n1)
    mom = np.repeat(np.arange(n3 * n2), n1)
    x = rng.normal(size=comm.size)
    eta = -0.3 + 0.7 * x + rng.normal(scale=0.8, size=n3)[comm] + rng.normal(scale=1.0, size=n3 * n2)[mom]
    return pd.DataFrame(dict(y=rng.binomial(1, 1 / (1 + np.exp(-eta))), x=x, comm=comm, mom=mom))


MODELS = {
    "two_level_logit": lambda: ("use ~ urban + age + livch1 + livch2 + livch3 + (1 + urban | district)",
                                gllamm.datasets.load("contraception"), dict(family="binomial")),
    "three_level_logit": lambda: ("y ~ x + (1 | comm) + (1 | mom)", three_level_data(),
                                  dict(family="binomial", nip=8)),
    "latent_classes": lambda: ("C =~ Q1 + Q2 + Q3 + Q4 + Q5", gllamm.datasets.load("lsat7"),
                               dict(family="binomial", classes=2, seed=1, starts=2)),
    "factor_model": lambda: ("visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9",
                             gllamm.datasets.load("holzinger"), {}),
}


def compare(name: str, chunk_size: int | None) -> dict:
    model, data, options = MODELS[name]()
    one = gllamm.fit(model, data, devices=1, **options)
    many = gllamm.fit(model, data, devices=None, chunk_size=chunk_size, **options)
    scale = np.maximum(np.abs(one.theta), 1e-3)
    return dict(model=name, devices=many.options.get("devices", 1), parts=many.options.get("parts", 1),
                estimates=float(np.max(np.abs(one.theta - many.theta) / scale)),
                loglik=float(abs(one.loglik - many.loglik) / abs(one.loglik)),
                se=float(np.max(np.abs(one.se - many.se) / one.se)),
                converged=bool(one.converged and many.converged))


if __name__ == "__main__":
    chunk = int(sys.argv[2]) if len(sys.argv) > 2 else None
    print(json.dumps([compare(name, chunk) for name in sys.argv[1].split(",")]))
