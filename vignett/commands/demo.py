"""`vignett demo`: the README's main job in one command.

Starts Elasticsearch (unless `es.url` is set), serves a sample of ../shared/data through a
real IIIF server (the `iiif` reference implementation), ingests it, and serves the app.
Pretrained weights are used when all are present; otherwise random weights, announced loudly.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import click
import httpx

from vignett.config import Settings

# (folder under shared/data/images, how many pictures of it the demo takes)
IMAGE_SETS = (
    ("chr24-nln", 60), ("nls-chapbooks", 60), ("blank-margins", 40),
    ("ulb-alto-crops", 40), ("openclipart-outofdomain", 46),
)
# Real ALTO files with the page scans they describe (ALTO stem -> scan).
ALTO_PAIRS = {
    "1981185920_88120/1981185920_88120_00000010.xml": "1981185920_88120/1981185920_88120_00000010.jpg",
    "148811035/FULLTEXT/320805.xml": "148811035/MAX/00000005.jpg",
    "148811035/FULLTEXT/320807.xml": "148811035/MAX/00000007.jpg",
    "148811035/FULLTEXT/320809.xml": "148811035/MAX/00000008.jpg",
}


@click.command("demo")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The shared data folder (default: ../shared/data beside the checkout).")
@click.option("--weights", type=click.Choice(["auto", "pretrained", "random"]), default="auto",
              show_default=True, help="auto: pretrained when every network's weights are present, else random.")
@click.option("--port", type=int, default=None, help="Port for the app (default: api.port).")
@click.option("--no-serve", is_flag=True, help="Ingest only; do not start the app.")
@click.pass_context
def demo(ctx: click.Context, data_dir: Path | None, weights: str, port: int | None, no_serve: bool) -> None:
    """Index a sample collection from the shared data and serve the app on it."""
    settings: Settings = ctx.obj["settings"]
    data_dir = data_dir or Path(__file__).resolve().parents[2].parent / "shared" / "data"
    if not (data_dir / "images").is_dir():
        raise click.ClickException(f"no sample data at {data_dir}: pass --data DIR (the shared/data folder)")
    weights = _choose_weights(settings, weights)
    settings = dataclasses.replace(settings, models=dataclasses.replace(settings.models, weights=weights))
    _ensure_elasticsearch(settings)
    workdir = settings.paths.resolved_cache_dir() / "demo"
    images, alto, iiif_dir = _link_sample(data_dir, workdir)
    iiif = _start_iiif_server(iiif_dir, workdir / "iiif.log")
    try:
        base = f"{iiif}/2.1_pil"
        click.echo(f"IIIF reference server on {iiif} serving {len(list(iiif_dir.iterdir()))} images", err=True)
        _ingest(ctx, settings, [images, alto], base)
        if not no_serve:
            from vignett.commands.serve import serve

            ctx.obj["settings"] = settings
            ctx.invoke(serve, host=None, port=port, log_level="info")
    finally:
        while _IIIF_PROCESSES:
            process = _IIIF_PROCESSES.pop()
            process.terminate()
            process.wait(timeout=10)


def _choose_weights(settings: Settings, wanted: str) -> str:
    from vignett.models.specs import EMBEDDER_SPECS
    from vignett.models.weights import weights_status

    if wanted != "auto":
        return wanted
    statuses = [weights_status(spec, settings.models.weights_dir) for spec in EMBEDDER_SPECS.values()]
    if all(s.location is not None for s in statuses if s.needs_weights):
        return "pretrained"
    click.secho(
        "\n" + "!" * 78 + "\n! No pretrained weights found: the demo runs ViT, CLIP and SigLIP with RANDOM\n"
        "! weights. Search works end to end but results are not semantically meaningful.\n"
        "! Get real weights on a connected machine: `vignett models download`.\n" + "!" * 78 + "\n",
        err=True, fg="yellow", bold=True,
    )
    return "random"


def _ensure_elasticsearch(settings: Settings) -> None:
    from vignett.indexing.es_client import connect
    from vignett.indexing.es_local import LocalNodeError, start_node
    from vignett.indexing.index import ensure_index

    if not settings.es.url:
        try:
            start_node(settings, log=lambda m: click.echo(m, err=True))
        except LocalNodeError as exc:
            raise click.ClickException(str(exc)) from None
    ensure_index(connect(settings), settings.index)


def _link_sample(data_dir: Path, workdir: Path) -> tuple[Path, Path, Path]:
    """Symlink the sample into ingestable folders and one flat folder the IIIF server reads."""
    if workdir.exists():
        shutil.rmtree(workdir / "images", ignore_errors=True)
        shutil.rmtree(workdir / "alto", ignore_errors=True)
        shutil.rmtree(workdir / "iiif", ignore_errors=True)
    images, alto, iiif = workdir / "images", workdir / "alto", workdir / "iiif"
    for folder in (images, alto, iiif):
        folder.mkdir(parents=True, exist_ok=True)
    for name, count in IMAGE_SETS:
        book = images / name
        book.mkdir()
        for path in sorted((data_dir / "images" / name).glob("*.jpg"))[:count]:
            identifier = f"{name}-{path.stem}"
            (book / f"{identifier}.jpg").symlink_to(path)
            (iiif / f"{identifier}.jpg").symlink_to(path)
    derivans = data_dir / "alto" / "ulb-digital-derivans"
    for alto_rel, scan_rel in ALTO_PAIRS.items():
        alto_path, scan = derivans / alto_rel, derivans / scan_rel
        if alto_path.exists() and scan.exists():
            (alto / alto_path.name).symlink_to(alto_path)
            (iiif / f"{alto_path.stem}.jpg").symlink_to(scan)
    return images, alto, iiif


_IIIF_PROCESSES: list[subprocess.Popen] = []


def _start_iiif_server(image_dir: Path, log_path: Path) -> str:
    script = Path(sys.executable).with_name("iiif_testserver.py")
    if not script.exists():
        raise click.ClickException("the IIIF reference server is missing: pip install iiif")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, str(script), "--image-dir", str(image_dir), "--host", "127.0.0.1",
         "--port", str(port), "--api-versions", "2.1,3.0", "--manipulators", "pil", "--quiet"],
        cwd=image_dir.parent, stdout=log_path.open("wb"), stderr=subprocess.STDOUT,
    )
    _IIIF_PROCESSES.append(process)
    root = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if httpx.get(root + "/", timeout=1).status_code == 200:
                return root
        except httpx.HTTPError:
            time.sleep(0.2)
    raise click.ClickException(f"the IIIF server did not start; see {log_path}")


def _ingest(ctx: click.Context, settings: Settings, sources: list[Path], iiif_base: str) -> None:
    from vignett.commands.ingest import _format_summary, _load_classifier, _load_embedders
    from vignett.indexing.es_client import connect
    from vignett.indexing.ingest import Ingest, IngestRequest
    from vignett.indexing.progress import IngestProgress

    models = settings.models.enabled
    embedders = _load_embedders(settings, tuple(models), settings.models.weights)
    request = IngestRequest(sources=sources, models=tuple(models), iiif_base=iiif_base, iiif_version="2")
    run = Ingest(settings, request, connect(settings), embedders, classifier=_load_classifier(settings))
    files = run.discover()
    with IngestProgress(total_files=len(files), stream=sys.stderr) as progress:
        run.progress = progress.update
        summary = asyncio.run(run.run(files))
    click.echo(_format_summary(summary.to_dict()), err=True)
