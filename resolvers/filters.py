"""`SearchFilter` -> one Elasticsearch bool query, used as the kNN pre-filter and the text
query's filter alike (so both halves of a hybrid search see the same documents)."""

from __future__ import annotations

from typing import Any

from .requests import SearchFilter


def filter_query(
    flt: SearchFilter, *, known_classes: tuple[str, ...] = (), exclude_ids: tuple[str, ...] = ()
) -> dict[str, Any] | None:
    """A bool query, or None when nothing restricts the search. `known_classes` lets
    `minClassProbability` without `classes` mean "the predicted class is at least this sure"
    without a script (the integ-test node has no painless)."""
    must: list[dict[str, Any]] = []
    must_not: list[dict[str, Any]] = []
    if flt.classes:
        must.append({"terms": {"predicted_class": list(flt.classes)}})
    if flt.exclude_classes:
        must_not.append({"terms": {"predicted_class": list(flt.exclude_classes)}})
    if flt.year_from is not None or flt.year_to is not None:
        bounds = {k: v for k, v in (("gte", flt.year_from), ("lte", flt.year_to)) if v is not None}
        must.append({"range": {"year": bounds}})
    if flt.book_ids:
        must.append({"terms": {"book_id": list(flt.book_ids)}})
    if flt.page_ids:
        must.append({"terms": {"page_id": list(flt.page_ids)}})
    if flt.min_class_probability is not None:
        must.append(_probability_clause(flt, known_classes))
    if flt.labelled is True:
        must.append({"exists": {"field": "label"}})
    elif flt.labelled is False:
        must_not.append({"exists": {"field": "label"}})
    if exclude_ids:
        must_not.append({"ids": {"values": list(exclude_ids)}})
    if not must and not must_not:
        return None
    body: dict[str, Any] = {}
    if must:
        body["filter"] = must
    if must_not:
        body["must_not"] = must_not
    return {"bool": body}


def _probability_clause(flt: SearchFilter, known_classes: tuple[str, ...]) -> dict[str, Any]:
    p = flt.min_class_probability
    if flt.classes:
        # One of the wanted classes is at least this probable.
        options = [{"range": {f"class_probability.{c}": {"gte": p}}} for c in flt.classes]
    else:
        # The predicted class is at least this probable: spelled out per class.
        options = [
            {"bool": {"filter": [
                {"term": {"predicted_class": c}},
                {"range": {f"class_probability.{c}": {"gte": p}}},
            ]}}
            for c in known_classes
        ]
    if not options:
        return {"bool": {"must_not": [{"match_all": {}}]}}
    return {"bool": {"should": options, "minimum_should_match": 1}}
