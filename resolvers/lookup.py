"""Reading images by id (one or many), a book with its pictures, and `similar`."""

from __future__ import annotations

from collections.abc import Sequence

from elasticsearch import Elasticsearch, NotFoundError

from .backend import SearchBackend
from .documents import SOURCE_FIELDS, image_from_hit
from .errors import BadUserInput, NotFound
from .records import BookInfo, ImageRecord
from .requests import SearchFilter, SearchRequest, SimilarToImage, SortOrder

MAX_IDS = 1000


class ImageLookup:
    def __init__(self, backend: SearchBackend) -> None:
        self.backend = backend

    async def get_many(self, ids: Sequence[str]) -> list[ImageRecord | None]:
        """In the order asked, None where an id names nothing: one `mget` for the batch."""
        if len(ids) > MAX_IDS:
            raise BadUserInput(f"at most {MAX_IDS} ids per request, got {len(ids)}")
        if not ids:
            return []

        def fetch(client: Elasticsearch) -> dict:
            return client.mget(index=self.backend.alias, ids=list(ids), source_includes=SOURCE_FIELDS)

        response = await self.backend.run(fetch)
        return [image_from_hit(doc) if doc.get("found") else None for doc in response["docs"]]

    async def get(self, image_id: str) -> ImageRecord:
        def fetch(client: Elasticsearch) -> dict:
            try:
                return client.get(index=self.backend.alias, id=image_id, source_includes=SOURCE_FIELDS)
            except NotFoundError:
                raise NotFound(f"no image with id {image_id!r}") from None

        return image_from_hit(await self.backend.run(fetch))

    async def book(self, book_id: str) -> BookInfo:
        """The book's metadata, read from its first picture (books have no index of their own)."""

        def fetch(client: Elasticsearch) -> dict:
            return client.search(
                index=self.backend.alias, size=1, query={"term": {"book_id": book_id}},
                source_includes=SOURCE_FIELDS,
            )

        hits = (await self.backend.run(fetch))["hits"]["hits"]
        if not hits:
            raise NotFound(f"no book with id {book_id!r} (no picture in the index names it)")
        return image_from_hit(hits[0]).book


def book_images_request(book_id: str, model: str, first: int, after: str | None) -> SearchRequest:
    """A book's pictures in page order, paged like a search."""
    return SearchRequest(
        model=model, filter=SearchFilter(book_ids=(book_id,)), sort=SortOrder.PAGE_ORDER,
        first=first, after=after,
    )


def similar_request(
    image_id: str, model: str, flt: SearchFilter, first: int, after: str | None, min_score: float | None
) -> SearchRequest:
    return SearchRequest(
        model=model, query_image=SimilarToImage(image_id), filter=flt, first=first, after=after,
        min_score=min_score,
    )


