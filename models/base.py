"""What every embedder offers (the `Embedder` protocol) and where it runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol, runtime_checkable

import numpy as np
from PIL import Image

from .specs import EmbedderSpec, ImagePreprocess

WeightsKind = Literal["pretrained", "random", "none"]
Precision = Literal["fp32", "bf16"]


@runtime_checkable
class Embedder(Protocol):
    """A named image embedder. Float vectors are L2-normalised float32 [n, dim]; bit vectors
    are np.packbits rows, uint8 [n, dim // 8] (`bytes(row).hex()` is an ES bit vector).

    `version` names the architecture and the exact weights (hub revision, or random seed), so
    every stored vector records what produced it; `weights` is "pretrained", "random" or
    "none" (a hash has no weights).
    """

    name: str
    spec: EmbedderSpec
    version: str
    weights: WeightsKind
    device: str
    preprocess: ImagePreprocess | None

    @property
    def dim(self) -> int: ...

    @property
    def supports_text(self) -> bool: ...

    def embed_images(self, images: Sequence[Image.Image], batch_size: int | None = None) -> np.ndarray: ...

    def embed_texts(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray: ...


def resolve_device(device: str) -> str:
    """`auto` → `cuda` when a GPU is visible, else `cpu`; an explicit `cuda` without one is an error."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} asked for, but torch sees no CUDA device")
    if device != "cpu" and not device.startswith("cuda"):
        raise ValueError(f"device must be auto, cpu or cuda[:N], got {device!r}")
    return device


def configure_cpu_threads(threads: int) -> None:
    """Set torch's intra-op threads (0 keeps torch's default: one per physical core)."""
    if threads > 0:
        import torch

        torch.set_num_threads(threads)
