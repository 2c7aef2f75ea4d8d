"""What is in the index: documents per model vector, per class, per decade, size on disk."""

from __future__ import annotations

from dataclasses import dataclass, field

from elasticsearch import Elasticsearch

from vignett.models.specs import EMBEDDER_SPECS

from .index import current_index


@dataclass
class IndexStats:
    alias: str
    index: str | None
    documents: int = 0
    per_model: dict[str, int] = field(default_factory=dict)
    per_class: dict[str, int] = field(default_factory=dict)
    per_decade: dict[int, int] = field(default_factory=dict)
    size_bytes: int = 0

    @property
    def bytes_per_document(self) -> float:
        return self.size_bytes / self.documents if self.documents else 0.0


def index_stats(client: Elasticsearch, alias: str) -> IndexStats:
    index = current_index(client, alias)
    stats = IndexStats(alias=alias, index=index)
    if index is None:
        return stats
    client.indices.refresh(index=alias)
    aggs = {
        "classes": {"terms": {"field": "predicted_class", "size": 100, "missing": "(unclassified)"}},
        "decades": {"histogram": {"field": "year", "interval": 10, "min_doc_count": 1}},
    }
    aggs.update({f"has_{name}": {"filter": {"exists": {"field": name}}} for name in EMBEDDER_SPECS})
    response = client.search(index=alias, size=0, aggs=aggs, track_total_hits=True)
    stats.documents = response["hits"]["total"]["value"]
    found = response["aggregations"]
    stats.per_model = {name: found[f"has_{name}"]["doc_count"] for name in EMBEDDER_SPECS}
    stats.per_class = {b["key"]: b["doc_count"] for b in found["classes"]["buckets"]}
    stats.per_decade = {int(b["key"]): b["doc_count"] for b in found["decades"]["buckets"]}
    store = client.indices.stats(index=index, metric="store")
    stats.size_bytes = store["_all"]["primaries"]["store"]["size_in_bytes"]
    return stats
