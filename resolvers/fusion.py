"""Merging a text (BM25) ranking and a vector (kNN) ranking into one, in Python.

Elasticsearch's own `rrf` and `linear` retrievers need a paid licence (and are absent from
the integ-test node), so the resolver fuses. Both functions are deterministic: ties are
broken by document id, so the same request always pages through the same list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Ranked:
    """A hit in one ranking: its id and the score that ranking gave it."""

    id: str
    score: float


def linear_fusion(
    text: Sequence[Ranked], vector: Sequence[Ranked], text_weight: float, vector_weight: float
) -> list[Ranked]:
    """Weighted mean of the two scores on a common 0..1 scale.

    BM25 scores are unbounded, so they are divided by the best text score; kNN scores from
    Elasticsearch are already 0..1. A hit missing from one ranking gets 0 from it.
    """
    best = max((r.score for r in text), default=0.0)
    text_norm = {r.id: (r.score / best if best > 0 else 0.0) for r in text}
    vector_norm = {r.id: r.score for r in vector}
    total = text_weight + vector_weight
    fused = {
        doc_id: (text_weight * text_norm.get(doc_id, 0.0) + vector_weight * vector_norm.get(doc_id, 0.0)) / total
        for doc_id in text_norm.keys() | vector_norm.keys()
    }
    return _ordered(fused)


def rrf_fusion(
    text: Sequence[Ranked], vector: Sequence[Ranked], text_weight: float, vector_weight: float,
    rank_constant: int = 60,
) -> list[Ranked]:
    """Weighted reciprocal rank fusion: sum of weight / (rank_constant + rank), rank from 1."""
    fused: dict[str, float] = {}
    for ranking, weight in ((text, text_weight), (vector, vector_weight)):
        for rank, hit in enumerate(ranking, start=1):
            fused[hit.id] = fused.get(hit.id, 0.0) + weight / (rank_constant + rank)
    return _ordered(fused)


def _ordered(scores: dict[str, float]) -> list[Ranked]:
    return [Ranked(doc_id, score) for doc_id, score in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))]
