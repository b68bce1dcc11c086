"""Estimates, SEs and log-likelihoods of reference cases written to a JSON file, to check that a restructuring of
gllamm's code leaves every number as it was (tests/test_estimates_unchanged.py).

Run from the repository root at the commit to compare against:
    python tests/reference/snapshots/estimates_snapshot.py tests/reference/snapshots/<name>.json
"""

import json
import sys
import warnings

CASES = {  # name -> (dataset, model text, options)
    "contraception": ("contraception", "use ~ age + age2 + urban + livch1 + livch2 + livch3 + (1 | district)",
                      dict(family="binomial", nip=25)),
    "sleepstudy": ("sleepstudy", "reaction ~ days + (1 + days | subject)", {}),
    "wine": ("wine", "rating ~ temp_warm + contact_yes + (1 | judge)", dict(family="ordinal", nip=10)),
    "holzinger": ("holzinger", "visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6\n speed =~ x7 + x8 + x9", {}),
    "lsat7_2pl": ("lsat7", "theta =~ Q1 + Q2 + Q3 + Q4 + Q5", dict(family="binomial", nip=20)),
    "lsat7_classes": ("lsat7", "C =~ Q1 + Q2 + Q3 + Q4 + Q5", dict(family="binomial", classes=2, seed=1)),
}


def estimates(name: str) -> dict:
    """{loglik, params, se} of one case, as fitted now."""
    import gllamm

    dataset, text, options = CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = gllamm.fit(text, gllamm.datasets.load(dataset), **options)
    return dict(loglik=result.loglik, params=result.params.to_dict(), se=result.se.to_dict())


if __name__ == "__main__":
    import gllamm

    out = {"gllamm_version": gllamm.__version__, "cases": {name: estimates(name) for name in CASES}}
    with open(sys.argv[1], "w") as file:
        json.dump(out, file, indent=1)
