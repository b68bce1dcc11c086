import warnings

import jax
import pytest

import gllamm  # noqa: F401  (float64 on)


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """Free every module's compiled programs after it: the test process compiles hundreds of them, and
    (jaxlib 0.10.2) XLA crashed compiling one more after ~130 tests had kept theirs alive."""
    yield
    gllamm.make_objective.cache_clear()
    jax.clear_caches()


@pytest.fixture(scope="session")
def datasets():
    return gllamm.datasets
