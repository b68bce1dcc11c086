"""Process-level workarounds: JAX's import-time ROCm plugin scan is narrowed (nothing else is), and BLAS runs on one
thread during fits (gllamm.runtime.startup, gllamm.runtime.blas_threads)."""

import importlib.metadata
from pathlib import Path

from gllamm.runtime.startup import _ROCM_SCANNER, narrow_rocm_plugin_scan


def _fake_distribution(folder: Path, name: str) -> importlib.metadata.PathDistribution:
    info = folder / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\nVersion: 1.0\n")
    return importlib.metadata.PathDistribution(info)


def _names_seen_from(module_name: str) -> list[str]:
    """The distribution names a caller in module ``module_name`` iterates over (as JAX's scan does)."""
    scope = {"__name__": module_name}
    exec("from importlib.metadata import distributions\nnames = [d.metadata['Name'] for d in distributions()]", scope)
    return scope["names"]


def test_only_jax_scan_is_narrowed_to_rocm_plugin_candidates(tmp_path, monkeypatch):
    fakes = [_fake_distribution(tmp_path, name) for name in ("jax_rocm7_plugin", "numpy_like", "jax_cuda12_plugin")]
    monkeypatch.setattr(importlib.metadata, "distributions", lambda **kwargs: iter(fakes))
    with narrow_rocm_plugin_scan():
        assert _names_seen_from(_ROCM_SCANNER) == ["jax-rocm7-plugin"]  # what JAX looks for still found
        assert _names_seen_from("someone_else") == ["jax-rocm7-plugin", "numpy-like", "jax-cuda12-plugin"]
    assert _names_seen_from(_ROCM_SCANNER) == ["jax-rocm7-plugin", "numpy-like", "jax-cuda12-plugin"]  # restored


def test_blas_runs_on_one_thread_during_a_fit_and_as_before_after_it():
    from threadpoolctl import threadpool_info

    from gllamm.runtime.blas_threads import one_blas_thread

    def blas_threads():
        return [library["num_threads"] for library in threadpool_info() if library["user_api"] == "blas"]

    before = blas_threads()
    inside = one_blas_thread(blas_threads)()
    assert before and inside == [1] * len(before)
    assert blas_threads() == before


def test_blas_libraries_loaded_after_a_fit_are_limited_at_the_next():
    """The BLAS libraries are looked up again when modules were imported since the last lookup."""
    from gllamm.runtime import blas_threads as _blas

    _blas._blas_controller()
    stale = _blas._controller[0]
    assert _blas._blas_controller() is stale  # nothing imported since: the same lookup
    _blas._controller[1] -= 1  # as if a module had been imported since
    assert _blas._blas_controller() is not stale
