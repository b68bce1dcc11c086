"""Compiled programs stored between processes (gllamm.runtime.compiled_cache): loaded instead of traced, reused
after source edits when the program is unchanged, and never wrong when an entry is missing or damaged."""

import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gllamm.runtime import compiled_cache as cache


def _probe(x, data):
    """A small program with a LAPACK call (Cholesky) and a pytree argument."""
    root = jnp.linalg.cholesky(data["m"])
    return jnp.sum(jnp.sin(x) * data["a"]), root @ root.T


def _untraceable(x, data):
    raise AssertionError("traced although a stored program should have been loaded")


ARGS = (np.arange(3.0), {"a": np.array([1.0, 2.0, 3.0]), "m": np.array([[4.0, 2.0], [2.0, 3.0]])})


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "_cache_dir", lambda: tmp_path)
    return tmp_path


def _expected():
    return float(np.sum(np.sin(ARGS[0]) * ARGS[1]["a"])), ARGS[1]["m"]


def test_a_stored_program_is_loaded_without_tracing(store):
    value, matrix = cache.CachedFunction("probe", jax.jit(_probe), "s")(*ARGS)
    assert len(list(store.glob("*.bin"))) == 1 and len(list((store / "index").iterdir())) == 1
    again = cache.CachedFunction("probe", jax.jit(_untraceable), "s")  # a new process's function
    value2, matrix2 = again(*ARGS)
    assert float(value2) == float(value) == pytest.approx(_expected()[0], rel=1e-15)
    np.testing.assert_allclose(matrix2, _expected()[1], rtol=1e-14)


def test_prefetch_loads_in_the_background(store):
    cache.CachedFunction("probe", jax.jit(_probe), "s")(*ARGS)
    again = cache.CachedFunction("probe", jax.jit(_untraceable), "s")
    again.prefetch(*ARGS)
    assert len(again._pending) == 1
    assert float(again(*ARGS)[0]) == pytest.approx(_expected()[0], rel=1e-15)
    other = cache.CachedFunction("probe", jax.jit(_probe), "other structure")
    other.prefetch(*ARGS)  # nothing stored for it: prefetch does nothing (it never compiles)
    assert not other._pending


def test_edited_source_reuses_an_unchanged_program(store, monkeypatch):
    cache.CachedFunction("probe", jax.jit(_probe), "s")(*ARGS)
    written = []
    write = cache._write
    monkeypatch.setattr(cache, "_write", lambda path, payload: (written.append(path.parent.name), write(path, payload)))
    monkeypatch.setattr(cache, "_source", lambda: "edited")
    value, _ = cache.CachedFunction("probe", jax.jit(_probe), "s")(*ARGS)
    assert written == ["index"]  # traced again (new index entry), not compiled (no new program)
    assert float(value) == pytest.approx(_expected()[0], rel=1e-15)


def test_damaged_or_missing_programs_are_compiled_again(store):
    cache.CachedFunction("probe", jax.jit(_probe), "s")(*ARGS)
    (program,) = store.glob("*.bin")
    program.write_bytes(b"not a program")
    value, _ = cache.CachedFunction("probe", jax.jit(_probe), "s")(*ARGS)
    assert float(value) == pytest.approx(_expected()[0], rel=1e-15)
    program.unlink()
    value, _ = cache.CachedFunction("probe", jax.jit(_probe), "s")(*ARGS)
    assert float(value) == pytest.approx(_expected()[0], rel=1e-15)
    assert program.exists()


def test_different_shapes_get_their_own_programs(store):
    function = cache.CachedFunction("probe", jax.jit(_probe), "s")
    function(*ARGS)
    longer = (np.arange(4.0), {"a": np.ones(4), "m": ARGS[1]["m"]})
    assert float(function(*longer)[0]) == pytest.approx(float(np.sum(np.sin(np.arange(4.0)))), rel=1e-15)
    assert len(list(store.glob("*.bin"))) == 2


def test_unserialisable_programs_fall_back_to_jit(store, monkeypatch):
    from jax.experimental import serialize_executable

    def refuse(compiled):
        raise NotImplementedError("serialize_executables with const_args")

    monkeypatch.setattr(serialize_executable, "serialize", refuse)
    value, _ = cache.CachedFunction("probe", jax.jit(_probe), "s")(*ARGS)
    assert not list(store.glob("*.bin"))
    (entry,) = (store / "index").iterdir()
    assert entry.read_text() == cache._UNSTORABLE
    value2, _ = cache.CachedFunction("probe", jax.jit(_probe), "s")(*ARGS)
    assert float(value2) == float(value) == pytest.approx(_expected()[0], rel=1e-15)


