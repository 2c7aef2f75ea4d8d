"""The record vignett stores per picture, and its stable id.

`ImageDocument` is what ingest writes and the resolvers read back; `to_source()` is the
Elasticsearch `_source` (vectors travel separately in `vectors`, because the mapping keeps them
out of `_source`). The id is a hash of the page id and the region, so re-ingesting the same
element overwrites the same document.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .alto import BBox


def document_id(page_id: str, bbox: BBox | None) -> str:
    """Stable id: the same page and region always give the same id (whole images: no bbox)."""
    region = "full" if bbox is None else f"{bbox.x},{bbox.y},{bbox.w},{bbox.h}"
    return hashlib.sha1(f"{page_id}\x1f{region}".encode()).hexdigest()[:20]


@dataclass(frozen=True)
class BookMetadata:
    """Bibliographic facts joined onto every picture of a book."""

    book_id: str
    title: str = ""
    author: str = ""
    year: int | None = None
    language: str = ""


@dataclass
class ImageDocument:
    """One picture in the index."""

    id: str
    page_id: str
    book_id: str
    source: str
    element_id: str = ""
    element_type: str = ""
    page_number: int | None = None
    bbox: BBox | None = None
    page_width: int | None = None
    page_height: int | None = None
    aspect_ratio: float | None = None
    iiif_base: str = ""
    iiif_id: str = ""
    context: str = ""
    caption: str = ""
    title: str = ""
    author: str = ""
    year: int | None = None
    language: str = ""
    image_sha1: str = ""
    ingested_at: str = ""
    weights: str = ""
    model_versions: dict[str, str] = field(default_factory=dict)
    predicted_class: str | None = None
    class_probability: dict[str, float] = field(default_factory=dict)
    classifier_version: str = ""
    vectors: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def to_source(self) -> dict[str, Any]:
        """The `_source` plus vector fields, in the shapes the mapping expects."""
        source: dict[str, Any] = {
            key: value
            for key, value in asdict(self).items()
            if key not in {"id", "vectors", "bbox", "page_width", "page_height"}
            and value not in (None, "", {})
        }
        if self.bbox is not None:
            source["bbox"] = {"x": self.bbox.x, "y": self.bbox.y, "w": self.bbox.w, "h": self.bbox.h}
        if self.page_width and self.page_height:
            source["page_size"] = {"width": self.page_width, "height": self.page_height}
        for name, vector in self.vectors.items():
            source[name] = vector_to_index_value(vector)
        return source


def vector_to_index_value(vector: np.ndarray) -> list[float] | list[int]:
    """Float vectors as lists of floats; packed bit vectors (uint8) as signed bytes, the form
    Elasticsearch returns them in, so re-sending an unchanged document is a no-op."""
    if vector.dtype == np.uint8:
        return [int(b) for b in vector.astype(np.int8)]
    # The shortest decimal that round-trips each float32 (what Elasticsearch prints back).
    return [float(str(x)) for x in vector.astype(np.float32)]
