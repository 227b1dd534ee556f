"""Storing a sender's events: triggers upsert by dedup key; acknowledge and resolve act on it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from typing import Any, Protocol

from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tocsin.alerts.alert_keys import SUBJECT
from tocsin.alerts.events import (
    Action,
    AlertEvent,
    AlertStatus,
    without_nul,
)
from tocsin.alerts.models import Alert
from tocsin.alerts.triage import mark_acknowledged, mark_resolved
from tocsin.db import now, wake_engines
from tocsin.timeline import service as timeline


class Sender(Protocol):
    """What ingest needs of an integration: an `Integration` row or a cached reference."""

    id: int
    service_id: int
    name: str


@dataclass(frozen=True)
class Outcome:
    """What one event did: which alert, and whether it opened a new one."""

    dedup_key: str
    alert_id: int | None
    created: bool = False
    changed: bool = False


@cache
def _upsert_statement(dialect: str, new_details: bool) -> Any:
    """The trigger upsert, built once per dialect: values are bound at execution, so the
    compiled statement is reused (building it per event cost more than running it). A
    repeat brings its details up to date, but one that sends none keeps what is there."""
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(Alert)
    changes: dict[str, Any] = {
        "count": Alert.count + 1,
        "last_seen_at": insert.excluded.last_seen_at,
    }
    if new_details:
        changes["details"] = insert.excluded.details
    return insert.on_conflict_do_update(
        index_elements=[Alert.integration_id, Alert.dedup_key],
        index_where=text("status <> 'resolved'"),
        set_=changes,
    ).returning(Alert.id, Alert.count)


def clean(event: AlertEvent) -> AlertEvent:
    """The event with NUL removed from every text (PostgreSQL refuses NUL)."""
    return replace(
        event,
        dedup_key=without_nul(event.dedup_key),
        title=without_nul(event.title),
        source=without_nul(event.source),
        component=without_nul(event.component),
        group=without_nul(event.group),
        event_class=without_nul(event.event_class),
        details=without_nul(event.details),
        labels=without_nul(event.labels),
        links=without_nul(event.links),
        images=without_nul(event.images),
    )


def trigger(session: Session, integration: Sender, event: AlertEvent, at: datetime) -> Outcome:
    values = {
        "integration_id": integration.id,
        "service_id": integration.service_id,
        "dedup_key": event.dedup_key,
        "status": AlertStatus.TRIGGERED.value,
        "severity": event.severity.value,
        "title": event.title or event.dedup_key,
        "source": event.source,
        "component": event.component,
        "group_name": event.group,
        "event_class": event.event_class,
        "details": event.details,
        "labels": event.labels,
        "links": event.links,
        "images": event.images,
        "count": 1,
        "first_seen_at": at,
        "last_seen_at": at,
        "suppressed": False,
    }
    upsert = _upsert_statement(session.bind.dialect.name, bool(event.details))
    alert_id, count = session.connection().execute(upsert, values).one()
    created = count == 1
    if created:
        wake_engines(session)  # the router decides what the new alert does
        timeline.record(
            session,
            SUBJECT,
            alert_id,
            "triggered",
            f"Triggered through {integration.name}: {event.title or event.dedup_key}",
            at=at,
        )
    return Outcome(event.dedup_key, alert_id, created=created, changed=created)


def _open_alert(session: Session, integration_id: int, dedup_key: str) -> Alert | None:
    return session.scalar(
        select(Alert).where(
            Alert.integration_id == integration_id,
            Alert.dedup_key == dedup_key,
            Alert.status != AlertStatus.RESOLVED.value,
        )
    )


def ingest_events(
    session: Session, integration: Sender, events: list[AlertEvent], at: datetime | None = None
) -> list[Outcome]:
    """Stores a sender's events in one transaction and commits before the caller answers."""
    moment = at or now()
    outcomes = []
    for event in map(clean, events):
        if event.action is Action.TRIGGER:
            outcomes.append(trigger(session, integration, event, moment))
            continue
        alert = _open_alert(session, integration.id, event.dedup_key)
        if alert is None:
            outcomes.append(
                Outcome(event.dedup_key, None)
            )  # nothing open: dropped, as PagerDuty does
            continue
        by = f"{integration.name} (sender)"
        changed = (
            mark_acknowledged(session, alert, None, by, moment)
            if event.action is Action.ACKNOWLEDGE
            else mark_resolved(session, alert, None, by, moment)
        )
        outcomes.append(Outcome(event.dedup_key, alert.id, changed=changed))
    session.commit()
    return outcomes
