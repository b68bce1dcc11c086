import os
import warnings

import pytest

# The test process compiles hundreds of programs; in it (twice, from a cold cache) XLA aborted while
# serialising one executable for the persistent cache (jaxlib 0.10.2). The tests' own process therefore
# skips XLA's executable cache (gllamm's traced-function cache stays on); subprocesses keep both.
os.environ.setdefault("GLLAMM_XLA_CACHE", "off")

import gllamm  # noqa: E402,F401  (float64 on)

os.environ.pop("GLLAMM_XLA_CACHE")  # not inherited by the subprocesses the tests start


@pytest.fixture(scope="session")
def datasets():
    return gllamm.datasets
