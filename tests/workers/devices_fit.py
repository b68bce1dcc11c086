"""Fit the models named on the command line on 1 device and on every visible device (run with
XLA_FLAGS=--xla_force_host_platform_device_count=8); print the largest differences as JSON."""

import json
import sys
from pathlib import Path

import numpy as np

import gllamm

sys.path.insert(0, str(Path(__file__).parents[1]))  # the tests directory
from test_three_level import _simulate as three_level_data  # noqa: E402  (the three-level test's data)


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
