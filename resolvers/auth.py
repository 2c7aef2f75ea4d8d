"""API keys for mutations. No key configured means mutations are switched off, not open."""

from __future__ import annotations

import hmac

from vignett.config import ApiSettings

from .errors import Forbidden, Unauthenticated

API_KEY_HEADER = "X-API-Key"


def require_api_key(provided: str | None, api: ApiSettings) -> None:
    if not api.api_keys:
        raise Forbidden(
            "mutations are disabled on this server: no API key is configured "
            "(set api.api_keys, e.g. VIGNETT_API_API_KEYS=some-long-secret)"
        )
    if not provided:
        raise Unauthenticated(f"this operation needs an API key in the {API_KEY_HEADER} header")
    # Constant-time comparison: the key is a secret.
    if not any(hmac.compare_digest(provided.encode(), key.encode()) for key in api.api_keys):
        raise Unauthenticated(f"the {API_KEY_HEADER} header does not carry a valid API key")
