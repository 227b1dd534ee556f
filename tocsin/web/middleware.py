"""Pure ASGI middleware: security headers on every answer, and a cap on request bodies."""

from __future__ import annotations

import base64
import json
import os
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


CSP_NONCE = "csp_nonce"  # request.state.csp_nonce: for a <script nonce="..."> that must stay inline


def content_security_policy(nonce: str) -> bytes:
    """Only Tocsin's own files run as script (inline script only with this answer's nonce; no
    inline handlers, no javascript: links); no plugins, no <base>, no framing, and forms post
    only to Tocsin. Inline style attributes stay allowed: they cannot run code."""
    return (
        "default-src 'self'; "
        f"script-src 'self' 'nonce-{nonce}'; "
        "style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; "
        "object-src 'none'; "
        "base-uri 'none'; "
        "frame-ancestors 'none'; "
        "form-action 'self'"
    ).encode()


class SecurityHeaders:
    """The headers every answer carries; a Content-Security-Policy with a fresh nonce on each
    HTML page; Strict-Transport-Security when served over https.

    Https means the base URL is https, or the request came as https: directly, or through a
    proxy the operator trusts (uvicorn believes X-Forwarded-Proto only from
    TOCSIN_TRUSTED_PROXIES and puts it in the scope's scheme)."""

    def __init__(self, app: ASGIApp, base_url: str = "", hsts_seconds: int = 31_536_000) -> None:
        self.app = app
        self.always_https = base_url.startswith("https://")
        self.hsts = (
            [(b"strict-transport-security", f"max-age={hsts_seconds}".encode())]
            if hsts_seconds > 0
            else []
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
        scope.setdefault("state", {})[CSP_NONCE] = nonce
        https = self.always_https or scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", [])) + SECURITY_HEADERS
                if https:
                    headers += self.hsts
                if _is_html(headers):
                    headers.append((b"content-security-policy", content_security_policy(nonce)))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _is_html(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(
        name.lower() == b"content-type" and value.startswith(b"text/html")
        for name, value in headers
    )


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
