"""The index benchmarks (bench/recall.py, bench/latency.py) run end to end on tiny inputs.

Sizes are smoke sizes: they prove the commands work against the real node and write the JSON
the docs describe, not what the numbers are. `flat` is exact search, so its recall must be 1.0;
anything else would mean the benchmark compares the wrong ids.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support import REPO, isolated_env

pytestmark = pytest.mark.es


def _env(es_settings, **overrides: str) -> dict[str, str]:
    if es_settings.es.url:
        overrides["es_url"] = es_settings.es.url
    return isolated_env(**overrides)


def _bench(script: str, args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, str(REPO / "bench" / script), *args], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-2000:]
    return result


def test_recall_bench_smoke(es_client, es_settings, tmp_path):
    prefix = es_settings.index.alias + "-recall"
    out = tmp_path / "recall.json"
    try:
        result = _bench("recall.py", ["--n", "500", "--queries", "20", "--options", "hnsw,int8_hnsw,flat",
                                      "--oversample", "0,3",
                                      "--alias-prefix", prefix, "--out", str(out)], _env(es_settings))
        assert es_client.indices.get(index=prefix + "-*", allow_no_indices=True) == {}  # deleted without --keep
    finally:
        es_client.indices.delete(index=prefix + "*", ignore_unavailable=True)
    assert "recall@10" in result.stdout
    report = json.loads(out.read_text())
    assert {"n", "queries", "field", "dims", "k", "num_candidates", "machine", "options"} <= set(report)
    assert report["n"] == 500 and report["dims"] == 768
    assert {"cpu", "cores", "memory_bytes"} <= set(report["machine"])
    assert set(report["options"]) == {"hnsw", "int8_hnsw", "flat"}
    for option, row in report["options"].items():
        assert row["documents"] == 500
        assert row["size_bytes"] > 0 and row["bytes_per_document"] > 768 * 4 * 0.5, option
        rescored = {"100+rescore3", "200+rescore3"} if option == "int8_hnsw" else set()
        assert set(row["results"]) == {"100", "200"} | rescored, option
        for candidates in row["results"].values():
            assert 0.0 < candidates["recall_mean"] <= 1.0 and candidates["median_ms"] > 0
    assert all(r["recall_mean"] == 1.0 for r in report["options"]["flat"]["results"].values())
    assert report["options"]["hnsw"]["results"]["200"]["recall_mean"] >= 0.9


def test_latency_bench_smoke(es_client, es_settings, tmp_path):
    """Load, then query through a server the benchmark starts itself, with every query kind
    (upload and semanticText embed on the server: clip, random weights asked for)."""
    alias = es_settings.index.alias + "-latency"
    env = _env(es_settings, models_device="cpu")
    out = tmp_path / "latency.json"
    common = ["--n", "300", "--alias", alias, "--out", str(out)]
    try:
        _bench("latency.py", [*common, "--load-only"], env)
        assert json.loads(out.read_text())["load"]["documents"] == 300
        result = _bench("latency.py", [*common, "--skip-load", "--queries", "6", "--model", "clip",
                                       "--weights", "random"], env, timeout=300)
    finally:
        es_client.indices.delete(index=alias + "*", ignore_unavailable=True)
    assert "q/s" in result.stdout
    report = json.loads(out.read_text())
    assert {"n", "alias", "machine", "class_weights", "kinds", "runs", "load", "index_at_query_time"} <= set(report)
    assert report["load"]["documents"] == 300  # kept from the --load-only run
    assert report["server"] == {"started_by_benchmark": True, "weights": "random"}
    assert report["index_at_query_time"]["documents"] == 300
    assert abs(sum(report["class_weights"].values()) - 1.0) < 1e-9
    assert set(report["runs"]) == {"1", "8"}
    kinds = {"text", "similarTo", "vector", "text+image+filter", "semanticText", "upload"}
    for run in report["runs"].values():
        api = run["api"]
        assert api["queries"] == 6 * len(kinds) and api["queries_per_s"] > 0
        assert set(api["kinds"]) == kinds
        for row in api["kinds"].values():
            assert row["n"] == 6 and 0 < row["median_ms"] <= row["p95_ms"] <= row["p99_ms"]
        assert set(run["elasticsearch"]["kinds"]) == {"knn", "match", "match+knn+filter"}
        assert all(r["median_ms"] > 0 for r in run["elasticsearch"]["kinds"].values())
    assert (tmp_path / "latency-serve.log").exists()

    png = tmp_path / "growth.png"
    _bench("plot_latency.py", [str(out), "--out", str(png)], env)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
