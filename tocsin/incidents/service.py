"""What people do to incidents: declare, update, move through the workflow, hand over, note.

Every operation checks the actor's permission, writes the change and its timeline
event in one transaction, and commits. Restricted incidents are invisible (404) to
everyone but their participants and admins.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import ColumnElement, exists, func, or_, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, joinedload

from tocsin.auth import service as auth
from tocsin.auth.models import User
from tocsin.auth.permissions import require_responder
from tocsin.catalogue import service as catalogue
from tocsin.catalogue.models import Service
from tocsin.db import now
from tocsin.errors import Conflict, Forbidden, InvalidInput, NotFound
from tocsin.incidents import workflow
from tocsin.incidents.models import Counter, Incident, IncidentParticipant
from tocsin.incidents.schemas import (
    IncidentCreate,
    IncidentFilters,
    IncidentUpdate,
    RolesChange,
    StatusChange,
)
from tocsin.incidents.workflow import IncidentClock, Status
from tocsin.paging import service as paging
from tocsin.timeline import service as timeline
from tocsin.timeline.models import TimelineEvent

SUBJECT = "incident"

# ---------------------------------------------------------------- finding incidents


def _visible_to(actor: User) -> ColumnElement[bool]:
    if actor.is_admin:
        return true()
    return or_(
        Incident.restricted.is_(False),
        exists().where(
            IncidentParticipant.incident_id == Incident.id,
            IncidentParticipant.user_id == actor.id,
        ),
    )


def visible_to(actor: User) -> ColumnElement[bool]:
    """For a higher domain's lists (postmortems): the incidents `actor` may see."""
    return _visible_to(actor)


def can_see(session: Session, actor: User, incident: Incident) -> bool:
    """Whether `actor` may see `incident` (restricted ones: participants and admins only)."""
    if actor.is_admin or not incident.restricted:
        return True
    return session.get(IncidentParticipant, (incident.id, actor.id)) is not None


def active_counts(session: Session, actor: User) -> dict[tuple[str, str], int]:
    """Incidents not yet resolved that `actor` may see, by (severity, status)."""
    query = (
        select(Incident.severity, Incident.status, func.count())
        .where(Incident.status.in_(sorted(workflow.ACTIVE_STATUSES)), _visible_to(actor))
        .group_by(Incident.severity, Incident.status)
    )
    return {(severity, status): n for severity, status, n in session.execute(query)}


def hidden_from(session: Session, actor: User) -> set[int]:
    """The restricted incidents `actor` may not see (a few at most), to leave out of counts."""
    return set(session.scalars(select(Incident.id).where(~_visible_to(actor))))


def parse_key(key: str) -> int | None:
    """42 from "INC-42", "inc-42" or "42"; None when it is not a key."""
    text = key.strip().upper().removeprefix("INC-")
    if not (text.isascii() and text.isdigit()) or len(text) > 9:
        return None
    return int(text)


def get_incident(session: Session, actor: User, key: str) -> Incident:
    number = parse_key(key)
    incident = None
    if number is not None:
        incident = session.scalar(
            select(Incident).where(Incident.number == number, _visible_to(actor))
        )
    if incident is None:
        raise NotFound(f"No incident {key}.", field="key")
    return incident


def list_incidents(
    session: Session, actor: User, filters: IncidentFilters
) -> tuple[list[Incident], str | None]:
    """Newest first; returns a page and the cursor of the next one."""
    # The list shows a service's name, never its team: skip that join on every page.
    query = (
        select(Incident)
        .options(joinedload(Incident.service).lazyload(Service.team))
        .where(_visible_to(actor))
    )
    if filters.status:
        query = query.where(Incident.status.in_([s.value for s in filters.status]))
    if filters.severity:
        query = query.where(Incident.severity.in_([s.value for s in filters.severity]))
    if filters.service_id is not None:
        query = query.where(Incident.service_id == filters.service_id)
    if filters.incident_manager_id is not None:
        query = query.where(Incident.incident_manager_id == filters.incident_manager_id)
    if filters.q.strip():
        query = query.where(_matches_text(filters.q.strip()))
    if filters.cursor:
        before = parse_key(filters.cursor)
        if before is None:
            raise InvalidInput("Not a cursor from a previous page.", field="cursor")
        query = query.where(Incident.number < before)
    rows = list(session.scalars(query.order_by(Incident.number.desc()).limit(filters.limit + 1)))
    page = rows[: filters.limit]
    next_cursor = str(page[-1].number) if len(rows) > filters.limit else None
    return page, next_cursor


