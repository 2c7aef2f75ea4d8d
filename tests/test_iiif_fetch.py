"""IIIF URLs, info.json, box scaling, and the fetcher: real crops from the real IIIF reference
server (`iiif` package) over real page scans, and faults from a small misbehaving local server."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import struct
import time
import zlib
from collections import Counter
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from PIL import Image, ImageChops, ImageStat

from tests.iiif_server import PAGE_SCANS, ULB, IIIFServer, iiif_server  # noqa: F401  (fixture)
from tests.support import isolated_env
from vignett.config import load_settings
from vignett.indexing.alto import BBox, parse_alto
from vignett.indexing.fetch import FetchResult, ImageFetcher
from vignett.indexing.iiif import (
    RegionOutsidePageError,
    fetch_info,
    iiif_region_url,
    scale_bbox,
    scale_element,
)

SETTINGS = load_settings(env=isolated_env())
# Fast but real: short timeouts and backoff so fault tests finish in a few seconds.
FAST = dataclasses.replace(
    SETTINGS.iiif, timeout_s=1.0, retries=1, backoff_base_s=0.05, max_backoff_s=5.0,
    requests_per_second=0.0, concurrency=4,
)
# The real server decodes a whole page scan per request: on a busy 2-core machine that can take
# seconds, so real-server tests keep the default timeout and only shorten the backoff.
REAL = dataclasses.replace(SETTINGS.iiif, backoff_base_s=0.05, retries=1, concurrency=4, requests_per_second=0.0)


# --- URL building and scaling -------------------------------------------------------------

def test_region_url_v2_and_v3():
    box = BBox(10, 20, 300, 400)
    assert iiif_region_url("https://x.org/iiif/", "p1", box, None) == "https://x.org/iiif/p1/10,20,300,400/full/0/default.jpg"
    assert iiif_region_url("https://x.org/iiif", "p1", box, None, version="3") == "https://x.org/iiif/p1/10,20,300,400/max/0/default.jpg"
    assert iiif_region_url("https://x.org/iiif", "p1", box, 256).endswith("/10,20,300,400/!256,256/0/default.jpg")
    assert iiif_region_url("https://x.org/iiif", "p1", box, 512, version="3.0").endswith("/max/0/default.jpg")  # no upscaling
    assert iiif_region_url("https://x.org/iiif", "p1", box, "full", version="3").endswith("/max/0/default.jpg")
    assert iiif_region_url("https://x.org/iiif", "p1", box, "pct:50").endswith("/pct:50/0/default.jpg")


def test_region_url_escapes_the_identifier():
    url = iiif_region_url("https://b", "ark:/12148/bpt6k67031873/f4", BBox(0, 0, 5, 5), None)
    assert url == "https://b/ark:%2F12148%2Fbpt6k67031873%2Ff4/0,0,5,5/full/0/default.jpg"
    assert "/a%20b%3Fc%23d/" in iiif_region_url("https://b", "a b?c#d", BBox(0, 0, 5, 5), None)
    nln = iiif_region_url("https://b", "URN:NBN:no-nb_digibok_2009070210001_0618", BBox(0, 0, 5, 5), None)
    assert "/URN:NBN:no-nb_digibok_2009070210001_0618/" in nln


def test_region_is_clamped_to_the_page_and_outside_is_an_error():
    url = iiif_region_url("https://b", "p", BBox(-10, 50, 200, 100), None, page_width=150, page_height=120)
    assert "/0,50,150,70/" in url
    with pytest.raises(RegionOutsidePageError, match="outside the 150x120 page"):
        iiif_region_url("https://b", "p", BBox(200, 10, 50, 50), None, page_width=150, page_height=120)


def test_scale_bbox_per_axis():
    # ULB 148811035: ALTO page 1980x2339, server image 2164x2448 (x*1.0929, y*1.0466)
    assert scale_bbox(BBox(150, 502, 1379, 412), (1980, 2339), (2164, 2448)) == BBox(164, 525, 1507, 432)
    assert scale_bbox(BBox(1, 2, 3, 4), (10, 10), (10, 10)) == BBox(1, 2, 3, 4)


# --- the real IIIF server -----------------------------------------------------------------

def _mean_diff(a: Image.Image, b: Image.Image) -> float:
    return sum(ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB"))).mean) / 3


def _crop(scan: Image.Image, box: BBox) -> Image.Image:
    return scan.crop((box.x, box.y, box.x + box.w, box.y + box.h))


@pytest.mark.parametrize("version", ["2", "3"])
async def test_real_crops_equal_the_scan_region(iiif_server: IIIFServer, tmp_path: Path, version: str):
    """ALTO boxes -> info.json size -> per-axis scaling -> region URL -> pixels == Pillow's crop."""
    base = iiif_server.base_url(version)
    pages = [  # (ALTO file, IIIF identifier): one derivative mismatch, one exact match
        (ULB / "148811035/FULLTEXT/320805.xml", "00000005"),
        (ULB / "1981185920_88120/1981185920_88120_00000010.xml", "1981185920_88120_00000010"),
    ]
    jobs: dict[str, tuple[str, BBox, int | None]] = {}
    async with httpx.AsyncClient() as client:
        for alto, identifier in pages:
            page = parse_alto(alto, SETTINGS.alto, page_id=identifier)
            info = await fetch_info(client, base, identifier)
            assert info.version == version
            with Image.open(PAGE_SCANS[identifier]) as scan:
                assert (info.width, info.height) == scan.size
            for element in page.elements:
                scaled = scale_element(element, info.width, info.height)
                for size in (None, 128):
                    url = iiif_region_url(base, identifier, scaled.bbox, size, version=version,
                                          page_width=info.width, page_height=info.height)
                    jobs[url] = (identifier, scaled.bbox, size)
    assert len(jobs) >= 16
    scans = {i: Image.open(p).convert("RGB") for i, p in PAGE_SCANS.items()}
    async with ImageFetcher(REAL, tmp_path) as fetcher:
        results = [r async for r in fetcher.fetch_many(jobs)]
    assert not fetcher.failures and len(results) == len(jobs)
    for result in results:
        identifier, box, size = jobs[result.url]
        expected = _crop(scans[identifier], box)
        if size is None:
            assert result.image.size == (box.w, box.h)
            assert _mean_diff(result.image, expected) < 4.0, result.url  # JPEG re-encoding only
        else:
            assert max(result.image.size) == min(size, max(box.w, box.h))
            resized = expected.resize(result.image.size, Image.Resampling.LANCZOS)
            assert _mean_diff(result.image, resized) < 8.0, result.url
    # the comparison can fail: the title letters' box shifted by 40 px is far off
    title = next(r for r in results if jobs[r.url][2] is None and jobs[r.url][1].w > 1000)
    box = jobs[title.url][1]
    shifted = _crop(scans["00000005"], dataclasses.replace(box, x=box.x + 40, y=box.y + 40))
    assert _mean_diff(title.image, shifted) > 3 * _mean_diff(title.image, _crop(scans["00000005"], box))


