"""Human labels on indexed documents: find the document a label names, write `label` fields, read back.

A label names its picture by document id, by IIIF image URL (`.../{id}/{x,y,w,h}/{size}/0/...`)
or by the file path an image folder was ingested under. Ids are tried first (they follow from
page id + region); a URL whose region was clamped or scaled at ingest is then found by its
IIIF identifier and stored box, a path by `page_id`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

import numpy as np
from elasticsearch import Elasticsearch

from vignett.models.labels import LabelRecord

from .alto import BBox
from .bulk import bulk_update
from .classify_apply import decode_vector, iter_pages
from .documents import document_id

DOC_ID = re.compile(r"^[0-9a-f]{20}$")
REGION = re.compile(r"^(\d+),(\d+),(\d+),(\d+)$")


@dataclass(frozen=True)
class IiifRef:
    identifier: str
    bbox: BBox | None  # None: the full image


@dataclass
class LabelWriteReport:
    written: int = 0
    unmatched: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def parse_iiif_url(url: str) -> IiifRef | None:
    """Identifier and region of a IIIF Image API request URL (None when it is not one)."""
    parts = urlsplit(url).path.rstrip("/").split("/")
    if len(parts) < 5 or "." not in parts[-1]:
        return None
    identifier, region = unquote(parts[-5]), parts[-4]
    if region in ("full", "max"):
        return IiifRef(identifier, None)
    match = REGION.match(region)
    return IiifRef(identifier, BBox(*(int(g) for g in match.groups()))) if match else None


def candidate_id(key: str) -> str:
    """The document id the key most likely names (page id + region, as ingest computes it)."""
    if DOC_ID.match(key):
        return key
    if key.startswith(("http://", "https://")):
        ref = parse_iiif_url(key)
        if ref is not None:
            return document_id(ref.identifier, ref.bbox)
    return document_id(key.removeprefix("./"), None)


def resolve_documents(client: Elasticsearch, alias: str, keys: Sequence[str]) -> dict[str, str]:
    """{label key: document id} for the keys that name an indexed document."""
    candidates = {key: candidate_id(key) for key in keys}
    found: dict[str, str] = {}
    if candidates:
        response = client.mget(index=alias, ids=sorted(set(candidates.values())), source=False)
        exists = {d["_id"] for d in response["docs"] if d.get("found")}
        found = {k: i for k, i in candidates.items() if i in exists}
    for key in keys:
        if key not in found:
            doc_id = _search_by_fields(client, alias, key)
            if doc_id:
                found[key] = doc_id
    return found


def _search_by_fields(client: Elasticsearch, alias: str, key: str) -> str | None:
    ref = parse_iiif_url(key) if key.startswith(("http://", "https://")) else None
    if ref is not None and ref.bbox is not None:
        box = ref.bbox
        filters = [{"term": {"iiif_id": ref.identifier}}] + [
            {"term": {f"bbox.{k}": v}} for k, v in (("x", box.x), ("y", box.y), ("w", box.w), ("h", box.h))
        ]
    elif ref is None and not DOC_ID.match(key):
        filters = [{"term": {"page_id": key.removeprefix("./")}}, {"bool": {"must_not": {"exists": {"field": "bbox"}}}}]
    else:
        return None
    hits = client.search(index=alias, query={"bool": {"filter": filters}}, size=2, source=False)["hits"]["hits"]
    return hits[0]["_id"] if len(hits) == 1 else None


def write_labels(client: Elasticsearch, alias: str, records: Sequence[LabelRecord]) -> LabelWriteReport:
    """Set `label`, `labelled_by`, `labelled_at` on the documents the records name."""
    report = LabelWriteReport()
    ids = resolve_documents(client, alias, [r.image for r in records])
    updates = []
    for record in records:
        doc_id = ids.get(record.image)
        if doc_id is None:
            report.unmatched.append(record.image)
            continue
        fields = {"label": record.label, "labelled_by": record.labelled_by or None,
                  "labelled_at": record.labelled_at or None}
        updates.append((doc_id, {k: v for k, v in fields.items() if v is not None}))
    if updates:
        result = bulk_update(client, alias, updates)
        report.written, report.failed = len(result.indexed), result.failed
        client.indices.refresh(index=alias)
    return report


@dataclass(frozen=True)
class LabelledVectors:
    """Labelled documents read back from the index, rows aligned across embeddings."""

    ids: list[str]
    labels: list[str]
    vectors: dict[str, np.ndarray]
    embedder_versions: dict[str, str]


def read_labelled_vectors(
    client: Elasticsearch, alias: str, embeddings: Sequence[str], *, batch_size: int = 500
) -> LabelledVectors:
    """Every labelled document that has all `embeddings`, with its vectors."""
    from vignett.models.specs import EMBEDDER_SPECS

    query = {"bool": {"filter": [{"exists": {"field": "label"}}, *({"exists": {"field": e}} for e in embeddings)]}}
    source = ["label", "model_versions", *embeddings]
    ids, labels, rows, versions = [], [], {e: [] for e in embeddings}, {}
    for hits in iter_pages(client, alias, query, source, batch_size, with_vectors=True):
        for hit in hits:
            ids.append(hit["_id"])
            labels.append(hit["_source"]["label"])
            for e in embeddings:
                rows[e].append(decode_vector(hit["_source"][e], EMBEDDER_SPECS[e].element_type))
                versions.setdefault(e, hit["_source"].get("model_versions", {}).get(e, ""))
    vectors = {e: np.stack(r) if r else np.zeros((0, 1)) for e, r in rows.items()}
    return LabelledVectors(ids, labels, vectors, versions)
