"""The perceptual-hash baseline: what a cheap, weight-free method finds (exact copies, re-saves)."""

from __future__ import annotations

from collections.abc import Sequence

import imagehash
import numpy as np
from PIL import Image

from .base import WeightsKind
from .preprocess import to_rgb
from .specs import EmbedderSpec, ImagePreprocess


class PerceptualHashEmbedder:
    """imagehash's DCT pHash as a packed bit vector (np.packbits order, row-major hash bits)."""

    weights: WeightsKind = "none"
    preprocess: ImagePreprocess | None = None
    device = "cpu"

    def __init__(self, spec: EmbedderSpec):
        side = int(round(spec.dim**0.5))
        if side * side != spec.dim or spec.dim % 8:
            raise ValueError(f"phash dim must be a square multiple of 8, got {spec.dim}")
        self.spec = spec
        self.name = spec.name
        self.hash_size = side
        self.version = f"{spec.name}:imagehash-{imagehash.__version__}:phash{side}"

    @property
    def dim(self) -> int:
        return self.spec.dim

    @property
    def supports_text(self) -> bool:
        return False

    def embed_images(self, images: Sequence[Image.Image], batch_size: int | None = None) -> np.ndarray:
        rows = [
            np.packbits(imagehash.phash(to_rgb(image), hash_size=self.hash_size).hash.reshape(-1))
            for image in images
        ]
        if not rows:
            return np.zeros((0, self.dim // 8), dtype=np.uint8)
        return np.stack(rows).astype(np.uint8)

    def embed_texts(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        raise TypeError(f"embedder {self.name!r} has no text encoder")


def hamming_distances(query: np.ndarray, packed: np.ndarray) -> np.ndarray:
    """Bits that differ between one packed row and each row of `packed` (Hamming distance)."""
    return np.unpackbits(np.bitwise_xor(packed, query[None, :]), axis=1).sum(axis=1)
