"""`vignett eval`: measure search quality from the outside, through the public GraphQL API."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


@click.group("eval")
def eval() -> None:  # noqa: A001 - the command is called `eval`
    """Evaluate a running vignett API (nothing here touches Elasticsearch directly)."""


@eval.command("retrieval")
@click.option("--api", "api_url", required=True, help="Base URL of a running `vignett serve`, e.g. http://localhost:8000.")
@click.option("--images", "images_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Targets from the image folder that was ingested (document ids are derived from paths "
                   "relative to it).")
@click.option("--index", "from_index", is_flag=True,
              help="Targets from the index itself: documents listed through the API (the first 10,000) and "
                   "fetched from their IIIF URLs.")
@click.option("--models", "models_csv", default="clip", show_default=True, help="Comma-separated models to query.")
@click.option("--n", "n", type=int, default=None, help="Sample this many targets (default: all unique images).")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same transforms and ranks.")
@click.option("--size", "iiif_size", type=int, default=512, show_default=True,
              help="With --index: fetch each target at this many pixels on the longer side (as ingest does).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("eval-retrieval"),
              show_default=True, help="Folder for summary.json and queries.csv.")
@click.option("--timeout", "timeout_s", type=float, default=120.0, show_default=True, help="Per-request timeout (s).")
def retrieval(api_url: str, images_dir: Path | None, from_index: bool, models_csv: str, n: int | None, seed: int,
              iiif_size: int, out_dir: Path, timeout_s: float) -> None:
    """Exact retrieval: degrade each target, search by upload, report Top-1/5/10/50.

    Targets come from an ingested image folder (--images DIR) or from the index (--index).
    Conditions: the combined degradation (rotation ±10°, crop ≤15 % per side, x/y scale
    0.8-1.2) and each part alone, plus JPEG quality 30 alone, to show what hurts.
    """
    import httpx

    from vignett.evaluation.retrieval import (
        ApiError, format_table, run_evaluation, summarise, summary_json, write_csv,
    )
    from vignett.evaluation.targets import TargetError, folder_targets, index_targets

    if (images_dir is None) == (not from_index):
        raise click.UsageError("give exactly one target source: --images DIR or --index")
    models = [m.strip().lower() for m in models_csv.split(",") if m.strip()]
    try:
        with httpx.Client(base_url=api_url.rstrip("/"), timeout=timeout_s) as client:
            target_set = (index_targets(client, n, seed, iiif_size) if from_index
                          else folder_targets(images_dir, n, seed))
            if not target_set.targets:
                raise click.ClickException(f"no targets: no images under {images_dir}" if images_dir
                                           else "no targets: --n 0 or nothing listed from the index")
            click.echo(f"{target_set.found} {'documents listed' if from_index else 'files'}, "
                       f"{target_set.unique_by_content} distinct pictures ({target_set.dedup}); "
                       f"{len(target_set.targets)} targets, seed {seed}", err=True)
            done = [0]

            def progress(_target) -> None:
                done[0] += 1
                click.echo(f"\r{done[0]}/{len(target_set.targets)} targets", nl=False, err=True)

            records = run_evaluation(client, target_set.targets, models, seed, progress=progress)
    except TargetError as exc:
        raise click.ClickException(str(exc)) from None
    except (ApiError, httpx.HTTPError) as exc:
        raise click.ClickException(f"API query failed: {exc}") from None
    click.echo("", err=True)
    summaries = summarise(records)
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = summary_json(summaries, target_set, seed, models)
    (out_dir / "summary.json").write_text(json.dumps(payload, indent=2))
    write_csv(records, out_dir / "queries.csv")
    click.echo(format_table(summaries))
    with_copies = payload["protocol"]["targets_with_copies"]
    click.echo(f"copies by content ({target_set.dedup}): {target_set.duplicates_dropped} pictures are a copy of "
               f"another; {with_copies} targets have more than one indexed copy")
    click.echo(f"wrote {out_dir / 'summary.json'} and {out_dir / 'queries.csv'}", err=True)
    sys.stdout.flush()
