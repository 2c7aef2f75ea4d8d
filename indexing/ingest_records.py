"""The records of an ingest: what is asked (`IngestRequest`), what it needs of embedders and
classifiers, and what it reports (`IngestSummary`, `Failure`). Kept apart from the pipeline
so the CLI, the API's job runner and the scheduler can read them without the machinery."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np
from PIL import Image


class ImageEmbedder(Protocol):
    """What ingest needs of an embedder (see models.registry)."""

    version: str
    weights: str

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray: ...


class PictureClassifier(Protocol):
    """What ingest needs of a classifier: classes and probabilities from the vectors."""

    version: str
    embedding: str  # the embedder whose vectors it reads

    def predict_documents(self, vectors: dict[str, np.ndarray]) -> list[tuple[str, dict[str, float]]]: ...


class IngestError(RuntimeError):
    """The ingest cannot start (bad sources, no IIIF base for ALTO files, ...)."""


@dataclass(frozen=True)
class IngestRequest:
    sources: list[Path]
    models: tuple[str, ...]
    iiif_base: str = ""
    iiif_version: str = "2"
    metadata_file: Path | None = None
    # Crops are fetched fitting this many pixels on the longer side: enough for every model.
    fetch_max_side: int = 512
    resume: bool = True


@dataclass
class Failure:
    what: str
    reason: str


@dataclass
class IngestSummary:
    files: int = 0
    files_skipped: int = 0
    files_failed: int = 0
    books: set[str] = field(default_factory=set)
    elements: int = 0
    indexed: int = 0
    deleted_stale: int = 0
    dropped: Counter = field(default_factory=Counter)
    failures: list[Failure] = field(default_factory=list)
    stage_seconds: Counter = field(default_factory=Counter)
    elapsed_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "files_skipped_unchanged": self.files_skipped,
            "files_failed": self.files_failed,
            "books": len(self.books),
            "elements": self.elements,
            "indexed": self.indexed,
            "deleted_stale": self.deleted_stale,
            "dropped": dict(self.dropped),
            "failures": [f.__dict__ for f in self.failures],
            "stage_seconds": {k: round(v, 3) for k, v in self.stage_seconds.items()},
            "elapsed_s": round(self.elapsed_s, 3),
        }
