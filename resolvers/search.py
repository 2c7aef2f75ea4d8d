"""`search`: a SearchRequest -> Elasticsearch requests -> one page of hits with facets.

A request with only text, only a vector, or neither is one Elasticsearch search (query or
kNN, filters, facets as `aggs`, `min_score`, sort, from/size). Text and a vector together are
two searches (BM25 top-k and kNN top-k under the same filter) fused in Python; then the
fused list is cut at minScore, sorted, counted for facets and sliced into the page.
"""

from __future__ import annotations

import time
from typing import Any

from elasticsearch import Elasticsearch

from vignett.config import Settings

from .backend import SearchBackend
from .cursor import decode_cursor, encode_cursor
from .documents import highlights_of, image_from_hit
from .dsl import HIGHLIGHT, base_body, knn_clause, sort_clause, text_query
from .embedding import QueryEmbedder, check_model
from .errors import ApiError, BadUserInput
from .facets import facet_aggs, facets_from_aggs, facets_from_records
from .filters import filter_query
from .fusion import Ranked, linear_fusion, rrf_fusion
from .records import SearchHit, SearchPage
from .requests import MAX_RESULT_WINDOW, FusionMethod, SearchRequest, SortOrder
from .vectors import QueryVector, QueryVectorBuilder

CLASS_CACHE_S = 60.0


class SearchService:
    def __init__(self, settings: Settings, backend: SearchBackend, embedder: QueryEmbedder) -> None:
        self.settings = settings
        self.backend = backend
        self.vectors = QueryVectorBuilder(settings, backend, embedder)
        self._classes: tuple[float, tuple[str, ...]] = (0.0, ())

    async def search(self, request: SearchRequest) -> SearchPage:
        request.check(self.settings.api)
        check_model(request.model, self.settings.models, text=request.semantic_text is not None)
        offset = decode_cursor(request.after)
        if offset + request.first > MAX_RESULT_WINDOW:
            raise BadUserInput(
                f"cannot page beyond {MAX_RESULT_WINDOW} hits; narrow the search with filters"
            )
        vector = await self.vectors.build(request)
        exclude = request.exclude_ids + ((vector.exclude_id,) if vector and vector.exclude_id else ())
        known = await self.known_classes() if request.filter.min_class_probability is not None else ()
        flt = filter_query(request.filter, known_classes=known, exclude_ids=exclude)
        if vector is not None and request.has_text:
            return await self._fused(request, vector, flt, offset)
        return await self._single(request, vector, flt, offset)

    async def _single(
        self, request: SearchRequest, vector: QueryVector | None, flt: dict | None, offset: int
    ) -> SearchPage:
        body = base_body(request.first, offset)
        if vector is not None:
            body["knn"] = knn_clause(request, self.settings.api, vector.value, flt)
        else:
            body["query"] = text_query(request.text if request.has_text else None, flt)
        if request.has_text:
            body["highlight"] = HIGHLIGHT
        scored = vector is not None or request.has_text
        sort = sort_clause(request.sort, scored)
        if sort is not None:
            body["sort"] = sort
            body["track_scores"] = True
        if request.min_score is not None:
            body["min_score"] = request.min_score
        body["aggs"] = facet_aggs()
        response = await self.backend.run(lambda c: c.search(index=self.backend.alias, body=body))
        total = int(response["hits"]["total"]["value"])
        hits = tuple(
            SearchHit(image_from_hit(h), float(h.get("_score") or 0.0), encode_cursor(offset + i + 1),
                      highlights_of(h))
            for i, h in enumerate(response["hits"]["hits"])
        )
        return SearchPage(hits, total, offset + len(hits) < total, offset > 0,
                          facets_from_aggs(response.get("aggregations", {})))

    async def _fused(self, request: SearchRequest, vector: QueryVector, flt: dict | None, offset: int) -> SearchPage:
        k = request.k_or_default(self.settings.api)
        text_body = {**base_body(k), "query": text_query(request.text, flt), "highlight": HIGHLIGHT}
        knn_body = {**base_body(k), "knn": knn_clause(request, self.settings.api, vector.value, flt)}
        searches = [{"index": self.backend.alias}, text_body, {"index": self.backend.alias}, knn_body]
        response = await self.backend.run(lambda c: c.msearch(searches=searches))
        text_hits, knn_hits = (_hits_or_raise(r) for r in response["responses"])
        fused = self._fuse(request, text_hits, knn_hits)
        if request.min_score is not None:
            fused = [r for r in fused if r.score >= request.min_score]
        by_id = {h["_id"]: h for h in knn_hits} | {h["_id"]: h for h in text_hits}
        records = {r.id: image_from_hit(by_id[r.id]) for r in fused}
        fused = _sorted(fused, records, request.sort)
        page = fused[offset: offset + request.first]
        hits = tuple(
            SearchHit(records[r.id], r.score, encode_cursor(offset + i + 1), highlights_of(by_id[r.id]))
            for i, r in enumerate(page)
        )
        facets = facets_from_records(records[r.id] for r in fused)
        return SearchPage(hits, len(fused), offset + len(hits) < len(fused), offset > 0, facets)

    def _fuse(self, request: SearchRequest, text_hits: list[dict], knn_hits: list[dict]) -> list[Ranked]:
        text = [Ranked(h["_id"], float(h["_score"])) for h in text_hits]
        knn = [Ranked(h["_id"], float(h["_score"])) for h in knn_hits]
        f = request.fusion
        if f.method is FusionMethod.LINEAR:
            return linear_fusion(text, knn, f.text_weight, f.vector_weight)
        return rrf_fusion(text, knn, f.text_weight, f.vector_weight, f.rank_constant)

    async def known_classes(self) -> tuple[str, ...]:
        """Classes the index has probabilities for (from the mapping), cached for a minute."""
        stamp, classes = self._classes
        if time.monotonic() - stamp < CLASS_CACHE_S:
            return classes

        def read(client: Elasticsearch) -> dict[str, Any]:
            return client.indices.get_field_mapping(index=self.backend.alias, fields="class_probability.*")

        mappings = await self.backend.run(read)
        prefix = "class_probability."
        classes = tuple(sorted({
            name[len(prefix):] for index in mappings.values()
            for name in index.get("mappings", {}) if name.startswith(prefix)
        }))
        self._classes = (time.monotonic(), classes)
        return classes


def _hits_or_raise(response: dict[str, Any]) -> list[dict[str, Any]]:
    if "error" in response:
        raise ApiError(f"Elasticsearch refused a search: {response['error']}")
    return response["hits"]["hits"]


def _sorted(fused: list[Ranked], records: dict, sort: SortOrder) -> list[Ranked]:
    """Year orders keep the fused order within a year; images without a year come last."""
    if sort in (SortOrder.RELEVANCE,):
        return fused
    if sort is SortOrder.PAGE_ORDER:
        def key(r: Ranked) -> tuple:
            rec = records[r.id]
            return (rec.book.id, rec.page_number or 0, rec.bbox.y if rec.bbox else 0, r.id)
        return sorted(fused, key=key)
    sign = 1 if sort is SortOrder.YEAR_ASC else -1
    ranked = {r.id: i for i, r in enumerate(fused)}

    def year_key(r: Ranked) -> tuple:
        year = records[r.id].book.year
        return (year is None, sign * (year or 0), ranked[r.id])

    return sorted(fused, key=year_key)
