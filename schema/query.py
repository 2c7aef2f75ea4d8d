"""The `Query` root: search, lookups, stats, job polling."""

from __future__ import annotations

import strawberry
from strawberry.file_uploads import Upload

from vignett.resolvers import (
    ImageAtUrl, PayloadTooLarge, RawVector, SearchRequest, SimilarToImage, UploadedImage,
)
from vignett.resolvers.errors import BadUserInput, NotFound
from vignett.resolvers.requests import QueryImage

from .connection import SearchConnection
from .context import Info
from .enums import Model, Sort
from .inputs import FusionInput, SearchFilterInput, filter_of
from .status_types import Job, Stats
from .types import Book, Image, image_of


async def read_upload(upload: Upload, limit: int) -> bytes:
    """The uploaded bytes, refusing (without reading it all) a file over `limit`."""
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"the upload is larger than {limit:,} bytes (api.max_upload_bytes)")
    return data


async def query_image(
    info: Info, image: Upload | None, image_url: str | None, similar_to: strawberry.ID | None,
    vector: list[float] | None,
) -> QueryImage | None:
    given = [name for name, v in (("image", image), ("imageUrl", image_url), ("similarTo", similar_to),
                                  ("vector", vector)) if v is not None]
    if len(given) > 1:
        raise BadUserInput(f"give one query image source at most; got {', '.join(given)}")
    if image is not None:
        data = await read_upload(image, info.context.api.settings.api.max_upload_bytes)
        return UploadedImage(data, getattr(image, "filename", "") or "")
    if image_url is not None:
        return ImageAtUrl(image_url)
    if similar_to is not None:
        return SimilarToImage(str(similar_to))
    if vector is not None:
        return RawVector(tuple(vector))
    return None


@strawberry.type
class Query:
    @strawberry.field(description="Find pictures by OCR text, prompt, image, indexed image or vector, under filters.")
    async def search(  # noqa: PLR0913 - the arguments are the public API
        self, info: Info,
        text: str | None = None,
        semantic_text: str | None = None,
        image: Upload | None = None,
        image_url: str | None = None,
        similar_to: strawberry.ID | None = None,
        vector: list[float] | None = None,
        model: Model | None = None,
        filter: SearchFilterInput | None = None,
        fusion: FusionInput | None = None,
        min_score: float | None = None,
        sort: Sort = Sort.RELEVANCE,
        first: int = 20,
        after: str | None = None,
        k: int | None = None,
        num_candidates: int | None = None,
    ) -> SearchConnection:
        api = info.context.api
        request = SearchRequest(
            model=model.value if model else api.default_model, text=text, semantic_text=semantic_text,
            query_image=await query_image(info, image, image_url, similar_to, vector),
            filter=filter_of(filter), fusion=fusion.to_request() if fusion else FusionInput().to_request(),
            min_score=min_score, sort=sort.to_request(), first=first, after=after, k=k,
            num_candidates=num_candidates,
        )
        return SearchConnection.from_page(await api.search(request))

    @strawberry.field(description="One picture by id.")
    async def image(self, info: Info, id: strawberry.ID) -> Image:
        record = await info.context.image_loader.load(str(id))
        if record is None:
            raise NotFound(f"no image with id {str(id)!r}")
        return Image(record=record)

    @strawberry.field(description="Pictures by id, in the order asked; null where an id names nothing. One batched read.")
    async def images(self, info: Info, ids: list[strawberry.ID]) -> list[Image | None]:
        return [image_of(r) for r in await info.context.image_loader.load_many([str(i) for i in ids])]

    @strawberry.field(description="Pictures nearest to an indexed one (itself excluded).")
    async def similar(
        self, info: Info, id: strawberry.ID, model: Model | None = None,
        filter: SearchFilterInput | None = None, first: int = 20, after: str | None = None,
        min_score: float | None = None,
    ) -> SearchConnection:
        api = info.context.api
        page = await api.similar(str(id), model.value if model else api.default_model, filter_of(filter),
                                 first, after, min_score)
        return SearchConnection.from_page(page)

    @strawberry.field(description="A book and its pictures.")
    async def book(self, info: Info, id: strawberry.ID) -> Book:
        return Book(record=await info.context.api.book(str(id)))

    @strawberry.field(description="Counts per class, decade and model; index and model versions.")
    async def stats(self, info: Info) -> Stats:
        return Stats.from_record(await info.context.api.stats())

    @strawberry.field(description="A background job started by `ingest` or `reindex` (needs the API key).")
    def job(self, info: Info, id: strawberry.ID) -> Job:
        return Job.from_record(info.context.api.job(info.context.api_key, str(id)))
