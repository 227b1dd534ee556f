"""Pure ASGI middleware: security headers on every answer, and a cap on request bodies."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tocsin.errors import error_body

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


# A path that speaks someone else's contract answers its refusals in that contract's shape:
# path -> (status, message) -> body.
RefusalShapes = Mapping[str, Callable[[int, str], dict[str, Any]]]


class BodyLimit:
    """Refuses bodies over `max_bytes` with 413 before anything reads them."""

    def __init__(
        self, app: ASGIApp, max_bytes: int = 1_000_000, shapes: RefusalShapes | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.shapes = shapes or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        declared = int(length) if length and length.isdigit() else None
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        try:
            await self.app(scope, counting_receive, send)
        except BodyTooLarge:
            await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        message = f"The request body is over {self.max_bytes} bytes."
        shape = self.shapes.get(scope["path"])
        content = shape(413, message) if shape else error_body("too_large", message)
        body = json.dumps(content).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class BodyTooLarge(HTTPException):
    """An HTTP error, so FastAPI passes it on while reading a body instead of making it a 400."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"The request body is over {max_bytes} bytes.")
