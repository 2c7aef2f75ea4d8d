"""Fetching IIIF crops: async, bounded, polite, retried, cached on disk, and safe to decode.

- At most `iiif.concurrency` requests in flight, and `fetch_many` yields each image as it
  completes and starts the next one only when the consumer asks for it, so no more than
  `concurrency` decoded images are held at once.
- Per host, requests start no faster than `iiif.requests_per_second` (0 = no limit).
- 429, 5xx, timeouts and connection errors are retried `iiif.retries` times, waiting
  `backoff_base_s * 2**attempt` (with jitter, at most `max_backoff_s`) or the server's
  Retry-After; any other status fails at once.
- Responses over `max_response_bytes`, images over `max_image_pixels` (decompression bombs),
  and truncated or undecodable images fail with a reason; every failure is kept in `.failures`.
- A decoded image's bytes are cached under `cache_dir`, keyed by URL: a re-run downloads nothing.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import io
import os
import random
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from PIL import Image

from vignett.config import IIIFSettings

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass
class FetchResult:
    url: str
    image: Image.Image | None
    error: str | None
    from_cache: bool = False
    status: int | None = None
    attempts: int = 0
    nbytes: int = 0
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.image is not None


@dataclass(frozen=True)
class FetchFailure:
    url: str
    reason: str
    status: int | None


class ImageDecodeError(ValueError):
    """Bytes that are not a usable image: undecodable, truncated, or over the pixel limit."""


class _Retryable(Exception):
    def __init__(self, reason: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(reason)
        self.reason, self.status, self.retry_after = reason, status, retry_after


class _Fatal(Exception):
    def __init__(self, reason: str, status: int | None = None):
        super().__init__(reason)
        self.reason, self.status = reason, status


def decode_image(data: bytes, max_pixels: int) -> Image.Image:
    """RGB image from bytes, decoded fully (so a truncated file fails here, not later) after
    checking the declared size against `max_pixels`: the header is read first, the pixels only
    if it is sane. Raises `ImageDecodeError`."""
    try:
        with Image.open(io.BytesIO(data)) as probe:
            w, h = probe.size
            if w * h > max_pixels:
                raise ImageDecodeError(f"image declares {w}x{h} = {w * h:,} pixels, over iiif.max_image_pixels "
                                       f"({max_pixels:,}): refused as a possible decompression bomb")
            probe.load()
            return probe.convert("RGB")
    except ImageDecodeError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageDecodeError(f"refused as a decompression bomb by Pillow ({exc})") from None
    except (OSError, SyntaxError, ValueError) as exc:  # Pillow's "truncated", "cannot identify"
        raise ImageDecodeError(f"image cannot be decoded ({exc})") from None


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(when.timestamp() - time.time(), 0.0)


class _HostPacer:
    """Spaces request starts to one host at 1 / requests_per_second."""

    def __init__(self, requests_per_second: float):
        self.interval = 1.0 / requests_per_second if requests_per_second > 0 else 0.0
        self.next_start: dict[str, float] = {}
        self.lock = asyncio.Lock()

    async def wait(self, url: str) -> None:
        if not self.interval:
            return
        host = urlsplit(url).netloc
        async with self.lock:
            now = time.monotonic()
            start = max(now, self.next_start.get(host, now))
            self.next_start[host] = start + self.interval
        if start > now:
            await asyncio.sleep(start - now)


class ImageFetcher:
    """`async with ImageFetcher(settings.iiif, cache_dir) as fetcher: ...`"""

    def __init__(self, settings: IIIFSettings, cache_dir: Path, *, client: httpx.AsyncClient | None = None):
        self.settings = settings
        self.cache_dir = Path(cache_dir)
        self.failures: list[FetchFailure] = []
        self._own_client = client is None
        self._client = client
        self._slots = asyncio.Semaphore(max(settings.concurrency, 1))
        self._pacer = _HostPacer(settings.requests_per_second)

    async def __aenter__(self) -> ImageFetcher:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.settings.timeout_s),
                follow_redirects=True,
                limits=httpx.Limits(max_connections=max(self.settings.concurrency, 1)),
                headers={"User-Agent": "vignett (IIIF image fetcher)"},
            )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    @property
    def client(self) -> httpx.AsyncClient:
        """The HTTP client (e.g. for info.json requests that share the connection pool)."""
        assert self._client is not None, "use ImageFetcher as `async with ImageFetcher(...)`"
        return self._client

    def cache_path(self, url: str) -> Path:
        digest = hashlib.sha256(url.encode()).hexdigest()
        return self.cache_dir / digest[:2] / digest

    async def fetch(self, url: str) -> FetchResult:
        """One image; never raises for a bad URL or server: the result carries the error."""
        started = time.monotonic()
        cached = self.cache_path(url)
        if cached.is_file():
            try:
                data = await asyncio.to_thread(cached.read_bytes)
                image = await asyncio.to_thread(decode_image, data, self.settings.max_image_pixels)
                return FetchResult(url, image, None, from_cache=True, nbytes=len(data),
                                   elapsed_s=time.monotonic() - started)
            except (ImageDecodeError, OSError):
                cached.unlink(missing_ok=True)  # a damaged cache entry: fetch again
        async with self._slots:
            result = await self._fetch_with_retries(url)
        result.elapsed_s = time.monotonic() - started
        if result.error is not None:
            self.failures.append(FetchFailure(url, result.error, result.status))
        return result

    async def fetch_many(self, urls: Iterable[str]) -> AsyncIterator[FetchResult]:
        """Results in completion order (match them by `.url`); at most `concurrency` pending."""
        limit = max(self.settings.concurrency, 1)
        queue = iter(urls)
        pending: set[asyncio.Task[FetchResult]] = set()
        try:
            while True:
                while len(pending) < limit and (url := next(queue, None)) is not None:
                    pending.add(asyncio.create_task(self.fetch(url)))
                if not pending:
                    return
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    yield task.result()
        finally:
            for task in pending:
                task.cancel()

    async def _fetch_with_retries(self, url: str) -> FetchResult:
        s = self.settings
        attempt = 0
        while True:
            attempt += 1
            try:
                data, status = await self._download(url)
                try:
                    image = await asyncio.to_thread(decode_image, data, s.max_image_pixels)
                except ImageDecodeError as exc:
                    raise _Fatal(str(exc), status) from None
                await asyncio.to_thread(self._store, url, data)
                return FetchResult(url, image, None, status=status, attempts=attempt, nbytes=len(data))
            except _Fatal as exc:
                return FetchResult(url, None, exc.reason, status=exc.status, attempts=attempt)
            except _Retryable as exc:
                if attempt > s.retries:
                    return FetchResult(url, None, f"{exc.reason} (gave up after {attempt} attempts)",
                                       status=exc.status, attempts=attempt)
                if exc.retry_after is not None and exc.retry_after > s.max_backoff_s:
                    return FetchResult(url, None, f"{exc.reason}; server asked to retry after "
                                       f"{exc.retry_after:.0f} s, more than iiif.max_backoff_s={s.max_backoff_s:g}",
                                       status=exc.status, attempts=attempt)
                delay = exc.retry_after
                if delay is None:
                    delay = min(s.backoff_base_s * 2 ** (attempt - 1), s.max_backoff_s)
                    delay *= random.uniform(0.5, 1.0)  # jitter: retries of many URLs spread out
                await asyncio.sleep(delay)

    async def _download(self, url: str) -> tuple[bytes, int]:
        assert self._client is not None, "use ImageFetcher as `async with ImageFetcher(...)`"
        s = self.settings
        await self._pacer.wait(url)
        try:
            async with asyncio.timeout(s.timeout_s):  # a server trickling bytes still ends here
                async with self._client.stream("GET", url) as response:
                    status = response.status_code
                    if status in RETRY_STATUS:
                        raise _Retryable(f"HTTP {status}", status, _retry_after(response.headers.get("Retry-After")))
                    if status != 200:
                        raise _Fatal(f"HTTP {status}", status)
                    declared = int(response.headers.get("Content-Length") or 0)
                    if declared > s.max_response_bytes:
                        raise _Fatal(f"response of {declared:,} bytes is over iiif.max_response_bytes "
                                     f"({s.max_response_bytes:,})", status)
                    chunks, size = [], 0
                    async for chunk in response.aiter_bytes():
                        size += len(chunk)
                        if size > s.max_response_bytes:
                            raise _Fatal(f"response grew over iiif.max_response_bytes ({s.max_response_bytes:,})", status)
                        chunks.append(chunk)
                    return b"".join(chunks), status
        except TimeoutError:
            raise _Retryable(f"no complete answer within iiif.timeout_s={s.timeout_s:g} s") from None
        except httpx.TimeoutException as exc:
            raise _Retryable(f"timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:  # connection refused/reset, protocol errors
            raise _Retryable(f"connection failed ({type(exc).__name__}: {exc})") from None

    def _store(self, url: str, data: bytes) -> None:
        path = self.cache_path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)  # atomic: a crash never leaves half a file under the final name