@pytest.mark.parametrize("devices", [1, 4])
def test_a_new_process_loads_a_program_that_calls_lapack(tmp_path, devices):
    """The LAPACK kernels must be registered before such a program runs in a process that never lowered one
    (otherwise the process crashes), and a process that sees several devices runs it on its default device;
    run twice in fresh interpreters: compile and store, then load."""
    script = textwrap.dedent(f"""
        import numpy as np, jax, jax.numpy as jnp
        from gllamm.runtime import compiled_cache as cache
        from pathlib import Path
        cache._cache_dir = lambda: Path({str(tmp_path)!r})
        traced = []
        compile_ = cache._compile
        cache._compile = lambda *a: (traced.append(1), compile_(*a))[1]
        def probe(x, data):
            root = jnp.linalg.cholesky(data["m"])
            return jnp.sum(jnp.sin(x) * data["a"]), root @ root.T
        f = cache.CachedFunction("probe", jax.jit(probe), "s")
        value, matrix = f(np.arange(3.0), {{"a": np.array([1.0, 2.0, 3.0]), "m": np.array([[4.0, 2.0], [2.0, 3.0]])}})
        print(repr(float(value)), float(matrix[1, 1]), len(list(Path({str(tmp_path)!r}).glob("*.bin"))), len(traced))
    """)
    environment = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}", JAX_PLATFORMS="cpu")
    first, second = (subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                                    env=environment) for _ in range(2))
    assert first.returncode == 0, first.stderr[-2000:]
    assert second.returncode == 0, second.stderr[-2000:]
    assert first.stdout.split()[:3] == second.stdout.split()[:3]
    assert first.stdout.split()[3] == "1" and second.stdout.split()[3] == "0"  # compiled, then loaded
    value, m11, programs, _ = second.stdout.split()
    assert float(value) == pytest.approx(_expected()[0], rel=1e-15) and float(m11) == pytest.approx(3.0)
    assert programs == "1"


def test_a_command_line_preloads_the_programs_of_its_last_run(tmp_path):
    """The second run of the same command line finds its programs loading (or loaded) since gllamm's import, in
    the preload thread; the main thread loads nothing itself. Run in fresh interpreters with their own cache."""
    script = textwrap.dedent("""
        import threading
        import numpy as np, jax, jax.numpy as jnp
        import gllamm
        from gllamm.runtime import compiled_cache as cache
        preloaded = dict(cache._preloaded)
        loads = []
        load = cache._load
        cache._load = lambda *a: (loads.append(threading.current_thread().name), load(*a))[1]
        f = cache.CachedFunction("probe", jax.jit(lambda x: jnp.sum(jnp.sin(x))), "s")
        value = f(np.arange(3.0))
        (content, _), = cache._used
        print(repr(float(value)), len(preloaded), content in preloaded, "MainThread" in loads)
    """)
    environment = dict(os.environ, GLLAMM_CACHE_DIR=str(tmp_path), JAX_PLATFORMS="cpu")
    first, second = (subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                                    env=environment, cwd=tmp_path) for _ in range(2))
    assert first.returncode == 0, first.stderr[-2000:]
    assert second.returncode == 0, second.stderr[-2000:]
    assert first.stdout.split()[1:3] == ["0", "False"]  # nothing to preload: compiled
    value, n_preloaded, found, main_loaded = second.stdout.split()
    assert (n_preloaded, found, main_loaded) == ("1", "True", "False")
    assert float(value) == pytest.approx(float(np.sum(np.sin(np.arange(3.0)))), rel=1e-15)
    assert len(list((tmp_path / "gllamm-programs" / "profiles").iterdir())) == 1



def test_verbose_fits_say_when_they_compile(store, capsys):
    from gllamm.runtime.compile_messages import announce_compiles

    @announce_compiles
    def fit(verbose=False):
        return cache.CachedFunction("probe", jax.jit(_probe), "announced")(*ARGS)

    fit(verbose=True)
    out = capsys.readouterr().out
    assert "compiling the probe program for this model" in out and "compiled the probe program in" in out
    fit(verbose=True)  # stored now: loaded, nothing compiled
    assert "compiling" not in capsys.readouterr().out
    cache.CachedFunction("probe", jax.jit(_probe), "quiet")(*ARGS)  # not verbose: silent
    assert capsys.readouterr().out == ""
