"""Ingest on the real node, through the real IIIF server, from real scans and ALTO."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vignett.config import Settings
from vignett.indexing.alto import parse_alto
from vignett.indexing.documents import document_id
from vignett.indexing.index import ensure_index
from vignett.indexing.ingest import Ingest, IngestRequest
from vignett.models import create_embedder
from tests.collection import build_collection
from tests.iiif_server import start_iiif_server
from tests.support import SHARED_DATA, isolated_env

pytestmark = pytest.mark.es
MODELS = ("phash", "clip")


@pytest.fixture(scope="module")
def embedders():
    return {name: create_embedder(name, weights="random") for name in MODELS}


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    return build_collection(tmp_path_factory.mktemp("collection"))


@pytest.fixture(scope="module")
def iiif(collection):
    with start_iiif_server(collection.scans) as server:
        yield server


def _settings(es_settings: Settings, alias: str, cache: Path) -> Settings:
    return dataclasses.replace(
        es_settings,
        index=dataclasses.replace(es_settings.index, alias=alias),
        paths=dataclasses.replace(es_settings.paths, cache_dir=str(cache)),
    )


def _ingest(settings, client, embedders, sources, iiif_base, **request_args):
    ensure_index(client, settings.index)
    request = IngestRequest(sources=sources, models=MODELS, iiif_base=iiif_base, **request_args)
    summary = asyncio.run(Ingest(settings, request, client, embedders).run())
    client.indices.refresh(index=settings.index.alias)
    return summary


def _all_docs(client, alias: str) -> dict[str, dict]:
    hits = client.search(index=alias, size=1000, query={"match_all": {}}, version=True)["hits"]["hits"]
    return {h["_id"]: h for h in hits}


def _expected_ids(collection, settings) -> set[str]:
    ids = set()
    for page_id, pictures in collection.composed.items():
        for x, y, w, h in (p.box for p in pictures):
            from vignett.indexing.alto import BBox

            ids.add(document_id(page_id, BBox(x, y, w, h)))
    for alto in collection.real_alto:
        page = parse_alto(alto, settings.alto)
        ids |= {document_id(page.page_id, e.bbox) for e in page.elements}
    return ids


@pytest.fixture(scope="module")
def first_run(es_client, es_settings, collection, iiif, embedders, tmp_path_factory):
    settings = _settings(es_settings, es_settings.index.alias + "-ingest", tmp_path_factory.mktemp("cache"))
    summary = _ingest(settings, es_client, embedders, [collection.alto_dir], iiif.base_url_v2)
    return settings, summary


def test_index_holds_exactly_the_expected_documents_with_all_vectors(es_client, first_run, collection):
    settings, summary = first_run
    expected = _expected_ids(collection, settings)
    assert summary.failures == []
    docs = _all_docs(es_client, settings.index.alias)
    assert set(docs) == expected
    assert summary.indexed == len(expected)
    assert summary.dropped["aspect ratio"] >= 3  # the rule on every composed page
    for doc_id in docs:
        source = es_client.get(index=settings.index.alias, id=doc_id, source_exclude_vectors=False)["_source"]
        assert len(source["clip"]) == 512 and len(source["phash"]) == 8  # 64 bits as 8 bytes
        assert source["weights"] == "random"
        assert set(source["model_versions"]) == set(MODELS)


def test_composed_pictures_carry_caption_book_and_the_right_crop(es_client, first_run, collection, embedders):
    from PIL import Image

    settings, _summary = first_run
    page_id = "URN:NBN:no-nb_digibok_2001010100001_0001"
    picture = collection.composed[page_id][1]
    from vignett.indexing.alto import BBox

    doc_id = document_id(page_id, BBox(*picture.box))
    doc = es_client.get(index=settings.index.alias, id=doc_id, source_exclude_vectors=False)["_source"]
    assert doc["book_id"] == "no-nb_digibok_2001010100001" or doc["book_id"].endswith("2001010100001")
    assert "Lindesnes" in doc["caption"]
    assert doc["bbox"] == dict(zip("xywh", picture.box))
    # The crop fetched through IIIF is the pasted illustration: its hash is the original's.
    original = embedders["phash"].embed_images([Image.open(picture.illustration)])[0]
    stored = bytes(b & 0xFF for b in doc["phash"])  # read back as signed bytes
    distance = sum(bin(a ^ b).count("1") for a, b in zip(original.tobytes(), stored))
    assert distance <= 6


def test_real_pairs_scaled_to_the_served_derivative(es_client, first_run, collection):
    settings, _summary = first_run
    page = parse_alto(collection.real_alto[1], settings.alto)  # 320805: 1980x2339 vs 2164x2448 scan
    docs = es_client.search(
        index=settings.index.alias, query={"term": {"page_id": page.page_id}}, size=50
    )["hits"]["hits"]
    assert len(docs) == len(page.elements) > 0
    for hit in docs:
        assert hit["_source"]["page_size"] == {"width": 2164, "height": 2448}


def test_second_run_changes_nothing(es_client, es_settings, first_run, collection, iiif, embedders):
    settings, _summary = first_run
    before = {i: h["_version"] for i, h in _all_docs(es_client, settings.index.alias).items()}
    resumed = _ingest(settings, es_client, embedders, [collection.alto_dir], iiif.base_url_v2)
    assert resumed.files_skipped == resumed.files and resumed.indexed == 0
    assert {i: h["_version"] for i, h in _all_docs(es_client, settings.index.alias).items()} == before
    # Forced to redo everything: the same ids, no duplicates. Unchanged documents are
    # Elasticsearch no-ops; a picture batched with different neighbours can differ in the
    # last float bit, and then its _version moves by one (documented in the README).
    forced = _ingest(settings, es_client, embedders, [collection.alto_dir], iiif.base_url_v2, resume=False)
    assert forced.indexed == len(before)
    after = {i: h["_version"] for i, h in _all_docs(es_client, settings.index.alias).items()}
    assert after.keys() == before.keys()
    assert all(after[i] - before[i] in (0, 1) for i in before)
    assert sum(after[i] == before[i] for i in before) >= len(before) // 2


def test_malformed_alto_and_dead_page_are_reported_and_the_rest_indexed(
    es_client, es_settings, collection, iiif, embedders, tmp_path
):
    sources = tmp_path / "src"
    sources.mkdir()
    good = collection.alto_dir / "nln" / "URN:NBN:no-nb_digibok_2001010100001_0001.xml"
    (sources / good.name).write_bytes(good.read_bytes())
    (sources / "broken.xml").write_text('<alto xmlns="http://www.loc.gov/standards/alto/ns-v4#"><Layout><Page>')
    dead = good.read_text().replace("2001010100001_0001", "2001010100001_9999")
    (sources / "URN:NBN:no-nb_digibok_2001010100001_9999.xml").write_text(dead)
    settings = _settings(es_settings, es_settings.index.alias + "-faults", tmp_path / "cache")
    summary = _ingest(settings, es_client, embedders, [sources], iiif.base_url_v2)
    reasons = {f.what.rsplit("/", 1)[-1]: f.reason for f in summary.failures}
    assert "broken.xml" in reasons and "line" in reasons["broken.xml"]
    assert any("9999" in what and "404" in reason for what, reason in reasons.items())
    assert summary.files_failed == 2
    assert es_client.count(index=settings.index.alias)["count"] == 2  # the good page's pictures


def test_image_folder_with_metadata(es_client, es_settings, embedders, tmp_path):
    folder = tmp_path / "book-x"
    folder.mkdir()
    for src in sorted((SHARED_DATA / "images" / "blank-margins").glob("*.jpg"))[:3]:
        (folder / src.name).write_bytes(src.read_bytes())
    metadata = tmp_path / "books.csv"
    metadata.write_text("book_id,title,author,year,language\nbook-x,Blanke Sider,Anonym,1851,no\n")
    settings = _settings(es_settings, es_settings.index.alias + "-images", tmp_path / "cache")
    summary = _ingest(settings, es_client, embedders, [folder], "", metadata_file=metadata)
    assert summary.indexed == 3 and summary.failures == []
    hits = es_client.search(index=settings.index.alias, query={"term": {"year": 1851}})["hits"]["hits"]
    assert len(hits) == 3
    assert {h["_source"]["title"] for h in hits} == {"Blanke Sider"}


def test_kill_9_mid_run_then_resume_equals_an_uninterrupted_run(es_client, es_settings, tmp_path):
    folder = tmp_path / "chapbooks"
    folder.mkdir()
    for src in sorted((SHARED_DATA / "images" / "nls-chapbooks").glob("*.jpg"))[:24]:
        (folder / src.name).write_bytes(src.read_bytes())
    crashed_alias = es_settings.index.alias + "-crash"
    cache = tmp_path / "cache"
    env = isolated_env(index_alias=crashed_alias, paths_cache_dir=str(cache), models_batch_size="4")
    if es_settings.es.url:
        env["VIGNETT_ES_URL"] = es_settings.es.url
    command = [sys.executable, "-m", "vignett", "ingest", str(folder), "--models", "clip,phash", "--weights", "random"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    checkpoint = cache / "ingest" / f"{crashed_alias}.sqlite"
    deadline = time.monotonic() + 240
    done = 0
    while time.monotonic() < deadline and process.poll() is None:
        done = _checkpoint_count(checkpoint)
        if done >= 3:
            os.kill(process.pid, signal.SIGKILL)
            break
        time.sleep(0.05)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL, process.stdout.read().decode()[-2000:]
    assert 3 <= done < 24
    resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "unchanged, skipped" in resumed.stdout

    whole_alias = es_settings.index.alias + "-whole"
    env_whole = {**env, "VIGNETT_INDEX_ALIAS": whole_alias, "VIGNETT_PATHS_CACHE_DIR": str(tmp_path / "cache2")}
    whole = subprocess.run(command, env=env_whole, capture_output=True, text=True, timeout=600)
    assert whole.returncode == 0, whole.stdout + whole.stderr
    es_client.indices.refresh(index=[crashed_alias, whole_alias])
    crashed_ids = set(_all_docs(es_client, crashed_alias))
    assert crashed_ids == set(_all_docs(es_client, whole_alias))
    assert len(crashed_ids) == 24
    assert es_client.count(index=crashed_alias)["count"] == 24  # no duplicates


def _checkpoint_count(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.1) as db:
            return db.execute("SELECT COUNT(*) FROM done").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_scheduler_ingests_a_new_alto_file_and_survives_a_failing_run(
    es_client, es_settings, collection, iiif, embedders, tmp_path
):
    from vignett.indexing.scheduler import ScheduledJobs

    watched = tmp_path / "watched"
    watched.mkdir()
    settings = _settings(es_settings, es_settings.index.alias + "-sched", tmp_path / "cache")
    settings = dataclasses.replace(
        settings, schedule=dataclasses.replace(settings.schedule, watch=(str(watched),), interval_s=1.0)
    )
    ensure_index(es_client, settings.index)
    attempts = []

    def make_ingest(folders):
        attempts.append(len(attempts))
        if len(attempts) == 2:
            raise RuntimeError("simulated failure of one scheduled run")
        request = IngestRequest(sources=folders, models=MODELS, iiif_base=iiif.base_url_v2)
        return Ingest(settings, request, es_client, embedders)

    jobs = ScheduledJobs(settings, make_ingest)
    jobs.start()
    try:
        _wait_for(lambda: len(jobs.runs) >= 1)
        assert jobs.runs[0].ok and es_client.count(index=settings.index.alias)["count"] == 0
        new_page = collection.alto_dir / "nln" / "URN:NBN:no-nb_digibok_2001010100001_0002.xml"
        (watched / new_page.name).write_bytes(new_page.read_bytes())
        _wait_for(lambda: any(r.ok and "1 indexed" in r.message for r in jobs.runs))
    finally:
        jobs.shutdown()
    assert any(not r.ok and "simulated failure" in r.message for r in jobs.runs)
    es_client.indices.refresh(index=settings.index.alias)
    hits = es_client.search(index=settings.index.alias, query={"match": {"caption": "Tigeren"}})["hits"]["hits"]
    assert len(hits) == 1


def _wait_for(condition, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the scheduler"
        time.sleep(0.2)
