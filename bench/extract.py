"""Extraction and fetch throughput: ALTO parsing over the shared ALTO set (and one synthetic
50 MB file), and IIIF crop fetching from the real IIIF reference server on 127.0.0.1.

    .venv/bin/python bench/extract.py [--repeats 3] [--requests 96]

Prints the numbers and writes them to results/bench-extract.json.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # for tests.iiif_server (the real server's start/stop helper)

from tests.iiif_server import PAGE_SCANS, ULB, start_iiif_server  # noqa: E402
from tests.support import SHARED_DATA, isolated_env  # noqa: E402
from vignett.config import load_settings  # noqa: E402
from vignett.indexing.alto import AltoParseError, iter_alto_pages, parse_alto  # noqa: E402
from vignett.indexing.fetch import ImageFetcher  # noqa: E402
from vignett.indexing.iiif import BBox, fetch_info_sync, iiif_region_url, scale_element  # noqa: E402

SETTINGS = load_settings(env=isolated_env())


def bench_parse(repeats: int) -> dict:
    files = sorted((SHARED_DATA / "alto").rglob("*.xml"))
    size = sum(f.stat().st_size for f in files)
    pages = elements = dropped = errors = 0
    started = time.perf_counter()
    for _ in range(repeats):
        for path in files:
            try:
                for page in iter_alto_pages(path, SETTINGS.alto):
                    pages += 1
                    elements += len(page.elements)
                    dropped += len(page.dropped)
            except AltoParseError:
                errors += 1
    seconds = time.perf_counter() - started
    return {
        "files": len(files), "repeats": repeats, "bytes_per_pass": size, "seconds": round(seconds, 3),
        "pages_per_pass": pages // repeats, "elements_per_pass": elements // repeats,
        "dropped_per_pass": dropped // repeats, "errors_per_pass": errors // repeats,
        "elements_per_s": round(elements / seconds, 1), "pages_per_s": round(pages / seconds, 1),
        "mb_per_s": round(size * repeats / seconds / 1e6, 2),
    }


def bench_big_file() -> dict:
    """One synthetic 50 MB ALTO page (text-heavy, 100 pictures), parsed in a fresh process."""
    block = ('<TextBlock ID="b{i}" HPOS="{x}" VPOS="{y}" WIDTH="300" HEIGHT="40"><TextLine HPOS="{x}" VPOS="{y}" '
             'WIDTH="300" HEIGHT="40">' + '<String CONTENT="ordet" HPOS="1" VPOS="1" WIDTH="5" HEIGHT="5"/><SP/>' * 30
             + '</TextLine></TextBlock>')
    picture = '<Illustration ID="i{i}" HPOS="{x}" VPOS="{y}" WIDTH="400" HEIGHT="300"/>'
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.xml"
        with path.open("w") as out:
            out.write('<alto xmlns="http://www.loc.gov/standards/alto/ns-v4#"><Description><MeasurementUnit>pixel'
                      '</MeasurementUnit></Description><Layout><Page WIDTH="5000" HEIGHT="7000"><PrintSpace>')
            i = 0
            while out.tell() < 50_000_000:
                x, y = (i * 37) % 4500, (i * 53) % 6500
                out.write(block.format(i=i, x=x, y=y) + (picture.format(i=i, x=x, y=y) if i % 250 == 0 else ""))
                i += 1
            out.write("</PrintSpace></Page></Layout></alto>")
        # Resident-set peaks are unreliable on machines that reclaim memory proactively, so the
        # parse runs under an address-space limit of 64 MiB above what the imports use.
        probe = ("import resource, sys, time; from vignett.config import load_settings\n"
                 "from vignett.indexing.alto import parse_alto\ns = load_settings(env={}).alto\n"
                 "vsz = int(open('/proc/self/statm').read().split()[0]) * resource.getpagesize()\n"
                 "resource.setrlimit(resource.RLIMIT_AS, (vsz + 64 * 2**20, resource.RLIM_INFINITY))\n"
                 "t = time.perf_counter(); page = parse_alto(sys.argv[1], s)\n"
                 "print(len(page.elements), time.perf_counter() - t)\n")
        out = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True)
        if out.returncode != 0:
            return {"bytes": path.stat().st_size, "within_64mib_address_space": False, "error": out.stderr[-500:]}
        n, seconds = out.stdout.split()
        return {"bytes": path.stat().st_size, "elements": int(n), "seconds": round(float(seconds), 2),
                "mb_per_s": round(path.stat().st_size / float(seconds) / 1e6, 2),
                "within_64mib_address_space": True}


def _urls(base: str, version: str, requests: int) -> list[str]:
    """Crops of every ALTO element on the matched ULB pages (scaled to the served image), then
    random 300-900 px regions of the same scans, all at thumbnail size."""
    pages = [(ULB / "148811035/FULLTEXT/320805.xml", "00000005"), (ULB / "148811035/FULLTEXT/320807.xml", "00000007"),
             (ULB / "148811035/FULLTEXT/320809.xml", "00000008"),
             (ULB / "1981185920_88120/1981185920_88120_00000010.xml", "1981185920_88120_00000010")]
    size = SETTINGS.iiif.thumbnail_size
    urls, sizes = [], {}
    for alto, identifier in pages:
        info = fetch_info_sync(base, identifier)
        sizes[identifier] = (info.width, info.height)
        for element in parse_alto(alto, SETTINGS.alto, page_id=identifier).elements:
            scaled = scale_element(element, info.width, info.height)
            urls.append(iiif_region_url(base, identifier, scaled.bbox, size, version=version,
                                        page_width=info.width, page_height=info.height))
    rng = random.Random(0)
    while len(urls) < requests:
        identifier = rng.choice(sorted(sizes))
        w, h = sizes[identifier]
        bw, bh = rng.randint(300, 900), rng.randint(300, 900)
        box = BBox(rng.randint(0, w - bw), rng.randint(0, h - bh), bw, bh)
        urls.append(iiif_region_url(base, identifier, box, size, version=version, page_width=w, page_height=h))
    return urls[:requests]


async def _fetch_all(urls: list[str], concurrency: int, cache: Path) -> dict:
    settings = dataclasses.replace(SETTINGS.iiif, concurrency=concurrency, requests_per_second=0.0)
    started = time.perf_counter()
    async with ImageFetcher(settings, cache) as fetcher:
        results = [r async for r in fetcher.fetch_many(urls)]
    seconds = time.perf_counter() - started
    ok = [r for r in results if r.ok]
    return {"concurrency": concurrency, "requests": len(urls), "ok": len(ok), "failed": len(fetcher.failures),
            "from_cache": sum(r.from_cache for r in results), "seconds": round(seconds, 3),
            "images_per_s": round(len(ok) / seconds, 1),
            "mb_per_s": round(sum(r.nbytes for r in ok) / seconds / 1e6, 2)}


def bench_fetch(requests: int) -> list[dict]:
    runs = []
    with start_iiif_server(PAGE_SCANS) as server:
        for version in ("2", "3"):
            urls = _urls(server.base_url(version), version, requests)
            for concurrency in (1, 4, 8):
                with tempfile.TemporaryDirectory() as cache:
                    cold = asyncio.run(_fetch_all(urls, concurrency, Path(cache)))
                    warm = asyncio.run(_fetch_all(urls, concurrency, Path(cache)))
                runs.append({"api_version": version, "cold": cold, "warm_cache": warm})
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="passes over the shared ALTO set")
    parser.add_argument("--requests", type=int, default=48, help="crops per fetch run")
    parser.add_argument("--output", type=Path, default=REPO / "results" / "bench-extract.json")
    args = parser.parse_args()

    report = {"machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count(),
                          "platform": platform.platform()}}
    report["parse_shared_alto"] = parse = bench_parse(args.repeats)
    print(f"parse: {parse['files']} files, {parse['pages_per_pass']} pages, {parse['elements_per_pass']} elements "
          f"per pass; {parse['elements_per_s']} elements/s, {parse['pages_per_s']} pages/s, {parse['mb_per_s']} MB/s")
    report["parse_50mb_file"] = big = bench_big_file()
    if big["within_64mib_address_space"]:
        print(f"parse 50 MB file: {big['seconds']} s ({big['mb_per_s']} MB/s), {big['elements']} elements, "
              "within 64 MiB of address space above the imports")
    else:
        print(f"parse 50 MB file FAILED within 64 MiB of address space: {big['error']}")
    report["fetch_local_iiif"] = runs = bench_fetch(args.requests)
    for run in runs:
        cold, warm = run["cold"], run["warm_cache"]
        print(f"fetch IIIF {run['api_version']} x{cold['concurrency']}: cold {cold['images_per_s']} images/s "
              f"({cold['ok']}/{cold['requests']} ok, {cold['mb_per_s']} MB/s); "
              f"cached {warm['images_per_s']} images/s ({warm['from_cache']} from cache)")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
