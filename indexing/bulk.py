"""Bulk writes to Elasticsearch: chunked by bytes, 429s retried, per-document errors returned.

Back-pressure (429) is retried by the client helper with exponential backoff; connection
errors and timeouts are retried here a few times before the whole ingest is stopped (its
checkpoint keeps what was done), because nothing can be written while the cluster is away.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import Elasticsearch
from elasticsearch.helpers import streaming_bulk

MAX_CHUNK_BYTES = 8 * 1024 * 1024


class BulkUnavailable(RuntimeError):
    """Elasticsearch stayed unreachable through the retries."""


@dataclass(frozen=True)
class BulkResult:
    indexed: list[str]
    failed: dict[str, str]  # id -> reason


def bulk_upsert(
    client: Elasticsearch,
    index: str,
    documents: Iterable[tuple[str, dict]],
    *,
    insert_only: dict | None = None,
    max_chunk_bytes: int = MAX_CHUNK_BYTES,
    connection_retries: int = 4,
) -> BulkResult:
    """Create or partially update `(id, source)` pairs; never raises for one bad document.

    A partial update keeps fields other runs wrote (vectors of other models, labels, predicted
    classes), and an update that changes nothing is a no-op in Elasticsearch (`_version` stays).
    `insert_only` fields (e.g. `ingested_at`) are written when the document is created only.
    """
    extra = insert_only or {}
    actions = [
        {"_op_type": "update", "_index": index, "_id": i, "doc": s, "upsert": {**s, **extra}}
        for i, s in documents
    ]
    return _run(client, actions, max_chunk_bytes, connection_retries)


def bulk_update(client: Elasticsearch, index: str, documents: Iterable[tuple[str, dict]]) -> BulkResult:
    """Partially update existing documents only: a document deleted meanwhile stays deleted
    (it is reported as failed with a 404) instead of coming back as a stub."""
    actions = [{"_op_type": "update", "_index": index, "_id": i, "doc": s} for i, s in documents]
    return _run(client, actions, MAX_CHUNK_BYTES, 4)


def bulk_delete(client: Elasticsearch, index: str, ids: Iterable[str]) -> BulkResult:
    actions = [{"_op_type": "delete", "_index": index, "_id": i} for i in ids]
    return _run(client, actions, MAX_CHUNK_BYTES, 4)


def _run(client, actions: list[dict], max_chunk_bytes: int, connection_retries: int) -> BulkResult:
    for attempt in range(connection_retries + 1):
        try:
            return _stream(client, actions, max_chunk_bytes)
        except (TransportConnectionError, ConnectionTimeout) as exc:
            if attempt == connection_retries:
                raise BulkUnavailable(
                    f"Elasticsearch did not answer bulk requests after {attempt + 1} attempts "
                    f"({exc.__class__.__name__}); the checkpoint keeps finished files, re-run to resume"
                ) from None
            time.sleep(min(2**attempt, 15))
    raise AssertionError("unreachable")  # pragma: no cover


def _stream(client, actions: list[dict], max_chunk_bytes: int) -> BulkResult:
    indexed: list[str] = []
    failed: dict[str, str] = {}
    for ok, item in streaming_bulk(
        client,
        actions,
        chunk_size=500,
        max_chunk_bytes=max_chunk_bytes,
        max_retries=5,
        initial_backoff=1,
        max_backoff=30,
        raise_on_error=False,
        raise_on_exception=True,
        yield_ok=True,
    ):
        (op, info), = item.items()
        if ok or (op == "delete" and info.get("status") == 404):
            indexed.append(info["_id"])
        else:
            error = info.get("error", {})
            reason = error.get("reason", str(error)) if isinstance(error, dict) else str(error)
            failed[info.get("_id", "?")] = f"{info.get('status')}: {reason}"
    return BulkResult(indexed, failed)
