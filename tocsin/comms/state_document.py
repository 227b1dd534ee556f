"""The live incident state document: one shared page of what is known, what is being done
and what comes next, the first thing anyone joining the incident reads.

Every save is a new version and the newest is the document. A save names the version it
edited, so two people editing at once never overwrite each other: the second is told
and keeps their text to merge.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tocsin.auth.models import User
from tocsin.comms.models import StateRevision
from tocsin.comms.schemas import StateSave
from tocsin.db import now
from tocsin.errors import Conflict
from tocsin.incidents import service as incidents
from tocsin.incidents.models import Incident
from tocsin.timeline import service as timeline

# What a first version starts from: the handbook's questions, to answer in a line each.
OUTLINE = """What is happening:

Customer impact:

What we are doing, and who:

What we know, and what we ruled out:

Next steps:
"""


@dataclass(frozen=True)
class StateDocument:
    incident: Incident
    version: int  # 0 while nobody has written it
    body: str
    saved_by: User | None
    saved_at: datetime | None


def _latest(session: Session, incident_id: int) -> StateRevision | None:
    query = (
        select(StateRevision)
        .where(StateRevision.incident_id == incident_id)
        .order_by(StateRevision.version.desc())
        .limit(1)
    )
    return session.scalar(query)


def _document(incident: Incident, revision: StateRevision | None) -> StateDocument:
    if revision is None:
        return StateDocument(incident, 0, "", None, None)
    return StateDocument(
        incident, revision.version, revision.body, revision.saved_by, revision.saved_at
    )


def state_of(session: Session, actor: User, key: str) -> StateDocument:
    incident = incidents.get_incident(session, actor, key)
    return _document(incident, _latest(session, incident.id))


def _newer(latest: StateRevision | None) -> Conflict:
    who = latest.saved_by.name if latest and latest.saved_by else "Someone"
    version = latest.version if latest else 0
    return Conflict(
        f"{who} saved version {version} while you were editing: read theirs and save yours again.",
        field="base_version",
    )


def save(session: Session, actor: User, key: str, data: StateSave) -> StateDocument:
    """A new version, unless someone saved since `base_version` (409, nothing written)."""
    incident = incidents.incident_to_act_on(session, actor, key, "edit the state document")
    latest = _latest(session, incident.id)
    current = latest.version if latest else 0
    if data.base_version != current:
        raise _newer(latest)
    if latest is not None and data.body == latest.body:
        return _document(incident, latest)  # nothing changed: no new version
    revision = StateRevision(
        incident_id=incident.id,
        version=current + 1,
        body=data.body,
        saved_by=actor,
        saved_at=now(),
    )
    session.add(revision)
    timeline.record(
        session,
        incidents.SUBJECT,
        incident.id,
        "state_document",
        f"State document updated (version {revision.version})",
        actor_id=actor.id,
        data={"version": revision.version},
    )
    try:
        session.commit()
    except IntegrityError:  # someone saved the same version a moment before
        session.rollback()
        raise _newer(_latest(session, incident.id)) from None
    return _document(incident, revision)


def revisions(session: Session, actor: User, key: str, limit: int = 50) -> list[StateRevision]:
    """Earlier versions, newest first: what the incident looked like as it went."""
    incident = incidents.get_incident(session, actor, key)
    query = (
        select(StateRevision)
        .where(StateRevision.incident_id == incident.id)
        .order_by(StateRevision.version.desc())
        .limit(limit)
    )
    return list(session.scalars(query))
