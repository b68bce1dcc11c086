"""Fits spread over parts of clusters: chunks on one device, 8 CPU devices, two processes joined by
jax.distributed. Every layout must give the fit of the plain single-device path (1e-10 relative),
because the log-likelihood is the same sum over clusters taken in another grouping."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import gllamm
from gllamm.design.partition import partition
from gllamm.results.partwise import PartwiseObjective

WORKERS = Path(__file__).parent / "workers"
CONTRACEPTION = "use ~ urban + age + livch1 + livch2 + livch3 + (1 + urban | district)"


def _environment(**extra) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parents[1] / "src"), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def contraception():
    data = gllamm.datasets.load("contraception")
    return data, gllamm.fit(CONTRACEPTION, data, family="binomial")


def test_parts_hold_every_cluster_once_and_padding_weighs_nothing():
    mom_sizes = [1, 2, 5, 4, 4, 2, 2, 8, 4, 3, 3, 1, 1, 2, 4, 2, 2]  # unequal moms in unequal communities
    mom_comm = [0, 0, 1, 1, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 6]
    mom = np.repeat(np.arange(17), mom_sizes)
    frame = pd.DataFrame(dict(y=np.arange(mom.size) % 2, x=np.linspace(-1, 1, mom.size),
                              comm=np.asarray(mom_comm)[mom], mom=mom))
    _, design = gllamm.build_design(gllamm.parse_formula("y ~ x + (1 | comm) + (1 | mom)"), frame,
                                    gllamm.make_family("binomial"))
    data = {k: np.asarray(v) for k, v in design.data().items()}
    parts = partition(data, 3)
    tops = parts.top_index[parts.top_index >= 0]
    assert sorted(tops) == list(range(7))  # every community in exactly one part
    units = parts.unit_index[parts.unit_index >= 0]
    assert sorted(units) == list(range(17))
    arrays = parts.arrays
    assert arrays["weight"].sum() == pytest.approx(data["weight"].sum())  # padding rows weigh 0
    assert arrays["cluster_weight"].sum() == pytest.approx(data["cluster_weight"].sum())
    for k in range(3):  # pointers stay sorted (segment sums assume it) and inside the part
        assert np.all(np.diff(arrays["chunk_cluster"][k]) >= 0) and np.all(np.diff(arrays["parent"][k]) >= 0)
        assert arrays["parent"][k].max() < arrays["cluster_weight"].shape[1]
    with pytest.raises(gllamm.GllammError, match="larger than the agreed"):
        partition(data, 3, parts.shapes.from_tuple(tuple(s - 1 if i == 1 else s for i, s in
                                                      enumerate(parts.shapes.as_tuple()))))


@pytest.mark.slow  # (several seconds; CI runs it: python -m pytest -m slow)
def test_chunked_fit_equals_the_unchunked_fit(contraception):
    data, plain = contraception
    chunked = gllamm.fit(CONTRACEPTION, data, family="binomial", chunk_size=300)
    assert chunked.options["parts"] >= 6  # 1934 rows in parts of at most ~300 rows, scanned on one device
    assert chunked.converged
    np.testing.assert_allclose(chunked.theta, plain.theta, rtol=1e-10, atol=1e-12)
    assert chunked.loglik == pytest.approx(plain.loglik, rel=1e-12)
    np.testing.assert_allclose(chunked.se, plain.se, rtol=1e-8)
    # post-estimation part by part (the fit's chunk size) equals the one-piece computation
    assert isinstance(chunked._evaluation()[0], PartwiseObjective)
    for kind in ("mean", "mode"):
        pd.testing.assert_frame_equal(chunked.empirical_bayes(kind), plain.empirical_bayes(kind), rtol=1e-7)
    with pytest.warns(gllamm.DataWarning, match="does not exist"):  # districts with all responses equal
        ml = chunked.empirical_bayes("ml")
    with pytest.warns(gllamm.DataWarning, match="does not exist"):
        pd.testing.assert_frame_equal(ml, plain.empirical_bayes("ml"), rtol=1e-7)
    pd.testing.assert_series_equal(chunked.cluster_loglik(), plain.cluster_loglik(), rtol=1e-9)
    pd.testing.assert_frame_equal(chunked.robust_vcov(), plain.robust_vcov(), rtol=1e-7)


@pytest.mark.slow  # (several seconds; CI runs it: python -m pytest -m slow)
def test_latent_class_fit_in_parts_equals_one_piece(contraception):
    data, _ = contraception
    options = dict(family="binomial", classes=2, starts=2, seed=4)
    plain = gllamm.fit("use ~ urban + age + (1 | district)", data, **options)
    parts = gllamm.fit("use ~ urban + age + (1 | district)", data, chunk_size=400, **options)
    assert parts.options["parts"] > 1
    np.testing.assert_allclose(parts.theta, plain.theta, rtol=1e-9, atol=1e-11)
    assert parts.loglik == pytest.approx(plain.loglik, rel=1e-12)
    pd.testing.assert_frame_equal(parts.class_probabilities(), plain.class_probabilities(), rtol=1e-8)
    with pytest.raises(gllamm.GllammError, match="NPML"):
        gllamm.fit("use ~ urban + (1 | district)", data, family="binomial", classes="npml", chunk_size=400)


@pytest.mark.slow  # (several seconds; CI runs it: python -m pytest -m slow)
def test_three_level_fit_and_its_predictions_in_parts_equal_one_piece():
    from test_three_level import _simulate

    frame = _simulate()
    plain = gllamm.fit("y ~ x + (1 | comm) + (1 | mom)", frame, family="binomial", nip=8)
    parts = gllamm.fit("y ~ x + (1 | comm) + (1 | mom)", frame, family="binomial", nip=8, chunk_size=100)
    assert parts.options["parts"] > 1
    np.testing.assert_allclose(parts.theta, plain.theta, rtol=1e-10, atol=1e-12)
    for level, table in plain.empirical_bayes().items():
        pd.testing.assert_frame_equal(parts.empirical_bayes()[level], table, rtol=1e-7)
    pd.testing.assert_series_equal(parts.cluster_loglik(), plain.cluster_loglik(), rtol=1e-9)
    np.testing.assert_allclose(parts.predict(latent="eb"), plain.predict(latent="eb"), rtol=1e-8)


@pytest.mark.slow  # (several seconds; CI runs it: python -m pytest -m slow)
def test_eight_cpu_devices_give_the_single_device_fit():
    """Two-level logit (60 districts), three-level logit (30 communities), a factor model (301 persons) and a
    latent class model (1000 persons): none divisible by 8; chunk_size=150 also puts several parts on a device."""
    completed = subprocess.run(
        [sys.executable, str(WORKERS / "devices_fit.py"), "two_level_logit,three_level_logit,factor_model,latent_classes", "150"],
        capture_output=True, text=True, timeout=1200,
        env=_environment(XLA_FLAGS="--xla_force_host_platform_device_count=8", JAX_PLATFORMS="cpu"))
    assert completed.returncode == 0, completed.stderr[-3000:]
    results = json.loads(completed.stdout.strip().splitlines()[-1])
    for row in results:
        assert row["devices"] == 8 and row["converged"], row
        assert row["estimates"] < 1e-10 and row["loglik"] < 1e-10 and row["se"] < 1e-8, row
    assert max(row["parts"] for row in results) > 8  # several parts per device somewhere


@pytest.mark.slow  # (several seconds; CI runs it: python -m pytest -m slow)
def test_two_processes_with_half_of_the_clusters_each_reproduce_the_single_process_fit(contraception, tmp_path):
    data, plain = contraception
    port = _free_port()
    outputs = [tmp_path / f"process{k}.json" for k in range(2)]
    processes = [subprocess.Popen([sys.executable, str(WORKERS / "two_processes_fit.py"), str(k), str(port),
                                   str(outputs[k])], env=_environment(JAX_PLATFORMS="cpu"),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for k in range(2)]
    try:
        for process in processes:
            _, stderr = process.communicate(timeout=900)
            assert process.returncode == 0, stderr[-3000:]
    finally:
        for process in processes:
            process.kill()
    robust = np.sqrt(np.diag(plain.robust_vcov()))
    eb = plain.empirical_bayes()
    for output in outputs:
        result = json.loads(output.read_text())
        assert "error" not in result, result
        assert result["processes"] == 2 and result["converged"]
        np.testing.assert_allclose(result["theta"], plain.theta, rtol=1e-10, atol=1e-12)
        assert result["loglik"] == pytest.approx(plain.loglik, rel=1e-12)
        np.testing.assert_allclose(result["se"], plain.se, rtol=1e-8)
        np.testing.assert_allclose(result["robust_se"], robust, rtol=1e-8)  # sandwich: B summed over processes
        assert result["nobs"] == plain.nobs and result["groups"] == plain.n_groups
        own = {int(k): v for k, v in result["eb"].items()}  # EB of the process's own districts
        assert len(own) == 30
        np.testing.assert_allclose([own[k] for k in sorted(own)], eb.loc[sorted(own), result["eb_column"]],
                                   rtol=1e-7, atol=1e-9)


@pytest.mark.slow  # (several seconds; CI runs it: python -m pytest -m slow)
def test_processes_that_disagree_on_the_model_stop_with_an_error(tmp_path):
    port = _free_port()
    outputs = [tmp_path / f"process{k}.json" for k in range(2)]
    formulas = [CONTRACEPTION, "use ~ urban + (1 | district)"]
    processes = [subprocess.Popen([sys.executable, str(WORKERS / "two_processes_fit.py"), str(k), str(port),
                                   str(outputs[k]), formulas[k]], env=_environment(JAX_PLATFORMS="cpu"),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for k in range(2)]
    try:
        for process in processes:
            process.communicate(timeout=600)
    finally:
        for process in processes:
            process.kill()
    for output in outputs:
        assert "disagree on the model" in json.loads(output.read_text())["error"]


def test_bad_layout_options_are_explained(contraception):
    data, _ = contraception
    with pytest.raises(gllamm.GllammError, match="xla_force_host_platform_device_count=4"):
        gllamm.fit(CONTRACEPTION, data, family="binomial", devices=4)
    with pytest.raises(gllamm.GllammError, match="chunk_size must be a positive"):
        gllamm.fit(CONTRACEPTION, data, family="binomial", chunk_size=0)
    with pytest.raises(gllamm.GllammError, match="devices must be a positive"):
        gllamm.fit(CONTRACEPTION, data, family="binomial", devices=0)


def test_parquet_clusters_are_dealt_to_processes_and_split_clusters_refused(contraception, tmp_path):
    pytest.importorskip("pyarrow")
    data, _ = contraception
    good = tmp_path / "good"
    for district, frame in data.groupby("district"):  # hive-style: one directory per district
        (good / f"district={district}").mkdir(parents=True)
        frame.drop(columns="district").to_parquet(good / f"district={district}" / "part.parquet")
    first = gllamm.read_clusters(good, cluster="district", process=0, n_processes=2)
    second = gllamm.read_clusters(good, cluster="district", process=1, n_processes=2)
    assert len(first) + len(second) == len(data)
    assert not set(first.district) & set(second.district)
    bad = tmp_path / "bad"
    bad.mkdir()
    data.iloc[:1000].to_parquet(bad / "a.parquet")
    data.iloc[990:].to_parquet(bad / "b.parquet")  # the district of rows 990-999 is in both files
    with pytest.raises(gllamm.GllammError, match="is split between"):
        gllamm.read_clusters(bad, cluster="district", process=0, n_processes=2)
