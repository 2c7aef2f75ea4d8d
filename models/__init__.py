"""Embedders (ViT, CLIP, SigLIP, perceptual hash) and the classifier. Knows nothing of Elasticsearch.

Importing this package stays light (no torch): the names that need torch load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import EmbedderError, MissingDependency, WeightsDownloadError, WeightsNotAvailable
from .specs import EMBEDDER_SPECS, EmbedderSpec, HubWeights, ImagePreprocess, embedder_spec

_LAZY = {
    "Embedder": "base",
    "create_embedder": "registry",
    "create_embedders": "registry",
    "open_image": "preprocess",
    "to_rgb": "preprocess",
    "hamming_distances": "phash",
    "LocatedWeights": "weights",
    "WeightsStatus": "weights",
    "download_weights": "weights",
    "locate_weights": "weights",
    "weights_status": "weights",
}

__all__ = [
    "EMBEDDER_SPECS",
    "EmbedderError",
    "EmbedderSpec",
    "HubWeights",
    "ImagePreprocess",
    "MissingDependency",
    "WeightsDownloadError",
    "WeightsNotAvailable",
    "embedder_spec",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
