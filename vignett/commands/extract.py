"""`vignett extract`: list the graphical elements of ALTO files (and METS books) as JSON lines."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import click
import httpx

from vignett.config import Settings
from vignett.indexing.alto import AltoPage, AltoParseError, iter_alto_pages
from vignett.indexing.iiif import IIIFError, ImageInfo, fetch_info, iiif_region_url, scale_element
from vignett.indexing.mets import MetsError, read_mets

INFO_BATCH = 64  # pages whose info.json are read together (bounded memory, some parallelism)


@dataclass
class Summary:
    files: int = 0
    pages: int = 0
    elements: int = 0
    dropped: int = 0
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (f"files {self.files}, pages {self.pages}, elements {self.elements}, "
                f"dropped {self.dropped}, errors {len(self.errors)}")


def _is_mets(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(4096)
    return b"<mets:mets" in head or b"<mets " in head or b"<mets>" in head


def _xml_files(paths: tuple[str, ...]) -> list[Path]:
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        found.extend(sorted(path.rglob("*.xml")) if path.is_dir() else [path])
    return found


def _pages(files: list[Path], settings: Settings, summary: Summary) -> Iterator[AltoPage]:
    """Pages of all files; METS books first so their ALTO files get the image's identifier."""
    mets_files = [f for f in files if f.is_file() and _is_mets(f)]
    seen: set[Path] = set()
    jobs: list[tuple[Path, str | None]] = []
    for mets in mets_files:
        summary.files += 1
        try:
            for page in read_mets(mets):
                if page.alto_path is not None and page.alto_path.resolve() not in seen:
                    seen.add(page.alto_path.resolve())
                    jobs.append((page.alto_path, page.image_id or None))
        except MetsError as exc:
            summary.errors.append(str(exc))
    for path in files:
        if path in mets_files or path.resolve() in seen:
            continue
        jobs.append((path, None))
    for path, page_id in jobs:
        summary.files += 1
        try:
            yield from iter_alto_pages(path, settings.alto, page_id=page_id)
        except AltoParseError as exc:
            summary.errors.append(str(exc))


async def _infos(base: str, page_ids: list[str], settings: Settings) -> dict[str, ImageInfo | str]:
    limit = asyncio.Semaphore(max(settings.iiif.concurrency, 1))
    async with httpx.AsyncClient(timeout=settings.iiif.timeout_s, follow_redirects=True) as client:

        async def one(page_id: str) -> ImageInfo | str:
            async with limit:
                try:
                    return await fetch_info(client, base, page_id)
                except IIIFError as exc:
                    return str(exc)

        results = await asyncio.gather(*(one(p) for p in page_ids))
    return dict(zip(page_ids, results))


def _write_batch(pages: list[AltoPage], out: IO[str], opts: dict, settings: Settings, summary: Summary) -> None:
    base = opts["iiif_base"]
    wanted = sorted({p.page_id for p in pages if p.elements})
    infos = asyncio.run(_infos(base, wanted, settings)) if base and wanted else {}
    for page in pages:
        info = infos.get(page.page_id)
        if isinstance(info, str):
            summary.errors.append(f"{page.source}: {info}")
        for element in page.elements:
            record = dataclasses.asdict(element)
            if not opts["page_text"]:
                record.pop("page_text")
            if isinstance(info, ImageInfo):
                scaled = scale_element(element, info.width, info.height)
                record["alto_page_size"] = [element.page_width, element.page_height]
                record.update(bbox=dataclasses.asdict(scaled.bbox), page_width=info.width, page_height=info.height)
                record["iiif_url"] = iiif_region_url(
                    base, page.page_id, scaled.bbox, opts["size"], version=opts["api_version"],
                    page_width=info.width, page_height=info.height,
                )
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


@click.command("extract")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--iiif-base", default=None, help="IIIF Image API base URL: read each page's info.json, "
              "scale boxes to the served image and add an iiif_url (page id = IIIF identifier).")
@click.option("--api-version", type=click.Choice(["2", "3"]), default=None,
              help="IIIF Image API version of --iiif-base (default: iiif.api_version).")
@click.option("--size", type=int, default=None, help="Fit the iiif_url crops within SIZE x SIZE (default: full size).")
@click.option("-o", "--output", type=click.File("w", encoding="utf-8"), default="-",
              help="Write JSON lines here (default: standard output).")
@click.option("--page-text/--no-page-text", default=False, help="Include the page's text in every record.")
@click.pass_context
def extract(ctx: click.Context, paths: tuple[str, ...], iiif_base: str | None, api_version: str | None,
            size: int | None, output: IO[str], page_text: bool) -> None:
    """Print the graphical elements found in ALTO files as JSON lines, then a summary.

    PATHS are ALTO files, METS files (their pages' ALTO files are read with the image's id as
    page id) or folders searched for *.xml. A file that cannot be read, or a page whose
    info.json cannot be read (its elements are then written without iiif_url), is reported on
    standard error and counted; the exit code is 1 when there was any error.
    """
    settings: Settings = ctx.obj["settings"]
    opts = {"iiif_base": iiif_base, "api_version": api_version or settings.iiif.api_version,
            "size": size, "page_text": page_text}
    summary = Summary()
    batch: list[AltoPage] = []
    for page in _pages(_xml_files(paths), settings, summary):
        summary.pages += 1
        summary.elements += len(page.elements)
        summary.dropped += len(page.dropped)
        batch.append(page)
        if len(batch) >= INFO_BATCH:
            _write_batch(batch, output, opts, settings, summary)
            batch = []
    _write_batch(batch, output, opts, settings, summary)
    output.flush()
    for error in summary.errors:
        click.echo(f"error: {error}", err=True)
    click.echo(summary.line(), err=True)
    if summary.errors:
        ctx.exit(1)
