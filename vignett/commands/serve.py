"""`vignett serve`: the GraphQL API (GraphiQL at /graphql), /healthz, /readyz and the static client."""

from __future__ import annotations

import click

from vignett.config import Settings


@click.command("serve")
@click.option("--host", default=None, help="Interface to bind (default: api.host, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to listen on (default: api.port, 8000).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]), help="uvicorn log level.")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, log_level: str) -> None:
    """Serve the GraphQL API. Starts without Elasticsearch (then /readyz says 503 until it answers)."""
    import uvicorn

    from vignett.web import create_app

    settings: Settings = ctx.obj["settings"]
    try:
        app = create_app(settings)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    host = host or settings.api.host
    port = settings.api.port if port is None else port
    click.echo(f"vignett: GraphQL at http://{host}:{port}/graphql", err=True)
    uvicorn.run(app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=5)
