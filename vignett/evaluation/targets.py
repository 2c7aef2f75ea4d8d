"""The pictures an evaluation tries to find again: from an ingested image folder, or from the
index itself through the public API (each picture fetched from its IIIF URL).

Collections hold the same picture more than once (the shared NLN crops: one engraving cut
out twice, at 409x688 and 413x689 pixels). Copies are found by content: identical bytes, or
perceptual hashes (imagehash's 64-bit pHash) at most NEAR_DUPLICATE_BITS apart. On those
crops 8 bits joins the copies and separates different engravings of the same subject
(10-12 bits). Each group of copies is one target, and **finding any copy counts as a hit**.
Dropping copies from the targets alone would not be enough: the dropped copy is still
indexed and can outrank the one kept.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import imagehash
import numpy as np
from PIL import Image

from vignett.indexing.documents import document_id
from vignett.indexing.sources import IMAGE_SUFFIXES

NEAR_DUPLICATE_BITS = 8
DEDUP_RULE = (f"same picture = identical bytes (SHA-1) or pHash at most {NEAR_DUPLICATE_BITS} of 64 bits apart; "
              "one target per group, any copy found counts as the hit")
# The API pages by offset, and Elasticsearch serves offsets up to its result window.
INDEX_LISTING_LIMIT = 10_000
LIST_PAGE = 100
LIST_QUERY = ("query($first: Int!, $after: String, $size: Int) { search(first: $first, after: $after) { "
              "totalCount edges { node { id iiifUrl(size: $size) } } pageInfo { hasNextPage endCursor } } }")


@dataclass(frozen=True)
class Target:
    """An indexed picture to find again: its document id, the bytes it is degraded from, and
    the ids of every indexed copy of it (itself included): any of them is a hit."""

    source: str  # the file (relative to the folder) or the IIIF URL it was read from
    doc_id: str
    sha1: str
    content: bytes = field(repr=False, compare=False)
    copies: tuple[str, ...] = ()


@dataclass(frozen=True)
class TargetSet:
    """The sampled targets and what deduplication found (reported, so the protocol is explicit)."""

    targets: list[Target]
    found: int  # image files in the folder, or documents listed from the index
    unique_by_content: int  # groups of copies among them
    duplicates_dropped: int  # pictures that are a copy of another, so not a target of their own
    dedup: str  # how, in words, for the report


class TargetError(RuntimeError):
    """Targets cannot be listed or fetched; the message names what and what to do."""


def sha1(content: bytes) -> str:
    return hashlib.sha1(content).hexdigest()


def folder_targets(images_dir: Path, n: int | None, seed: int) -> TargetSet:
    """One target per group of copies under `images_dir` (the first file in sorted order),
    then `n` of them sampled with `seed`. Document ids are computed as an image-folder ingest
    computes them (the path relative to the folder)."""
    files = sorted(p for p in images_dir.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    pictures = [(path.relative_to(images_dir).as_posix(), path.read_bytes()) for path in files]
    targets = group_copies([(relative, document_id(relative, None), content) for relative, content in pictures])
    chosen = [targets[i] for i in _sample(len(targets), n, seed)]
    return TargetSet(chosen, len(files), len(targets), len(files) - len(targets), DEDUP_RULE + ", over the whole folder")


def index_targets(api: httpx.Client, n: int | None, seed: int, size: int = 512,
                  limit: int = INDEX_LISTING_LIMIT) -> TargetSet:
    """Documents listed through `search` (at most `limit`: the API pages by offset), `n` of them
    sampled with `seed` from the sorted ids, each fetched from its IIIF URL at `size` pixels.
    Copies are grouped among the sampled documents only: finding copies in the whole index
    would mean fetching all of it."""
    listed = _list_documents(api, size, limit)
    if not listed:
        raise TargetError("the index behind the API holds no document with an IIIF URL; ingest with "
                          "--iiif-base (or evaluate an image folder with --images)")
    ids = sorted(listed)
    chosen = [ids[i] for i in _sample(len(ids), n, seed)]
    pictures: list[tuple[str, str, bytes]] = []
    with httpx.Client(timeout=api.timeout, follow_redirects=True) as iiif:
        for doc_id in chosen:
            url = listed[doc_id]
            try:
                response = iiif.get(url)
                response.raise_for_status()
            except httpx.HTTPError as exc:
                raise TargetError(f"could not fetch {doc_id} from its IIIF URL {url}: {exc}; is the "
                                  "IIIF server the index points at reachable from here?") from None
            pictures.append((url, doc_id, response.content))
    targets = group_copies(pictures)
    return TargetSet(targets, len(listed), len(targets), len(chosen) - len(targets),
                     DEDUP_RULE + ", among the sampled documents (IIIF bytes)")


def group_copies(pictures: list[tuple[str, str, bytes]]) -> list[Target]:
    """(source, doc id, bytes) -> one Target per group of copies, in input order of the first
    member; copies join transitively (A~B and B~C put A, B, C in one group)."""
    digests = [sha1(content) for _, _, content in pictures]
    bits = np.array([imagehash.phash(Image.open(io.BytesIO(content))).hash.flatten() for _, _, content in pictures],
                    dtype=bool).reshape(len(pictures), -1)
    parent = list(range(len(pictures)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    # Identical bytes decode to identical hashes (distance 0), so one test covers both rules.
    for i in range(1, len(pictures)):
        for j in np.flatnonzero((bits[:i] != bits[i]).sum(axis=1) <= NEAR_DUPLICATE_BITS).tolist():
            parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(pictures)):
        groups.setdefault(root(i), []).append(i)
    targets = []
    for members in sorted(groups.values(), key=lambda m: m[0]):
        source, doc_id, content = pictures[members[0]]
        copies = tuple(dict.fromkeys(pictures[i][1] for i in members))
        targets.append(Target(source, doc_id, digests[members[0]], content, copies))
    return targets


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
