"""What responders and senders do with an alert: acknowledge, resolve, join it to an incident."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tocsin.alerts import routing
from tocsin.alerts.alert_keys import SUBJECT, get_alert
from tocsin.alerts.events import (
    AlertSeverity,
    AlertStatus,
)
from tocsin.alerts.models import Alert
from tocsin.auth.models import User
from tocsin.auth.permissions import require_responder
from tocsin.db import now
from tocsin.errors import Conflict
from tocsin.incidents import service as incidents
from tocsin.incidents.models import Incident
from tocsin.incidents.schemas import IncidentCreate
from tocsin.incidents.workflow import Severity
from tocsin.paging import service as paging
from tocsin.timeline import service as timeline

# How a restricted incident reads to someone who may not see it: no key, no id.
HIDDEN_INCIDENT = "linked to an incident you cannot see"


def _linked_incident_words(session: Session, actor: User | None, alert: Alert) -> str:
    """'linked to INC-7', or that it is linked to one `actor` may not see."""
    incident = alert.incident
    if actor is not None and not incidents.can_see(session, actor, incident):
        return HIDDEN_INCIDENT
    return f"linked to {incident.key}"


def mark_acknowledged(
    session: Session, alert: Alert, actor: User | None, by: str, at: datetime
) -> bool:
    if alert.status != AlertStatus.TRIGGERED.value:
        return False
    alert.status = AlertStatus.ACKNOWLEDGED.value
    alert.acknowledged_at = at
    alert.acknowledged_by = actor
    paging.acknowledge_subject(session, SUBJECT, alert.id, actor, by)
    timeline.record(
        session,
        SUBJECT,
        alert.id,
        "acknowledged",
        f"Acknowledged by {by}",
        actor_id=actor.id if actor else None,
        at=at,
    )
    return True


def mark_resolved(
    session: Session, alert: Alert, actor: User | None, by: str, at: datetime
) -> bool:
    if alert.status == AlertStatus.RESOLVED.value:
        return False
    alert.status = AlertStatus.RESOLVED.value
    alert.resolved_at = at
    alert.resolved_by = actor
    paging.resolve_subject(session, SUBJECT, alert.id, actor, by)
    timeline.record(
        session,
        SUBJECT,
        alert.id,
        "resolved",
        f"Resolved by {by}",
        actor_id=actor.id if actor else None,
        at=at,
    )
    if alert.incident_id is not None:
        _tell_incident_alert_resolved(session, alert, at)
    return True


def _tell_incident_alert_resolved(session: Session, alert: Alert, at: datetime) -> None:
    """Marks the linked incident's timeline; when none of its alerts is open, says so, starred."""
    session.flush()
    timeline.record(
        session,
        incidents.SUBJECT,
        alert.incident_id,
        "alert_resolved",
        f"{alert.key} resolved: {alert.title}",
        data={"alert_id": alert.id},
        at=at,
    )
    still_open = session.scalar(
        select(func.count())
        .select_from(Alert)
        .where(Alert.incident_id == alert.incident_id, Alert.status != AlertStatus.RESOLVED.value)
    )
    if not still_open:
        event = timeline.record(
            session,
            incidents.SUBJECT,
            alert.incident_id,
            "all_alerts_resolved",
            "Every linked alert is resolved. The incident stays open until its incident manager "
            "resolves it.",
            at=at,
        )
        event.starred = True
        _tell_incident_manager(session, alert, event.id)


