"""`vignett ingest`: index ALTO collections or image folders (resumable, with progress)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import click

from vignett.config import Settings


@click.command("ingest")
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--models", "models_csv", default=None,
              help="Comma-separated embedders to run (default: models.enabled), e.g. vit,clip,siglip,phash.")
@click.option("--weights", type=click.Choice(["pretrained", "random"]), default=None,
              help="pretrained (default, from models.weights) or random: same networks, random "
                   "weights, for machines without the weights. Never chosen silently.")
@click.option("--iiif-base", default=None,
              help="IIIF Image API base URL that serves the page scans (default: iiif.base_url); "
                   "the page id is appended as identifier.")
@click.option("--iiif-version", type=click.Choice(["2", "3"]), default=None, help="IIIF Image API version.")
@click.option("--metadata", "metadata_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV or JSON with book_id,title,author,year,language.")
@click.option("--no-resume", is_flag=True, help="Redo files the checkpoint says are finished.")
@click.option("--summary-json", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the final summary as JSON to this file.")
@click.pass_context
def ingest(ctx, sources, models_csv, weights, iiif_base, iiif_version, metadata_file, no_resume, summary_json):
    """Index the pictures in SOURCES (ALTO files or folders of them, or image folders).

    Parse -> fetch through IIIF -> embed -> bulk upsert into the index alias. Document ids are
    stable (page id + region), finished files are checkpointed, so an interrupted run continues
    where it stopped and a second run changes nothing. One bad file never stops the run: it is
    listed with its reason in the summary.
    """
    from vignett.indexing.es_client import SearchBackendUnavailable, check_reachable, connect, elasticsearch_url
    from vignett.indexing.index import ensure_index
    from vignett.indexing.ingest import Ingest, IngestError, IngestRequest
    from vignett.indexing.sources import SourceError

    settings: Settings = ctx.obj["settings"]
    models = tuple(m.strip() for m in (models_csv.split(",") if models_csv else settings.models.enabled) if m.strip())
    weights = weights or settings.models.weights
    if weights == "random":
        click.secho("!" * 78 + "\n! RANDOM WEIGHTS: vectors are NOT meaningful for search quality; they exist to\n"
                    "! exercise the pipeline where pretrained weights are unavailable.\n" + "!" * 78,
                    err=True, fg="yellow")
    request = IngestRequest(
        sources=list(sources),
        models=models,
        iiif_base=iiif_base if iiif_base is not None else settings.iiif.base_url,
        iiif_version=iiif_version or settings.iiif.api_version,
        metadata_file=metadata_file,
        resume=not no_resume,
    )
    try:
        client = connect(settings)
        check_reachable(client, elasticsearch_url(settings))
        ensure_index(client, settings.index)
        embedders = _load_embedders(settings, models, weights)
        run = Ingest(settings, request, client, embedders, classifier=_load_classifier(settings))
        if run.classifier_skipped:
            click.secho("note: the current classifier needs the embedding it was trained on, which this "
                        "run does not compute; predicted classes are left as they are "
                        "(run `vignett classify apply` later)", err=True, fg="yellow")
        files = run.discover()
    except (SearchBackendUnavailable, IngestError, SourceError) as exc:
        raise click.ClickException(str(exc)) from None
    from vignett.indexing.progress import IngestProgress

    with IngestProgress(total_files=len(files), stream=sys.stderr) as progress:
        run.progress = progress.update
        summary = asyncio.run(run.run(files))
    report = summary.to_dict()
    click.echo(_format_summary(report))
    if summary_json:
        summary_json.write_text(json.dumps(report, indent=2))
    if summary.files_failed:
        ctx.exit(3)


def _load_embedders(settings: Settings, models: tuple[str, ...], weights: str) -> dict:
    from vignett.models import create_embedder
    from vignett.models.errors import WeightsNotAvailable

    embedders = {}
    for name in models:
        try:
            embedders[name] = create_embedder(
                name, weights=weights, device=settings.models.device,
                weights_dir=settings.models.weights_dir or None, batch_size=settings.models.batch_size,
            )
        except (WeightsNotAvailable, KeyError, ValueError) as exc:
            raise click.ClickException(str(exc)) from None
    return embedders


def _load_classifier(settings: Settings):
    """The current trained classifier, when one exists (see `vignett classify train`)."""
    try:
        from vignett.models.classifier import load_current_classifier
    except ImportError:
        return None
    return load_current_classifier(settings)


def _format_summary(report: dict) -> str:
    lines = [
        f"files: {report['files']} ({report['files_skipped_unchanged']} unchanged, skipped; "
        f"{report['files_failed']} with failures)",
        f"books: {report['books']}  elements: {report['elements']}  indexed: {report['indexed']}  "
        f"stale deleted: {report['deleted_stale']}",
    ]
    if report["dropped"]:
        lines.append("dropped: " + ", ".join(f"{k}: {v}" for k, v in report["dropped"].items()))
    for failure in report["failures"][:20]:
        lines.append(f"failed: {failure['what']}: {failure['reason']}")
    if len(report["failures"]) > 20:
        lines.append(f"... and {len(report['failures']) - 20} more failures (see --summary-json)")
    stages = ", ".join(f"{k} {v:.1f}s" for k, v in report["stage_seconds"].items())
    lines.append(f"time: {report['elapsed_s']:.1f}s ({stages}; stages overlap)")
    return "\n".join(lines)
