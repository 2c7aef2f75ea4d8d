"""What the resolvers hand back to the schema: plain dataclasses, no Elasticsearch shapes."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class BookInfo:
    """Bibliographic facts, as stored on every picture of the book."""

    id: str
    title: str = ""
    author: str = ""
    year: int | None = None
    language: str = ""


@dataclass(frozen=True)
class ImageRecord:
    """One picture in the index, as the API shows it."""

    id: str
    page_id: str
    book: BookInfo
    source: str = ""
    page_number: int | None = None
    bbox: Box | None = None
    page_width: int | None = None
    page_height: int | None = None
    aspect_ratio: float | None = None
    iiif_base: str = ""
    iiif_id: str = ""
    context: str = ""
    caption: str = ""
    predicted_class: str | None = None
    class_probability: dict[str, float] = field(default_factory=dict)
    classifier_version: str = ""
    label: str | None = None
    labelled_by: str | None = None
    labelled_at: str | None = None
    weights: str = ""
    model_versions: dict[str, str] = field(default_factory=dict)
    ingested_at: str = ""


@dataclass(frozen=True)
class SearchHit:
    image: ImageRecord
    score: float
    cursor: str
    highlights: tuple[str, ...] = ()


@dataclass(frozen=True)
class FacetBucket:
    value: str
    count: int


@dataclass(frozen=True)
class Facets:
    classes: tuple[FacetBucket, ...] = ()
    decades: tuple[FacetBucket, ...] = ()
    books: tuple[FacetBucket, ...] = ()


@dataclass(frozen=True)
class SearchPage:
    """One page of a result list, plus what describes the whole list."""

    hits: tuple[SearchHit, ...]
    total_count: int
    has_next_page: bool
    has_previous_page: bool
    facets: Facets = field(default_factory=Facets)


@dataclass(frozen=True)
class ModelStats:
    name: str
    dim: int
    images: int
    versions: tuple[FacetBucket, ...]


@dataclass(frozen=True)
class IndexStats:
    alias: str
    index: str
    mapping_hash: str
    total_images: int
    classes: tuple[FacetBucket, ...]
    decades: tuple[FacetBucket, ...]
    models: tuple[ModelStats, ...]
    weights: tuple[FacetBucket, ...]
    labelled_images: int
