"""The errors the API layers raise on purpose, each with a stable machine-readable `code`.

The schema layer copies `code` into the GraphQL error's `extensions.code`; the message is
written for a developer: what was wrong and what to send instead.
"""

from __future__ import annotations


class ApiError(Exception):
    """Base class: an expected failure a client can act on."""

    code = "INTERNAL_SERVER_ERROR"


class BadUserInput(ApiError):
    """An argument is missing, malformed, out of range or contradicts another one."""

    code = "BAD_USER_INPUT"


class NotFound(ApiError):
    """The id names nothing in the index."""

    code = "NOT_FOUND"


class Unauthenticated(ApiError):
    """A protected operation came without a valid API key."""

    code = "UNAUTHENTICATED"


class Forbidden(ApiError):
    """The operation is switched off by configuration (no API keys, host not allowed)."""

    code = "FORBIDDEN"


class PayloadTooLarge(ApiError):
    """An uploaded or fetched image is larger than the configured limit."""

    code = "PAYLOAD_TOO_LARGE"


class SearchBackendUnavailable(ApiError):
    """Elasticsearch does not answer, or the index is missing."""

    code = "SEARCH_BACKEND_UNAVAILABLE"


class ModelUnavailable(ApiError):
    """The embedder a query needs cannot be built here (weights or code missing)."""

    code = "MODEL_UNAVAILABLE"


class IngestUnavailable(ApiError):
    """No ingest runner is installed in this server."""

    code = "INGEST_UNAVAILABLE"


class UpstreamImageError(ApiError):
    """An `imageUrl` could not be fetched from its (allowed) host."""

    code = "IMAGE_FETCH_FAILED"
