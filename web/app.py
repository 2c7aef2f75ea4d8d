"""`create_app(settings)`: the ASGI application `vignett serve` runs."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from vignett.config import Settings
from vignett.resolvers import VignettApi
from vignett.schema import build_schema

from .graphql_view import VignettGraphQL
from .limits import RequestLimits

STATIC_DIR = Path(__file__).with_name("static")
# Room for the multipart envelope and the other form fields around the image.
FORM_OVERHEAD_BYTES = 1_000_000


def create_app(settings: Settings, api: VignettApi | None = None) -> ASGIApp:
    api = api if api is not None else VignettApi(settings)
    graphql = VignettGraphQL(build_schema(settings.api), api, settings.api.request_timeout_s)

    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> JSONResponse:
        readiness = await api.readiness()
        body = {"status": "ready" if readiness.ready else "unavailable", "detail": readiness.detail,
                "index": readiness.index}
        return JSONResponse(body, status_code=200 if readiness.ready else 503)

    routes: list[BaseRoute] = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/graphql", graphql, methods=["GET", "POST"]),
    ]
    if (STATIC_DIR / "index.html").is_file():
        routes.append(Mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="static"))
    else:
        routes.append(Route("/", lambda _r: RedirectResponse("/graphql")))

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        api.close()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.api = api
    return RequestLimits(app, settings.api.max_upload_bytes + FORM_OVERHEAD_BYTES)
