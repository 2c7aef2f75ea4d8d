"""The one definition of the search index: settings and mapping, built from `Settings`.

Vectors are stored per model as `dense_vector` (HNSW, quantisation configurable); they are
left out of `_source` (Elasticsearch 9 rebuilds them on request), so documents stay small.
The mapping's hash goes into `_meta` so `ensure_index` can tell when a new version is needed.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from vignett.config import IndexSettings
from vignett.models.specs import EMBEDDER_SPECS

MAPPING_FORMAT = 1


def vector_field(name: str, index: IndexSettings) -> dict[str, Any]:
    spec = EMBEDDER_SPECS[name]
    if spec.element_type == "bit":
        # Bit vectors support only Hamming distance (l2_norm) over plain HNSW or flat.
        index_type = "flat" if index.vector_index_type.endswith("flat") else "hnsw"
        return {
            "type": "dense_vector",
            "element_type": "bit",
            "dims": spec.dim,
            "index": True,
            "similarity": "l2_norm",
            "index_options": _index_options(index_type, index),
        }
    return {
        "type": "dense_vector",
        "element_type": "float",
        "dims": spec.dim,
        "index": True,
        # All float vectors are L2-normalised, so dot_product equals cosine and is cheaper.
        "similarity": "dot_product",
        "index_options": _index_options(index.vector_index_type, index),
    }


def _index_options(index_type: str, index: IndexSettings) -> dict[str, Any]:
    options: dict[str, Any] = {"type": index_type}
    if index_type.endswith("hnsw"):
        options["m"] = index.hnsw_m
        options["ef_construction"] = index.hnsw_ef_construction
    return options


def build_mapping(index: IndexSettings, context_analyzer: str) -> dict[str, Any]:
    """The mapping body; `context_analyzer` is the analyzer the cluster actually has."""
    keyword = {"type": "keyword"}
    text_with_keyword = {
        "type": "text",
        "analyzer": context_analyzer,
        "fields": {"raw": {"type": "keyword", "ignore_above": 512}},
    }
    properties: dict[str, Any] = {name: vector_field(name, index) for name in EMBEDDER_SPECS}
    properties.update(
        {
            "context": {"type": "text", "analyzer": context_analyzer},
            "caption": {"type": "text", "analyzer": context_analyzer},
            "title": text_with_keyword,
            "author": text_with_keyword,
            "language": keyword,
            "book_id": keyword,
            "page_id": keyword,
            "element_id": keyword,
            "element_type": keyword,
            "page_number": {"type": "integer"},
            "year": {"type": "integer"},
            "predicted_class": keyword,
            "class_probability": {"type": "object", "dynamic": True},
            "classifier_version": keyword,
            "label": keyword,
            "labelled_by": keyword,
            "labelled_at": {"type": "date"},
            "bbox": {
                "properties": {k: {"type": "integer"} for k in ("x", "y", "w", "h")}
            },
            "page_size": {"properties": {k: {"type": "integer"} for k in ("width", "height")}},
            "aspect_ratio": {"type": "float"},
            "iiif_base": keyword,
            "iiif_id": keyword,
            "image_sha1": keyword,
            "source": keyword,
            "ingested_at": {"type": "date"},
            "weights": keyword,
            "model_versions": {"properties": {name: keyword for name in EMBEDDER_SPECS}},
        }
    )
    return {
        "dynamic": "strict",
        "dynamic_templates": [
            {
                "class_probabilities": {
                    "path_match": "class_probability.*",
                    "mapping": {"type": "float"},
                }
            }
        ],
        "properties": properties,
    }


def build_index_settings(index: IndexSettings) -> dict[str, Any]:
    return {
        "number_of_shards": index.shards,
        "number_of_replicas": index.replicas,
        # Vectors are rebuilt from the index when asked for; _source stays small.
        "mapping.exclude_source_vectors": True,
    }


def mapping_hash(mapping: dict[str, Any], settings: dict[str, Any]) -> str:
    """A stable fingerprint: equal hashes mean the existing index already fits."""
    payload = json.dumps(
        {"format": MAPPING_FORMAT, "mapping": mapping, "settings": settings}, sort_keys=True
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
