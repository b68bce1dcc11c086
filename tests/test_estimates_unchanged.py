"""The restructuring into Model / estimate / results (issue 20) changed no number: estimates, SEs and
log-likelihoods of reference cases equal those of the code before it (commit 46222f3), saved in
tests/reference/snapshots/before_model_object.json by tests/reference/snapshots/estimates_snapshot.py.
They were bit-identical on the machine that made them; the tolerance only allows another CPU's rounding."""

import json
import runpy
from pathlib import Path

import pytest

SNAPSHOTS = Path(__file__).parent / "reference" / "snapshots"
BEFORE = json.loads((SNAPSHOTS / "before_model_object.json").read_text())["cases"]
SNAPSHOT = runpy.run_path(str(SNAPSHOTS / "estimates_snapshot.py"))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BEFORE))
def test_estimates_are_those_before_the_restructuring(name):
    now, before = SNAPSHOT["estimates"](name), BEFORE[name]
    assert now["loglik"] == pytest.approx(before["loglik"], rel=1e-12, abs=1e-10)
    assert list(now["params"]) == list(before["params"])
    for key in ("params", "se"):
        for parameter, value in before[key].items():
            assert now[key][parameter] == pytest.approx(value, rel=1e-10, abs=1e-12), (key, parameter)