def _tell_incident_manager(session: Session, alert: Alert, event_id: int) -> None:
    """A note to the incident manager (not a page): decide whether the incident is over."""
    incident = session.get(Incident, alert.incident_id)
    if (
        incident is None
        or incident.incident_manager is None
        or incident.status
        not in (
            "open",
            "fixing",
        )
    ):
        return
    words = paging.PageMessage(
        title=f"{incident.key}: every linked alert is resolved",
        body=(
            f"{incident.key} {incident.summary}\n\nEvery alert linked to it is resolved. The "
            "incident stays open until you resolve it: check the impact is over, then resolve "
            "it with what fixed it."
        ),
    )
    if incident.restricted:
        words = paging.restricted_notice(
            subject_key=incident.key,
            severity=incident.severity,
            what="every linked alert is resolved; resolve the incident when the impact is over",
            link=f"/incidents/{incident.key}",
        )
    paging.notify_user(
        session,
        incident.incident_manager,
        key=f"alerts-resolved:{incident.id}:{event_id}",
        title=words.title,
        body=words.body,
        purpose="info",
        subject=(incidents.SUBJECT, incident.id),
    )


def acknowledge_alert(session: Session, actor: User, alert_id: int) -> Alert:
    require_responder(actor, "acknowledge alerts")
    alert = get_alert(session, alert_id)
    if (
        not mark_acknowledged(session, alert, actor, actor.name, now())
        and alert.status == "resolved"
    ):
        raise Conflict(f"{alert.key} is already resolved.", field="status")
    session.commit()
    return alert


def resolve_alert(session: Session, actor: User, alert_id: int) -> Alert:
    require_responder(actor, "resolve alerts")
    alert = get_alert(session, alert_id)
    mark_resolved(session, alert, actor, actor.name, now())
    session.commit()
    return alert


def link_to_incident(
    session: Session, alert: Alert, incident: Incident, actor: User | None
) -> None:
    if alert.incident_id == incident.id:
        return
    if alert.incident_id is not None:
        raise Conflict(
            f"{alert.key} is already {_linked_incident_words(session, actor, alert)}.",
            field="alert_id",
        )
    alert.incident = incident
    session.flush()
    who = actor.name if actor else "Tocsin"
    timeline.record(
        session,
        incidents.SUBJECT,
        incident.id,
        "alert_linked",
        f"{alert.key} linked by {who}: {alert.title} ({alert.severity}, {alert.status})",
        actor_id=actor.id if actor else None,
        data={"alert_id": alert.id},
    )
    timeline.record(
        session,
        SUBJECT,
        alert.id,
        "linked",
        f"Linked to {incident.key} by {who}",
        actor_id=actor.id if actor else None,
    )


def declare_incident_from_alert(
    session: Session,
    actor: User,
    alert_id: int,
    severity: Severity | None = None,
    summary: str | None = None,
) -> Incident:
    """One click from an alert to an incident: its title, service and a severity from the alert."""
    require_responder(actor, "declare incidents")
    alert = get_alert(session, alert_id)
    if alert.incident_id is not None:
        raise Conflict(
            f"{alert.key} is already {_linked_incident_words(session, actor, alert)}.",
            field="alert_id",
        )
    chosen = severity or routing.INCIDENT_SEVERITY_FOR[AlertSeverity(alert.severity)]
    data = IncidentCreate(
        summary=(summary or alert.title)[:200] or alert.key,
        severity=chosen,
        service_id=alert.service_id,
        description=f"Declared from alert {alert.key} ({alert.severity}) of {alert.service.name}.",
        # The alert's own page already reached the service's on-call (who may be the one
        # declaring, alert acknowledged): paging them again for the same fault is noise.
        # An alert kept without paging (a `log` rule, maintenance) pages them now.
        page_on_call=not paging.pages_of(session, SUBJECT, alert.id),
        # Monitoring saw it first: the time since impact began counts from the alert.
        detected_at=min(alert.first_seen_at, now()),
    )
    incident = incidents.declare_incident(session, actor, data, commit=False)
    link_to_incident(session, alert, incident, actor)
    session.commit()
    return incident


def attach_to_incident(session: Session, actor: User, alert_id: int, incident_key: str) -> Alert:
    require_responder(actor, "attach alerts to incidents")
    alert = get_alert(session, alert_id)
    incident = incidents.get_incident(session, actor, incident_key)
    link_to_incident(session, alert, incident, actor)
    session.commit()
    return alert
