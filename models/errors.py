"""The named errors of the models package: what went wrong and what to do next."""

from __future__ import annotations

from pathlib import Path


class EmbedderError(Exception):
    """Base class: an embedder could not be built or run."""


class WeightsNotAvailable(EmbedderError):
    """Pretrained weights were asked for and are not on this machine. Never replaced silently."""

    def __init__(self, model: str, repo_id: str, files: tuple[str, ...], searched: tuple[Path, ...]):
        self.model = model
        self.repo_id = repo_id
        self.files = files
        self.searched = searched
        where = " or ".join(str(p) for p in searched) or "(no folder configured)"
        super().__init__(
            f"pretrained weights for {model!r} are not available: expected {', '.join(files)} of "
            f"hub repo {repo_id} in the Hugging Face cache layout under {where}. On a machine with "
            f"network access run `vignett models download {model}` (set models.weights_dir, "
            f"VIGNETT_MODELS_WEIGHTS_DIR, to the folder to fill) and copy that folder here as "
            f"models.weights_dir. For tests and benchmarks only, weights=\"random\" builds the same "
            f"network with random weights."
        )


class WeightsDownloadError(EmbedderError):
    """`vignett models download` could not fetch the weights (usually: no network)."""


class MissingDependency(EmbedderError):
    """A Python package that a pretrained component needs is not installed."""