async def test_rerun_is_served_from_the_disk_cache(iiif_server: IIIFServer, tmp_path: Path):
    urls = [iiif_region_url(iiif_server.base_url_v2, "00000008", BBox(100 * i, 200, 300, 300), 64) for i in range(4)]
    async with ImageFetcher(REAL, tmp_path) as fetcher:
        first = [r async for r in fetcher.fetch_many(urls)]
    assert all(r.ok and not r.from_cache for r in first)

    def no_network(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"re-run went to the network for {request.url}")

    async with httpx.AsyncClient(transport=httpx.MockTransport(no_network)) as offline:
        async with ImageFetcher(REAL, tmp_path, client=offline) as fetcher:
            again = [r async for r in fetcher.fetch_many(urls)]
    assert sorted(r.url for r in again) == sorted(urls) and all(r.ok and r.from_cache for r in again)
    assert {r.url: r.image.tobytes() for r in again} == {r.url: r.image.tobytes() for r in first}


async def test_region_outside_the_page_on_the_real_server(iiif_server: IIIFServer, tmp_path: Path):
    """Clamped URLs never leave the page; an unclamped one fails with the server's status and
    does not stop the other fetches."""
    base = iiif_server.base_url_v3
    with pytest.raises(RegionOutsidePageError):
        iiif_region_url(base, "00000007", BBox(3000, 10, 100, 100), None, page_width=2164, page_height=2448)
    outside = f"{base}/00000007/3000,10,100,100/max/0/default.jpg"  # as a careless client would ask
    inside = iiif_region_url(base, "00000007", BBox(2100, 10, 100, 100), None, version="3",
                             page_width=2164, page_height=2448)
    assert "/2100,10,64,100/" in inside
    async with ImageFetcher(REAL, tmp_path) as fetcher:
        results = {r.url: r async for r in fetcher.fetch_many([outside, inside])}
    assert results[inside].ok and results[inside].image.size == (64, 100)
    assert results[outside].image is None and results[outside].error.startswith("HTTP ")
    assert [f.url for f in fetcher.failures] == [outside]


