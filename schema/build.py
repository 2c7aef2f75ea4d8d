"""The Schema: root types, limits (Strawberry's own extensions) and error codes."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.types import ExecutionResult

from vignett.config import ApiSettings

from .errors import tag_errors
from .mutation import Mutation
from .query import Query


class VignettSchema(strawberry.Schema):
    """A Strawberry schema whose results always carry `extensions.code` on errors."""

    async def execute(self, *args: Any, **kwargs: Any) -> ExecutionResult:  # type: ignore[override]
        result = await super().execute(*args, **kwargs)
        tag_errors(result.errors)
        return result

    def execute_sync(self, *args: Any, **kwargs: Any) -> ExecutionResult:  # type: ignore[override]
        result = super().execute_sync(*args, **kwargs)
        tag_errors(result.errors)
        return result


def build_schema(api: ApiSettings | None = None) -> VignettSchema:
    """The schema with the query limits from `api` (None: no limits, e.g. to export the SDL)."""
    extensions: list[Any] = []
    if api is not None:
        # Factories, so every request gets fresh extension instances.
        extensions = [
            lambda: QueryDepthLimiter(max_depth=api.max_depth),
            lambda: MaxAliasesLimiter(max_alias_count=api.max_aliases),
            lambda: MaxTokensLimiter(max_token_count=api.max_tokens),
        ]
    return VignettSchema(query=Query, mutation=Mutation, extensions=extensions)
