import warnings

import pytest

import gllamm  # noqa: F401  (float64 on)


@pytest.fixture(scope="session")
def datasets():
    return gllamm.datasets
