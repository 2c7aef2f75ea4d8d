"""Lookups (image, images, book, stats) and the protected mutations on the real node."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter

import pytest
from starlette.testclient import TestClient

from vignett.indexing.index import current_index, ensure_index
from vignett.resolvers import Runners, VignettApi
from vignett.resolvers.admin import reindex_runner
from vignett.resolvers.backend import SearchBackend
from vignett.resolvers.embedding import ModelPool
from vignett.web import create_app

from tests.api_corpus import API_KEY, Corpus, api_settings, build_corpus
from tests.api_helpers import codes, gql

pytestmark = pytest.mark.es
KEY = {"X-API-Key": API_KEY}
JOB = "query($id: ID!) { job(id: $id) { id kind status arguments progress done error summary } }"


@pytest.fixture(scope="module")
def corpus(es_client, session_alias) -> Corpus:
    return build_corpus(es_client, session_alias)


def _ingest_runner(sources, progress):
    if "fail" in sources:
        raise RuntimeError("this source cannot be read")
    for i, source in enumerate(sources, 1):
        progress.report(f"read {source}", i)
    return {"files": len(sources), "indexed": 3 * len(sources)}


@pytest.fixture(scope="module")
def client(corpus):
    pool = ModelPool(corpus.settings.models, factory=lambda name, **_: corpus.embedders[name])
    api = VignettApi(corpus.settings, embedder=pool, runners=Runners(ingest=_ingest_runner))
    with TestClient(create_app(corpus.settings, api)) as test_client:
        test_client.api = api
        yield test_client


def test_image_has_every_field(client, corpus):
    doc = corpus.docs[8]
    body = gql(client, """query($id: ID!) { image(id: $id) { id pageId pageNumber bbox { x y w h }
      pageSize { width height } aspectRatio iiifUrl(size: 300) fullUrl: iiifUrl thumbnailUrl viewerUrl
      context predictedClass classProbabilities { className probability } label models { model version }
      weights source book { id title author year links { rel url } } } }""", {"id": doc.id})
    image = body["data"]["image"]
    b = doc.bbox
    assert image["pageId"] == doc.page_id and image["pageNumber"] == doc.page_number
    assert image["bbox"] == {"x": b.x, "y": b.y, "w": b.w, "h": b.h}
    region = f"{b.x},{b.y},{b.w},{b.h}"
    assert image["fullUrl"] == f"https://iiif.example.org/iiif/{doc.page_id}/{region}/full/0/default.jpg"
    assert image["iiifUrl"] == f"https://iiif.example.org/iiif/{doc.page_id}/{region}/!300,300/0/default.jpg"
    assert image["thumbnailUrl"].endswith(f"/{region}/!256,256/0/default.jpg")
    assert image["viewerUrl"] == f"https://www.nb.no/items/{doc.book_id}?page={doc.page_number}"
    assert image["context"] == doc.context and image["predictedClass"] == doc.predicted_class
    assert image["classProbabilities"][0] == {"className": doc.predicted_class,
                                              "probability": pytest.approx(doc.class_probability[doc.predicted_class])}
    assert {m["model"]: m["version"] for m in image["models"]} == doc.model_versions
    assert image["weights"] == "random"
    assert image["book"]["title"] == doc.title and image["book"]["year"] == doc.year
    assert image["book"]["links"] == [{"rel": "viewer", "url": f"https://www.nb.no/items/{doc.book_id}?page=1"}]


def test_images_batch_keeps_order_and_nulls_unknown_ids(client, corpus):
    wanted = [corpus.docs[3].id, "missing", corpus.docs[1].id]
    body = gql(client, "query($ids: [ID!]!) { images(ids: $ids) { id } a: image(id: \"%s\") { id } }"
               % corpus.docs[2].id, {"ids": wanted})
    assert body["data"]["images"] == [{"id": wanted[0]}, None, {"id": wanted[2]}]
    assert body["data"]["a"] == {"id": corpus.docs[2].id}
    missing = gql(client, '{ image(id: "missing") { id } }')
    assert codes(missing) == ["NOT_FOUND"] and "missing" in missing["errors"][0]["message"]


def test_book_with_its_images_in_page_order(client, corpus):
    docs = sorted((d for d in corpus.docs if d.book_id == "book-c"), key=lambda d: (d.page_number, d.bbox.y))
    body = gql(client, '{ book(id: "book-c") { id title year images(first: 100) { totalCount edges { node { id pageNumber } } } } }')
    book = body["data"]["book"]
    assert book["title"] == docs[0].title and book["images"]["totalCount"] == len(docs)
    assert [e["node"]["id"] for e in book["images"]["edges"]] == [d.id for d in docs]
    assert codes(gql(client, '{ book(id: "nope") { id } }')) == ["NOT_FOUND"]


def test_stats_match_the_corpus(client, corpus, es_client):
    stats = gql(client, "{ stats { alias index totalImages labelledImages classes { value count } decades { value count }"
                        " models { name dim images versions { value count } } weights { value count } } }")["data"]["stats"]
    assert stats["alias"] == corpus.settings.index.alias
    assert stats["index"] == current_index(es_client, corpus.settings.index.alias)
    assert stats["totalImages"] == len(corpus.docs)
    assert stats["labelledImages"] == len(corpus.labels)
    assert {b["value"]: b["count"] for b in stats["classes"]} == dict(Counter(d.predicted_class for d in corpus.docs))
    assert {b["value"]: b["count"] for b in stats["decades"]} == dict(Counter(str(d.year // 10 * 10) for d in corpus.docs))
    models = {m["name"]: m for m in stats["models"]}
    assert models["clip"]["images"] == len(corpus.docs) and models["vit"]["images"] == 4
    assert models["siglip"]["images"] == 0
    assert models["clip"]["versions"] == [{"value": corpus.embedders["clip"].version, "count": len(corpus.docs)}]
    assert stats["weights"] == [{"value": "random", "count": len(corpus.docs)}]


def test_set_label_needs_the_key_and_shows_at_once(client, corpus):
    doc = corpus.docs[20]
    mutation = 'mutation($id: ID!, $label: String) { setLabel(id: $id, label: $label) { id label labelledBy } }'
    assert codes(gql(client, mutation, {"id": doc.id, "label": "map"})) == ["UNAUTHENTICATED"]
    body = gql(client, mutation, {"id": doc.id, "label": "map"}, headers=KEY)
    assert body["data"]["setLabel"] == {"id": doc.id, "label": "map", "labelledBy": "api"}
    found = gql(client, '{ search(filter: {labelled: true}, first: 100) { edges { node { id } } } }')
    assert doc.id in {e["node"]["id"] for e in found["data"]["search"]["edges"]}
    assert gql(client, mutation, {"id": doc.id, "label": None}, headers=KEY)["data"]["setLabel"]["label"] is None
    assert codes(gql(client, mutation, {"id": doc.id, "label": "<script>"}, headers=KEY)) == ["BAD_USER_INPUT"]
    assert codes(gql(client, mutation, {"id": "missing", "label": "map"}, headers=KEY)) == ["NOT_FOUND"]


def _poll(client, job_id: str, timeout_s: float = 20) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = gql(client, JOB, {"id": job_id}, headers=KEY)["data"]["job"]
        if job["status"] in ("SUCCEEDED", "FAILED"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish")


def test_ingest_job_runs_in_the_background_and_reports(client, tmp_path):
    sources = [str(tmp_path), str(tmp_path)]
    body = gql(client, "mutation($s: [String!]!) { ingest(sources: $s) { id kind status } }", {"s": sources}, headers=KEY)
    job = _poll(client, body["data"]["ingest"]["id"])
    assert job["kind"] == "ingest" and job["status"] == "SUCCEEDED" and job["done"] == 2
    assert job["summary"] == {"files": 2, "indexed": 6}
    missing = gql(client, 'mutation { ingest(sources: ["/no/such/folder"]) { id } }', headers=KEY)
    assert codes(missing) == ["BAD_USER_INPUT"] and "/no/such/folder" in missing["errors"][0]["message"]
    assert codes(gql(client, JOB, {"id": "nope"}, headers=KEY)) == ["NOT_FOUND"]


def test_without_configured_keys_mutations_are_disabled(corpus):
    settings = dataclasses.replace(corpus.settings, api=dataclasses.replace(corpus.settings.api, api_keys=()))
    with TestClient(create_app(settings, VignettApi(settings, runners=Runners()))) as c:
        body = gql(c, "mutation { reindex { id } }", headers=KEY)
        assert codes(body) == ["FORBIDDEN"] and "api.api_keys" in body["errors"][0]["message"]


def test_reindex_copies_everything_with_vectors_and_moves_the_alias(es_client, corpus, session_alias):
    settings = api_settings(f"{session_alias}-reindex")
    first = ensure_index(es_client, settings.index)
    docs = corpus.docs[:3]
    for d in docs:
        es_client.index(index=settings.index.alias, id=d.id, document=d.to_source())
    es_client.indices.refresh(index=settings.index.alias)
    api = VignettApi(settings, client=es_client, runners=Runners(reindex=None))
    job = api.jobs.start("reindex", (), reindex_runner(settings, SearchBackend(settings, es_client)))
    job = api.jobs.wait(job.id, 60)
    assert job.status.value == "succeeded", job.error
    assert job.summary == {"from": first.index, "to": f"{settings.index.alias}-2", "copied": 3}
    assert current_index(es_client, settings.index.alias) == f"{settings.index.alias}-2"
    copy = es_client.get(index=settings.index.alias, id=docs[0].id, source_exclude_vectors=False)["_source"]
    assert copy["clip"] == pytest.approx(docs[0].vectors["clip"].tolist(), abs=1e-6)
    # Elasticsearch returns bit vectors as signed bytes.
    assert bytes(b & 0xFF for b in copy["phash"]) == docs[0].vectors["phash"].tobytes()
