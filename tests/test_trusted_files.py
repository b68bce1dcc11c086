"""Nothing loaded from a file runs code: saved results are read as data and their formulas checked before
formulaic evaluates them; compiled programs are read only from a private cache directory under content-hash
names; damaged or foreign files are a GllammError naming the file."""

import io
import json
import os
import zipfile

import numpy as np
import pandas as pd
import pytest

import gllamm
from gllamm import GllammError
from gllamm.runtime import compiled_cache as cache
from gllamm.runtime.trusted_directory import untrusted_reason


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A small saved fit (linear regression with a quadratic term written as Python: I(x**2))."""
    rng = np.random.default_rng(5)
    data = pd.DataFrame(dict(x=rng.normal(size=40)))
    data["y"] = 1 + data.x + 0.5 * data.x**2 + rng.normal(size=40)
    result = gllamm.fit("y ~ x + I(x**2)", data)
    path = tmp_path_factory.mktemp("saved") / "fit.gllamm"
    result.save(path)
    return result, path


def _rewrite(source, target, **changes):
    """Copy a saved result, replacing members (name -> bytes, or a function of the old bytes)."""
    with zipfile.ZipFile(source) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    for name, change in changes.items():
        members[name] = change(members[name]) if callable(change) else change
    with zipfile.ZipFile(target, "w") as archive:
        for name, payload in members.items():
            archive.writestr(name, payload)
    return target


def _with_meta(**fields):
    def change(payload):
        meta = json.loads(payload)
        for key, value in fields.items():
            if key.startswith("options."):
                meta["options"][key[8:]] = value
            else:
                meta[key] = value
        return json.dumps(meta).encode()
    return change


def test_a_saved_result_loads_with_its_estimates(saved):
    result, path = saved
    loaded = gllamm.load(path)
    np.testing.assert_array_equal(loaded.params.to_numpy(), result.params.to_numpy())
    assert loaded.params.index[2] == "I(x ** 2)"


@pytest.mark.parametrize("formula", [
    "y ~ x + I(__import__('os').system('touch {marker}'))",
    "y ~ x + I(open('{marker}', 'w').write('x'))",
    "y ~ x + {{(lambda: open('{marker}', 'w'))()}}",
    "y ~ x + I(x.__class__.__init__.__globals__['os'].system('touch {marker}'))",
    "y ~ x + I(np.load('{marker}', allow_pickle=True))",
])
def test_a_malicious_formula_in_a_file_runs_nothing(saved, tmp_path, formula):
    marker = tmp_path / "marker"
    path = _rewrite(saved[1], tmp_path / "bad.gllamm", **{"meta.json": _with_meta(formula=formula.format(marker=marker))})
    with pytest.raises(GllammError, match=r"Cannot load .*bad\.gllamm.*(cannot be evaluated|not allowed|Cannot read)"):
        gllamm.load(path)
    assert not marker.exists()


def test_a_malicious_option_formula_in_a_file_runs_nothing(saved, tmp_path):
    marker = tmp_path / "marker"
    bad = f"~ I(__import__('os').system('touch {marker}'))"
    path = _rewrite(saved[1], tmp_path / "bad.gllamm", **{"meta.json": _with_meta(**{"options.scale": bad})})
    with pytest.raises(GllammError, match="Cannot load"):
        gllamm.load(path)
    assert not marker.exists()


def test_formulas_are_checked_when_fitting_too(saved):
    data = pd.DataFrame(dict(x=np.arange(10.0), y=np.arange(10.0) ** 2))
    with pytest.raises(GllammError, match=r"'__import__\('os'\)\.getcwd' is not an allowed function"):
        gllamm.fit("y ~ I(__import__('os').getcwd())", data)
    with pytest.raises(GllammError, match=r"'x.__class__' is not an allowed function"):
        gllamm.fit("y ~ I(x.__class__)", data)


def test_damaged_truncated_and_foreign_files(saved, tmp_path):
    path = saved[1]
    truncated = tmp_path / "truncated.gllamm"
    truncated.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(GllammError, match=r"truncated\.gllamm is not a gllamm result \(not a zip file"):
        gllamm.load(truncated)
    text = tmp_path / "notes.gllamm"
    text.write_text("hello")
    with pytest.raises(GllammError, match=r"notes\.gllamm is not a gllamm result"):
        gllamm.load(text)
    foreign = tmp_path / "foreign.gllamm"
    with zipfile.ZipFile(foreign, "w") as archive:
        archive.writestr("data.csv", "a,b\n1,2\n")
    with pytest.raises(GllammError, match=r"foreign\.gllamm is not a gllamm result: it has no meta\.json"):
        gllamm.load(foreign)
    bad_json = _rewrite(path, tmp_path / "json.gllamm", **{"meta.json": b"{not json"})
    with pytest.raises(GllammError, match=r"json\.gllamm is damaged: JSONDecodeError"):
        gllamm.load(bad_json)
    bad_arrays = _rewrite(path, tmp_path / "arrays.gllamm", **{"arrays.npz": b"PK\x03\x04 broken"})
    with pytest.raises(GllammError, match=r"arrays\.gllamm is damaged"):
        gllamm.load(bad_arrays)
    no_options = _rewrite(path, tmp_path / "meta.gllamm", **{"meta.json": b"[1, 2]"})
    with pytest.raises(GllammError, match=r"meta\.gllamm is not a gllamm result: its meta\.json has no options"):
        gllamm.load(no_options)
    with pytest.raises(FileNotFoundError, match="No saved result at"):
        gllamm.load(tmp_path / "absent.gllamm")


def _with_theta(value):
    """A change of arrays.npz that replaces theta (``value`` is a function of the stored theta)."""
    def change(payload):
        with np.load(io.BytesIO(payload)) as stored:
            arrays = {key: stored[key] for key in stored.files}
        arrays["theta"] = value(arrays["theta"])
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        return buffer.getvalue()
    return change


def test_a_file_with_another_parameter_layout_says_so(saved, tmp_path):
    path = _rewrite(saved[1], tmp_path / "layout.gllamm", **{"arrays.npz": _with_theta(lambda theta: theta[:-1])})
    with pytest.raises(GllammError, match=r"holds 3 parameters but its model has 4.*another parameter layout"):
        gllamm.load(path)


def test_pickled_arrays_in_a_file_are_refused(saved, tmp_path):
    objects = _with_theta(lambda theta: np.array([object()], dtype=object))
    path = _rewrite(saved[1], tmp_path / "pickle.gllamm", **{"arrays.npz": objects})
    with pytest.raises(GllammError, match=r"pickle\.gllamm is damaged.*(pickle|Object arrays)"):
        gllamm.load(path)


# ---- the compiled-program cache ------------------------------------------------------------------------------

def test_cache_entries_name_only_content_hashes():
    assert cache._entry("0123456789abcdef0123456789abcdef 1") == ("0123456789abcdef0123456789abcdef", True)
    for line in ("../../../tmp/evil 1", "/etc/passwd 0", "0123456789abcdef0123456789abcdef/../x 0",
                 "0123456789ABCDEF0123456789ABCDEF 0", "0123456789abcdef0123456789abcdef 2", "", "jit"):
        assert cache._entry(line) is None


def test_an_index_or_profile_naming_a_path_outside_the_cache_is_ignored(tmp_path, monkeypatch):
    store = tmp_path / "store"
    store.mkdir(mode=0o700)
    monkeypatch.setattr(cache, "_cache_dir", lambda: store)
    outside = tmp_path / "evil.bin"
    outside.write_bytes(b"would be unpickled")
    function = cache.CachedFunction("probe", lambda x: x, "s")
    index = function._index(store, "sig")
    index.parent.mkdir(parents=True)
    index.write_text("../evil 1")
    assert function._stored(store, "sig") is None
    profile = cache._profile_path(store)
    profile.parent.mkdir(parents=True)
    profile.write_text("../evil 1\n")
    opened = []
    monkeypatch.setattr(cache, "_load", lambda path, lapack: opened.append(path))
    monkeypatch.setattr(cache, "_preloaded", {})
    monkeypatch.setattr("atexit.register", lambda *args: None)
    cache.preload_profile()
    assert cache._preloaded == {} and opened == []


def test_a_cache_directory_other_users_can_write_is_not_used(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    assert "other users may write to it" in untrusted_reason(shared)
    os.chmod(shared, 0o700)
    assert untrusted_reason(shared) is None
    created = tmp_path / "new" / "programs"
    assert cache._trusted(created) and (created.stat().st_mode & 0o777) == 0o700
    os.chmod(created, 0o775)
    cache._trusted.cache_clear()
    assert not cache._trusted(created)
    cache._trusted.cache_clear()
