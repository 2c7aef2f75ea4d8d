"""Write a classifier's predictions onto every document: `predicted_class`, `class_probability.*`.

Documents are read page by page (point in time + search_after, vectors included) and updated
with bulk partial updates, which keep every other field. The run is resumable without a
checkpoint file: it only reads documents whose `classifier_version` is not the model's, so a
run stopped half-way continues with what is left, and a finished run finds nothing to do.
Documents without the model's embedding, or whose vectors came from another embedder version
(e.g. pretrained vs random weights), are counted and left alone.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from elasticsearch import Elasticsearch

from vignett.models.classifier import TrainedClassifier

from .bulk import bulk_update

PIT_KEEP_ALIVE = "5m"


@dataclass
class ApplyReport:
    """What one `classify apply` run did; `class_counts` are the classes it wrote."""

    classifier_version: str
    embedding: str
    updated: int = 0
    class_counts: Counter = field(default_factory=Counter)
    already_current: int = 0
    missing_vector: int = 0
    other_embedder_version: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "class_counts": dict(self.class_counts.most_common())}


def decode_vector(value: Any, element_type: str) -> np.ndarray:
    """A vector as `_source` returns it: floats as a list; bit vectors as hex or signed bytes."""
    if element_type == "bit":
        if isinstance(value, str):
            return np.frombuffer(bytes.fromhex(value), dtype=np.uint8)
        return np.asarray(value, dtype=np.int16).astype(np.uint8)  # signed bytes -> raw bits
    return np.asarray(value, dtype=np.float32)


def iter_pages(
    client: Elasticsearch, alias: str, query: dict, source: list[str], batch_size: int,
    *, with_vectors: bool = False,
) -> Iterator[list[dict]]:
    """Hits of `query` in pages of `batch_size`, over one point in time (a stable snapshot)."""
    pit = client.open_point_in_time(index=alias, keep_alive=PIT_KEEP_ALIVE)["id"]
    after = None
    try:
        while True:
            extra = {"search_after": after} if after is not None else {}
            response = client.search(
                pit={"id": pit, "keep_alive": PIT_KEEP_ALIVE}, query=query, size=batch_size,
                sort=[{"_shard_doc": "asc"}], source=source, track_total_hits=False,
                source_exclude_vectors=not with_vectors, **extra,
            )
            pit = response.get("pit_id", pit)
            hits = response["hits"]["hits"]
            if not hits:
                return
            yield hits
            after = hits[-1]["sort"]
    finally:
        client.close_point_in_time(id=pit)


def apply_classifier(
    client: Elasticsearch,
    alias: str,
    classifier: TrainedClassifier,
    *,
    batch_size: int = 500,
    resume: bool = True,
    progress: Callable[[int], None] | None = None,
) -> ApplyReport:
    """Predict and write every document that has the model's embedding (see module docstring)."""
    from vignett.models.specs import EMBEDDER_SPECS

    started = time.monotonic()
    emb = classifier.embedding
    element_type = EMBEDDER_SPECS[emb].element_type
    report = ApplyReport(classifier.version, emb)
    same_vectors = _same_embedder_filter(classifier)
    current = {"term": {"classifier_version": classifier.version}}
    report.missing_vector = _count(client, alias, {"bool": {"must_not": [{"exists": {"field": emb}}]}})
    if same_vectors:
        report.other_embedder_version = _count(
            client, alias, {"bool": {"filter": [{"exists": {"field": emb}}], "must_not": [same_vectors]}})
    todo: dict[str, Any] = {"filter": [{"exists": {"field": emb}}, *([same_vectors] if same_vectors else [])]}
    if resume:
        report.already_current = _count(client, alias, {"bool": {"filter": [*todo["filter"], current]}})
        todo["must_not"] = [current]
    for hits in iter_pages(client, alias, {"bool": todo}, [emb], batch_size, with_vectors=True):
        vectors = np.stack([decode_vector(h["_source"][emb], element_type) for h in hits])
        predictions = classifier.predict_documents({emb: vectors})
        updates = [
            (h["_id"], {"predicted_class": cls, "class_probability": probs,
                        "classifier_version": classifier.version})
            for h, (cls, probs) in zip(hits, predictions)
        ]
        result = bulk_update(client, alias, updates)
        written = set(result.indexed)
        report.class_counts.update(cls for (doc_id, _), (cls, _p) in zip(updates, predictions) if doc_id in written)
        report.updated += len(written)
        report.failed.update(result.failed)
        if progress:
            progress(len(hits))
    client.indices.refresh(index=alias)
    report.seconds = round(time.monotonic() - started, 2)
    return report


def _same_embedder_filter(classifier: TrainedClassifier) -> dict | None:
    """Only vectors from the embedder version the model was trained on (when it is known)."""
    if not classifier.embedder_version:
        return None
    return {"term": {f"model_versions.{classifier.embedding}": classifier.embedder_version}}


def _count(client: Elasticsearch, alias: str, query: dict) -> int:
    return int(client.count(index=alias, query=query)["count"])


def reapply_current_classifier(settings, client: Elasticsearch | None = None) -> ApplyReport | None:
    """For the scheduler after a retrain: apply the current model where it is not yet applied.

    Returns None when no model has been trained. Cheap when nothing changed: only documents
    whose `classifier_version` differs from the current model's are read.
    """
    from vignett.models.classifier import load_current_classifier

    from .es_client import connect

    classifier = load_current_classifier(settings)
    if classifier is None:
        return None
    own = client is None
    client = client or connect(settings)
    try:
        return apply_classifier(
            client, settings.index.alias, classifier, batch_size=settings.classifier.apply_batch_size
        )
    finally:
        if own:
            client.close()


def reapply_if_new_model(settings, client: Elasticsearch | None = None) -> str:
    """The scheduler's job: one line on what `reapply_current_classifier` did."""
    report = reapply_current_classifier(settings, client)
    if report is None:
        return "no classifier trained yet"
    if not report.updated and not report.failed:
        return f"{report.classifier_version}: up to date ({report.already_current} documents)"
    return (f"{report.classifier_version}: {report.updated} documents classified, "
            f"{len(report.failed)} failed, {report.already_current} already current")
