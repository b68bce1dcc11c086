"""Compiled likelihood programs kept on disk between processes.

JAX's persistent compilation cache saves XLA's compilation, but every new process
still traces the Python likelihood, lowers it, hashes the lowered program for the
cache key and only then loads the executable: tens of milliseconds per program,
more than the whole fit of a small model. Here each jitted function is compiled
once per model structure and argument signature, and its executable is serialised
(``jax.experimental.serialize_executable``) into the folder ``gllamm-programs`` of JAX's
compilation cache directory (``~/.cache/gllamm/jax`` unless ``GLLAMM_CACHE_DIR`` moves it):

* an index entry maps (gllamm's source, the function's name, the model structure, the
  argument signature, the platform) to a content key: a hash of the lowered program's
  text without source locations, and of the platform;
* a program entry holds the executable of each content key.

A later process finds the index entry and loads the executable without tracing. It
need not even wait for that: each command line (``sys.orig_argv`` and working directory)
has a profile, ``gllamm-programs/profiles/<key>``, listing the executables its last run
used in order of first use, and ``preload_profile`` (called when gllamm is imported)
starts loading them in a background thread while the rest of gllamm, pandas and
formulaic are imported. The profile is rewritten at exit when the programs changed.
Edited gllamm source gives new index entries (the function is traced once more) but
reuses the executables of programs whose lowered text did not change. Executables are
compiled with JAX's persistent cache off: one loaded from that cache cannot be
serialised again. The platform part of the keys covers the JAX and jaxlib versions,
the backend and its version, the device kinds, ``XLA_FLAGS`` and, on CPUs, the
instruction-set features the code was generated for. Any failure falls back to the
plain jitted function (traced and compiled as usual).

What the cache trusts: executables are unpickled, so they are read only from a directory that
no other user can write (``trusted_directory``: created with mode 0700, refused when another
user owns it or may write to it), and only under names that are content hashes (32 hex digits);
an index or profile line naming anything else is ignored, so no path outside the directory is
ever opened.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import sys
import threading
import time
import zlib
from functools import lru_cache
from pathlib import Path

import jax

from .compile_messages import say as _say
from .compile_threads import background_compiler, background_loader, persistent_cache_off
from .trusted_directory import make_private_directory


@lru_cache(maxsize=1)
def _source() -> str:
    """Hash of gllamm's own source files, so edited code is traced again (about 4 ms: computed when first needed,
    or by the preload thread while gllamm is imported)."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.parent.rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


@lru_cache(maxsize=1)
def _platform() -> str:
    """What an executable depends on besides its program: versions, backend, devices, flags, CPU features."""
    import jaxlib

    backend = jax.local_devices()[0].client
    parts = [jax.__version__, getattr(jaxlib, "__version__", ""), backend.platform, backend.platform_version,
             ",".join(sorted({device.device_kind for device in jax.local_devices()})),
             os.environ.get("XLA_FLAGS", "")]
    if backend.platform == "cpu":
        parts.append(_cpu_features())
    return _hash(*parts)


def _cpu_features() -> str:
    """The host CPU's feature flags (XLA generates code for them); the machine name where unavailable."""
    import platform

    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith(("flags", "Features")):
                    return line
    except OSError:
        pass
    return platform.machine() + platform.processor()


@lru_cache(maxsize=8)
def _trusted(directory: Path) -> bool:
    """Whether programs may be read from ``directory`` (created private; see ``trusted_directory``)."""
    return make_private_directory(directory) is None


def _cache_dir() -> Path | None:
    if os.environ.get("GLLAMM_CACHE_DIR", "").lower() == "off" or \
            os.environ.get("GLLAMM_XLA_CACHE", "").lower() == "off":
        return None
    base = jax.config.jax_compilation_cache_dir
    if not base:
        return None
    directory = Path(base) / "gllamm-programs"
    return directory if _trusted(directory) else None


_CONTENT_KEY = re.compile(r"[0-9a-f]{32}")


def _entry(line: str) -> tuple[str, bool] | None:
    """(content key, needs LAPACK) of an index or profile line ``"<32 hex digits> 0|1"``; None for anything else
    (only such names are opened, so a line cannot point outside the cache directory)."""
    parts = line.split()
    if len(parts) != 2 or not _CONTENT_KEY.fullmatch(parts[0]) or parts[1] not in ("0", "1"):
        return None
    return parts[0], parts[1] == "1"


