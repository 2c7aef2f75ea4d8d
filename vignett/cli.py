"""The `vignett` command line: a thin composition root over config, indexing and web."""

from __future__ import annotations

import json
import sys

import click

from vignett.config import Settings, SettingsError, load_settings


class CliError(click.ClickException):
    """An expected failure: printed as one clear message, exit code 1."""


def _settings(ctx: click.Context) -> Settings:
    return ctx.obj["settings"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="VIGNETT_CONFIG",
    help="A TOML settings file layered over the defaults (env: VIGNETT_CONFIG).",
)
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """vignett: find the pictures inside digitised books.

    Settings come from config/default.toml, an optional --config file and VIGNETT_<SECTION>_<KEY>
    environment variables (e.g. VIGNETT_ES_URL to use an existing cluster).
    """
    try:
        ctx.obj = {"settings": load_settings(config_path)}
    except SettingsError as exc:
        raise CliError(str(exc)) from None


@main.group()
def es() -> None:
    """Run the local single-node Elasticsearch (or report on the configured cluster)."""


@es.command("start")
@click.pass_context
def es_start(ctx: click.Context) -> None:
    """Provision and start a local node (reuses a running one); prints its URL."""
    from vignett.indexing.es_local import LocalNodeError, start_node

    settings = _settings(ctx)
    if settings.es.url:
        click.echo(f"es.url is set ({settings.es.url}): using that cluster, nothing to start.")
        return
    try:
        state = start_node(settings, log=lambda m: click.echo(m, err=True))
    except LocalNodeError as exc:
        raise CliError(str(exc)) from None
    click.echo(state.url)


@es.command("stop")
@click.pass_context
def es_stop(ctx: click.Context) -> None:
    """Stop the local node that `vignett es start` started (and nothing else)."""
    from vignett.indexing.es_local import stop_node

    settings = _settings(ctx)
    if settings.es.url:
        click.echo(f"es.url is set ({settings.es.url}): vignett did not start it and won't stop it.")
        return
    stop_node(settings, log=click.echo)


@es.command("status")
@click.pass_context
def es_status(ctx: click.Context) -> None:
    """Say whether Elasticsearch answers, with its URL and version. Exit 1 when it does not."""
    from vignett.indexing.es_client import SearchBackendUnavailable, check_reachable, connect
    from vignett.indexing.es_local import node_status

    settings = _settings(ctx)
    if settings.es.url:
        try:
            info = check_reachable(connect(settings), settings.es.url)
        except SearchBackendUnavailable as exc:
            raise CliError(str(exc)) from None
        click.echo(f"running (configured cluster) {settings.es.url} Elasticsearch {info.version}, status {info.status}")
        return
    state, info = node_status(settings)
    if state is None:
        raise CliError("not running: no local node recorded (run `vignett es start`)")
    if info is None:
        raise CliError(f"not running: the node recorded at {state.url} (pid {state.pid}) does not answer")
    vector_note = "" if state.vectorization else " (Lucene vectorisation off: JDK lacks jdk.incubator.vector)"
    click.echo(
        f"running {state.url} pid {state.pid} {info['product']} {info['version']['number']} "
        f"on Java {state.java_version} ({state.java_home}){vector_note}"
    )


@main.group()
def index() -> None:
    """Create and inspect the search index behind its alias."""


@index.command("create")
@click.pass_context
def index_create(ctx: click.Context) -> None:
    """Create the index and alias (idempotent; a changed mapping makes the next version)."""
    from vignett.indexing.es_client import SearchBackendUnavailable, connect, elasticsearch_url, check_reachable
    from vignett.indexing.index import IndexSetupError, ensure_index

    settings = _settings(ctx)
    try:
        client = connect(settings)
        check_reachable(client, elasticsearch_url(settings))
        status = ensure_index(client, settings.index)
    except (SearchBackendUnavailable, IndexSetupError) as exc:
        raise CliError(str(exc)) from None
    if status.created:
        moved = f" (alias moved from {status.previous})" if status.previous else ""
        click.echo(f"created {status.index} behind alias {status.alias}{moved}; context analyzer {status.context_analyzer}")
    else:
        click.echo(f"{status.alias} -> {status.index} already has this mapping; nothing to do")


@index.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def index_stats_command(ctx: click.Context, as_json: bool) -> None:
    """Documents per model vector, per class, per decade; size on disk and bytes per document."""
    from vignett.indexing.es_client import SearchBackendUnavailable, check_reachable, connect, elasticsearch_url
    from vignett.indexing.stats import index_stats

    settings = _settings(ctx)
    try:
        client = connect(settings)
        check_reachable(client, elasticsearch_url(settings))
        stats = index_stats(client, settings.index.alias)
    except SearchBackendUnavailable as exc:
        raise CliError(str(exc)) from None
    if stats.index is None:
        raise CliError(f"no index behind {stats.alias}: run `vignett index create` or `vignett ingest`")
    if as_json:
        payload = {**stats.__dict__, "bytes_per_document": round(stats.bytes_per_document, 1)}
        click.echo(json.dumps(payload, indent=2))
        return
    click.echo(f"{stats.alias} -> {stats.index}: {stats.documents} documents, "
               f"{stats.size_bytes / 1e6:.1f} MB on disk, {stats.bytes_per_document:,.0f} bytes/document")
    click.echo("vectors:  " + ", ".join(f"{k} {v}" for k, v in stats.per_model.items()))
    click.echo("classes:  " + ", ".join(f"{k} {v}" for k, v in stats.per_class.items()))
    click.echo("decades:  " + ", ".join(f"{k}s {v}" for k, v in stats.per_decade.items()))


def _register_commands() -> None:
    """Commands that live in their own modules under vignett/commands/ (one module per area)."""
    import importlib

    for module_name, attribute in COMMAND_MODULES:
        module = importlib.import_module(f"vignett.commands.{module_name}")
        main.add_command(getattr(module, attribute))


# (module under vignett/commands, click command or group in it)
COMMAND_MODULES: list[tuple[str, str]] = [
    ("serve", "serve"),
    ("ingest", "ingest"),
    ("schedule", "schedule"),
    ("demo", "demo"),
    ("models", "models"),
    ("extract", "extract"),
    ("classify", "classify"),
    ("eval", "eval"),
]

_register_commands()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
