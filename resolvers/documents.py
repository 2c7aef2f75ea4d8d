"""Elasticsearch hits (`_source` as ingest wrote it, see indexing/documents.py) -> records."""

from __future__ import annotations

from typing import Any, Mapping

from .records import BookInfo, Box, ImageRecord

# Fields the API reads; vectors never travel back to clients.
SOURCE_FIELDS = [
    "page_id", "book_id", "source", "page_number", "bbox", "page_size", "aspect_ratio",
    "iiif_base", "iiif_id", "context", "caption", "title", "author", "year", "language",
    "predicted_class", "class_probability", "classifier_version", "label", "labelled_by",
    "labelled_at", "weights", "model_versions", "ingested_at",
]


def image_from_source(doc_id: str, source: Mapping[str, Any]) -> ImageRecord:
    bbox = source.get("bbox")
    page_size = source.get("page_size") or {}
    return ImageRecord(
        id=doc_id,
        page_id=source.get("page_id", ""),
        book=book_from_source(source),
        source=source.get("source", ""),
        page_number=source.get("page_number"),
        bbox=Box(int(bbox["x"]), int(bbox["y"]), int(bbox["w"]), int(bbox["h"])) if bbox else None,
        page_width=page_size.get("width"),
        page_height=page_size.get("height"),
        aspect_ratio=source.get("aspect_ratio"),
        iiif_base=source.get("iiif_base", ""),
        iiif_id=source.get("iiif_id", ""),
        context=source.get("context", ""),
        caption=source.get("caption", ""),
        predicted_class=source.get("predicted_class"),
        class_probability={k: float(v) for k, v in (source.get("class_probability") or {}).items()},
        classifier_version=source.get("classifier_version", ""),
        label=source.get("label"),
        labelled_by=source.get("labelled_by"),
        labelled_at=source.get("labelled_at"),
        weights=source.get("weights", ""),
        model_versions=dict(source.get("model_versions") or {}),
        ingested_at=source.get("ingested_at", ""),
    )


def book_from_source(source: Mapping[str, Any]) -> BookInfo:
    return BookInfo(
        id=source.get("book_id", ""),
        title=source.get("title", ""),
        author=source.get("author", ""),
        year=source.get("year"),
        language=source.get("language", ""),
    )


def image_from_hit(hit: Mapping[str, Any]) -> ImageRecord:
    return image_from_source(hit["_id"], hit.get("_source") or {})


def highlights_of(hit: Mapping[str, Any]) -> tuple[str, ...]:
    fragments = hit.get("highlight") or {}
    return tuple(f for name in ("caption", "context") for f in fragments.get(name, ()))