def _write(path: Path, payload: bytes) -> None:
    """Write atomically (a concurrent reader sees the whole file or none)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(payload)
    tmp.replace(path)


_FORMAT = "zlib(pickle(serialize_executable)) 1"  # part of every content key


def _compiler_options() -> dict:
    """XLA options of the stored executables. On CPUs, matrix products are not handed to YNNPACK: each of its
    fused products is set up at an executable's first run (about 0.5 ms apiece, 15 ms for a CFA's Hessian with
    43 of them) and gllamm's products are small, so XLA's own kernels serve better."""
    return {"xla_cpu_experimental_ynn_fusion_type": ""} if jax.default_backend() == "cpu" else {}


def _load(path: Path, needs_lapack: bool):
    from jax.experimental import serialize_executable

    if needs_lapack:  # the LAPACK kernels the executable calls are registered when first lowered
        from jax._src.lax.linalg import initialize_lapack

        initialize_lapack()
    payload, in_tree, out_tree = pickle.loads(zlib.decompress(path.read_bytes()))
    # compiled for one device, the default one (a process may see several, or other processes' devices)
    return serialize_executable.deserialize_and_load(payload, in_tree, out_tree,
                                                     execution_devices=jax.local_devices()[:1])


_PROFILE_MAX = 12  # executables preloaded for a command line (a script's first fits)
_preloaded: dict = {}  # content key -> Future of an executable loaded from the command line's profile
_used: list = []  # (content key, needs LAPACK) of the executables this process used, in order of first use


def _record(path: Path, needs_lapack: bool) -> None:
    entry = (path.stem, needs_lapack)
    if entry not in _used:
        _used.append(entry)


def _profile_path(directory: Path) -> Path:
    return directory / "profiles" / _hash(*getattr(sys, "orig_argv", sys.argv), os.getcwd())


def preload_profile() -> None:
    """Start loading, in a background thread, the executables this command line used the last time it ran
    (see the module docstring), and save this run's list at exit. Stops when the main thread ends."""
    from concurrent.futures import Future

    directory = _cache_dir()
    if directory is None or _preloaded:
        return
    path = _profile_path(directory)
    try:
        entries = [entry for entry in map(_entry, path.read_text().splitlines()) if entry is not None]
    except (OSError, ValueError):
        entries = []
    import atexit

    atexit.register(_save_profile, path, entries)
    for content, _ in entries:
        _preloaded[content] = Future()

    def load_all():
        _source()  # (needed at the first program lookup)
        for content, needs_lapack in entries:
            future = _preloaded[content]
            if not threading.main_thread().is_alive():  # the interpreter is exiting: leave the rest
                future.cancel()
                continue
            try:
                future.set_result(_load(directory / f"{content}.bin", needs_lapack))
            except Exception as error:  # gone or unreadable: the caller loads or compiles it itself
                future.set_exception(error)

    if entries:
        threading.Thread(target=load_all, name="gllamm-preload").start()


def _save_profile(path: Path, previous: list) -> None:
    used = _used[:_PROFILE_MAX]
    if used and used != previous:
        try:
            _write(path, "".join(f"{content} {int(flag)}\n" for content, flag in used).encode())
        except OSError:
            pass


def _preloaded_future(path: Path, needs_lapack: bool):
    """The Future of the executable at ``path`` if the profile preloads it (else None); records its use."""
    _record(path, needs_lapack)
    future = _preloaded.get(path.stem)
    return None if future is None or future.cancelled() else future


def _load_stored(path: Path, needs_lapack: bool):
    """The executable at ``path``: the preloaded one, or (not preloaded, or its preload failed) loaded now."""
    future = _preloaded_future(path, needs_lapack)
    if future is not None:
        try:
            return future.result()
        except Exception:
            pass
    return _load(path, needs_lapack)


_UNSTORABLE = "jit"  # index entry of a program that cannot be serialised: trace and compile it as usual


def _compile(jitted, args, directory: Path, name: str = "likelihood") -> tuple[object, str]:
    """Lower and compile ``jitted`` for ``args``; (compiled, index entry text). Stores the executable."""
    from jax.experimental import serialize_executable

    started = time.perf_counter()
    lowered = jitted.lower(*args)
    text = lowered.as_text()  # without source locations: unchanged by edits elsewhere in the source
    needs_lapack = "lapack" in text
    options = _compiler_options()
    content = _hash(text, _platform(), _FORMAT, repr(sorted(options.items())))
    path = directory / f"{content}.bin"
    entry = f"{content} {int(needs_lapack)}"
    try:
        loaded = _load(path, needs_lapack)
        _record(path, needs_lapack)
        return loaded, entry
    except Exception:  # not stored yet (or unreadable): compile
        pass
    _say(f"  compiling the {name} program for this model (once: later fits load it) ...")
    with persistent_cache_off():
        compiled = lowered.compile(compiler_options=options or None)
    _say(f"  compiled the {name} program in {time.perf_counter() - started:.1f} s")
    try:
        payload = serialize_executable.serialize(compiled)
    except Exception:  # e.g. constants the serialised form cannot hold
        return compiled, _UNSTORABLE
    _write(path, zlib.compress(pickle.dumps(payload), 1))
    _record(path, needs_lapack)
    return compiled, entry


