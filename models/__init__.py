"""Embedders (ViT, CLIP, SigLIP, perceptual hash) and the classifier. Knows nothing of Elasticsearch."""

from .specs import EMBEDDER_SPECS, EmbedderSpec, embedder_spec

__all__ = ["EMBEDDER_SPECS", "EmbedderSpec", "embedder_spec"]
