"""`vignett schedule`: run the configured jobs until interrupted."""

from __future__ import annotations

import logging
import signal
import threading

import click

from vignett.config import Settings


@click.command("schedule")
@click.option("--watch", "watch", multiple=True, type=click.Path(file_okay=False),
              help="A folder to re-scan (repeatable; default: schedule.watch).")
@click.option("--interval", "interval_s", type=float, default=None,
              help="Seconds between runs (default: schedule.interval_s).")
@click.pass_context
def schedule(ctx: click.Context, watch: tuple[str, ...], interval_s: float | None) -> None:
    """Ingest new or changed files from watched folders every N seconds, and re-apply the
    classifier after a retrain. A failing run is logged and the next one runs as planned."""
    import dataclasses

    from vignett.commands.ingest import _load_classifier, _load_embedders
    from vignett.indexing.es_client import connect
    from vignett.indexing.index import ensure_index
    from vignett.indexing.ingest import Ingest, IngestRequest
    from vignett.indexing.scheduler import ScheduledJobs

    settings: Settings = ctx.obj["settings"]
    plan = settings.schedule
    plan = dataclasses.replace(plan, watch=watch or plan.watch, interval_s=interval_s or plan.interval_s)
    settings = dataclasses.replace(settings, schedule=plan)
    if not plan.watch:
        raise click.ClickException("nothing to watch: pass --watch DIR or set schedule.watch")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    models = plan.models or settings.models.enabled
    weights = plan.weights or settings.models.weights
    embedders = _load_embedders(settings, tuple(models), weights)
    client = connect(settings)

    def make_ingest(folders):
        ensure_index(client, settings.index)
        request = IngestRequest(sources=folders, models=tuple(models),
                                iiif_base=plan.iiif_base or settings.iiif.base_url,
                                iiif_version=settings.iiif.api_version)
        return Ingest(settings, request, client, embedders, classifier=_load_classifier(settings))

    jobs = ScheduledJobs(settings, make_ingest, reapply=_reapply_hook(settings, client))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    jobs.start()
    click.echo(f"watching {', '.join(plan.watch)} every {plan.interval_s:g}s; Ctrl-C stops", err=True)
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        jobs.shutdown()


def _reapply_hook(settings: Settings, client):
    """Re-apply the classifier when a new model was trained (None without the classifier)."""
    try:
        from vignett.indexing.classify_apply import reapply_if_new_model
    except ImportError:
        return None
    return lambda: reapply_if_new_model(settings, client)
