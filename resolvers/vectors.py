"""The query vector of a search: from a prompt, an upload, an allowed URL, an indexed image
or a raw vector, always in the form the index stores for the chosen model."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

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


T = TypeVar("T")
PROMPT_CACHE_SIZE = 512


class QueryVectorBuilder:
    """Builds query vectors. Model inference runs on one thread per model, not on asyncio's
    shared default pool: a model handles one query at a time, and queries queued for it would
    otherwise hold the shared pool's few threads and stall every cheap search behind them
    (measured with bench/latency.py at concurrency 8). Prompt vectors are cached (LRU) here,
    in the event loop, so a repeated prompt never waits for a busy model."""

    def __init__(self, settings: Settings, backend: SearchBackend, embedder: QueryEmbedder) -> None:
        self.settings = settings
        self.backend = backend
        self.embedder = embedder
        self._inference = {name: ThreadPoolExecutor(1, thread_name_prefix=f"vignett-{name}")
                           for name in EMBEDDER_SPECS}
        self._prompts: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()

    async def _infer(self, model: str, call: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._inference[model], call, *args)

    async def _prompt_vector(self, model: str, text: str) -> np.ndarray:
        key = (model, text)
        if key in self._prompts:
            self._prompts.move_to_end(key)
            return self._prompts[key]
        vector = await self._infer(model, self.embedder.embed_text, model, text)
        self._prompts[key] = vector
        while len(self._prompts) > PROMPT_CACHE_SIZE:
            self._prompts.popitem(last=False)
        return vector

    def close(self) -> None:
        for pool in self._inference.values():
            pool.shutdown(wait=False, cancel_futures=True)

    async def build(self, request: SearchRequest) -> QueryVector | None:
        model, source = request.model, request.query_image
        if request.semantic_text is not None:
            check_model(model, self.settings.models, text=True)
            vector = await self._prompt_vector(model, request.semantic_text)
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
        vector = await self._infer(model, self.embedder.embed_image, model, image)
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
