"""Relay connections of pictures: edges carry the score and highlights; search adds facets."""

from __future__ import annotations

import strawberry
from strawberry import relay

from vignett.resolvers import records

from .types import Image


@strawberry.type
class FacetBucket:
    value: str
    count: int


@strawberry.type(description="Counts over the whole result list (the same set totalCount counts).")
class Facets:
    classes: list[FacetBucket] = strawberry.field(description="Per predicted class.")
    decades: list[FacetBucket] = strawberry.field(description="Per decade of publication: value is e.g. \"1880\".")
    books: list[FacetBucket] = strawberry.field(description="Per book id.")

    @classmethod
    def from_record(cls, facets: records.Facets) -> Facets:
        def buckets(items: tuple[records.FacetBucket, ...]) -> list[FacetBucket]:
            return [FacetBucket(value=b.value, count=b.count) for b in items]

        return cls(classes=buckets(facets.classes), decades=buckets(facets.decades), books=buckets(facets.books))


@strawberry.type(description="A picture in a result list.")
class ImageEdge(relay.Edge[Image]):  # type: ignore[type-var]  # Image is not a relay Node
    score: float = strawberry.field(
        description="Relevance: BM25 for text, (1 + cosine) / 2 for float vectors, 1 - hamming/64 for "
        "phash, the fused score for text + vector, 1 when browsing."
    )
    highlights: list[str] = strawberry.field(description="Matched OCR context with <em> around the terms.")


def _edges(page: records.SearchPage) -> list[ImageEdge]:
    return [
        ImageEdge(cursor=h.cursor, node=Image(record=h.image), score=h.score, highlights=list(h.highlights))
        for h in page.hits
    ]


def _page_info(page: records.SearchPage) -> relay.PageInfo:
    return relay.PageInfo(
        has_next_page=page.has_next_page, has_previous_page=page.has_previous_page,
        start_cursor=page.hits[0].cursor if page.hits else None,
        end_cursor=page.hits[-1].cursor if page.hits else None,
    )


@strawberry.type(description="A page of pictures.")
class ImageConnection:
    edges: list[ImageEdge]
    page_info: relay.PageInfo
    total_count: int = strawberry.field(description="How many pictures the whole list holds.")

    @classmethod
    def from_page(cls, page: records.SearchPage) -> ImageConnection:
        return cls(edges=_edges(page), page_info=_page_info(page), total_count=page.total_count)


@strawberry.type(description="A page of search results with facets over all of them.")
class SearchConnection:
    edges: list[ImageEdge]
    page_info: relay.PageInfo
    total_count: int = strawberry.field(description="How many pictures the whole result list holds.")
    facets: Facets

    @classmethod
    def from_page(cls, page: records.SearchPage) -> SearchConnection:
        return cls(edges=_edges(page), page_info=_page_info(page), total_count=page.total_count,
                   facets=Facets.from_record(page.facets))
