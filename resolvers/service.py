"""`VignettApi`: the resolvers put together for one server (settings, Elasticsearch access,
query embedder, jobs). The schema calls only this; tests build it with injected parts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from elasticsearch import Elasticsearch

from vignett.config import Settings

from . import admin
from .auth import require_api_key
from .backend import Readiness, SearchBackend
from .embedding import ModelPool, QueryEmbedder
from .errors import IngestUnavailable
from .jobs import JobRecord, JobRegistry, JobRunner
from .lookup import ImageLookup, book_images_request, similar_request
from .records import BookInfo, ImageRecord, IndexStats, SearchPage
from .requests import SearchFilter, SearchRequest, check_first
from .search import SearchService
from .stats import index_stats
from .urls import check_viewer_template


@dataclass
class Runners:
    """Background work the mutations start; None = not available in this server."""

    ingest: JobRunner | None = None
    reindex: JobRunner | None = None


class VignettApi:
    def __init__(
        self,
        settings: Settings,
        *,
        client: Elasticsearch | None = None,
        embedder: QueryEmbedder | None = None,
        runners: Runners | None = None,
    ) -> None:
        check_viewer_template(settings.api.viewer_url_template)
        self.settings = settings
        self.backend = SearchBackend(settings, client)
        self.models = embedder if embedder is not None else ModelPool(settings.models)
        self.searcher = SearchService(settings, self.backend, self.models)
        self.lookup = ImageLookup(self.backend)
        self.jobs = JobRegistry()
        self.runners = runners if runners is not None else default_runners(settings, self.backend, self.models)

    @property
    def default_model(self) -> str:
        return self.settings.models.default

    async def search(self, request: SearchRequest) -> SearchPage:
        return await self.searcher.search(request)

    async def image(self, image_id: str) -> ImageRecord:
        return await self.lookup.get(image_id)

    async def images(self, ids: Sequence[str]) -> list[ImageRecord | None]:
        return await self.lookup.get_many(ids)

    async def similar(self, image_id: str, model: str, flt: SearchFilter, first: int,
                      after: str | None, min_score: float | None = None) -> SearchPage:
        return await self.search(similar_request(image_id, model, flt, first, after, min_score))

    async def book(self, book_id: str) -> BookInfo:
        return await self.lookup.book(book_id)

    async def book_images(self, book_id: str, first: int, after: str | None) -> SearchPage:
        check_first(first, self.settings.api)
        return await self.search(book_images_request(book_id, self.default_model, first, after))

    async def stats(self) -> IndexStats:
        return await index_stats(self.backend)

    async def readiness(self) -> Readiness:
        return await self.backend.readiness()

    # -- protected operations (the caller passes the key it received) ---------------------
    def authorize(self, api_key: str | None) -> None:
        require_api_key(api_key, self.settings.api)

    async def set_label(self, api_key: str | None, image_id: str, label: str | None) -> ImageRecord:
        self.authorize(api_key)
        await admin.set_label(self.backend, image_id, label)
        return await self.image(image_id)

    def start_ingest(self, api_key: str | None, sources: Sequence[str]) -> JobRecord:
        self.authorize(api_key)
        if self.runners.ingest is None:
            raise IngestUnavailable("ingest is not available in this server (vignett.indexing.ingest is missing)")
        admin.check_sources(tuple(sources))
        return self.jobs.start("ingest", tuple(sources), self.runners.ingest)

    def start_reindex(self, api_key: str | None) -> JobRecord:
        self.authorize(api_key)
        if self.runners.reindex is None:
            raise IngestUnavailable("reindex is not available in this server")
        return self.jobs.start("reindex", (), self.runners.reindex)

    def job(self, api_key: str | None, job_id: str) -> JobRecord:
        self.authorize(api_key)
        return self.jobs.get(job_id)

    def close(self) -> None:
        self.searcher.vectors.close()
        self.backend.close()


def default_runners(settings: Settings, backend: SearchBackend, models: QueryEmbedder) -> Runners:
    ingest: JobRunner | None = None
    if isinstance(models, ModelPool):
        try:
            ingest = admin.ingest_runner(settings, backend, models)
        except ImportError:
            ingest = None
    return Runners(ingest=ingest, reindex=admin.reindex_runner(settings, backend))
