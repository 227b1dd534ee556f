"""Writing and reading timeline events.

These functions add to the caller's transaction and never commit: an event is
written in the same transaction as the change it records.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.db import now
from tocsin.errors import NotFound
from tocsin.timeline.models import TimelineEvent


def record(
    session: Session,
    subject_type: str,
    subject_id: int,
    kind: str,
    message: str,
    *,
    actor_id: int | None = None,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> TimelineEvent:
    event = TimelineEvent(
        subject_type=subject_type,
        subject_id=subject_id,
        kind=kind,
        message=message,
        actor_id=actor_id,
        data=data or {},
        at=at or now(),
    )
    session.add(event)
    return event


def events_of(
    session: Session, subject_type: str, subject_id: int, *, starred_only: bool = False
) -> list[TimelineEvent]:
    """Newest first."""
    query = select(TimelineEvent).where(
        TimelineEvent.subject_type == subject_type, TimelineEvent.subject_id == subject_id
    )
    if starred_only:
        query = query.where(TimelineEvent.starred.is_(True))
    return list(session.scalars(query.order_by(TimelineEvent.id.desc())))


def event_of(session: Session, subject_type: str, subject_id: int, event_id: int) -> TimelineEvent:
    event = session.get(TimelineEvent, event_id)
    if event is None or event.subject_type != subject_type or event.subject_id != subject_id:
        raise NotFound(f"No timeline event {event_id} on this {subject_type}.", field="event_id")
    return event
