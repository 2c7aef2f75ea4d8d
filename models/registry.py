"""One factory for every named embedder in `EMBEDDER_SPECS`.

    create_embedder("siglip")                      # pretrained, local files, else WeightsNotAvailable
    create_embedder("siglip", weights="random")    # same network, seeded random weights (tests)
    create_embedders(settings.models)              # every enabled model, as configured
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from .base import Embedder, Precision, configure_cpu_threads, resolve_device
from .specs import embedder_spec

if TYPE_CHECKING:
    from vignett.config import ModelSettings

WEIGHT_CHOICES = ("pretrained", "random")
PRECISIONS = ("fp32", "bf16")


def create_embedder(
    name: str,
    weights: Literal["pretrained", "random"] = "pretrained",
    device: str = "auto",
    *,
    weights_dir: str | None = None,
    seed: int = 0,
    precision: Precision = "fp32",
    batch_size: int = 16,
) -> Embedder:
    """Build the embedder `name` ("vit", "clip", "siglip", "phash").

    weights: "pretrained" loads the hub files from `weights_dir` or the hub cache and raises
        `WeightsNotAvailable` when they are absent (nothing is downloaded, nothing replaced);
        "random" builds the same architecture with weights drawn from `seed` — explicit only.
        The hash baseline has no weights and accepts either.
    device: "auto" (CUDA when present), "cpu" or "cuda[:N]".
    precision: "fp32", or "bf16" for autocast (check retrieval quality before using it).
    """
    spec = embedder_spec(name)
    if weights not in WEIGHT_CHOICES:
        raise ValueError(f"weights must be one of {WEIGHT_CHOICES}, got {weights!r}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if spec.library == "imagehash":
        from .phash import PerceptualHashEmbedder

        return PerceptualHashEmbedder(spec)
    from .torch_embedders import build_torch_embedder

    return build_torch_embedder(
        spec,
        weights,
        weights_dir=weights_dir or None,
        seed=seed,
        device=resolve_device(device),
        precision=precision,
        batch_size=batch_size,
    )


def create_embedders(settings: "ModelSettings") -> dict[str, Embedder]:
    """Every enabled embedder, built as `[models]` says."""
    configure_cpu_threads(settings.cpu_threads)
    return {
        name: create_embedder(
            name,
            settings.weights,  # type: ignore[arg-type]  # checked by the settings loader
            settings.device,
            weights_dir=settings.weights_dir,
            seed=settings.random_seed,
            precision=settings.precision,  # type: ignore[arg-type]
            batch_size=settings.batch_size,
        )
        for name in settings.enabled
    }
