"""Facet counts (predicted class, decade, book) over exactly the hits a search returns.

Single-list searches let Elasticsearch count (`aggs` under the same query, filters and
min_score); fused searches count the fused list in Python, because no single Elasticsearch
query has that result set.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from .records import FacetBucket, Facets, ImageRecord

FACET_SIZE = 50


def facet_aggs(size: int = FACET_SIZE) -> dict[str, Any]:
    return {
        "classes": {"terms": {"field": "predicted_class", "size": size}},
        "decades": {"histogram": {"field": "year", "interval": 10, "min_doc_count": 1}},
        "books": {"terms": {"field": "book_id", "size": size}},
    }


def facets_from_aggs(aggs: dict[str, Any]) -> Facets:
    def buckets(name: str) -> tuple[FacetBucket, ...]:
        return tuple(
            FacetBucket(_key(b), int(b["doc_count"])) for b in aggs.get(name, {}).get("buckets", [])
        )

    return Facets(classes=buckets("classes"), decades=buckets("decades"), books=buckets("books"))


def facets_from_records(records: Iterable[ImageRecord], size: int = FACET_SIZE) -> Facets:
    classes: Counter[str] = Counter()
    decades: Counter[int] = Counter()
    books: Counter[str] = Counter()
    for record in records:
        if record.predicted_class:
            classes[record.predicted_class] += 1
        if record.book.year is not None:
            decades[record.book.year // 10 * 10] += 1
        if record.book.id:
            books[record.book.id] += 1
    return Facets(
        classes=_top(classes, size),
        decades=tuple(FacetBucket(str(d), n) for d, n in sorted(decades.items())),
        books=_top(books, size),
    )


def decade_of(year: int) -> str:
    return str(year // 10 * 10)


def _top(counter: Counter[str], size: int) -> tuple[FacetBucket, ...]:
    # Same order as a terms aggregation: count descending, then key ascending.
    ordered = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:size]
    return tuple(FacetBucket(k, n) for k, n in ordered)


def _key(bucket: dict[str, Any]) -> str:
    key = bucket["key"]
    return str(int(key)) if isinstance(key, float) else str(key)
