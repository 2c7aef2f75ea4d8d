"""Query embedding: the small interface search needs, and the default implementation over
`vignett.models.create_embedder` (built lazily, one embedder per model).

Anything with `embed_image` and `embed_text` can be injected instead (tests, a remote
embedding service), so the API does not depend on how embedders are built.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
from PIL import Image

from vignett.config import ModelSettings
from vignett.models.specs import EMBEDDER_SPECS

from .errors import BadUserInput, ModelUnavailable


class QueryEmbedder(Protocol):
    """Embeds one query; vectors come back as the index stores them (float32 L2-normalised,
    or packed uint8 bits for `phash`)."""

    def embed_image(self, model: str, image: Image.Image) -> np.ndarray: ...

    def embed_text(self, model: str, text: str) -> np.ndarray: ...


EmbedderFactory = Callable[..., Any]


def check_model(model: str, settings: ModelSettings, *, text: bool = False) -> None:
    """Refuse models that are unknown, switched off, or (for prompts) have no text encoder."""
    if model not in EMBEDDER_SPECS:
        raise BadUserInput(f"unknown model {model!r}; known: {', '.join(EMBEDDER_SPECS)}")
    if model not in settings.enabled:
        raise BadUserInput(f"model {model!r} is not enabled here; enabled: {', '.join(settings.enabled)}")
    if text and not EMBEDDER_SPECS[model].multimodal:
        multimodal = [n for n, s in EMBEDDER_SPECS.items() if s.multimodal and n in settings.enabled]
        raise BadUserInput(
            f"model {model!r} has no text encoder; semanticText needs one of: {', '.join(multimodal)}"
        )


class ModelPool:
    """Builds each embedder on first use and keeps it; one query at a time per model."""

    def __init__(self, settings: ModelSettings, factory: EmbedderFactory | None = None) -> None:
        self.settings = settings
        self._factory = factory
        self._embedders: dict[str, Any] = {}
        self._locks = {name: threading.Lock() for name in EMBEDDER_SPECS}

    def embedder(self, model: str) -> Any:
        """The embedder for `model` (built under its lock, so concurrent queries build it once)."""
        with self._locks[model]:
            if model not in self._embedders:
                self._embedders[model] = self._build(model)
            return self._embedders[model]

    def loaded(self) -> dict[str, Any]:
        return dict(self._embedders)

    def _build(self, model: str) -> Any:
        factory = self._factory
        if factory is None:
            try:
                from vignett.models import create_embedder as factory  # type: ignore[attr-defined]
            except ImportError as exc:
                raise ModelUnavailable(
                    f"no embedder code is installed for {model!r} ({exc}); image and prompt "
                    "queries need vignett.models.create_embedder"
                ) from None
        try:
            s = self.settings
            return factory(
                model, weights=s.weights, device=s.device, weights_dir=s.weights_dir or None,
                seed=s.random_seed, precision=s.precision, batch_size=s.batch_size,
            )
        except Exception as exc:  # noqa: BLE001 - the models package's own errors say what to do
            raise ModelUnavailable(f"cannot build the {model!r} embedder: {exc}") from None

    def embed_image(self, model: str, image: Image.Image) -> np.ndarray:
        embedder = self.embedder(model)
        with self._locks[model]:
            return np.asarray(embedder.embed_images([image]))[0]

    def embed_text(self, model: str, text: str) -> np.ndarray:
        embedder = self.embedder(model)
        with self._locks[model]:
            return np.asarray(embedder.embed_texts([text]))[0]
