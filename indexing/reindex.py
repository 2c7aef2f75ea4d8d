"""Copy the index into a new version with the current mapping, then move the alias.

The integ-test-zip has no `_reindex` API, so documents are copied with scan + bulk (vectors
included: they are excluded from `_source` by default and asked for explicitly). The alias
moves in one atomic call at the end, so searches never see a half-filled index; the old
version is kept for a rollback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from elasticsearch import Elasticsearch, helpers

from vignett.config import IndexSettings

from .index import create_next_version, current_index, ensure_index, move_alias

COPY_BATCH = 200


@dataclass(frozen=True)
class ReindexResult:
    source: str
    target: str
    copied: int

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.source, "to": self.target, "copied": self.copied}


def reindex(client: Elasticsearch, index: IndexSettings,
            progress: Callable[[str, int], None] = lambda message, n: None) -> ReindexResult:
    """Copy every document of the alias's index into `<alias>-<n+1>`; with no index yet, just
    create the first one. `progress(message, copied)` is called after each batch."""
    old = current_index(client, index.alias)
    if old is None:
        return ReindexResult("", ensure_index(client, index).index, 0)
    new = create_next_version(client, index)
    copied = _copy_documents(client, old, new, progress)
    client.indices.refresh(index=new)
    move_alias(client, index.alias, old, new)
    return ReindexResult(old, new, copied)


def _copy_documents(client: Elasticsearch, old: str, new: str, progress: Callable[[str, int], None]) -> int:
    copied = 0
    batch: list[dict[str, Any]] = []
    for hit in helpers.scan(client, index=old, size=COPY_BATCH, source_exclude_vectors=False):
        batch.append({"_op_type": "index", "_index": new, "_id": hit["_id"], "_source": hit["_source"]})
        if len(batch) >= COPY_BATCH:
            copied += _flush(client, batch)
            progress(f"copied {copied} documents from {old} to {new}", copied)
    return copied + _flush(client, batch)


def _flush(client: Elasticsearch, batch: list[dict[str, Any]]) -> int:
    if not batch:
        return 0
    ok, _errors = helpers.bulk(client, batch, raise_on_error=True)
    batch.clear()
    return ok
