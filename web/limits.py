"""HTTP-level limits in front of GraphQL: request body size and a CSRF guard for uploads.

The body limit runs before anything parses the request, so a 50 MB upload is refused with
413 while the server goes on answering. Multipart requests (uploads) are "simple" requests a
foreign web page could send, so they must carry a header a browser form cannot set.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PREFLIGHT_HEADERS = (b"graphql-require-preflight", b"apollo-require-preflight", b"x-apollo-operation-name")
# Bodies up to this many times the limit are read and dropped before answering, so the
# client sees the 413 instead of a reset connection; larger ones are cut off.
DRAIN_FACTOR = 8


class BodyTooLarge(Exception):
    pass


async def send_error(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class RequestLimits:
    """ASGI middleware: 413 for bodies over `max_body_bytes`, 400 for multipart without a preflight header."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        if headers.get(b"content-type", b"").startswith(b"multipart/") and not any(h in headers for h in PREFLIGHT_HEADERS):
            await send_error(send, 400, "BAD_REQUEST",
                             "multipart requests need a `GraphQL-Require-Preflight: 1` header (CSRF protection)")
            return
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            if int(declared) <= DRAIN_FACTOR * self.max_body_bytes:
                await _drain(receive)
            await send_error(send, 413, "PAYLOAD_TOO_LARGE", self._message(int(declared)))
            return
        await self._guarded(scope, receive, send)

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Counts a body sent without Content-Length (chunked) and stops it at the limit."""
        seen, started = 0, False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    raise BodyTooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await send_error(send, 413, "PAYLOAD_TOO_LARGE", self._message(seen))

    def _message(self, size: int) -> str:
        return (f"request body of {size:,} bytes is over the limit of {self.max_body_bytes:,} "
                "(api.max_upload_bytes plus room for the form); send a smaller image")


async def _drain(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return
