"""`vignett models list|download`: which embedders exist, whether their weights are here, fetch them."""

from __future__ import annotations

import json
import time

import click

from vignett.config import Settings, load_settings
from vignett.models import EMBEDDER_SPECS, EmbedderError
from vignett.models.weights import download_weights, weights_status


def _settings(ctx: click.Context) -> Settings:
    obj = ctx.find_root().obj
    return obj["settings"] if obj and "settings" in obj else load_settings()


@click.group("models")
def models() -> None:
    """The embedders (vit, clip, siglip, phash) and their pretrained weights."""


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per model instead of a table.")
@click.pass_context
def models_list(ctx: click.Context, as_json: bool) -> None:
    """Name, vector size and whether the pretrained weights are on this machine (and where)."""
    settings = _settings(ctx)
    rows = []
    for spec in EMBEDDER_SPECS.values():
        status = weights_status(spec, settings.models.weights_dir)
        if not status.needs_weights:
            where = "no weights needed"
        elif status.location is not None:
            where = f"found {status.location.weights_file}"
        else:
            where = "missing (looked in " + ", ".join(str(p) for p in status.searched) + ")"
        rows.append({
            "name": spec.name,
            "dim": spec.dim,
            "element_type": spec.element_type,
            "text": spec.multimodal,
            "source": spec.hub.repo_id if spec.hub else "imagehash",
            "enabled": spec.name in settings.models.enabled,
            "weights": "found" if status.found else "missing",
            "where": where,
        })
    if as_json:
        for row in rows:
            click.echo(json.dumps(row))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("name", "dims", "text", "source", "weights")
    for row in rows:
        dims = f"{row['dim']} {row['element_type']}"
        table.add_row(row["name"], dims, "yes" if row["text"] else "", row["source"], row["where"])
    Console(width=160).print(table)


@models.command("download")
@click.argument("names", nargs=-1, type=click.Choice([n for n, s in EMBEDDER_SPECS.items() if s.hub]))
@click.option(
    "--weights-dir",
    type=click.Path(file_okay=False),
    help="Folder to fill (default: models.weights_dir, else the Hugging Face hub cache).",
)
@click.option(
    "--timeout",
    type=float,
    help="Seconds to wait for the model hub before giving up (default: models.download_timeout_s).",
)
@click.pass_context
def models_download(
    ctx: click.Context, names: tuple[str, ...], weights_dir: str | None, timeout: float | None
) -> None:
    """Fetch pretrained weights (all models, or NAMES) on a machine with network access.

    Uses timm's and open_clip's own download code; the folder can then be copied to an
    offline machine and named there as models.weights_dir.
    """
    settings = _settings(ctx)
    target = weights_dir or settings.models.weights_dir or None
    timeout_s = timeout if timeout is not None else settings.models.download_timeout_s
    chosen = names or tuple(n for n, s in EMBEDDER_SPECS.items() if s.hub)
    for name in chosen:
        started = time.monotonic()
        try:
            located = download_weights(EMBEDDER_SPECS[name], target, timeout_s)
        except EmbedderError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"{name}: {located.weights_file} ({time.monotonic() - started:.0f} s)")
