"""What the protected mutations do: label a picture, run ingest, copy the index into a new
version (reindex). Ingest and reindex are `JobRunner`s for the JobRegistry."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError, helpers

from vignett.config import Settings
from vignett.indexing.index import current_index, ensure_index, resolve_analyzer
from vignett.indexing.mapping import build_index_settings, build_mapping, mapping_hash

from .backend import SearchBackend
from .embedding import ModelPool
from .errors import BadUserInput, NotFound
from .jobs import JobProgress, JobRunner

LABEL_RE = re.compile(r"^[\w][\w \-./]{0,63}$")
COPY_BATCH = 200


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
    mapping, then move the alias in one atomic call: searches never see a half-filled index."""

    def run(_arguments: tuple[str, ...], progress: JobProgress) -> dict[str, Any]:
        client = backend.client()
        old = current_index(client, backend.alias)
        if old is None:
            status = ensure_index(client, settings.index)
            return {"from": "", "to": status.index, "copied": 0}
        new = _create_next_version(client, settings, old)
        copied = _copy_documents(client, old, new, progress)
        client.indices.refresh(index=new)
        client.indices.update_aliases(actions=[
            {"remove": {"index": old, "alias": backend.alias}},
            {"add": {"index": new, "alias": backend.alias, "is_write_index": True}},
        ])
        return {"from": old, "to": new, "copied": copied}

    return run


def _create_next_version(client: Elasticsearch, settings: Settings, old: str) -> str:
    alias = settings.index.alias
    mapping = build_mapping(settings.index, resolve_analyzer(client, settings.index))
    index_settings = build_index_settings(settings.index)
    pattern = re.compile(rf"^{re.escape(alias)}-(\d+)$")
    names = client.indices.get(index=f"{alias}-*", expand_wildcards="all").keys()
    version = max((int(m.group(1)) for n in names if (m := pattern.match(n))), default=0) + 1
    new = f"{alias}-{version}"
    meta = {"vignett_mapping_hash": mapping_hash(mapping, index_settings)}
    client.indices.create(index=new, mappings={**mapping, "_meta": meta}, settings=index_settings)
    return new


def _copy_documents(client: Elasticsearch, old: str, new: str, progress: JobProgress) -> int:
    copied = 0
    hits = helpers.scan(client, index=old, size=COPY_BATCH, source_exclude_vectors=False)
    batch: list[dict[str, Any]] = []
    for hit in hits:
        batch.append({"_op_type": "index", "_index": new, "_id": hit["_id"], "_source": hit["_source"]})
        if len(batch) >= COPY_BATCH:
            copied += _flush(client, batch)
            progress.report(f"copied {copied} documents from {old} to {new}", copied)
    copied += _flush(client, batch)
    return copied


def _flush(client: Elasticsearch, batch: list[dict[str, Any]]) -> int:
    if not batch:
        return 0
    ok, _errors = helpers.bulk(client, batch, raise_on_error=True)
    batch.clear()
    return ok
