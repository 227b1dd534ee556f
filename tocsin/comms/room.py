"""The incident room: where the people working an incident talk, beside its video call.

Everyone who may see the incident reads the room; responders talk in it, and talking
makes them participants. Messages never change. They are not timeline events: the
timeline records what happened to the incident, the room what was said. A line worth
keeping is copied to the timeline as a note.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tocsin.auth.models import User
from tocsin.comms.models import RoomMessage
from tocsin.comms.schemas import MessagePost
from tocsin.db import now
from tocsin.errors import NotFound
from tocsin.incidents import service as incidents
from tocsin.incidents.models import Incident
from tocsin.timeline.models import TimelineEvent

# On PostgreSQL a message can commit after one with a higher id: a poll for what came
# after id N also gets the last half minute again, and the reader skips what it has.
LATE_COMMIT_WINDOW = timedelta(seconds=30)


@dataclass(frozen=True)
class RoomSummary:
    """What the incident page shows of the room: how lively it is, and its last line."""

    count: int
    last: RoomMessage | None


def messages(
    session: Session, actor: User, key: str, *, after: int | None = None, limit: int = 100
) -> tuple[Incident, list[RoomMessage]]:
    """Oldest first: the last `limit` messages, or with `after` those that came since."""
    incident = incidents.get_incident(session, actor, key)
    query = select(RoomMessage).where(RoomMessage.incident_id == incident.id)
    if after is None:
        newest = list(session.scalars(query.order_by(RoomMessage.id.desc()).limit(limit)))
        return incident, newest[::-1]
    newer = query.where(RoomMessage.id > after).order_by(RoomMessage.id).limit(limit)
    # The overlap is read apart, so a busy half minute never crowds out what is new.
    late = query.where(
        RoomMessage.id <= after, RoomMessage.posted_at >= now() - LATE_COMMIT_WINDOW
    ).order_by(RoomMessage.id)
    found = {m.id: m for m in session.scalars(late.limit(limit))}
    found.update((m.id, m) for m in session.scalars(newer))
    return incident, [found[i] for i in sorted(found)]


def summary(session: Session, incident: Incident) -> RoomSummary:
    count = session.scalar(select(func.count()).where(RoomMessage.incident_id == incident.id))
    last = session.scalar(
        select(RoomMessage)
        .where(RoomMessage.incident_id == incident.id)
        .order_by(RoomMessage.id.desc())
        .limit(1)
    )
    return RoomSummary(count=count or 0, last=last)


def post_message(
    session: Session, actor: User, key: str, data: MessagePost
) -> tuple[Incident, RoomMessage]:
    incident = incidents.incident_to_act_on(session, actor, key, "talk in the incident room")
    message = RoomMessage(incident_id=incident.id, author=actor, body=data.body, posted_at=now())
    session.add(message)
    session.commit()
    return incident, message


def _message_of(session: Session, incident: Incident, message_id: int) -> RoomMessage:
    message = session.get(RoomMessage, message_id)
    if message is None or message.incident_id != incident.id:
        raise NotFound(f"No message {message_id} in the {incident.key} room.", field="message_id")
    return message


def keep_on_timeline(session: Session, actor: User, key: str, message_id: int) -> TimelineEvent:
    """Copies a line from the room to the timeline, saying who said it and when."""
    incident = incidents.get_incident(session, actor, key)
    message = _message_of(session, incident, message_id)
    who = message.author.name if message.author else "Someone"
    said_at = _clock(message.posted_at)
    return incidents.add_note(
        session, actor, key, f"{who} in the room at {said_at}: {message.body}"
    )


def _clock(at: datetime) -> str:
    return f"{at:%H:%M} UTC"
