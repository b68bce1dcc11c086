import logging
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
    _return_freed_memory()


def _return_freed_memory() -> None:
    """Collect, then hand freed heap pages back to the operating system (glibc keeps them otherwise, and the
    process's peak memory would grow module after module)."""
    import ctypes
    import gc
    import sys

    gc.collect()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):
            pass


@pytest.fixture(scope="session")
def datasets():
    return gllamm.datasets


_PEAKS: list = []  # (growth of the process's peak memory in MB, test) when GLLAMM_TEST_MEMORY is set


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """With GLLAMM_TEST_MEMORY=1, record how much each test raised the process's peak resident memory."""
    import os
    import resource

    if not os.environ.get("GLLAMM_TEST_MEMORY"):
        yield
        return
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    yield
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if after > before:
        _PEAKS.append(((after - before) / 1024, after / 1024, item.nodeid))


class _CompileCounter(logging.Handler):
    """Counts JAX's "Compiling <program>" log records (GLLAMM_TEST_COMPILES=1: programs compiled by the suite)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.names: list[str] = []

    def emit(self, record):
        message = record.getMessage()
        if message.startswith("Compiling "):
            self.names.append(message.split(" with ")[0][len("Compiling "):])


_COMPILES = _CompileCounter()


def pytest_configure(config):
    import os

    if os.environ.get("GLLAMM_TEST_COMPILES"):
        jax.config.update("jax_log_compiles", True)
        logging.getLogger("jax").addHandler(_COMPILES)


def pytest_terminal_summary(terminalreporter):
    if _COMPILES.names:
        from collections import Counter

        counts = Counter(_COMPILES.names)
        terminalreporter.write_line(f"JAX compiled {len(_COMPILES.names)} programs ({len(counts)} distinct names); "
                                    "most often: " + ", ".join(f"{n} x{c}" for n, c in counts.most_common(8)))
    if _PEAKS:
        terminalreporter.write_line("tests that raised the peak memory (MB raised, peak MB after):")
        for raised, peak, name in sorted(_PEAKS, reverse=True)[:20]:
            terminalreporter.write_line(f"  {raised:8.0f} {peak:8.0f}  {name}")
