"""The ingest pipeline: source files -> pictures -> vectors -> documents in the index.

Three stages overlap, joined by small bounded queues so memory stays bounded whatever the
collection size:

1. *read* (a few workers): parse an ALTO file (or open a plain image), ask the IIIF server for
   the page size, and fetch every picture's crop through the `ImageFetcher`;
2. *embed*: batch the pictures of one or more files through each requested embedder (and the
   classifier, when one is given);
3. *write*: bulk-index the documents, then record the file in the checkpoint.

Files whose content and run settings are unchanged since a finished run are skipped; files
that failed in part are not recorded, so the next run tries them again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

import numpy as np
from PIL import Image

from vignett.config import Settings

from .alto import AltoParseError, GraphicElement, parse_alto
from .bulk import BulkUnavailable, bulk_delete, bulk_upsert
from .checkpoint import Checkpoint, content_key
from .documents import BookMetadata, ImageDocument, document_id
from .fetch import ImageFetcher, decode_image
from .iiif import IIIFError, fetch_info, iiif_region_url, scale_element
from .ingest_records import Failure, ImageEmbedder, IngestError, IngestRequest, IngestSummary, PictureClassifier
from .metadata import load_metadata
from .sources import SourceFile, discover_sources

READ_WORKERS = 4
QUEUE_FILES = 4


@dataclass
class _Picture:
    document: ImageDocument
    image: Image.Image | None


@dataclass
class _FileWork:
    source: SourceFile
    key: str
    previous_ids: list[str]
    pictures: list[_Picture]
    failures: list[Failure]


ProgressCallback = Callable[[str, int], None]


class Ingest:
    """One ingest run. `await Ingest(...).run()` returns the summary."""

    def __init__(
        self,
        settings: Settings,
        request: IngestRequest,
        client,
        embedders: dict[str, ImageEmbedder],
        *,
        classifier: PictureClassifier | None = None,
        progress: ProgressCallback | None = None,
    ):
        self.settings = settings
        self.request = request
        self.client = client
        self.embedders = embedders
        # A classifier trained on an embedding this run does not compute cannot run here.
        self.classifier = classifier if classifier is None or classifier.embedding in embedders else None
        self.classifier_skipped = classifier is not None and self.classifier is None
        self.progress = progress or (lambda _event, _n: None)
        self.summary = IngestSummary()
        self.books: dict[str, BookMetadata] = (
            load_metadata(request.metadata_file) if request.metadata_file else {}
        )
        self.alias = settings.index.alias
        cache = settings.paths.resolved_cache_dir()
        self.checkpoint = Checkpoint(cache / "ingest" / f"{self.alias}.sqlite")
        self.fetch_cache = cache / "iiif"
        self.fingerprint = json.dumps(
            {
                "models": {name: e.version for name, e in sorted(embedders.items())},
                "classifier": classifier.version if classifier else None,
                "iiif": [request.iiif_base, request.iiif_version, request.fetch_max_side],
                "alto": [settings.alto.max_aspect_ratio, settings.alto.page_id_source],
            },
            sort_keys=True,
        )
        self.ingested_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        # The hash baseline has no weights ("none"); the networks' weights kind is what matters.
        kinds = {e.weights for e in embedders.values()} - {"none"}
        self.weights = ",".join(sorted(kinds)) or "none"

    def discover(self) -> list[SourceFile]:
        files = discover_sources(self.request.sources)
        if any(f.kind == "alto" for f in files) and not self.request.iiif_base:
            raise IngestError(
                "ALTO files need a IIIF Image API server to cut the pictures from: pass "
                "--iiif-base URL (or set iiif.base_url)"
            )
        return files

    async def run(self, files: list[SourceFile] | None = None) -> IngestSummary:
        started = time.monotonic()
        files = self.discover() if files is None else files
        self.summary.files = len(files)
        todo: asyncio.Queue = asyncio.Queue()
        for source in files:
            todo.put_nowait(source)
        fetched: asyncio.Queue = asyncio.Queue(maxsize=QUEUE_FILES)
        embedded: asyncio.Queue = asyncio.Queue(maxsize=QUEUE_FILES)
        try:
            async with ImageFetcher(self.settings.iiif, self.fetch_cache) as fetcher:
                # A TaskGroup cancels every stage when one fails, so a crash in one stage
                # surfaces instead of leaving the others blocked on a full queue.
                async with asyncio.TaskGroup() as group:
                    readers = [
                        group.create_task(self._read_worker(todo, fetched, fetcher))
                        for _ in range(READ_WORKERS)
                    ]
                    group.create_task(_close_when_done(readers, fetched))
                    group.create_task(self._embed_stage(fetched, embedded))
                    group.create_task(self._write_stage(embedded))
        except* BulkUnavailable as errors:
            raise errors.exceptions[0] from None
        finally:
            self.checkpoint.close()
            self.summary.elapsed_s = time.monotonic() - started
        return self.summary

    # -- stage 1: read -------------------------------------------------------------------
    async def _read_worker(self, todo: asyncio.Queue, out: asyncio.Queue, fetcher) -> None:
        while True:
            try:
                source = todo.get_nowait()
            except asyncio.QueueEmpty:
                return
            work = await self._read_file(source, fetcher)
            if work is not None:
                await out.put(work)

    async def _read_file(self, source: SourceFile, fetcher: ImageFetcher) -> _FileWork | None:
        t0 = time.monotonic()
        key = await asyncio.to_thread(content_key, source.path, self.fingerprint)
        record = self.checkpoint.get(str(source.path))
        if self.request.resume and record is not None and record.content_key == key:
            self.summary.files_skipped += 1
            self.progress("file", 0)
            return None
        previous = record.doc_ids if record else []
        if source.kind == "image":
            work = await self._read_image_file(source, key, previous)
        else:
            work = await self._read_alto_file(source, key, previous, fetcher)
        self.summary.stage_seconds["read+fetch"] += time.monotonic() - t0
        return work

    async def _read_image_file(self, source: SourceFile, key: str, previous: list[str]) -> _FileWork:
        page_id = source.relative
        try:
            data = await asyncio.to_thread(source.path.read_bytes)
            image = await asyncio.to_thread(decode_image, data, self.settings.iiif.max_image_pixels)
        except Exception as exc:  # noqa: BLE001 - any unreadable image is one failure, not fatal
            return _FileWork(source, key, previous, [], [Failure(str(source.path), _reason(exc))])
        document = self._document(source, page_id, None, image.size)
        document.iiif_id = page_id
        if self.request.iiif_base:
            # Pixels come from the file; the IIIF server (serving the same folder, identifier
            # = file stem) is what clients show the picture from.
            document.iiif_base = self.request.iiif_base
            document.iiif_id = source.path.stem
        return _FileWork(source, key, previous, [_Picture(document, image)], [])

    async def _read_alto_file(
        self, source: SourceFile, key: str, previous: list[str], fetcher: ImageFetcher
    ) -> _FileWork:
        failures: list[Failure] = []
        try:
            page = await asyncio.to_thread(parse_alto, source.path, self.settings.alto)
        except AltoParseError as exc:
            return _FileWork(source, key, previous, [], [Failure(str(source.path), str(exc))])
        for dropped in page.dropped:
            self.summary.dropped[_reason_kind(dropped.reason)] += 1
        if not page.elements:
            return _FileWork(source, key, previous, [], [])
        base, version = self.request.iiif_base, self.request.iiif_version
        try:
            info = await fetch_info(fetcher.client, base, page.page_id)
        except IIIFError as exc:
            return _FileWork(source, key, previous, [], [Failure(str(source.path), str(exc))])
        pictures: dict[str, _Picture] = {}
        for element in page.elements:
            on_server = scale_element(element, info.width, info.height)
            try:
                url = iiif_region_url(
                    base, page.page_id, on_server.bbox, self.request.fetch_max_side,
                    version=version, page_width=info.width, page_height=info.height,
                )
            except IIIFError as exc:
                self.summary.dropped["region outside the page"] += 1
                failures.append(Failure(f"{source.path}#{element.element_id}", str(exc)))
                continue
            document = self._document(source, page.page_id, element, (info.width, info.height))
            document.bbox = on_server.bbox
            pictures[url] = _Picture(document, None)
        async for result in fetcher.fetch_many(list(pictures)):
            if result.ok:
                pictures[result.url].image = result.image
            else:
                failures.append(Failure(result.url, result.error or "fetch failed"))
        kept = [p for p in pictures.values() if p.image is not None]
        return _FileWork(source, key, previous, kept, failures)

    def _document(
        self,
        source: SourceFile,
        page_id: str,
        element: GraphicElement | None,
        page_size: tuple[int, int],
    ) -> ImageDocument:
        book = self.books.get(source.book_id, BookMetadata(source.book_id))
        width, height = page_size
        doc = ImageDocument(
            id=document_id(page_id, element.bbox if element else None),
            page_id=page_id,
            book_id=source.book_id,
            source=str(source.root),
            page_width=width,
            page_height=height,
            aspect_ratio=round(width / height, 4) if height else None,
            iiif_base=self.request.iiif_base if element else "",
            title=book.title,
            author=book.author,
            year=book.year,
            language=book.language,
            weights=self.weights,
        )
        if element is not None:
            doc.element_id = element.element_id
            doc.element_type = element.block_type or element.kind
            doc.page_number = element.page_number
            doc.aspect_ratio = round(element.aspect_ratio, 4)
            doc.iiif_id = page_id
            doc.context = element.context
            doc.caption = element.caption
        return doc

    # -- stage 2: embed ------------------------------------------------------------------
    async def _embed_stage(self, inbox: asyncio.Queue, out: asyncio.Queue) -> None:
        batch_size = max(self.settings.models.batch_size, 1)
        done = False
        while not done:
            work = await inbox.get()
            if work is None:
                break
            group = [work]
            # Small files are embedded together so the networks see full batches.
            while sum(len(w.pictures) for w in group) < batch_size and not inbox.empty():
                more = inbox.get_nowait()
                if more is None:
                    done = True
                    break
                group.append(more)
            t0 = time.monotonic()
            await asyncio.to_thread(self._embed_group, group, batch_size)
            self.summary.stage_seconds["embed"] += time.monotonic() - t0
            for item in group:
                await out.put(item)
        await out.put(None)

    def _embed_group(self, group: list[_FileWork], batch_size: int) -> None:
        pictures = [p for work in group for p in work.pictures]
        for start in range(0, len(pictures), batch_size):
            chunk = pictures[start : start + batch_size]
            images = [p.image for p in chunk]
            vectors: dict[str, np.ndarray] = {}
            for name, embedder in self.embedders.items():
                vectors[name] = embedder.embed_images(images)
            predictions = self.classifier.predict_documents(vectors) if self.classifier else None
            for i, picture in enumerate(chunk):
                doc = picture.document
                doc.vectors = {name: v[i] for name, v in vectors.items()}
                doc.model_versions = {name: e.version for name, e in self.embedders.items()}
                doc.image_sha1 = hashlib.sha1(picture.image.tobytes()).hexdigest()
                if predictions is not None:
                    doc.predicted_class, doc.class_probability = predictions[i]
                    doc.classifier_version = self.classifier.version
                picture.image = None  # release the pixels as soon as they are embedded

    # -- stage 3: write ------------------------------------------------------------------
    async def _write_stage(self, inbox: asyncio.Queue) -> None:
        while (work := await inbox.get()) is not None:
            t0 = time.monotonic()
            await asyncio.to_thread(self._write_file, work)
            self.summary.stage_seconds["index"] += time.monotonic() - t0

    def _write_file(self, work: _FileWork) -> None:
        docs = [p.document for p in work.pictures]
        self.summary.elements += len(docs)
        self.summary.books.add(work.source.book_id)
        result = bulk_upsert(
            self.client, self.alias, [(d.id, d.to_source()) for d in docs],
            insert_only={"ingested_at": self.ingested_at},
        )
        self.summary.indexed += len(result.indexed)
        failures = list(work.failures)
        failures += [Failure(f"document {i}", reason) for i, reason in result.failed.items()]
        self.summary.failures += failures
        if failures:
            self.summary.files_failed += 1
        else:
            new_ids = [d.id for d in docs]
            stale = sorted(set(work.previous_ids) - set(new_ids))
            if stale:
                self.summary.deleted_stale += len(bulk_delete(self.client, self.alias, stale).indexed)
            self.checkpoint.mark_done(str(work.source.path), work.key, new_ids)
        self.progress("file", len(result.indexed))


async def _close_when_done(readers: list[asyncio.Task], queue: asyncio.Queue) -> None:
    await asyncio.gather(*readers)
    await queue.put(None)


def _reason_kind(reason: str) -> str:
    """`aspect ratio 61 >= ...` -> `aspect ratio`: counts group by kind, not by number."""
    return re.split(r"[\d(]", reason, maxsplit=1)[0].strip() or reason


def _reason(exc: Exception) -> str:
    text = str(exc) or exc.__class__.__name__
    return text.splitlines()[0][:300]
