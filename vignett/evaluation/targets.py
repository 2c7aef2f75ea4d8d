"""The pictures an evaluation tries to find again: from an ingested image folder, or from the
index itself through the public API (each picture fetched from its IIIF URL).

Either way targets are deduplicated by the SHA-1 of their bytes: two identical pictures are
two documents with equal vectors, and either one at rank 1 would make the other's rank 2
look like a miss.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

from vignett.indexing.documents import document_id
from vignett.indexing.sources import IMAGE_SUFFIXES

# The API pages by offset, and Elasticsearch serves offsets up to its result window.
INDEX_LISTING_LIMIT = 10_000
LIST_PAGE = 100
LIST_QUERY = ("query($first: Int!, $after: String, $size: Int) { search(first: $first, after: $after) { "
              "totalCount edges { node { id iiifUrl(size: $size) } } pageInfo { hasNextPage endCursor } } }")


@dataclass(frozen=True)
class Target:
    """An indexed picture to find again: its document id and the bytes it is degraded from."""

    source: str  # the file (relative to the folder) or the IIIF URL it was read from
    doc_id: str
    sha1: str
    content: bytes = field(repr=False, compare=False)


@dataclass(frozen=True)
class TargetSet:
    """The sampled targets and what deduplication removed (reported, so the protocol is explicit)."""

    targets: list[Target]
    found: int  # image files in the folder, or documents listed from the index
    unique_by_content: int
    duplicates_dropped: int
    dedup: str  # how, in words, for the report


class TargetError(RuntimeError):
    """Targets cannot be listed or fetched; the message names what and what to do."""


def sha1(content: bytes) -> str:
    return hashlib.sha1(content).hexdigest()


def folder_targets(images_dir: Path, n: int | None, seed: int) -> TargetSet:
    """Image files under `images_dir`, deduplicated by content, then `n` sampled with `seed`.
    Document ids are computed as an image-folder ingest computes them (the relative path).
    The first path in sorted order of identical files is kept."""
    files = sorted(p for p in images_dir.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    unique: dict[str, tuple[str, Path]] = {}
    for path in files:
        digest = sha1(path.read_bytes())
        if digest not in unique:
            unique[digest] = (path.relative_to(images_dir).as_posix(), path)
    pool = [(digest, relative, path) for digest, (relative, path) in unique.items()]
    pool = [pool[i] for i in _sample(len(pool), n, seed)]
    targets = [Target(relative, document_id(relative, None), digest, path.read_bytes())
               for digest, relative, path in pool]
    return TargetSet(targets, len(files), len(unique), len(files) - len(unique),
                     "SHA-1 of file bytes, over the whole folder, before sampling")


def index_targets(api: httpx.Client, n: int | None, seed: int, size: int = 512,
                  limit: int = INDEX_LISTING_LIMIT) -> TargetSet:
    """Documents listed through `search` (at most `limit`: the API pages by offset), `n` of them
    sampled with `seed` from the sorted ids, each fetched from its IIIF URL at `size` pixels.
    Identical pictures are dropped among the sampled ones (fetching the whole index to hash it
    would cost as much as ingesting it again)."""
    listed = _list_documents(api, size, limit)
    if not listed:
        raise TargetError("the index behind the API holds no document with an IIIF URL; ingest with "
                          "--iiif-base (or evaluate an image folder with --images)")
    ids = sorted(listed)
    chosen = [ids[i] for i in _sample(len(ids), n, seed)]
    unique: dict[str, Target] = {}
    with httpx.Client(timeout=api.timeout, follow_redirects=True) as iiif:
        for doc_id in chosen:
            url = listed[doc_id]
            try:
                response = iiif.get(url)
                response.raise_for_status()
            except httpx.HTTPError as exc:
                raise TargetError(f"could not fetch {doc_id} from its IIIF URL {url}: {exc}; is the "
                                  "IIIF server the index points at reachable from here?") from None
            digest = sha1(response.content)
            unique.setdefault(digest, Target(url, doc_id, digest, response.content))
    return TargetSet(list(unique.values()), len(listed), len(unique), len(chosen) - len(unique),
                     "SHA-1 of the IIIF bytes, among the sampled documents")


def _list_documents(api: httpx.Client, size: int, limit: int) -> dict[str, str]:
    """id -> IIIF URL of the first `limit` documents (documents without one are left out)."""
    listed: dict[str, str] = {}
    after: str | None = None
    offset = 0
    while offset < limit:
        first = min(LIST_PAGE, limit - offset)
        response = api.post("/graphql", json={"query": LIST_QUERY,
                                               "variables": {"first": first, "after": after, "size": size}})
        body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
        if response.status_code != 200 or body.get("errors") or "data" not in body:
            message = "; ".join(e.get("message", "?") for e in body.get("errors", [])) or response.text[:200]
            raise TargetError(f"listing documents through the API failed (HTTP {response.status_code}): {message}")
        page = body["data"]["search"]
        for edge in page["edges"]:
            if edge["node"]["iiifUrl"]:
                listed[edge["node"]["id"]] = edge["node"]["iiifUrl"]
        offset += len(page["edges"])
        if not page["pageInfo"]["hasNextPage"] or not page["edges"]:
            break
        after = page["pageInfo"]["endCursor"]
    return listed


def _sample(size: int, n: int | None, seed: int) -> list[int]:
    """Indices of `n` of `size` items drawn with `seed`, in their original order (all when n is None)."""
    if n is None or n >= size:
        return list(range(size))
    return sorted(int(i) for i in np.random.default_rng(seed).choice(size, size=n, replace=False))
