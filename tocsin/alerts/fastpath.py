"""The sender endpoints served as plain ASGI, ahead of FastAPI's routing and dependencies.

Alert senders post a lot, and each event's CPU is the ingest limit: FastAPI's router,
dependency solving and response wrappers cost more than the work itself. This
middleware answers `POST /v2/enqueue` and the Alertmanager and generic webhooks with
the very functions the FastAPI routes call (receivers.py), so status codes, bodies and
headers are the same byte for byte. It sits inside `BodyLimit` and `SecurityHeaders`,
so the size cap and security headers apply unchanged. Anything else, including other
methods on these paths, passes on to FastAPI.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from tocsin.alerts import receivers
from tocsin.alerts.models import IntegrationKind

ALERTMANAGER = "/integrations/alertmanager/"
WEBHOOK = "/integrations/webhook/"


class IngestFastPath:
    def __init__(self, app: ASGIApp, state: Any) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path == "/v2/enqueue":
            body = await _body(receive)
            if body is not None:
                await _send(send, await receivers.enqueue_answer(self.state, body))
            return
        for prefix, kind, parse in (
            (ALERTMANAGER, IntegrationKind.ALERTMANAGER, receivers.alertmanager_events),
            (WEBHOOK, IntegrationKind.WEBHOOK, receivers.webhook_events),
        ):
            if path.startswith(prefix):
                token = path[len(prefix) :]
                if not token or "/" in token:
                    break  # FastAPI's answer (404) for a path no route matches
                body = await _body(receive)
                if body is not None:
                    answer = await receivers.webhook_answer(self.state, body, token, kind, parse)
                    await _send(send, answer)
                return
        await self.app(scope, receive, send)


async def _body(receive: Receive) -> bytes | None:
    """The whole request body; None when the client went away first."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send(send: Send, answer: receivers.Answer) -> None:
    headers, body = answer.encoded()
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
