"""The ingest checkpoint: which source files are finished, with what content and which ids.

A file is recorded only after all its documents were acknowledged by Elasticsearch, so after a
crash (even `kill -9`) the next run redoes at most the files that were in flight, and writes
the same ids again: no duplicates. A file whose content changed gets a new key: it is redone
and its documents that no longer exist are deleted. sqlite (stdlib) keeps it atomic.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class FileRecord:
    content_key: str
    doc_ids: list[str]


class Checkpoint:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # Read from the event loop, written from the index stage's thread: one lock serialises.
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS done (path TEXT PRIMARY KEY, content_key TEXT NOT NULL, "
            "doc_ids TEXT NOT NULL, finished_at REAL NOT NULL)"
        )
        self._db.commit()

    def get(self, path: str) -> FileRecord | None:
        with self._lock:
            row = self._db.execute(
                "SELECT content_key, doc_ids FROM done WHERE path = ?", (path,)
            ).fetchone()
        return None if row is None else FileRecord(row[0], json.loads(row[1]))

    def mark_done(self, path: str, content_key: str, doc_ids: list[str]) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO done VALUES (?, ?, ?, ?)",
                (path, content_key, json.dumps(sorted(doc_ids)), time.time()),
            )
            self._db.commit()

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM done").fetchone()[0]

    def close(self) -> None:
        self._db.close()


def content_key(path: Path, run_fingerprint: str) -> str:
    """The file's bytes and what the run does with them (models, weights, IIIF base)."""
    digest = hashlib.sha1(run_fingerprint.encode())
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
