"""`vignett eval retrieval` end to end: a real ingest, a real `vignett serve`, uploads over HTTP.

Checks what the evaluation promises: the same seed gives the same ranks, the JSON has every
Top-k for every condition, and phash (rotation-sensitive but scale-robust) finds scaled copies;
with --index the targets come from the index and a real IIIF server instead of the folder.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys

import pytest

from tests.iiif_server import start_iiif_server
from tests.serve_process import running_serve
from tests.support import REPO, SHARED_DATA, isolated_env

pytestmark = pytest.mark.es

N_IMAGES = 8
# The first eight files hold one engraving twice (1-ivar_aasen.jpg and its crop
# 1-ivar_aasen__CLIP__01.jpg): seven targets, one of them with two indexed copies.
N_TARGETS = 7


@pytest.fixture(scope="module")
def eval_setup(es_client, es_settings, tmp_path_factory):
    """Eight images ingested with phash under a test alias, shown through a real IIIF server,
    and a `vignett serve` over them."""
    images = tmp_path_factory.mktemp("eval-images")
    for path in sorted((SHARED_DATA / "images" / "chr24-nln").glob("*.jpg"))[:N_IMAGES]:
        shutil.copy(path, images / path.name)
    overrides = dict(index_alias=es_settings.index.alias + "-eval",
                     paths_cache_dir=str(tmp_path_factory.mktemp("eval-cache")),
                     models_default="phash", models_enabled="phash", models_weights="random", models_device="cpu")
    if es_settings.es.url:
        overrides["es_url"] = es_settings.es.url
    env = isolated_env(**overrides)
    with start_iiif_server(images) as iiif:
        subprocess.run([sys.executable, "-m", "vignett", "ingest", str(images), "--models", "phash",
                        "--iiif-base", iiif.base_url_v2], cwd=REPO, env=env, check=True, capture_output=True, timeout=60)
        es_client.indices.refresh(index=overrides["index_alias"])
        try:
            with running_serve(env, tmp_path_factory.mktemp("eval-serve") / "serve.log") as base:
                yield images, base, env
        finally:
            es_client.indices.delete(index=overrides["index_alias"] + "*", ignore_unavailable=True)


def _run_eval(source: list[str], base, env, out) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "vignett", "eval", "retrieval", "--api", base, *source,
         "--models", "phash", "--n", str(N_IMAGES), "--seed", "1", "--out", str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "Top-50" in result.stdout and "SHA-1" in result.stdout
    return json.loads((out / "summary.json").read_text())


def _rows(out) -> list[list[str]]:
    with (out / "queries.csv").open(newline="") as handle:
        return list(csv.reader(handle))[1:]


def _ranks(out) -> list[list[str]]:
    return [row[:5] for row in _rows(out)]


def test_eval_retrieval_is_deterministic_and_complete(eval_setup, tmp_path):
    images, base, env = eval_setup
    first = _run_eval(["--images", str(images)], base, env, tmp_path / "a")
    second = _run_eval(["--images", str(images)], base, env, tmp_path / "b")
    assert _ranks(tmp_path / "a") == _ranks(tmp_path / "b")
    assert (tmp_path / "a" / "queries.csv").read_text() == (tmp_path / "b" / "queries.csv").read_text()
    assert first["results"] == second["results"]
    assert set(first["results"]) == {"combined", "rotation", "crop", "scale", "jpeg30"}
    for condition, per_model in first["results"].items():
        row = per_model["phash"]
        assert row["queries"] == N_TARGETS, condition
        for k in ("Top-1", "Top-5", "Top-10", "Top-50"):
            assert set(row[k]) == {"count", "percent"}, (condition, k)
    assert first["results"]["scale"]["phash"]["Top-1"]["percent"] >= 50.0
    assert first["protocol"]["targets"] == N_TARGETS and first["protocol"]["targets_with_copies"] == 1
    assert first["protocol"]["found"] == N_IMAGES and first["protocol"]["duplicates_dropped"] == 1


def test_eval_retrieval_from_the_index_fetches_targets_over_iiif(eval_setup, tmp_path):
    images, base, env = eval_setup
    report = _run_eval(["--index"], base, env, tmp_path / "index")
    _run_eval(["--images", str(images)], base, env, tmp_path / "folder")
    assert report["protocol"]["found"] == N_IMAGES and report["protocol"]["targets"] == N_TARGETS
    assert "IIIF" in report["protocol"]["dedup"] and report["protocol"]["targets_with_copies"] == 1
    rows = _rows(tmp_path / "index")
    assert all(row[2].startswith("http://127.0.0.1:") and "/full/" in row[2] for row in rows)
    # The same pictures are the targets either way (the copy kept may differ: ids sort otherwise).
    folder_rows = _rows(tmp_path / "folder")
    assert sorted(row[7] for row in rows) == sorted(row[7] for row in folder_rows)  # copies per target
    assert len({row[3] for row in rows}) == N_TARGETS
    assert report["results"]["scale"]["phash"]["Top-1"]["percent"] >= 50.0


def test_eval_retrieval_needs_exactly_one_target_source(eval_setup, tmp_path):
    images, base, env = eval_setup
    for source in ([], ["--index", "--images", str(images)]):
        result = subprocess.run([sys.executable, "-m", "vignett", "eval", "retrieval", "--api", base, *source],
                                cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 2 and "--images DIR or --index" in result.stderr, source