def _matches_text(text: str) -> ColumnElement[bool]:
    number = parse_key(text)
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    clauses = [
        Incident.summary.ilike(pattern, escape="\\"),
        Incident.description.ilike(pattern, escape="\\"),
    ]
    if number is not None:
        clauses.append(Incident.number == number)
    return or_(*clauses)


# ---------------------------------------------------------------- small shared steps


def _next_number(session: Session) -> int:
    """The next INC number. The counter row's lock makes concurrent declarations queue."""
    bump = (
        update(Counter)
        .where(Counter.name == SUBJECT)
        .values(value=Counter.value + 1)
        .returning(Counter.value)
    )
    value = session.execute(bump).scalar()
    if value is None:
        insert = (postgresql if session.bind.dialect.name == "postgresql" else sqlite).insert
        session.execute(insert(Counter).values(name=SUBJECT, value=0).on_conflict_do_nothing())
        value = session.execute(bump).scalar_one()
    return value


def _join(session: Session, incident: Incident, user: User) -> None:
    """Makes `user` a participant, which lets them see the incident when it is restricted."""
    if session.get(IncidentParticipant, (incident.id, user.id)) is None:
        session.add(IncidentParticipant(incident_id=incident.id, user_id=user.id))
        session.flush()


def _event(
    session: Session,
    incident: Incident,
    actor: User | None,
    kind: str,
    message: str,
    data: dict | None = None,
) -> TimelineEvent:
    return timeline.record(
        session,
        SUBJECT,
        incident.id,
        kind,
        message,
        actor_id=actor.id if actor else None,
        data=data,
    )


def _act(session: Session, actor: User, key: str, doing: str) -> Incident:
    """The incident `actor` may change; acting on it makes them a participant."""
    require_responder(actor, doing)
    incident = get_incident(session, actor, key)
    _join(session, incident, actor)
    return incident


def incident_to_act_on(session: Session, actor: User, key: str, doing: str) -> Incident:
    """For a higher domain (the incident room): a responder acting makes them a participant."""
    return _act(session, actor, key, doing)


def _manager_name(incident: Incident) -> str:
    return incident.incident_manager.name if incident.incident_manager else "nobody yet"


def _require_incident_manager(actor: User, incident: Incident, doing: str) -> None:
    if actor.id != incident.incident_manager_id and not actor.is_admin:
        raise Forbidden(
            f"Only the incident manager ({_manager_name(incident)}) or an admin can {doing}."
        )


def require_not_ended(incident: Incident, doing: str) -> None:
    """A closed or cancelled incident allows only what keeps its record: 409 naming why."""
    why = workflow.refused_when_ended(Status(incident.status), incident.key, doing)
    if why is not None:
        raise Conflict(why, field="status", code="incident_ended")


