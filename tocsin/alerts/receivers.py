"""Where senders post: PagerDuty Events API v2, Alertmanager webhooks, generic webhooks, heartbeats.

These speak other people's contracts, so they authenticate by the integration key
(never a login) and answer in the shapes those senders expect. An event is
committed before the 2xx. The posting endpoints are also served, with the same
functions, by the plain-ASGI fast path in fastpath.py.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from tocsin.alerts import alertmanager, pagerduty, service, webhook
from tocsin.alerts.directory import IntegrationDirectory, IntegrationRef
from tocsin.alerts.events import MAX_DETAILS_BYTES, AlertEvent, InvalidEvent, bounded_details
from tocsin.alerts.ingest import IntegrationGone, Overloaded
from tocsin.alerts.models import Integration, IntegrationKind
from tocsin.errors import error_body

Parse = Callable[[Any], list[AlertEvent]]

router = APIRouter(tags=["integrations"])


@dataclass(frozen=True, slots=True)
class Answer:
    """What a sender gets back; the FastAPI routes and the ASGI fast path send the same bytes."""

    status: int
    content: dict[str, Any]
    retry_after: float | None = None

    def extra_headers(self) -> dict[str, str] | None:
        if self.retry_after is None:
            return None
        return {"Retry-After": str(max(1, math.ceil(self.retry_after)))}

    def response(self) -> JSONResponse:
        return JSONResponse(self.content, self.status, headers=self.extra_headers())

    def encoded(self) -> tuple[list[tuple[bytes, bytes]], bytes]:
        """Headers and body exactly as `response()` would send them (starlette's JSONResponse)."""
        body = json.dumps(
            self.content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
        ).encode()
        headers = [(b"content-length", str(len(body)).encode()), JSON_TYPE]
        if self.retry_after is not None:
            headers.insert(0, (b"retry-after", str(max(1, math.ceil(self.retry_after))).encode()))
        return headers, body


JSON_TYPE = (b"content-type", b"application/json")


# A \uD800-\uDFFF escape: half of a surrogate pair, or a lone one (which no text may hold).
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


# Deeper documents are refused: storing, showing and answering them would need recursion
# deeper than Python or pydantic allow. Real senders nest a handful of levels.
MAX_DEPTH = 32


def _parse_json(raw: bytes) -> Any:
    """The parsed body; ValueError for anything that is not strict JSON: nested too deep,
    NaN or Infinity (1e400 too), or a lone surrogate, which no database or answer can
    hold. Strict, so an accepted event can always be stored and shown."""
    try:
        value = json.loads(raw, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise ValueError("it is nested too deep") from None
    except UnicodeDecodeError:
        raise ValueError("it is not UTF-8 text") from None
    except json.JSONDecodeError:
        raise
    except ValueError as bad:
        if "digits" in str(bad):  # Python's guard against huge integers
            raise ValueError("a number in it has too many digits") from None
        raise
    if SURROGATE_ESCAPE.search(raw) and _holds_lone_surrogate(value):
        raise ValueError("it holds a lone surrogate (\\ud800-\\udfff), which is not text")
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and _deeper_than(value, MAX_DEPTH):
        raise ValueError(f"it is nested deeper than {MAX_DEPTH} levels")
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether objects and lists nest more than `limit` deep (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        )
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def _not_json(bad: ValueError) -> str:
    """Says why: "not valid JSON" alone sends the sender looking in the wrong place when the
    JSON is fine but holds a number too large, NaN or a lone surrogate."""
    if isinstance(bad, json.JSONDecodeError):
        # Some of Python's messages end in "at" ("Unterminated string starting at").
        what = bad.msg.removesuffix(" at")
        return f"The body is not valid JSON: {what} at line {bad.lineno} column {bad.colno}."
    return f"The body cannot be taken: {bad}."


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"the number {text[:40]} is too large")
    return number


def _holds_lone_surrogate(value: Any) -> bool:
    """Whether any text in the document cannot be written as UTF-8 (rare: only looked for
    when the body spells a surrogate escape; pairs that make one character are fine)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_holds_lone_surrogate(k) or _holds_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_lone_surrogate(item) for item in value)
    return False


def _bounded(events: list[AlertEvent], raw: bytes) -> list[AlertEvent]:
    """The events with their details cut to MAX_DETAILS_BYTES. Measured only when the body
    itself is larger: a smaller body cannot hold larger details (short of number spellings
    such as 1e9 that grow when written back), so the usual event pays only this length check."""
    if len(raw) <= MAX_DETAILS_BYTES:
        return events
    return [replace(e, details=bounded_details(e.details)) if e.details else e for e in events]


async def _store(
    state: Any, ref: IntegrationRef, events: list[AlertEvent], raw: bytes
) -> list[service.Outcome] | float | None:
    """Outcomes; or seconds to wait when over the rate limit; or None when the key went away."""
    wait = state.alert_rate_limiter.allow(ref.id, ref.rate_limit_per_minute, max(1, len(events)))
    if wait:
        return wait
    try:
        # UTF-8 JSON can only spell NUL as \u0000 (UTF-16 and -32 bodies hold zero bytes):
        # without either, no text needs cleaning.
        nul_free = b"\\u0000" not in raw and b"\x00" not in raw
        return await state.ingest.store(ref, events, nul_free=nul_free)
    except IntegrationGone:
        state.integrations.forget()
        return None


# ---------------------------------------------------------------- PagerDuty Events API v2


def _invalid_event(errors: list[str]) -> Answer:
    return Answer(
        400, {"status": "invalid event", "message": "Event object is invalid", "errors": errors}
    )


UNKNOWN_ROUTING_KEY = ["'routing_key' is not a known integration key."]


def pagerduty_refusal(status: int, message: str) -> dict[str, Any]:
    """Any other refusal on /v2/enqueue (too large, wrong method...) in PagerDuty's shape, so a
    PagerDuty client reads it as it reads ours for a bad event."""
    kind = "throttle event" if status == 429 else "invalid event" if status < 500 else "error"
    return {"status": kind, "message": message, "errors": [message]}


async def enqueue_answer(state: Any, raw: bytes) -> Answer:
    """PagerDuty Events API v2 for one body; `state` is the app's (integrations, ingest...)."""
    try:
        body = _parse_json(raw)
    except ValueError as bad:
        return _invalid_event([_not_json(bad)])
    try:
        event = pagerduty.parse_event(body)
    except InvalidEvent as invalid:
        return _invalid_event(invalid.errors)
    [event] = _bounded([event], raw)
    directory: IntegrationDirectory = state.integrations
    ref = await directory.find(pagerduty.routing_key_of(body) or "", IntegrationKind.PAGERDUTY)
    if ref is None:
        return _invalid_event(UNKNOWN_ROUTING_KEY)
    try:
        outcomes = await _store(state, ref, [event], raw)
    except Overloaded:
        return Answer(
            503,
            {
                "status": "throttle event",
                "message": "Tocsin is busy; retry shortly.",
                "errors": ["The ingest queue is full."],
            },
            Overloaded.retry_after,
        )
    if outcomes is None:
        return _invalid_event(UNKNOWN_ROUTING_KEY)
    if isinstance(outcomes, float):
        return Answer(
            429,
            {
                "status": "throttle event",
                "message": "Events for this routing_key arrive too fast.",
                "errors": ["Over the integration's rate limit; retry after Retry-After seconds."],
            },
            outcomes,
        )
    return Answer(
        202, {"status": "success", "message": "Event processed", "dedup_key": event.dedup_key}
    )


@router.post("/v2/enqueue", status_code=202)
async def enqueue(request: Request) -> JSONResponse:
    """PagerDuty Events API v2: `routing_key` is a Tocsin integration key."""
    return (await enqueue_answer(request.app.state, await request.body())).response()


# ---------------------------------------------------------------- Alertmanager and generic webhooks


def alertmanager_events(body: Any) -> list[AlertEvent]:
    return alertmanager.parse_webhook(body)


def webhook_events(body: Any) -> list[AlertEvent]:
    return [webhook.parse_webhook(body)]


async def webhook_answer(
    state: Any, raw: bytes, token: str, kind: IntegrationKind, parse: Parse
) -> Answer:
    """An Alertmanager or generic webhook body posted to the integration `token`."""
    try:
        body = _parse_json(raw)
    except ValueError as bad:
        return Answer(400, error_body("invalid_json", _not_json(bad)))
    try:
        events = parse(body)
    except InvalidEvent as invalid:
        return Answer(400, error_body("invalid_event", " ".join(invalid.errors), invalid.field))
    events = _bounded(events, raw)
    missing = Answer(404, error_body("not_found", "No integration has this key."))
    directory: IntegrationDirectory = state.integrations
    ref = await directory.find(token, kind)
    if ref is None:
        return missing
    if not events:
        return Answer(202, {"status": "success", "alerts": []})
    try:
        outcomes = await _store(state, ref, events, raw)
    except Overloaded:
        return Answer(
            503, error_body("overloaded", "Tocsin is busy; retry shortly."), Overloaded.retry_after
        )
    if outcomes is None:
        return missing
    if isinstance(outcomes, float):
        body = error_body("rate_limited", "Too many alerts for this integration; retry later.")
        return Answer(429, body, outcomes)
    answer = [
        {
            "dedup_key": o.dedup_key,
            "alert": f"ALR-{o.alert_id}" if o.alert_id else None,
            "created": o.created,
        }
        for o in outcomes
    ]
    return Answer(202, {"status": "success", "alerts": answer})


@router.post("/integrations/alertmanager/{token}", status_code=202)
async def alertmanager_webhook(token: str, request: Request) -> JSONResponse:
    """Alertmanager `webhook_configs` (version 4); each alert is deduplicated by its fingerprint."""
    answer = await webhook_answer(
        request.app.state,
        await request.body(),
        token,
        IntegrationKind.ALERTMANAGER,
        alertmanager_events,
    )
    return answer.response()


@router.post("/integrations/webhook/{token}", status_code=202)
async def generic_webhook(token: str, request: Request) -> JSONResponse:
    """Generic JSON: title, dedup_key, status firing|resolved, severity, details, links."""
    answer = await webhook_answer(
        request.app.state, await request.body(), token, IntegrationKind.WEBHOOK, webhook_events
    )
    return answer.response()


# ---------------------------------------------------------------- heartbeats


@router.get("/heartbeats/{token}")
async def heartbeat_get(token: str, request: Request) -> JSONResponse:
    """A ping by GET, for the simplest senders (`curl URL` in a cron job)."""
    return await heartbeat(token, request)


@router.head("/heartbeats/{token}", include_in_schema=False)
async def heartbeat_head(token: str, request: Request) -> JSONResponse:
    """A ping by HEAD, which some uptime checkers send."""
    return await heartbeat(token, request)


@router.post("/heartbeats/{token}")
async def heartbeat(token: str, request: Request) -> JSONResponse:
    """A ping. Silence past the interval plus grace raises an alert; the next ping resolves it.

    The key is checked (read-only, cached) before any write transaction opens, and pings
    are limited per key like events: anyone can send keys, and only a real one may write."""
    state = request.app.state
    directory: IntegrationDirectory = state.integrations
    ref = await directory.find(token, IntegrationKind.HEARTBEAT)
    if ref is None:
        return JSONResponse(error_body("not_found", "No heartbeat has this key."), 404)
    wait = state.alert_rate_limiter.allow(ref.id, ref.rate_limit_per_minute)
    if wait:
        body = error_body("rate_limited", "Too many pings for this heartbeat; retry later.")
        return Answer(429, body, wait).response()
    database = state.db

    def ping() -> Integration | None:
        with database.begin() as session:
            integration = session.get(Integration, ref.id)
            if integration is None:  # removed since its key was cached
                return None
            service.heartbeat_ping(session, integration)
            return integration

    integration = await run_in_threadpool(ping)
    if integration is None:
        directory.forget()
        return JSONResponse(error_body("not_found", "No heartbeat has this key."), 404)
    return JSONResponse({"status": "ok", "next_due_at": integration.heartbeat_due_at.isoformat()})
