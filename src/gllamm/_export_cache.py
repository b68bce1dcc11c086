"""Skip re-tracing in later processes: jitted functions saved with ``jax.export``.

JAX's persistent compilation cache saves XLA compilation, but every new
process still traces the Python likelihood (about a second for a Hessian).
Here each jitted function is exported once per model structure and input
shapes, serialised to the user's cache directory, and in later processes
deserialised and called through ``jax.jit(exported.call)`` (its compilation
then hits the persistent cache). The key covers the gllamm and JAX versions,
the platform, the function's name, the model structure and the input shapes,
so any change gives a new entry. Any failure falls back to the plain jitted function.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import jax

def _source_digest() -> str:
    """Hash of gllamm's own source files, so edited code never reuses a stale export."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


_VERSION = _source_digest()


def _cache_dir() -> Path | None:
    if os.environ.get("GLLAMM_CACHE_DIR", "").lower() == "off":
        return None
    base = jax.config.jax_compilation_cache_dir
    return Path(base).parent / "exported" if base else None


class CachedFunction:
    """A jitted function whose traced form is kept on disk between processes."""

    def __init__(self, name: str, jitted, structure: str):
        self.name = name
        self.jitted = jitted
        self.structure = structure
        self._callables: dict = {}

    def _signature(self, args) -> str:
        leaves, treedef = jax.tree_util.tree_flatten(args)
        shapes = ",".join(f"{getattr(x, 'dtype', type(x).__name__)}{tuple(getattr(x, 'shape', ()))}" for x in leaves)
        return f"{treedef}|{shapes}"

    def _make(self, args, signature: str):
        directory = _cache_dir()
        if directory is None:
            return self.jitted
        key = hashlib.sha256("|".join([_VERSION, jax.__version__, jax.default_backend(), self.name,
                                       self.structure, signature]).encode()).hexdigest()[:32]
        path = directory / f"{self.name}-{key}.bin"
        try:
            from jax import export

            if path.exists():
                exported = export.deserialize(bytearray(path.read_bytes()))
            else:
                exported = export.export(self.jitted)(*args)
                directory.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_bytes(exported.serialize())
                tmp.replace(path)
            return jax.jit(exported.call)
        except Exception:  # serialisation unavailable or incompatible: trace as usual
            return self.jitted

    def __call__(self, *args):
        signature = self._signature(args)
        function = self._callables.get(signature)
        if function is None:
            function = self._callables[signature] = self._make(args, signature)
        return function(*args)
