"""GraphQL object types for pictures and books, built from the resolvers' records."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from vignett.resolvers import records
from vignett.resolvers.urls import book_viewer_url, iiif_url, viewer_url

from .context import Info

if TYPE_CHECKING:
    from .connection import ImageConnection


@strawberry.type(description="A region in pixels of the page image.")
class BoundingBox:
    x: int
    y: int
    w: int
    h: int


@strawberry.type
class PageSize:
    width: int
    height: int


@strawberry.type
class ClassProbability:
    class_name: str
    probability: float


@strawberry.type(description="Which model (and exact version) produced one of the picture's vectors.")
class ModelVersion:
    model: str
    version: str


@strawberry.type
class Link:
    rel: str = strawberry.field(description="viewer | iiif | source")
    url: str


@strawberry.type(description="A digitised book; its metadata is stored on each of its pictures.")
class Book:
    record: strawberry.Private[records.BookInfo]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.record.id)

    @strawberry.field
    def title(self) -> str:
        return self.record.title

    @strawberry.field
    def author(self) -> str:
        return self.record.author

    @strawberry.field
    def year(self) -> int | None:
        return self.record.year

    @strawberry.field
    def language(self) -> str:
        return self.record.language

    @strawberry.field(description="The book in the library's viewer (api.viewer_url_template).")
    def links(self, info: Info) -> list[Link]:
        url = book_viewer_url(self.record, info.context.api.settings)
        return [Link(rel="viewer", url=url)] if url else []

    @strawberry.field(description="The book's pictures in page order.")
    async def images(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> Annotated["ImageConnection", strawberry.lazy(".connection")]:
        from .connection import ImageConnection

        page = await info.context.api.book_images(self.record.id, first, after)
        return ImageConnection.from_page(page)


@strawberry.type(description="One picture (illustration, map, ornament, ...) on a book page.")
class Image:
    record: strawberry.Private[records.ImageRecord]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.record.id)

    @strawberry.field
    def page_id(self) -> str:
        return self.record.page_id

    @strawberry.field
    def book(self) -> Book:
        return Book(record=self.record.book)

    @strawberry.field
    def page_number(self) -> int | None:
        return self.record.page_number

    @strawberry.field(description="The region on the page; null when the picture is a whole image.")
    def bbox(self) -> BoundingBox | None:
        b = self.record.bbox
        return BoundingBox(x=b.x, y=b.y, w=b.w, h=b.h) if b else None

    @strawberry.field
    def page_size(self) -> PageSize | None:
        r = self.record
        return PageSize(width=r.page_width, height=r.page_height) if r.page_width and r.page_height else None

    @strawberry.field(description="Width / height of the picture.")
    def aspect_ratio(self) -> float | None:
        return self.record.aspect_ratio

    @strawberry.field(description="IIIF Image API URL of the region, fitting within size x size (full size when null).")
    def iiif_url(self, info: Info, size: int | None = None) -> str | None:
        return iiif_url(self.record, size, info.context.api.settings)

    @strawberry.field(description="IIIF URL at iiif.thumbnail_size.")
    def thumbnail_url(self, info: Info) -> str | None:
        settings = info.context.api.settings
        return iiif_url(self.record, settings.iiif.thumbnail_size, settings)

    @strawberry.field(description="The page in the library's viewer (api.viewer_url_template).")
    def viewer_url(self, info: Info) -> str | None:
        return viewer_url(self.record, info.context.api.settings)

    @strawberry.field(description="OCR text around the picture on its page.")
    def context(self) -> str:
        return self.record.context

    @strawberry.field
    def caption(self) -> str:
        return self.record.caption

    @strawberry.field
    def predicted_class(self) -> str | None:
        return self.record.predicted_class

    @strawberry.field(description="Every class with its probability, most probable first.")
    def class_probabilities(self) -> list[ClassProbability]:
        ordered = sorted(self.record.class_probability.items(), key=lambda kv: (-kv[1], kv[0]))
        return [ClassProbability(class_name=c, probability=p) for c, p in ordered]

    @strawberry.field
    def classifier_version(self) -> str:
        return self.record.classifier_version

    @strawberry.field(description="The human label (setLabel), if any.")
    def label(self) -> str | None:
        return self.record.label

    @strawberry.field
    def labelled_by(self) -> str | None:
        return self.record.labelled_by

    @strawberry.field
    def labelled_at(self) -> str | None:
        return self.record.labelled_at

    @strawberry.field(description="The models and exact versions that produced the stored vectors.")
    def models(self) -> list[ModelVersion]:
        return [ModelVersion(model=m, version=v) for m, v in sorted(self.record.model_versions.items())]

    @strawberry.field(description="pretrained | random: the kind of weights the vectors came from.")
    def weights(self) -> str:
        return self.record.weights

    @strawberry.field(description="Where ingest read the picture from (ALTO file or image path).")
    def source(self) -> str:
        return self.record.source

    @strawberry.field
    def ingested_at(self) -> str:
        return self.record.ingested_at


def image_of(record: records.ImageRecord | None) -> Image | None:
    return Image(record=record) if record is not None else None
