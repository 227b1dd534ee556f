"""The alerts domain's front door: browsing alerts and their pages, plus every
operation of the modules beside it, so callers keep `from tocsin.alerts import service`.

Ingest stores each event and answers (intake.py); deciding what a new alert does (page,
incident, log) is due work for the engine's router (rules.py), so a burst of alerts is
never slowed by paging and an accepted alert is never lost between the two. People act
on alerts in triage.py; integrations.py, heartbeats.py and maintenance.py configure a
service's alerting.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

from sqlalchemy import ColumnElement, func, or_, select, text
from sqlalchemy.orm import Session, defer

from tocsin.alerts.alert_keys import SUBJECT, get_alert, parse_alert_key
from tocsin.alerts.events import AlertStatus
from tocsin.alerts.heartbeats import (
    HEARTBEAT_DEDUP_KEY,
    heartbeat_ping,
    oldest_silent_heartbeat,
    raise_missed_heartbeat,
    silent_heartbeats,
)
from tocsin.alerts.intake import Outcome, Sender, clean, ingest_events
from tocsin.alerts.integrations import (
    KEY_LENGTH,
    KEY_LOOKUP,
    create_integration,
    delete_integration,
    get_integration,
    integration_by_key,
    integration_by_lookup,
    integration_url,
    list_integrations,
    rotate_integration_key,
    send_test_alert,
    update_integration,
)
from tocsin.alerts.maintenance import (
    SUPPRESSED_FIRING,
    create_maintenance,
    end_maintenance,
    list_maintenance,
    route_again_after_maintenance,
    still_firing_after_maintenance,
)
from tocsin.alerts.models import Alert
from tocsin.alerts.owners import require_service_owner
from tocsin.alerts.rules import (
    oldest_unrouted,
    replace_rules,
    route_alert,
    rules_of,
    rules_of_service,
    unrouted_alerts,
)
from tocsin.alerts.schemas import AlertFilters, AlertOut, AlertSummaryOut, IncidentLink
from tocsin.alerts.triage import (
    HIDDEN_INCIDENT,
    acknowledge_alert,
    attach_to_incident,
    declare_incident_from_alert,
    resolve_alert,
)
from tocsin.auth.models import User
from tocsin.errors import InvalidInput
from tocsin.incidents import service as incidents
from tocsin.paging import service as paging
from tocsin.timeline import service as timeline
from tocsin.timeline.models import TimelineEvent

__all__ = [
    "HEARTBEAT_DEDUP_KEY",
    "HIDDEN_INCIDENT",
    "KEY_LENGTH",
    "KEY_LOOKUP",
    "SUBJECT",
    "SUPPRESSED_FIRING",
    "Outcome",
    "Sender",
    "acknowledge_alert",
    "alert_out",
    "alert_timeline",
    "alerts_of_incident",
    "attach_to_incident",
    "clean",
    "create_integration",
    "create_maintenance",
    "declare_incident_from_alert",
    "delete_integration",
    "end_maintenance",
    "escalate_page",
    "get_alert",
    "get_integration",
    "heartbeat_ping",
    "incident_link",
    "ingest_events",
    "integration_by_key",
    "integration_by_lookup",
    "integration_url",
    "list_alerts",
    "list_integrations",
    "list_maintenance",
    "oldest_silent_heartbeat",
    "oldest_unrouted",
    "open_alert_counts",
    "open_alerts_of_incident",
    "pages_of",
    "parse_alert_key",
    "raise_missed_heartbeat",
    "replace_rules",
    "require_service_owner",
    "rotate_integration_key",
    "route_again_after_maintenance",
    "route_alert",
    "rules_of",
    "rules_of_service",
    "send_test_alert",
    "services_with_open_alerts",
    "silent_heartbeats",
    "still_firing_after_maintenance",
    "unrouted_alerts",
    "update_integration",
]


# Lists never load an alert's details (up to MAX_DETAILS_BYTES each): reading them there
# is a mistake that raises, not a query per row.
WITHOUT_DETAILS = defer(Alert.details, raiseload=True)


def list_alerts(session: Session, filters: AlertFilters) -> tuple[list[Alert], str | None]:
    """A page of alerts, newest first, without their details."""
    query = select(Alert).options(WITHOUT_DETAILS)
    if filters.status:
        query = query.where(Alert.status.in_([s.value for s in filters.status]))
    if filters.severity:
        query = query.where(Alert.severity.in_([s.value for s in filters.severity]))
    if filters.service_id is not None:
        query = query.where(Alert.service_id == filters.service_id)
    if filters.q.strip():
        query = query.where(_matches(filters.q.strip()))
    if filters.cursor:
        before = parse_alert_key(filters.cursor)
        if before is None:
            raise InvalidInput("Not a cursor from a previous page.", field="cursor")
        query = query.where(Alert.id < before)
    rows = list(session.scalars(query.order_by(Alert.id.desc()).limit(filters.limit + 1)))
    page = rows[: filters.limit]
    return page, (str(page[-1].id) if len(rows) > filters.limit else None)


def _matches(text_: str) -> ColumnElement[bool]:
    escaped = text_.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    clauses = [
        Alert.title.ilike(f"%{escaped}%", escape="\\"),
        Alert.dedup_key.ilike(f"%{escaped}%", escape="\\"),
        Alert.source.ilike(f"%{escaped}%", escape="\\"),
    ]
    number = parse_alert_key(text_)
    if number is not None:
        clauses.append(Alert.id == number)
    return or_(*clauses)


def incident_link(session: Session, actor: User, alert: Alert) -> dict[str, object] | None:
    """The linked incident as `actor` may see it: a restricted one they cannot see shows
    only that it exists, never its key, id or summary."""
    incident = alert.incident
    if incident is None:
        return None
    if not incidents.can_see(session, actor, incident):
        return {"id": None, "key": None, "status": "restricted", "summary": HIDDEN_INCIDENT}
    return {
        "id": incident.id,
        "key": incident.key,
        "status": incident.status,
        "summary": incident.summary,
    }


def alert_out(
    session: Session, actor: User, alert: Alert, shape: type[AlertSummaryOut] = AlertOut
) -> AlertSummaryOut:
    """The alert as `actor` may see it (a list's `shape` leaves out details), for the API
    and the CLI alike."""
    out = shape.model_validate(alert)
    link = incident_link(session, actor, alert)
    out.incident = IncidentLink.model_validate(link) if link else None
    return out


def alert_timeline(session: Session, actor: User, alert_id: int) -> list[TimelineEvent]:
    """The alert's history; where it names a restricted incident `actor` may not see
    ("Linked to INC-7"), that incident reads as one they cannot see."""
    alert = get_alert(session, alert_id)
    events = timeline.events_of(session, SUBJECT, alert_id)
    incident = alert.incident
    if incident is None or incidents.can_see(session, actor, incident):
        return events
    named = re.compile(rf"\b{re.escape(incident.key)}\b")
    hidden = HIDDEN_INCIDENT.removeprefix("linked to ")
    return [
        event
        if not named.search(event.message)
        else SimpleNamespace(  # a copy: the stored event never changes
            id=event.id,
            at=event.at,
            kind=event.kind,
            message=named.sub(hidden, event.message),
            actor=event.actor,
            data={k: v for k, v in (event.data or {}).items() if "incident" not in k},
            starred=event.starred,
        )
        for event in events
    ]


def alerts_of_incident(session: Session, incident_id: int, limit: int = 50) -> list[Alert]:
    """The alerts linked to an incident, newest first (a storm shows its latest `limit`)."""
    query = (
        select(Alert)
        .options(WITHOUT_DETAILS)
        .where(Alert.incident_id == incident_id)
        .order_by(Alert.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def open_alerts_of_incident(session: Session, incident_id: int) -> int:
    query = select(func.count()).where(
        Alert.incident_id == incident_id, Alert.status != AlertStatus.RESOLVED.value
    )
    return session.scalar(query) or 0


def open_alert_counts(session: Session) -> dict[tuple[str, str], int]:
    """Alerts not yet resolved, by (status, severity), for the operator's metrics."""
    query = (
        select(Alert.status, Alert.severity, func.count())
        .where(text("alerts.status <> 'resolved'"))  # literal: the open-alert index's predicate
        .group_by(Alert.status, Alert.severity)
    )
    return {(status, severity): n for status, severity, n in session.execute(query)}


def services_with_open_alerts(session: Session) -> dict[int, int]:
    rows = session.execute(
        select(Alert.service_id, func.count())
        .where(Alert.status != AlertStatus.RESOLVED.value)
        .group_by(Alert.service_id)
    ).all()
    return {service_id: count for service_id, count in rows}


def pages_of(session: Session, alert_id: int) -> list[paging.Page]:
    get_alert(session, alert_id)
    return paging.pages_of(session, SUBJECT, alert_id)


def escalate_page(session: Session, actor: User, alert_id: int, page_id: int) -> paging.Page:
    get_alert(session, alert_id)
    return paging.escalate_now(session, actor, page_id, (SUBJECT, alert_id))


def _acknowledge_by_link(session: Session, page: paging.Page, user: User) -> None:
    acknowledge_alert(session, user, page.subject_id)


def _resolve_by_link(session: Session, page: paging.Page, user: User) -> None:
    resolve_alert(session, user, page.subject_id)


paging.register_subject(
    SUBJECT,
    paging.SubjectHandler(
        acknowledge=_acknowledge_by_link,
        resolve=_resolve_by_link,
        path=lambda alert_id, _key: f"/alerts/{alert_id}",
    ),
)
