"""Strawberry's ASGI GraphQL view with vignett's context (API key header) and a time limit."""

from __future__ import annotations

import asyncio
from typing import Any

from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from strawberry.asgi import GraphQL
from strawberry.types import ExecutionResult

from vignett.resolvers import VignettApi
from vignett.resolvers.auth import API_KEY_HEADER
from vignett.schema import ApiContext, VignettSchema


class VignettGraphQL(GraphQL):
    def __init__(self, schema: VignettSchema, api: VignettApi, timeout_s: float) -> None:
        super().__init__(schema, graphql_ide="graphiql", multipart_uploads_enabled=True)
        self.api = api
        self.timeout_s = timeout_s

    async def get_context(self, request: Any, response: Response | None = None) -> ApiContext:
        key = request.headers.get(API_KEY_HEADER) if isinstance(request, Request) else None
        return ApiContext(api=self.api, api_key=key)

    async def execute_operation(self, *args: Any, **kwargs: Any) -> Any:
        """The whole operation within api.request_timeout_s, else a TIMEOUT error."""
        try:
            return await asyncio.wait_for(super().execute_operation(*args, **kwargs), self.timeout_s)
        except TimeoutError:
            message = (f"the request took longer than {self.timeout_s:g} s (api.request_timeout_s); "
                       "ask for fewer results or a smaller k")
            return ExecutionResult(data=None, errors=[GraphQLError(message, extensions={"code": "TIMEOUT"})])
