"""Heartbeat integrations: a ping moves the deadline; silence past it raises one alert."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tocsin.alerts.events import (
    Action,
    AlertEvent,
    AlertSeverity,
)
from tocsin.alerts.intake import Outcome, clean, ingest_events, trigger
from tocsin.alerts.models import (
    Integration,
    IntegrationKind,
)
from tocsin.db import claim_rows, now
from tocsin.errors import InvalidInput

HEARTBEAT_DEDUP_KEY = "heartbeat"


def heartbeat_window(integration: Integration) -> timedelta:
    return timedelta(
        seconds=(integration.heartbeat_interval_seconds or 0)
        + (integration.heartbeat_grace_seconds or 0)
    )


def heartbeat_ping(session: Session, integration: Integration) -> list[Outcome]:
    """Records a ping, moves the deadline, and resolves a missed-heartbeat alert if one is open."""
    if integration.kind != IntegrationKind.HEARTBEAT:
        raise InvalidInput("This key does not belong to a heartbeat.", field="token")
    moment = now()
    integration.last_ping_at = moment
    integration.heartbeat_due_at = moment + heartbeat_window(integration)
    event = AlertEvent(action=Action.RESOLVE, dedup_key=HEARTBEAT_DEDUP_KEY)
    return ingest_events(session, integration, [event], moment)


def silent_heartbeats(session: Session, at: datetime, limit: int) -> list[Integration]:
    query = (
        select(Integration)
        .where(
            Integration.kind == IntegrationKind.HEARTBEAT.value, Integration.heartbeat_due_at <= at
        )
        .order_by(Integration.heartbeat_due_at)
        .limit(limit)
    )
    return claim_rows(session, query, Integration)


def oldest_silent_heartbeat(session: Session, at: datetime) -> datetime | None:
    """The deadline of the heartbeat that went quiet longest ago and is not yet alerted on."""
    return session.scalar(
        select(func.min(Integration.heartbeat_due_at)).where(
            Integration.kind == IntegrationKind.HEARTBEAT.value, Integration.heartbeat_due_at <= at
        )
    )


def raise_missed_heartbeat(session: Session, integration: Integration, at: datetime) -> None:
    """The heartbeat went quiet: one alert until the next ping; the deadline clears meanwhile."""
    integration.heartbeat_due_at = None
    interval = integration.heartbeat_interval_seconds or 0
    last = (
        f"{integration.last_ping_at:%Y-%m-%d %H:%M:%S} UTC" if integration.last_ping_at else "never"
    )
    event = AlertEvent(
        action=Action.TRIGGER,
        dedup_key=HEARTBEAT_DEDUP_KEY,
        title=f"{integration.name} missed its heartbeat",
        severity=AlertSeverity.CRITICAL,
        source=integration.name,
        details={
            "interval_seconds": interval,
            "grace_seconds": integration.heartbeat_grace_seconds,
            "last_ping_at": last,
        },
    )
    trigger(session, integration, clean(event), at)
