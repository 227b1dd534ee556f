"""A service's alert rules: set by its owners, applied by the engine's router to each new alert."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tocsin.alerts import routing
from tocsin.alerts.alert_keys import SUBJECT
from tocsin.alerts.events import (
    AlertSeverity,
    AlertStatus,
)
from tocsin.alerts.models import (
    Alert,
    AlertRule,
    MaintenanceWindow,
    RuleAction,
)
from tocsin.alerts.owners import require_service_owner
from tocsin.alerts.schemas import RuleIn
from tocsin.alerts.triage import link_to_incident
from tocsin.audit import service as audit
from tocsin.auth.models import User
from tocsin.catalogue import service as catalogue
from tocsin.db import claim_rows
from tocsin.incidents import service as incidents
from tocsin.incidents.workflow import Severity
from tocsin.oncall import service as oncall
from tocsin.paging import service as paging
from tocsin.timeline import service as timeline


def rules_of(session: Session, service_id: int) -> list[AlertRule]:
    query = select(AlertRule).where(AlertRule.service_id == service_id).order_by(AlertRule.position)
    return list(session.scalars(query))


def rules_of_service(session: Session, service_id: int) -> list[AlertRule]:
    """A service's rules as its readers ask for them: 404 when there is no such service (any
    more), rather than an empty list that reads as "page for everything"."""
    catalogue.get_service(session, service_id)
    return rules_of(session, service_id)


def replace_rules(
    session: Session, actor: User, service_id: int, rules: list[RuleIn]
) -> list[AlertRule]:
    service = catalogue.get_service(session, service_id)
    require_service_owner(actor, service, "change alert rules")
    for old in rules_of(session, service_id):
        session.delete(old)
    session.flush()
    for position, rule in enumerate(rules):
        session.add(
            AlertRule(
                service_id=service_id,
                position=position,
                severity=rule.severity.value if rule.severity else None,
                action=rule.action.value,
                incident_severity=rule.incident_severity.value if rule.incident_severity else None,
            )
        )
    audit.record(
        session,
        actor.id,
        "service.alert_rules",
        "service",
        service_id,
        f"Alert rules of {service.name} set ({len(rules)} rules)",
        {"rules": [r.model_dump(mode="json") for r in rules]},
    )
    session.commit()
    return rules_of(session, service_id)


def route_alert(session: Session, alert: Alert, at: datetime) -> routing.Decision:
    """Applies the service's rules to a new alert. Called by the engine inside its claim."""
    rules = [
        routing.Rule(
            AlertSeverity(r.severity) if r.severity else None,
            RuleAction(r.action),
            Severity(r.incident_severity) if r.incident_severity else None,
        )
        for r in rules_of(session, alert.service_id)
    ]
    windows = session.execute(
        select(MaintenanceWindow.starts_at, MaintenanceWindow.ends_at).where(
            MaintenanceWindow.service_id == alert.service_id,
            MaintenanceWindow.starts_at <= at,
            MaintenanceWindow.ends_at > at,
        )
    ).all()
    decision = routing.decide(
        rules, AlertSeverity(alert.severity), routing.in_maintenance(windows, at)
    )
    alert.action = decision.action.value
    alert.routed_at = at
    alert.suppressed = decision.suppressed
    start: Callable[[], None] | None = None
    if decision.suppressed:
        message = f"Suppressed: {alert.service.name} is in maintenance; nobody is paged"
    elif decision.action is RuleAction.LOG:
        message = "Logged: the service's rules say this alert pages nobody"
    elif alert.status != AlertStatus.TRIGGERED.value:
        message = f"{alert.status.capitalize()} before it was routed: nobody is paged"
    elif alert.incident_id is not None:
        message = f"Already part of INC-{alert.incident.number}: nobody is paged again"
    elif decision.action is RuleAction.INCIDENT:
        incident = incidents.declare_incident_for_alert(
            session,
            alert.title[:200] or alert.key,
            decision.incident_severity,
            alert.service_id,
            f"Declared by a rule from {alert.key} ({alert.severity}) of {alert.service.name}.",
            detected_at=alert.first_seen_at,
        )
        link_to_incident(session, alert, incident, None)
        message = f"Declared {incident.key} ({decision.incident_severity}) by the service's rules"

        def start() -> None:
            incidents.page_service_for(session, incident, due_at=at)
    else:
        message = f"Paging the on-call of {alert.service.name} by its escalation policy"
        if oncall.policy_of_service(session, alert.service_id) is None:
            message = f"Meant to page the on-call of {alert.service.name}, which has no policy"

        def start() -> None:
            paging.start_page(
                session,
                subject_type=SUBJECT,
                subject_id=alert.id,
                subject_key=alert.key,
                title=alert.title,
                severity=alert.severity,
                service_id=alert.service_id,
                due_at=at,  # the escalation fires in this same engine pass
            )

    timeline.record(
        session,
        SUBJECT,
        alert.id,
        "routed",
        message,
        at=at,
        data={"action": decision.action.value, "suppressed": decision.suppressed},
    )
    if start is not None:
        start()
    return decision


def unrouted_alerts(session: Session, limit: int, skip: Collection[int] = ()) -> list[Alert]:
    """New alerts waiting for the router (but for `skip`: ones whose routing just failed),
    locked so that several workers share them out."""
    query = select(Alert).where(Alert.routed_at.is_(None)).order_by(Alert.id).limit(limit)
    return claim_rows(session, query, Alert, skip)


def oldest_unrouted(session: Session) -> datetime | None:
    """When the longest-waiting alert arrived that the router has not yet handled."""
    return session.scalar(select(func.min(Alert.first_seen_at)).where(Alert.routed_at.is_(None)))