def _stamp(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _check_impact_order(incident: Incident) -> None:
    wrong = workflow.impact_times_in_order(
        incident.impact_started_at, incident.detected_at, incident.declared_at
    )
    if wrong == "impact_started_at":
        raise InvalidInput("Impact cannot start after it was detected.", field=wrong)
    if wrong == "detected_at":
        raise InvalidInput("Detection cannot be after the incident was declared.", field=wrong)


# ---------------------------------------------------------------- declaring and updating


def declare_incident(
    session: Session, actor: User, data: IncidentCreate, *, commit: bool = True
) -> Incident:
    """Opens an incident with the reporter as its first incident manager.

    `commit=False` lets a higher domain (alerts) link the incident in the same transaction.
    """
    require_responder(actor, "declare incidents")
    declared_at = now()
    service = catalogue.service_for_input(session, data.service_id)
    products = catalogue.products_for_input(session, data.product_ids)
    detected_at = data.detected_at or declared_at
    incident = Incident(
        number=_next_number(session),
        summary=data.summary,
        description=data.description,
        severity=data.severity.value,
        status=Status.OPEN.value,
        restricted=data.restricted,
        video_url=data.video_url,
        service=service,
        products=products,
        reporter=actor,
        incident_manager=actor,
        declared_at=declared_at,
        detected_at=detected_at,
        impact_started_at=data.impact_started_at or detected_at,
    )
    _check_impact_order(incident)
    session.add(incident)
    session.flush()
    _join(session, incident, actor)
    _event(
        session,
        incident,
        actor,
        "declared",
        f"{actor.name} declared {incident.key} ({incident.severity}): {incident.summary}",
        {"severity": incident.severity, "service": service.name if service else None},
    )
    if data.page_on_call and service is not None:
        page_service_for(session, incident)
    if commit:
        session.commit()
    return incident


def declare_incident_for_alert(
    session: Session,
    summary: str,
    severity: workflow.Severity,
    service_id: int,
    description: str,
    detected_at: datetime | None = None,
) -> Incident:
    """An incident a service's alert rule declares: no reporter, and no incident manager until
    a responder takes command. `detected_at`: when monitoring first saw it (the alert), also
    the earliest the impact is known to have begun. Adds to the caller's transaction."""
    declared_at = now()
    detected_at = min(detected_at or declared_at, declared_at)
    incident = Incident(
        number=_next_number(session),
        summary=summary,
        description=description,
        severity=severity.value,
        status=Status.OPEN.value,
        service_id=service_id,
        declared_at=declared_at,
        detected_at=detected_at,
        impact_started_at=detected_at,
    )
    session.add(incident)
    session.flush()
    _event(
        session,
        incident,
        None,
        "declared",
        f"Declared {incident.key} ({incident.severity}) from an alert: {incident.summary}",
        {"severity": incident.severity, "by_rule": True},
    )
    return incident


def take_command(session: Session, actor: User, key: str) -> Incident:
    """A responder takes charge of an incident that has no incident manager yet."""
    incident = _act(session, actor, key, "take command of incidents")
    if incident.incident_manager_id is not None:
        raise Conflict(
            f"{_manager_name(incident)} is the incident manager; ask them to hand over.",
            code="has_incident_manager",
        )
    incident.incident_manager = actor
    _event(
        session,
        incident,
        actor,
        "handover_accepted",
        f"{actor.name} is now the incident manager",
        {"incident_manager": [None, actor.name]},
    )
    # The automatic pages stop; pages someone sent to named people go on until answered.
    paging.acknowledge_subject(session, SUBJECT, incident.id, actor, include_requested=False)
    session.commit()
    return incident


_FIELD_LABELS = {
    "summary": "Summary",
    "description": "Description",
    "impact_started_at": "Impact start",
    "detected_at": "Detection time",
}


def update_incident(session: Session, actor: User, key: str, data: IncidentUpdate) -> Incident:
    incident = _act(session, actor, key, "change incidents")
    fields = data.model_fields_set
    for name in ("summary", "description"):
        value = getattr(data, name)
        if name in fields and value is not None and value != getattr(incident, name):
            old = getattr(incident, name)
            setattr(incident, name, value)
            shown = f" to {value!r}" if name == "summary" else ""
            _event(
                session,
                incident,
                actor,
                "field_changed",
                f"{_FIELD_LABELS[name]} changed{shown}",
                {name: [old, value]},
            )
    if data.severity is not None and data.severity.value != incident.severity:
        old = incident.severity
        incident.severity = data.severity.value
        _event(
            session,
            incident,
            actor,
            "severity_changed",
            f"Severity changed from {old} to {incident.severity}",
            {"severity": [old, incident.severity]},
        )
    if "service_id" in fields and data.service_id != incident.service_id:
        old_name = incident.service.name if incident.service else "unknown"
        incident.service = catalogue.service_for_input(session, data.service_id)
        new_name = incident.service.name if incident.service else "unknown"
        _event(
            session,
            incident,
            actor,
            "field_changed",
            f"Faulty service changed from {old_name} to {new_name}",
            {"service": [old_name, new_name]},
        )
    if data.product_ids is not None:
        products = catalogue.products_for_input(session, data.product_ids)
        old_names = [p.name for p in incident.products]
        new_names = [p.name for p in products]
        if set(old_names) != set(new_names):
            incident.products = products
            _event(
                session,
                incident,
                actor,
                "field_changed",
                f"Affected products: {', '.join(new_names) or 'none'}",
                {"products": [old_names, new_names]},
            )
    if data.restricted is not None and data.restricted != incident.restricted:
        _require_incident_manager(actor, incident, "change who can see this incident")
        incident.restricted = data.restricted
        message = (
            "Restricted: only participants and admins can see it"
            if data.restricted
            else "No longer restricted: everyone can see it"
        )
        _event(
            session,
            incident,
            actor,
            "field_changed",
            message,
            {"restricted": [not data.restricted, data.restricted]},
        )
    if data.video_url is not None and data.video_url != incident.video_url:
        old = incident.video_url
        incident.video_url = data.video_url
        message = f"Video call: {data.video_url}" if data.video_url else "Video call link removed"
        _event(
            session, incident, actor, "field_changed", message, {"video_url": [old, data.video_url]}
        )
    for name in ("impact_started_at", "detected_at"):
        value = getattr(data, name)
        if value is not None and value != getattr(incident, name):
            old = getattr(incident, name)
            setattr(incident, name, value)
            _event(
                session,
                incident,
                actor,
                "field_changed",
                f"{_FIELD_LABELS[name]} corrected to {value:%Y-%m-%d %H:%M} UTC",
                {name: [_stamp(old), _stamp(value)]},
            )
    _check_impact_order(incident)
    session.commit()
    return incident


# ---------------------------------------------------------------- the workflow

# A higher domain's part in the workflow, registered at its import: `(session, actor, incident,
# from, to)`. Guards run before anything changes and refuse by raising (postmortems: a major
# incident closes only once its postmortem is approved); follow-ups run after the move, in
# its transaction (postmortems: resolving a major incident starts its postmortem).
WorkflowStep = Callable[[Session, User, Incident, Status, Status], None]
_guards: list[WorkflowStep] = []
_followups: list[WorkflowStep] = []


def add_workflow_guard(step: WorkflowStep) -> None:
    if step not in _guards:
        _guards.append(step)


def add_workflow_followup(step: WorkflowStep) -> None:
    if step not in _followups:
        _followups.append(step)


def change_status(session: Session, actor: User, key: str, change: StatusChange) -> Incident:
    incident = _act(session, actor, key, "move incidents through their workflow")
    current = Status(incident.status)
    target = change.status
    explanation = change.resolution_summary if target is Status.RESOLVED else change.reason
    clock = IncidentClock(
        declared_at=incident.declared_at,
        acknowledged_at=incident.acknowledged_at,
        resolved_at=incident.resolved_at,
        closed_at=incident.closed_at,
        cancelled_at=incident.cancelled_at,
    )
    try:
        after = workflow.transition(current, clock, target, now(), explanation)
    except workflow.IllegalTransition as refused:
        raise Conflict(str(refused), field="status", code="illegal_transition") from None
    except workflow.MissingExplanation as missing:
        raise InvalidInput(str(missing), field=missing.field) from None
    for guard in _guards:
        guard(session, actor, incident, current, target)
    incident.status = target.value
    incident.acknowledged_at = after.acknowledged_at
    incident.resolved_at = after.resolved_at
    incident.closed_at = after.closed_at
    incident.cancelled_at = after.cancelled_at
    message = f"Status changed from {current.value} to {target.value}"
    if target is Status.RESOLVED:
        incident.resolution_summary = explanation.strip()
        message += f": {incident.resolution_summary}"
    elif target is Status.CANCELLED:
        incident.cancel_reason = explanation.strip()
        message += f" (false alarm): {incident.cancel_reason}"
    elif current is Status.RESOLVED and target is Status.FIXING:
        message = "Reopened: status changed from resolved to fixing"
    if target is Status.FIXING:
        # Someone is fixing it: the automatic page of the service's on-call has done its
        # job. Pages the incident manager sent for help go on until their people answer.
        paging.acknowledge_subject(session, SUBJECT, incident.id, actor, include_requested=False)
    elif target in (Status.RESOLVED, Status.CANCELLED, Status.CLOSED):
        paging.resolve_subject(session, SUBJECT, incident.id, actor)
    _event(
        session,
        incident,
        actor,
        "status_changed",
        message,
        {"status": [current.value, target.value]},
    )
    for followup in _followups:
        followup(session, actor, incident, current, target)
    session.commit()
    return incident


# ---------------------------------------------------------------- roles and handover


def set_roles(session: Session, actor: User, key: str, change: RolesChange) -> Incident:
    """Tech leads and the communications manager, assigned by the incident manager."""
    incident = _act(session, actor, key, "assign incident roles")
    _require_incident_manager(actor, incident, "assign roles")
    require_not_ended(incident, "be given a role in it")
    if change.tech_lead_ids is not None:
        leads = auth.users_by_ids(session, change.tech_lead_ids, "tech_lead_ids")
        _require_responders(leads, "tech_lead_ids")
        old = [u.name for u in incident.tech_leads]
        if {u.id for u in leads} != {u.id for u in incident.tech_leads}:
            incident.tech_leads = leads
            for lead in leads:
                _join(session, incident, lead)
            names = ", ".join(u.name for u in leads) or "none"
            _event(
                session,
                incident,
                actor,
                "role_changed",
                f"Tech leads: {names}",
                {"tech_leads": [old, [u.name for u in leads]]},
            )
    if "communications_manager_id" in change.model_fields_set:
        new_id = change.communications_manager_id
        if new_id != incident.communications_manager_id:
            old_name = (
                incident.communications_manager.name if incident.communications_manager else None
            )
            if new_id is None:
                incident.communications_manager = None
                message = "Communications manager role is unassigned"
            else:
                manager = auth.users_by_ids(session, [new_id], "communications_manager_id")[0]
                _require_responders([manager], "communications_manager_id")
                incident.communications_manager = manager
                _join(session, incident, manager)
                message = f"{manager.name} is now the communications manager"
            new_name = (
                incident.communications_manager.name if incident.communications_manager else None
            )
            _event(
                session,
                incident,
                actor,
                "role_changed",
                message,
                {"communications_manager": [old_name, new_name]},
            )
    session.commit()
    return incident


def _require_responders(users: list[User], field: str) -> None:
    for user in users:
        if user.role == "viewer":
            raise InvalidInput(
                f"{user.name} is a viewer and cannot hold an incident role.", field=field
            )


def request_handover(
    session: Session, actor: User, key: str, to_user_id: int, note: str = "", base_url: str = ""
) -> Incident:
    """Asks someone to take over as incident manager, and tells them through their contact
    methods (they may be off shift, not watching Tocsin); nothing changes until they
    accept. `base_url` makes the link in that message."""
    incident = _act(session, actor, key, "hand over incidents")
    _require_incident_manager(actor, incident, "hand over the incident")
    require_not_ended(incident, "take it over")
    target = auth.users_by_ids(session, [to_user_id], "to_user_id")[0]
    _require_responders([target], "to_user_id")
    if target.id == incident.incident_manager_id:
        raise InvalidInput(f"{target.name} is already the incident manager.", field="to_user_id")
    incident.handover_to = target
    incident.handover_note = note.strip()
    incident.handover_requested_at = now()
    _join(session, incident, target)
    suffix = f": {incident.handover_note}" if incident.handover_note else ""
    _event(
        session,
        incident,
        actor,
        "handover_requested",
        f"{actor.name} asked {target.name} to take over as incident manager{suffix}",
        {"to": target.name, "from": _manager_name(incident)},
    )
    link = f"{base_url.rstrip('/')}/incidents/{incident.key}" if base_url else incident.key
    words = paging.PageMessage(
        title=f"[{incident.severity}] {incident.key}: {actor.name} asks you to take over",
        body=(
            f"{actor.name} asks you to take over as incident manager of {incident.key} "
            f"({incident.severity}, {incident.status}): {incident.summary}"
            + (f"\n\nTheir note: {incident.handover_note}" if incident.handover_note else "")
            + f"\n\nAccept or decline on the incident page: {link}\n"
            "They stay in charge until you accept."
        ),
    )
    if incident.restricted:
        words = paging.restricted_notice(
            subject_key=incident.key,
            severity=incident.severity,
            what=f"{actor.name} asks you to take over as incident manager",
            link=link,
        )
    paging.notify_user(
        session,
        target,
        key=f"handover:{incident.id}:{int(incident.handover_requested_at.timestamp() * 1000)}",
        title=words.title,
        body=words.body,
        purpose="info",
        subject=(SUBJECT, incident.id),
    )
    session.commit()
    return incident


def _pending_handover(incident: Incident) -> User:
    if incident.handover_to is None:
        raise Conflict("There is no pending handover on this incident.", code="no_handover")
    return incident.handover_to


def _clear_handover(incident: Incident) -> None:
    incident.handover_to = None
    incident.handover_note = ""
    incident.handover_requested_at = None


def accept_handover(session: Session, actor: User, key: str) -> Incident:
    """The moment the new incident manager takes charge."""
    incident = _act(session, actor, key, "accept a handover")
    if _pending_handover(incident).id != actor.id:
        raise Forbidden(f"The handover is addressed to {incident.handover_to.name}, not to you.")
    previous = _manager_name(incident)
    incident.incident_manager = actor
    _clear_handover(incident)
    _event(
        session,
        incident,
        actor,
        "handover_accepted",
        f"{actor.name} is now the incident manager, taking over from {previous}",
        {"incident_manager": [previous, actor.name]},
    )
    session.commit()
    return incident


def decline_handover(session: Session, actor: User, key: str) -> Incident:
    incident = _act(session, actor, key, "decline a handover")
    if _pending_handover(incident).id != actor.id:
        raise Forbidden(f"The handover is addressed to {incident.handover_to.name}, not to you.")
    _clear_handover(incident)
    _event(
        session,
        incident,
        actor,
        "handover_declined",
        f"{actor.name} declined to take over; {_manager_name(incident)} stays in charge",
    )
    session.commit()
    return incident


def cancel_handover(session: Session, actor: User, key: str) -> Incident:
    incident = _act(session, actor, key, "withdraw a handover")
    _require_incident_manager(actor, incident, "withdraw the handover")
    target = _pending_handover(incident)
    _clear_handover(incident)
    _event(
        session,
        incident,
        actor,
        "handover_cancelled",
        f"{actor.name} withdrew the handover to {target.name}",
    )
    session.commit()
    return incident


def add_participant(session: Session, actor: User, key: str, user_id: int) -> Incident:
    incident = _act(session, actor, key, "add participants")
    user = auth.users_by_ids(session, [user_id], "user_id")[0]
    if session.get(IncidentParticipant, (incident.id, user.id)) is None:
        _join(session, incident, user)
        _event(session, incident, actor, "participant_added", f"{actor.name} added {user.name}")
    session.commit()
    return incident


def participants(session: Session, actor: User, key: str) -> list[User]:
    incident = get_incident(session, actor, key)
    query = (
        select(User)
        .join(IncidentParticipant, IncidentParticipant.user_id == User.id)
        .where(IncidentParticipant.incident_id == incident.id)
        .order_by(User.name)
    )
    return list(session.scalars(query))


# ---------------------------------------------------------------- the timeline


def timeline_of(session: Session, actor: User, key: str, *, starred_only: bool = False):
    incident = get_incident(session, actor, key)
    return timeline.events_of(session, SUBJECT, incident.id, starred_only=starred_only)


def add_note(
    session: Session, actor: User, key: str, text: str, starred: bool = False
) -> TimelineEvent:
    incident = _act(session, actor, key, "add notes")
    if not text.strip():
        raise InvalidInput("A note needs some text.", field="text")
    if "\x00" in text:  # the form passes its text straight here; PostgreSQL refuses NUL
        raise InvalidInput("A note must not contain NUL characters.", field="text")
    event = _event(session, incident, actor, "note", text.strip())
    event.starred = starred
    session.commit()
    return event


def star_event(
    session: Session, actor: User, key: str, event_id: int, starred: bool
) -> TimelineEvent:
    """Marks an event as important; the event itself never changes."""
    incident = _act(session, actor, key, "star timeline events")
    event = timeline.event_of(session, SUBJECT, incident.id, event_id)
    event.starred = starred
    session.commit()
    return event


# ---------------------------------------------------------------- paging


def page_service_for(
    session: Session, incident: Incident, due_at: datetime | None = None
) -> paging.Page | None:
    """Pages the on-call of the incident's faulty service; adds to the caller's transaction."""
    if incident.service_id is None:
        return None
    return paging.start_page(
        session,
        subject_type=SUBJECT,
        subject_id=incident.id,
        subject_key=incident.key,
        title=incident.summary,
        severity=incident.severity,
        service_id=incident.service_id,
        due_at=due_at,
    )


def page_responders(
    session: Session, actor: User, key: str, targets: list[dict], message: str = ""
) -> paging.Page:
    """The incident manager pages anyone: people, a team, a schedule's or a service's on-call."""
    incident = _act(session, actor, key, "page responders")
    _require_incident_manager(actor, incident, "page responders")
    require_not_ended(incident, "be paged for it")
    paging.check_targets(session, targets)
    page = paging.start_page(
        session,
        subject_type=SUBJECT,
        subject_id=incident.id,
        subject_key=incident.key,
        title=incident.summary,
        severity=incident.severity,
        page_targets=targets,
        message=message.strip(),
        actor=actor,
    )
    session.commit()
    return page


def _acknowledge_by_link(session: Session, page: paging.Page, user: User) -> None:
    """'I am on it': stops the page they answered (other pages about the incident go on),
    and puts the person in command if nobody is."""
    incident = session.get(Incident, page.subject_id)
    if incident is None:
        raise NotFound("The incident no longer exists.", field="key")
    paging.acknowledge_page(session, page, user)
    if incident.incident_manager_id is None:
        take_command(session, user, incident.key)
        return
    _join(session, incident, user)
    session.commit()


def _is_restricted(session: Session, incident_id: int) -> bool:
    incident = session.get(Incident, incident_id)
    return incident is None or incident.restricted


def _paged(session: Session, incident_id: int, person: User) -> None:
    """Whoever is paged for an incident takes part in it: they can open it even when it is
    restricted (the incident manager may page anyone, and they must be able to work it)."""
    incident = session.get(Incident, incident_id)
    if incident is not None:
        _join(session, incident, person)


paging.register_subject(
    SUBJECT,
    paging.SubjectHandler(
        acknowledge=_acknowledge_by_link,
        resolve=None,  # resolving an incident needs a resolution summary: open it
        path=lambda _incident_id, key: f"/incidents/{key}",
        restricted=_is_restricted,
        paged=_paged,
    ),
)


def pages_of(session: Session, actor: User, key: str) -> list[paging.Page]:
    incident = get_incident(session, actor, key)
    return paging.pages_of(session, SUBJECT, incident.id)


def escalate_page(session: Session, actor: User, key: str, page_id: int) -> paging.Page:
    incident = _act(session, actor, key, "escalate pages")
    return paging.escalate_now(session, actor, page_id, (SUBJECT, incident.id))
