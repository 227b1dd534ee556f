"""Where senders post: PagerDuty Events API v2, Alertmanager webhooks, generic webhooks, heartbeats.

These speak other people's contracts, so they authenticate by the integration key
(never a login) and answer in the shapes those senders expect. An event is
committed before the 2xx.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from tocsin.alerts import alertmanager, pagerduty, service, webhook
from tocsin.alerts.directory import IntegrationDirectory, IntegrationRef
from tocsin.alerts.events import AlertEvent, InvalidEvent
from tocsin.alerts.ingest import IntegrationGone, Overloaded
from tocsin.alerts.models import Integration, IntegrationKind
from tocsin.errors import error_body

router = APIRouter(tags=["integrations"])


def _directory(request: Request) -> IntegrationDirectory:
    return request.app.state.integrations


async def _json(request: Request) -> Any:
    """The parsed body; ValueError for anything that is not JSON."""
    return json.loads(await request.body())


def _retry_after(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


async def _store(
    request: Request, ref: IntegrationRef, events: list[AlertEvent]
) -> list[service.Outcome] | float | None:
    """Outcomes; or seconds to wait when over the rate limit; or None when the key went away."""
    wait = request.app.state.alert_rate_limiter.allow(
        ref.id, ref.rate_limit_per_minute, max(1, len(events))
    )
    if wait:
        return wait
    try:
        return await request.app.state.ingest.store(ref, events)
    except IntegrationGone:
        _directory(request).forget()
        return None


def _overloaded(body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, 503, headers=_retry_after(Overloaded.retry_after))


# ---------------------------------------------------------------- PagerDuty Events API v2


def _invalid_event(errors: list[str]) -> JSONResponse:
    return JSONResponse(
        {"status": "invalid event", "message": "Event object is invalid", "errors": errors}, 400
    )


@router.post("/v2/enqueue", status_code=202)
async def enqueue(request: Request) -> JSONResponse:
    """PagerDuty Events API v2: `routing_key` is a Tocsin integration key."""
    try:
        body = await _json(request)
    except ValueError:
        return _invalid_event(["The body is not valid JSON."])
    try:
        event = pagerduty.parse_event(body)
    except InvalidEvent as invalid:
        return _invalid_event(invalid.errors)
    unknown = ["'routing_key' is not a known integration key."]
    ref = await _directory(request).find(
        pagerduty.routing_key_of(body) or "", IntegrationKind.PAGERDUTY
    )
    if ref is None:
        return _invalid_event(unknown)
    try:
        outcomes = await _store(request, ref, [event])
    except Overloaded:
        return _overloaded(
            {
                "status": "throttle event",
                "message": "Tocsin is busy; retry shortly.",
                "errors": ["The ingest queue is full."],
            }
        )
    if outcomes is None:
        return _invalid_event(unknown)
    if isinstance(outcomes, float):
        return JSONResponse(
            {
                "status": "throttle event",
                "message": "Events for this routing_key arrive too fast.",
                "errors": ["Over the integration's rate limit; retry after Retry-After seconds."],
            },
            429,
            headers=_retry_after(outcomes),
        )
    return JSONResponse(
        {"status": "success", "message": "Event processed", "dedup_key": event.dedup_key}, 202
    )


# ---------------------------------------------------------------- Alertmanager and generic webhooks


async def _receive(
    request: Request, token: str, kind: IntegrationKind, parse: Callable[[Any], list[AlertEvent]]
) -> JSONResponse:
    try:
        body = await _json(request)
    except ValueError:
        return JSONResponse(error_body("invalid_json", "The request body is not valid JSON."), 400)
    try:
        events = parse(body)
    except InvalidEvent as invalid:
        return JSONResponse(error_body("invalid_event", " ".join(invalid.errors)), 400)
    missing = JSONResponse(error_body("not_found", "No integration has this key."), 404)
    ref = await _directory(request).find(token, kind)
    if ref is None:
        return missing
    if not events:
        return JSONResponse({"status": "success", "alerts": []}, 202)
    try:
        outcomes = await _store(request, ref, events)
    except Overloaded:
        return _overloaded(error_body("overloaded", "Tocsin is busy; retry shortly."))
    if outcomes is None:
        return missing
    if isinstance(outcomes, float):
        body = error_body("rate_limited", "Too many alerts for this integration; retry later.")
        return JSONResponse(body, 429, headers=_retry_after(outcomes))
    answer = [
        {
            "dedup_key": o.dedup_key,
            "alert": f"ALR-{o.alert_id}" if o.alert_id else None,
            "created": o.created,
        }
        for o in outcomes
    ]
    return JSONResponse({"status": "success", "alerts": answer}, 202)


@router.post("/integrations/alertmanager/{token}", status_code=202)
async def alertmanager_webhook(token: str, request: Request) -> JSONResponse:
    """Alertmanager `webhook_configs` (version 4); each alert is deduplicated by its fingerprint."""
    return await _receive(request, token, IntegrationKind.ALERTMANAGER, alertmanager.parse_webhook)


@router.post("/integrations/webhook/{token}", status_code=202)
async def generic_webhook(token: str, request: Request) -> JSONResponse:
    """Generic JSON: title, dedup_key, status firing|resolved, severity, details, links."""
    return await _receive(
        request, token, IntegrationKind.WEBHOOK, lambda body: [webhook.parse_webhook(body)]
    )


# ---------------------------------------------------------------- heartbeats


@router.get("/heartbeats/{token}")
async def heartbeat_get(token: str, request: Request) -> JSONResponse:
    """A ping by GET, for the simplest senders (`curl URL` in a cron job)."""
    return await heartbeat(token, request)


@router.post("/heartbeats/{token}")
async def heartbeat(token: str, request: Request) -> JSONResponse:
    """A ping. Silence past the interval plus grace raises an alert; the next ping resolves it."""
    database = request.app.state.db

    def ping() -> Integration | None:
        with database.begin() as session:
            integration = service.integration_by_key(session, token)
            if integration is None or integration.kind != IntegrationKind.HEARTBEAT.value:
                return None
            service.heartbeat_ping(session, integration)
            return integration

    integration = await run_in_threadpool(ping)
    if integration is None:
        return JSONResponse(error_body("not_found", "No heartbeat has this key."), 404)
    return JSONResponse({"status": "ok", "next_due_at": integration.heartbeat_due_at.isoformat()})
