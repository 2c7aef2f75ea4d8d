"""Elasticsearch request bodies for a search: the text query, the kNN clause, sorting and
highlighting. Pure functions of the request; nothing here talks to the cluster."""

from __future__ import annotations

from typing import Any

from vignett.config import ApiSettings

from .documents import SOURCE_FIELDS
from .requests import SearchRequest, SortOrder

TEXT_FIELDS = ["context", "caption^2"]
HIGHLIGHT = {
    "pre_tags": ["<em>"],
    "post_tags": ["</em>"],
    "fields": {
        "context": {"fragment_size": 160, "number_of_fragments": 3},
        "caption": {"number_of_fragments": 0},
    },
}
# After the main key, these make every ordering total and stable across pages.
_TIE_BREAK = [
    {"book_id": {"order": "asc", "missing": "_last"}},
    {"page_number": {"order": "asc", "missing": "_last"}},
    {"bbox.y": {"order": "asc", "missing": "_last"}},
    {"bbox.x": {"order": "asc", "missing": "_last"}},
    {"page_id": {"order": "asc", "missing": "_last"}},
]


def text_query(text: str | None, flt: dict[str, Any] | None) -> dict[str, Any]:
    """BM25 over the OCR context and caption under the filter; without text, everything
    the filter lets through (score 1)."""
    must: list[dict[str, Any]] = (
        [{"multi_match": {"query": text, "fields": TEXT_FIELDS, "type": "best_fields"}}]
        if text else [{"match_all": {}}]
    )
    query: dict[str, Any] = {"bool": {"must": must}}
    if flt is not None:
        query["bool"]["filter"] = [flt]
    return query


def knn_clause(
    request: SearchRequest, api: ApiSettings, query_vector: list[float] | str, flt: dict[str, Any] | None
) -> dict[str, Any]:
    clause: dict[str, Any] = {
        "field": request.model,
        "query_vector": query_vector,
        "k": request.k_or_default(api),
        "num_candidates": request.candidates(api),
    }
    if flt is not None:
        clause["filter"] = flt
    return clause


def sort_clause(sort: SortOrder, scored: bool) -> list[Any] | None:
    """None keeps Elasticsearch's relevance order; browsing without a score reads in page order."""
    if sort is SortOrder.RELEVANCE and scored:
        return None
    if sort is SortOrder.YEAR_ASC:
        head: list[Any] = [{"year": {"order": "asc", "missing": "_last"}}]
    elif sort is SortOrder.YEAR_DESC:
        head = [{"year": {"order": "desc", "missing": "_last"}}]
    else:
        head = []
    if scored:
        head.append({"_score": {"order": "desc"}})
    return head + _TIE_BREAK


def base_body(size: int, offset: int = 0) -> dict[str, Any]:
    return {"size": size, "from": offset, "_source": SOURCE_FIELDS, "track_total_hits": True}
