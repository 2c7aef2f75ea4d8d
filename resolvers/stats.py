"""`stats`: what the index holds, per class, decade and model, and which index answers."""

from __future__ import annotations

from typing import Any

from elasticsearch import Elasticsearch

from vignett.indexing.index import current_index
from vignett.models.specs import EMBEDDER_SPECS

from .backend import SearchBackend
from .errors import SearchBackendUnavailable
from .facets import FACET_SIZE, facet_aggs, facets_from_aggs
from .records import FacetBucket, IndexStats, ModelStats


def _stats_aggs() -> dict[str, Any]:
    aggs = {k: v for k, v in facet_aggs().items() if k != "books"}
    aggs["weights"] = {"terms": {"field": "weights", "size": 10}}
    aggs["labelled"] = {"filter": {"exists": {"field": "label"}}}
    for name in EMBEDDER_SPECS:
        aggs[f"model_{name}"] = {
            "filter": {"exists": {"field": name}},
            "aggs": {"versions": {"terms": {"field": f"model_versions.{name}", "size": FACET_SIZE}}},
        }
    return aggs


async def index_stats(backend: SearchBackend) -> IndexStats:
    def read(client: Elasticsearch) -> tuple[str, str, dict]:
        index = current_index(client, backend.alias)
        if index is None:
            raise SearchBackendUnavailable(
                f"alias {backend.alias!r} does not exist; run `vignett index create`"
            )
        meta = client.indices.get_mapping(index=index)[index]["mappings"].get("_meta", {})
        response = client.search(index=index, size=0, track_total_hits=True, aggs=_stats_aggs())
        return index, meta.get("vignett_mapping_hash", ""), response

    index, mapping_hash, response = await backend.run(read)
    aggs = response["aggregations"]
    facets = facets_from_aggs(aggs)
    models = tuple(
        ModelStats(
            name=name, dim=spec.dim, images=int(aggs[f"model_{name}"]["doc_count"]),
            versions=_buckets(aggs[f"model_{name}"]["versions"]),
        )
        for name, spec in EMBEDDER_SPECS.items()
    )
    return IndexStats(
        alias=backend.alias, index=index, mapping_hash=mapping_hash,
        total_images=int(response["hits"]["total"]["value"]),
        classes=facets.classes, decades=facets.decades, models=models,
        weights=_buckets(aggs["weights"]), labelled_images=int(aggs["labelled"]["doc_count"]),
    )


def _buckets(agg: dict[str, Any]) -> tuple[FacetBucket, ...]:
    return tuple(FacetBucket(str(b["key"]), int(b["doc_count"])) for b in agg.get("buckets", []))