class CachedFunction:
    """A jitted function whose compiled executables are kept on disk between processes."""

    def __init__(self, name: str, jitted, structure: str):
        self.name = name
        self.jitted = jitted
        self.structure = structure
        self._callables: dict = {}
        self._pending: dict = {}  # signature -> Future of a stored executable being loaded

    def _index(self, directory: Path, signature: str) -> Path:
        return directory / "index" / f"{self.name}-{_hash(_source(), _platform(), self.name, self.structure, signature)}"

    def _stored(self, directory: Path, signature: str):
        """What the index holds for this signature: (program path, needs LAPACK), ``_UNSTORABLE``, or None."""
        try:
            text = self._index(directory, signature).read_text()
        except OSError:
            return None
        if text == _UNSTORABLE:
            return _UNSTORABLE
        entry = _entry(text)
        if entry is None:  # a damaged (or foreign) entry: as if none
            return None
        return directory / f"{entry[0]}.bin", entry[1]

    def prefetch(self, *args, compile_missing: bool = False) -> None:
        """Start loading the stored executable for these arguments (shapes) in the background, if there is
        one; the first call then waits for it instead of loading it. With ``compile_missing``, a program not
        stored yet is traced and compiled in a background thread (and stored) instead: the arguments are then
        kept until the first call, which waits for the compilation."""
        key = self._key(args)
        directory = _cache_dir()
        if directory is None or key in self._callables or key in self._pending:
            return
        signature = self._signature(key)
        stored = self._stored(directory, signature)
        if isinstance(stored, tuple) and stored[0].exists():
            self._pending[key] = _preloaded_future(*stored) or background_loader().submit(_load, *stored)
        elif stored is None and compile_missing:
            self._pending[key] = background_compiler().submit(self._make, args, signature)

    @staticmethod
    def _key(args) -> tuple:
        """The arguments' structure, shapes and dtypes, as a hashable key (no text: cheap at every call)."""
        leaves, treedef = jax.tree_util.tree_flatten(args)
        return treedef, tuple((tuple(getattr(x, "shape", ())), getattr(x, "dtype", type(x)),
                               bool(getattr(x, "weak_type", False))) for x in leaves)

    @staticmethod
    def _signature(key: tuple) -> str:
        """The text of a ``_key`` for the on-disk index."""
        treedef, leaves = key
        dtype_name = lambda d: d.__name__ if isinstance(d, type) else str(d)  # noqa: E731
        shapes = ",".join(f"{dtype_name(dtype)}{shape}{'w' if weak else ''}" for shape, dtype, weak in leaves)
        return f"{treedef}|{shapes}"

    def _make(self, args, signature: str):
        directory = _cache_dir()
        if directory is None:
            return self.jitted
        try:
            stored = self._stored(directory, signature)
            if stored == _UNSTORABLE:
                return self.jitted
            if stored is not None:
                try:
                    return _load_stored(*stored)
                except Exception:  # the program is gone or unreadable: trace (and compile) again
                    pass
            compiled, entry = _compile(self.jitted, args, directory, self.name)
            _write(self._index(directory, signature), entry.encode())
            return compiled
        except Exception:  # serialisation unavailable or incompatible: trace and compile as usual
            return self.jitted

    def __call__(self, *args):
        key = self._key(args)
        function = self._callables.get(key)
        if function is None:
            pending = self._pending.pop(key, None)
            try:
                function = pending.result() if pending is not None else None
            except Exception:  # the stored executable did not load: compile
                function = None
            if function is None:
                function = self._make(args, self._signature(key))
            self._callables[key] = function
        if function is self.jitted:
            return function(*args)
        try:
            return function(*args)
        except (TypeError, ValueError):  # arguments the executable does not accept (e.g. placed elsewhere)
            self._callables[key] = self.jitted
            return self.jitted(*args)
