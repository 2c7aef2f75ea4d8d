"""What the protected mutations do: label a picture, run ingest, copy the index into a new
version (reindex). Ingest and reindex are `JobRunner`s for the JobRegistry."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError

from vignett.config import Settings
from vignett.indexing.index import ensure_index
from vignett.indexing.reindex import reindex

from .backend import SearchBackend
from .embedding import ModelPool
from .errors import BadUserInput, NotFound
from .jobs import JobProgress, JobRunner

LABEL_RE = re.compile(r"^[\w][\w \-./]{0,63}$")


async def set_label(backend: SearchBackend, image_id: str, label: str | None, by: str = "api") -> None:
    """Set (or with None, clear) the human label; visible to the next search at once."""
    if label is not None and not LABEL_RE.match(label):
        raise BadUserInput(
            f"label {label!r} is not allowed: 1-64 letters, digits, spaces or - . / _, starting "
            "with a letter or digit; send null to clear a label"
        )
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    doc: dict[str, Any] = {"label": label, "labelled_by": by if label else None, "labelled_at": now if label else None}

    def update(client: Elasticsearch) -> None:
        try:
            client.update(index=backend.alias, id=image_id, doc=doc, refresh="wait_for")
        except NotFoundError:
            raise NotFound(f"no image with id {image_id!r}") from None

    await backend.run(update)


def check_sources(sources: tuple[str, ...]) -> None:
    if not sources:
        raise BadUserInput("ingest needs at least one source path (ALTO files, METS, or image folders)")
    missing = [s for s in sources if not Path(s).exists()]
    if missing:
        raise BadUserInput(f"these sources do not exist on the server: {', '.join(missing)}")


def ingest_runner(settings: Settings, backend: SearchBackend, models: ModelPool) -> JobRunner:
    """The default ingest job: `vignett.indexing.ingest.Ingest` with the server's embedders."""
    from vignett.indexing.ingest import Ingest, IngestRequest

    def run(sources: tuple[str, ...], progress: JobProgress) -> dict[str, Any]:
        client = backend.client()
        ensure_index(client, settings.index)
        embedders = {name: models.embedder(name) for name in settings.models.enabled}
        request = IngestRequest(
            sources=[Path(s) for s in sources], models=tuple(settings.models.enabled),
            iiif_base=settings.iiif.base_url, iiif_version=settings.iiif.api_version,
        )
        job = Ingest(settings, request, client, embedders,
                     progress=lambda event, n: progress.report(f"{event}: {n} pictures", n))
        # The job thread has no event loop of its own: ingest gets a fresh one.
        return asyncio.run(job.run()).to_dict()

    return run


def reindex_runner(settings: Settings, backend: SearchBackend) -> JobRunner:
    """Copy every document (vectors included) into a new index version with the current
    mapping, then move the alias: `vignett.indexing.reindex`."""
    index = dataclasses.replace(settings.index, alias=backend.alias)

    def run(_arguments: tuple[str, ...], progress: JobProgress) -> dict[str, Any]:
        return reindex(backend.client(), index, progress.report).to_dict()

    return run
