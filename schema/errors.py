"""Every GraphQL error leaves with `extensions.code`: from the resolvers' ApiError, from the
query limits, from parsing and validation, or INTERNAL_SERVER_ERROR (details only in the log)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from graphql import GraphQLError

from vignett.resolvers import ApiError

log = logging.getLogger("vignett.api")

# Messages of Strawberry's QueryDepthLimiter, MaxAliasesLimiter and graphql-core's max_tokens.
_LIMIT_MESSAGES = re.compile(
    r"exceeds maximum operation depth|aliases found\. Allowed|Document contains more than \d+ tokens"
)


def error_code(error: GraphQLError) -> str:
    original = error.original_error
    if isinstance(original, ApiError):
        return original.code
    if original is None:
        if _LIMIT_MESSAGES.search(error.message):
            return "QUERY_TOO_COMPLEX"
        if error.message.startswith("Syntax Error"):
            return "GRAPHQL_PARSE_FAILED"
        return "GRAPHQL_VALIDATION_FAILED"
    return "INTERNAL_SERVER_ERROR"


def tag_errors(errors: Iterable[GraphQLError] | None) -> None:
    """Set extensions.code on each error; hide unexpected exceptions' text from clients."""
    for error in errors or ():
        code = (error.extensions or {}).get("code") or error_code(error)
        if code == "INTERNAL_SERVER_ERROR" and error.original_error is not None:
            log.error("unexpected error in %s", error.path, exc_info=error.original_error)
            error.message = (
                f"internal error ({type(error.original_error).__name__}); the server log has the details"
            )
        error.extensions = {**(error.extensions or {}), "code": code}