# --- a misbehaving server -----------------------------------------------------------------

def _jpeg(size: tuple[int, int] = (120, 90)) -> bytes:
    with Image.open(PAGE_SCANS["00000005"]) as scan:
        out = io.BytesIO()
        scan.crop((300, 500, 1500, 1400)).resize(size).save(out, "JPEG", quality=90)
        return out.getvalue()


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares width x height (its data is a few bytes)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


class FaultServer:
    """HTTP/1.1 on 127.0.0.1 whose paths misbehave on purpose; counts requests per path."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.jpeg = _jpeg()
        self._handlers: set[asyncio.Task] = set()

    async def __aenter__(self) -> FaultServer:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.base = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        for task in self._handlers:
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._handlers.add(asyncio.current_task())
        try:
            path = (await reader.readline()).split()[1].decode()
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass
            self.hits[path] += 1
            status, body, headers = await self._answer(path, self.hits[path])
            head = f"HTTP/1.1 {status} X\r\nContent-Length: {headers.pop('Content-Length', len(body))}\r\nConnection: close\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            writer.write(head.encode() + b"\r\n" + body)
            await writer.drain()
        finally:
            writer.close()

    async def _answer(self, path: str, hit: int) -> tuple[int, bytes, dict]:
        if path == "/flaky.jpg" and hit == 1:
            return 503, b"busy", {"Retry-After": "1"}
        if path == "/hang.jpg":
            await asyncio.sleep(3600)
        if path == "/truncated.jpg":
            return 200, self.jpeg[: len(self.jpeg) // 2], {"Content-Type": "image/jpeg"}
        if path == "/bomb.png":
            return 200, _png_claiming(60000, 60000), {"Content-Type": "image/png"}
        if path == "/missing.jpg":
            return 404, b"no such image", {}
        if path == "/wait-an-hour.jpg":
            return 429, b"slow down", {"Retry-After": "3600"}
        if path == "/huge.jpg":
            return 200, self.jpeg, {"Content-Length": "900000000"}
        return 200, self.jpeg, {"Content-Type": "image/jpeg"}


async def test_faults_end_as_documented_and_the_other_images_complete(tmp_path: Path):
    async with FaultServer() as server:
        names = ["ok1", "flaky", "hang", "truncated", "bomb", "missing", "wait-an-hour", "huge", "ok2"]
        urls = {name: f"{server.base}/{name}.{'png' if name == 'bomb' else 'jpg'}" for name in names}
        started = time.monotonic()
        async with ImageFetcher(FAST, tmp_path) as fetcher:
            results: dict[str, FetchResult] = {}
            async for result in fetcher.fetch_many(urls.values()):
                results[result.url] = result
        elapsed = time.monotonic() - started
        r = {name: results[url] for name, url in urls.items()}
        hits = {name: server.hits[url[len(server.base):]] for name, url in urls.items()}

    assert r["ok1"].ok and r["ok2"].ok and r["ok1"].image.size == (120, 90)
    # 503 + Retry-After: 1 -> waited about a second, then 200
    assert r["flaky"].ok and r["flaky"].attempts == 2 and hits["flaky"] == 2
    assert r["flaky"].elapsed_s >= 0.95
    # a server that never answers: timeout_s per attempt, retried, then given up
    assert r["hang"].image is None and "within iiif.timeout_s=1" in r["hang"].error
    assert "gave up after 2 attempts" in r["hang"].error and hits["hang"] == 2
    # a truncated JPEG is not retried and not cached
    assert "cannot be decoded" in r["truncated"].error and "truncated" in r["truncated"].error
    assert hits["truncated"] == 1
    assert "decompression bomb" in r["bomb"].error and r["bomb"].image is None
    assert r["missing"].error == "HTTP 404" and r["missing"].attempts == 1
    assert "retry after 3600 s" in r["wait-an-hour"].error and hits["wait-an-hour"] == 1
    assert "over iiif.max_response_bytes" in r["huge"].error
    failed = {"hang", "truncated", "bomb", "missing", "wait-an-hour", "huge"}
    assert sorted(f.url for f in fetcher.failures) == sorted(urls[n] for n in failed)
    assert all(f.reason for f in fetcher.failures)
    cached = {p.name for p in tmp_path.rglob("*") if p.is_file()}
    assert cached == {fetcher.cache_path(urls[n]).name for n in ("ok1", "ok2", "flaky")}
    assert elapsed < 10, elapsed  # the hang did not hold up the rest


async def test_pixel_limit_refuses_big_images_before_decoding(tmp_path: Path):
    strict = dataclasses.replace(FAST, max_image_pixels=100 * 80)
    async with FaultServer() as server, ImageFetcher(strict, tmp_path) as fetcher:
        result = await fetcher.fetch(f"{server.base}/ok.jpg")
    assert result.image is None and "120x90 = 10,800 pixels, over iiif.max_image_pixels (8,000)" in result.error


async def test_connection_errors_are_retried_with_backoff(tmp_path: Path):
    async with FaultServer() as server:
        dead = server.base  # closed when the block ends
    settings = dataclasses.replace(FAST, retries=2, backoff_base_s=0.1)
    started = time.monotonic()
    async with ImageFetcher(settings, tmp_path) as fetcher:
        result = await fetcher.fetch(f"{dead}/gone.jpg")
    assert result.image is None and "connection failed" in result.error and result.attempts == 3
    assert time.monotonic() - started >= 0.1 * (0.5 + 1.0)  # two backoff waits with jitter


async def test_per_host_rate_limit(tmp_path: Path):
    paced = dataclasses.replace(FAST, requests_per_second=10.0, concurrency=8)
    async with FaultServer() as server, ImageFetcher(paced, tmp_path) as fetcher:
        started = time.monotonic()
        results = [r async for r in fetcher.fetch_many(f"{server.base}/ok{i}.jpg" for i in range(6))]
        elapsed = time.monotonic() - started
    assert all(r.ok for r in results) and elapsed >= 0.5  # 6 starts, 0.1 s apart


async def test_fetch_many_holds_a_bounded_number_of_images(tmp_path: Path):
    """With a slow consumer, requests started never run more than `concurrency` ahead of the
    results consumed: the fetcher does not pile up images nobody has taken yet."""
    bounded = dataclasses.replace(FAST, concurrency=3)
    consumed = 0
    async with FaultServer() as server, ImageFetcher(bounded, tmp_path) as fetcher:
        async for _ in fetcher.fetch_many(f"{server.base}/ok{i}.jpg" for i in range(12)):
            consumed += 1
            await asyncio.sleep(0.05)  # a slow consumer
            assert sum(server.hits.values()) <= consumed - 1 + 3
        assert consumed == 12 and sum(server.hits.values()) == 12


def test_extract_command_with_the_real_iiif_server(iiif_server: IIIFServer):
    from vignett.cli import main

    mets = ULB / "148811035" / "mets.xml"
    result = CliRunner().invoke(main, ["extract", str(mets), "--iiif-base", iiif_server.base_url_v3,
                                       "--api-version", "3", "--size", "256"], env={"VIGNETT_CONFIG": ""})
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert "files 4, pages 3, elements 13, dropped 1, errors 0" in result.stderr
    title = next(r for r in records if (r["page_id"], r["element_id"]) == ("00000005", "cblock_2"))
    assert title["alto_page_size"] == [1980, 2339] and (title["page_width"], title["page_height"]) == (2164, 2448)
    assert title["iiif_url"] == f"{iiif_server.base_url_v3}/00000005/164,525,1507,432/!256,256/0/default.jpg"
    assert httpx.get(title["iiif_url"]).status_code == 200
