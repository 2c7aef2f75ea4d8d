"""Labels and predictions on a real index: import, read back, apply (resumable), aggregate.

A small index of real labelled images (phash vectors: no weights, fast) under its own alias; a
classifier trained on phash in the test is applied, and Elasticsearch's own terms aggregation
on `predicted_class` must equal what apply reported.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from vignett.indexing.bulk import bulk_upsert
from vignett.indexing.classify_apply import apply_classifier, reapply_current_classifier, reapply_if_new_model
from vignett.indexing.documents import ImageDocument, document_id
from vignett.indexing.index import ensure_index
from vignett.indexing.labels_store import candidate_id, parse_iiif_url, read_labelled_vectors, write_labels
from vignett.models import create_embedder
from vignett.models.classifier import SearchSpace, TrainingData, save_classifier, stack_features, train_classifier
from vignett.models.labels import LabelRecord
from tests.support import SHARED_DATA

PER_CLASS = 6
SPACE = SearchSpace(embeddings=("phash",), Cs=(1e-2, 1.0, 1e2), inner_folds=3, seed=0)


class Interrupted(RuntimeError):
    pass


@pytest.fixture(scope="module")
def corpus(es_client, es_settings):
    """(settings, rows, phash vectors, embedder) with the images indexed, unlabelled, unclassified."""
    settings = replace(es_settings, index=replace(es_settings.index, alias=f"{es_settings.index.alias}-classify"))
    ensure_index(es_client, settings.index)
    rows = list(csv.DictReader((SHARED_DATA / "images" / "labels.csv").open()))
    rows = [r for label in sorted({r["label"] for r in rows}) for r in [x for x in rows if x["label"] == label][:PER_CLASS]]
    phash = create_embedder("phash")
    vectors = phash.embed_images([Image.open(SHARED_DATA / "images" / r["file"]) for r in rows])
    docs = [
        ImageDocument(id=document_id(r["file"], None), page_id=r["file"], book_id="test", source="test",
                      iiif_id=r["file"], model_versions={"phash": phash.version}, vectors={"phash": v})
        for r, v in zip(rows, vectors)
    ]
    docs.append(ImageDocument(id="no-vector-doc", page_id="none.jpg", book_id="test", source="test"))
    result = bulk_upsert(es_client, settings.index.alias, [(d.id, d.to_source()) for d in docs])
    assert not result.failed
    es_client.indices.refresh(index=settings.index.alias)
    return settings, rows, vectors, phash


def test_label_keys_name_documents():
    assert candidate_id("a/b.jpg") == document_id("a/b.jpg", None)
    url = "https://x/iiif/URN%3ANBN%3Ano-nb_digibok_1_0001/10,20,30,40/!256,256/0/default.jpg"
    ref = parse_iiif_url(url)
    assert ref.identifier == "URN:NBN:no-nb_digibok_1_0001" and (ref.bbox.x, ref.bbox.h) == (10, 40)
    assert candidate_id(url) == document_id("URN:NBN:no-nb_digibok_1_0001", ref.bbox)


def test_labels_are_written_onto_documents_and_read_back_with_vectors(es_client, corpus):
    settings, rows, vectors, _ = corpus
    alias = settings.index.alias
    records = [LabelRecord(r["file"], r["label"], "tester", "2024-05-01T12:00:00Z") for r in rows]
    report = write_labels(es_client, alias, records + [LabelRecord("not/indexed.jpg", "Map")])
    assert report.written == len(rows) and report.unmatched == ["not/indexed.jpg"]
    doc = es_client.get(index=alias, id=document_id(rows[0]["file"], None))["_source"]
    assert (doc["label"], doc["labelled_by"], doc["labelled_at"]) == (rows[0]["label"], "tester", "2024-05-01T12:00:00Z")
    assert "phash" not in doc  # vectors stay out of _source ...
    data = read_labelled_vectors(es_client, alias, ["phash"])  # ... but are read back on request
    by_id = dict(zip(data.ids, data.vectors["phash"]))
    for r, v in zip(rows, vectors):
        np.testing.assert_array_equal(by_id[document_id(r["file"], None)], v)
    assert sorted(data.labels) == sorted(r["label"] for r in rows)
    assert data.embedder_versions["phash"] == corpus[3].version


def test_apply_writes_predictions_resumably_and_the_index_aggregation_agrees(es_client, corpus, tmp_path):
    settings, rows, vectors, phash = corpus
    alias = settings.index.alias
    labels = [r["label"] for r in rows]
    model = train_classifier(
        stack_features({"phash": vectors}, ["phash"]), labels, SPACE,
        TrainingData("test", settings.classifier.classes, {"phash": phash.version}),
    )

    def stop_after_first_batch(_n: int) -> None:
        raise Interrupted

    with pytest.raises(Interrupted):
        apply_classifier(es_client, alias, model, batch_size=10, progress=stop_after_first_batch)
    es_client.indices.refresh(index=alias)
    resumed = apply_classifier(es_client, alias, model, batch_size=10)
    assert resumed.already_current == 10 and resumed.updated == len(rows) - 10
    assert resumed.missing_vector == 1 and resumed.other_embedder_version == 0

    again = apply_classifier(es_client, alias, model, batch_size=10)
    assert again.updated == 0 and again.already_current == len(rows)
    full = apply_classifier(es_client, alias, model, batch_size=7, resume=False)
    assert full.updated == len(rows) and not full.failed

    aggregation = es_client.search(
        index=alias, size=0, aggs={"classes": {"terms": {"field": "predicted_class", "size": 20}}})
    from_index = {b["key"]: b["doc_count"] for b in aggregation["aggregations"]["classes"]["buckets"]}
    assert from_index == dict(full.class_counts)
    expected = Counter(cls for cls, _ in model.predict_documents({"phash": vectors}))
    assert from_index == dict(expected)

    doc = es_client.get(index=alias, id=document_id(rows[0]["file"], None))["_source"]
    assert doc["classifier_version"] == model.version and doc["label"] == rows[0]["label"]
    assert set(doc["class_probability"]) == set(settings.classifier.classes)
    assert sum(doc["class_probability"].values()) == pytest.approx(1.0, abs=1e-3)
    assert "predicted_class" not in es_client.get(index=alias, id="no-vector-doc")["_source"]


def test_scheduler_hook_reapplies_only_after_a_retrain(es_client, corpus, tmp_path):
    settings, rows, vectors, phash = corpus
    settings = replace(settings, classifier=replace(settings.classifier, model_dir=str(tmp_path)))
    assert reapply_current_classifier(settings, es_client) is None  # nothing trained yet
    model = train_classifier(
        stack_features({"phash": vectors}, ["phash"]), [r["label"] for r in rows],
        replace(SPACE, Cs=(1e3,)), TrainingData("retrain", settings.classifier.classes, {"phash": phash.version}),
    )
    save_classifier(model, tmp_path)
    report = reapply_current_classifier(settings, es_client)
    assert report.classifier_version == model.version
    assert report.updated + report.already_current == len(rows)
    assert reapply_current_classifier(settings, es_client).updated == 0
    assert "up to date" in reapply_if_new_model(settings, es_client)


def test_cli_import_labels_and_apply(es_client, corpus, tmp_path):
    import json
    import os

    from click.testing import CliRunner

    from tests.support import isolated_env
    from vignett.cli import main

    settings, rows, vectors, phash = corpus
    env = isolated_env(index_alias=settings.index.alias, classifier_model_dir=str(tmp_path))
    if os.environ.get("VIGNETT_ES_URL"):
        env["VIGNETT_ES_URL"] = os.environ["VIGNETT_ES_URL"]
    labels = tmp_path / "labels.csv"
    labels.write_text("file,label\n" + "".join(f"{r['file']},{r['label']}\n" for r in rows[:3]) + "gone.jpg,Map\n")
    result = CliRunner().invoke(main, ["classify", "import-labels", str(labels), "--labelled-by", "cli"], env=env)
    assert result.exit_code == 0, result.output
    assert "labels written to 3 documents" in result.output and "1 name no indexed document" in result.output
    assert len((tmp_path / "training_set.csv").read_text().splitlines()) == 5
    doc = es_client.get(index=settings.index.alias, id=document_id(rows[0]["file"], None))["_source"]
    assert doc["labelled_by"] == "cli"

    result = CliRunner().invoke(main, ["classify", "apply"], env=env)
    assert result.exit_code != 0 and "classify train" in result.output
    model = train_classifier(
        stack_features({"phash": vectors}, ["phash"]), [r["label"] for r in rows], replace(SPACE, Cs=(3.0,)),
        TrainingData("cli", settings.classifier.classes, {"phash": phash.version}),
    )
    save_classifier(model, tmp_path)
    result = CliRunner().invoke(main, ["classify", "apply", "--batch-size", "9"], env=env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["classifier_version"] == model.version and report["updated"] == len(rows)


def test_new_ingest_applies_the_current_model(es_client, corpus, tmp_path):
    import asyncio

    from vignett.indexing.ingest import Ingest, IngestRequest
    from vignett.models.classifier_store import load_current_classifier

    settings, rows, vectors, phash = corpus
    settings = replace(
        settings,
        classifier=replace(settings.classifier, model_dir=str(tmp_path / "models")),
        index=replace(settings.index, alias=settings.index.alias + "-ingest"),
        paths=replace(settings.paths, cache_dir=str(tmp_path / "cache")),
    )
    model = train_classifier(
        stack_features({"phash": vectors}, ["phash"]), [r["label"] for r in rows],
        replace(SPACE, Cs=(1e3,)), TrainingData("ingest", settings.classifier.classes, {"phash": phash.version}),
    )
    save_classifier(model, tmp_path / "models")
    folder = tmp_path / "new-book"
    folder.mkdir()
    for row in rows[:4]:
        (folder / row["file"].replace("/", "_")).write_bytes((SHARED_DATA / "images" / row["file"]).read_bytes())
    ensure_index(es_client, settings.index)
    classifier = load_current_classifier(settings)
    request = IngestRequest(sources=[folder], models=("phash",))
    summary = asyncio.run(Ingest(settings, request, es_client, {"phash": phash}, classifier=classifier).run())
    assert summary.indexed == 4
    es_client.indices.refresh(index=settings.index.alias)
    hits = es_client.search(index=settings.index.alias, size=10)["hits"]["hits"]
    assert len(hits) == 4
    for hit in hits:
        source = hit["_source"]
        assert source["classifier_version"] == model.version
        assert source["predicted_class"] in settings.classifier.classes
        assert abs(sum(source["class_probability"].values()) - 1.0) < 1e-3


def test_graphql_class_filter_and_facet_after_apply(es_client, corpus, tmp_path):
    from starlette.testclient import TestClient

    from vignett.web import create_app
    from tests.api_helpers import gql

    settings, rows, vectors, phash = corpus
    settings = replace(settings, classifier=replace(settings.classifier, model_dir=str(tmp_path)))
    model = train_classifier(
        stack_features({"phash": vectors}, ["phash"]), [r["label"] for r in rows],
        replace(SPACE, Cs=(1e3,)), TrainingData("graphql", settings.classifier.classes, {"phash": phash.version}),
    )
    save_classifier(model, tmp_path)
    apply_classifier(es_client, settings.index.alias, model, resume=False)
    es_client.indices.refresh(index=settings.index.alias)
    direct = es_client.search(
        index=settings.index.alias, size=0,
        aggs={"c": {"terms": {"field": "predicted_class", "size": 20}}},
    )["aggregations"]["c"]["buckets"]
    expected = {b["key"]: b["doc_count"] for b in direct}
    assert expected.get("Map", 0) > 0
    query = """query($f: SearchFilterInput) { search(filter: $f, first: 100) {
        totalCount edges { node { id predictedClass } } facets { classes { value count } } } }"""
    with TestClient(create_app(settings)) as client:
        maps = gql(client, query, {"f": {"classes": ["Map"]}})["data"]["search"]
        everything = gql(client, query)["data"]["search"]
    assert maps["totalCount"] == expected["Map"]
    assert {e["node"]["predictedClass"] for e in maps["edges"]} == {"Map"}
    facet = {f["value"]: f["count"] for f in everything["facets"]["classes"]}
    assert facet == expected
