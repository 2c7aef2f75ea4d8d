"""Opaque page cursors. A cursor is the 1-based position of a hit in its (stable) result list,
so a client can continue after any edge, not only the last one."""

from __future__ import annotations

import base64

from .errors import BadUserInput

_PREFIX = "vignett:"


def encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"{_PREFIX}{position}".encode()).decode()


def decode_cursor(cursor: str | None) -> int:
    """The number of hits before the page that starts after `cursor` (0 without one)."""
    if cursor is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        if not text.startswith(_PREFIX):
            raise ValueError(text)
        position = int(text[len(_PREFIX):])
    except (ValueError, UnicodeDecodeError):
        raise BadUserInput(
            f"`after` cursor {cursor!r} is not one this API issued; pass an edge's `cursor` "
            "or pageInfo.endCursor unchanged"
        ) from None
    if position < 0:
        raise BadUserInput(f"`after` cursor {cursor!r} is out of range")
    return position
