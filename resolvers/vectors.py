"""The query vector of a search: from a prompt, an upload, an allowed URL, an indexed image
or a raw vector, always in the form the index stores for the chosen model."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import numpy as np
from elasticsearch import Elasticsearch, NotFoundError

from vignett.config import Settings
from vignett.indexing.documents import vector_to_index_value
from vignett.models.specs import EMBEDDER_SPECS

from .backend import SearchBackend
from .embedding import QueryEmbedder, check_model
from .errors import BadUserInput, ModelUnavailable, NotFound
from .query_images import decode_query_image, fetch_query_image, raw_vector
from .requests import ImageAtUrl, RawVector, SearchRequest, SimilarToImage, UploadedImage


@dataclass(frozen=True)
class QueryVector:
    value: list[float] | str  # as Elasticsearch takes it: floats, or hex for bit vectors
    exclude_id: str | None = None  # the indexed image a `similarTo` started from


class QueryVectorBuilder:
    def __init__(self, settings: Settings, backend: SearchBackend, embedder: QueryEmbedder) -> None:
        self.settings = settings
        self.backend = backend
        self.embedder = embedder

    async def build(self, request: SearchRequest) -> QueryVector | None:
        model, source = request.model, request.query_image
        if request.semantic_text is not None:
            check_model(model, self.settings.models, text=True)
            vector = await asyncio.to_thread(self.embedder.embed_text, model, request.semantic_text)
            return QueryVector(self._checked(vector, model))
        if source is None:
            return None
        if isinstance(source, SimilarToImage):
            return QueryVector(await self.indexed_vector(source.id, model), exclude_id=source.id)
        if isinstance(source, RawVector):
            return QueryVector(vector_to_index_value(raw_vector(source.values, model)))
        if isinstance(source, UploadedImage):
            data, what = source.data, "upload"
        elif isinstance(source, ImageAtUrl):
            data, what = await fetch_query_image(source.url, self.settings.api), "imageUrl"
        else:  # pragma: no cover - the union is closed
            raise BadUserInput(f"unsupported query image {type(source).__name__}")
        check_model(model, self.settings.models)
        image = await asyncio.to_thread(decode_query_image, data, self.settings.api, what)
        vector = await asyncio.to_thread(self.embedder.embed_image, model, image)
        return QueryVector(self._checked(vector, model))

    async def indexed_vector(self, image_id: str, model: str) -> list[float] | str:
        """The stored `model` vector of an indexed image (vectors live outside `_source`)."""

        def fetch(client: Elasticsearch) -> dict:
            try:
                return client.get(
                    index=self.backend.alias, id=image_id, source_includes=[model],
                    source_exclude_vectors=False,
                )
            except NotFoundError:
                raise NotFound(f"no image with id {image_id!r}") from None

        doc = await self.backend.run(fetch)
        vector = (doc.get("_source") or {}).get(model)
        if vector is None:
            raise BadUserInput(f"image {image_id!r} has no {model!r} vector; pick a model it was embedded with")
        if EMBEDDER_SPECS[model].element_type == "bit" and isinstance(vector, list):
            return bytes(b & 0xFF for b in vector).hex()  # read back as signed bytes
        return vector

    def _checked(self, vector: np.ndarray, model: str) -> list[float] | str:
        spec = EMBEDDER_SPECS[model]
        vector = np.asarray(vector)
        expected = spec.dim // 8 if spec.element_type == "bit" else spec.dim
        if vector.shape != (expected,):
            raise ModelUnavailable(f"the {model!r} embedder returned shape {vector.shape}, expected ({expected},)")
        return vector_to_index_value(vector)
