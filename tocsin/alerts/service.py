"""What happens to alerts: integrations and their keys, ingest, people acting on alerts,
routing rules, maintenance windows and heartbeats.

Ingest stores each event and answers; deciding what a new alert does (page, incident,
log) is due work for the engine's router, so a burst of alerts is never slowed by
paging and an accepted alert is never lost between the two.
"""

from __future__ import annotations

import secrets as random
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Protocol

from sqlalchemy import ColumnElement, func, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tocsin.alerts import routing
from tocsin.alerts.events import (
    Action,
    AlertEvent,
    AlertSeverity,
    AlertStatus,
    without_nul,
)
from tocsin.alerts.models import (
    Alert,
    AlertRule,
    Integration,
    IntegrationKind,
    MaintenanceWindow,
    RuleAction,
)
from tocsin.alerts.schemas import (
    AlertFilters,
    IntegrationCreate,
    IntegrationUpdate,
    MaintenanceCreate,
    RuleIn,
)
from tocsin.audit import service as audit
from tocsin.auth import secrets
from tocsin.auth.models import User
from tocsin.auth.permissions import require_responder
from tocsin.catalogue import service as catalogue
from tocsin.catalogue.models import Service
from tocsin.db import claim_rows, now, wake_engines
from tocsin.errors import Conflict, Forbidden, InvalidInput, NotFound
from tocsin.incidents import service as incidents
from tocsin.incidents.models import Incident
from tocsin.incidents.schemas import IncidentCreate
from tocsin.incidents.workflow import Severity
from tocsin.paging import service as paging
from tocsin.timeline import service as timeline
from tocsin.timeline.models import TimelineEvent

SUBJECT = "alert"
HEARTBEAT_DEDUP_KEY = "heartbeat"
KEY_LOOKUP = 12
KEY_LENGTH = 32

# ---------------------------------------------------------------- who may configure a service


def require_service_owner(actor: User, service: Service, doing: str) -> None:
    """Admins, and responders in the service's owning team, configure a service's alerting."""
    require_responder(actor, doing)
    if actor.is_admin:
        return
    if service.team is None or actor not in service.team.members:
        owner = service.team.name if service.team else "no team"
        raise Forbidden(f"Only admins and members of the owning team ({owner}) can {doing}.")


# ---------------------------------------------------------------- integrations and their keys


def _new_key() -> tuple[str, str, str]:
    """A 32-character key, as PagerDuty senders expect: a public lookup part and a secret part."""
    key = random.token_hex(KEY_LENGTH // 2)
    return key, key[:KEY_LOOKUP], secrets.digest(key[KEY_LOOKUP:])


def integration_by_key(session: Session, key: str) -> Integration | None:
    """The integration a key opens, compared in constant time; None for any wrong key."""
    if not isinstance(key, str) or len(key) != KEY_LENGTH:
        return None
    integration = integration_by_lookup(session, key[:KEY_LOOKUP])
    if integration is None or not secrets.same_secret(key[KEY_LOOKUP:], integration.secret_hash):
        return None
    return integration


def integration_by_lookup(session: Session, lookup: str) -> Integration | None:
    """By the key's public part only; callers compare the secret part."""
    return session.scalar(select(Integration).where(Integration.lookup == lookup))


def integration_url(base_url: str, integration: Integration, key: str) -> str:
    base = base_url.rstrip("/")
    if integration.kind == IntegrationKind.PAGERDUTY:
        return f"{base}/v2/enqueue"
    if integration.kind == IntegrationKind.HEARTBEAT:
        return f"{base}/heartbeats/{key}"
    return f"{base}/integrations/{integration.kind}/{key}"


def get_integration(session: Session, integration_id: int) -> Integration:
    integration = session.get(Integration, integration_id)
    if integration is None:
        raise NotFound(f"No integration with id {integration_id}.", field="integration_id")
    return integration


def list_integrations(session: Session, service_id: int | None = None) -> list[Integration]:
    query = select(Integration).order_by(Integration.service_id, Integration.name)
    if service_id is not None:
        query = query.where(Integration.service_id == service_id)
    return list(session.scalars(query))


def create_integration(
    session: Session, actor: User, data: IntegrationCreate
) -> tuple[Integration, str]:
    service = catalogue.service_for_input(session, data.service_id)
    require_service_owner(actor, service, "add integrations")
    key, lookup, digest = _new_key()
    integration = Integration(
        service=service,
        name=data.name,
        kind=data.kind.value,
        lookup=lookup,
        secret_hash=digest,
        rate_limit_per_minute=data.rate_limit_per_minute,
        heartbeat_interval_seconds=data.heartbeat_interval_seconds,
        heartbeat_grace_seconds=data.heartbeat_grace_seconds,
    )
    if data.kind is IntegrationKind.HEARTBEAT:
        integration.heartbeat_grace_seconds = data.heartbeat_grace_seconds or 0
        integration.heartbeat_due_at = now() + _heartbeat_window(integration)
    session.add(integration)
    session.flush()
    audit.record(
        session,
        actor.id,
        "integration.created",
        "integration",
        integration.id,
        f"{data.kind.value} integration '{integration.name}' added to {service.name}",
    )
    session.commit()
    return integration, key


def rotate_integration_key(
    session: Session, actor: User, integration_id: int
) -> tuple[Integration, str]:
    """A new key; the old one stops working at once."""
    integration = get_integration(session, integration_id)
    require_service_owner(actor, integration.service, "rotate integration keys")
    key, integration.lookup, integration.secret_hash = _new_key()
    integration.rotated_at = now()
    audit.record(
        session,
        actor.id,
        "integration.rotated",
        "integration",
        integration.id,
        f"Key of '{integration.name}' ({integration.service.name}) rotated",
    )
    session.commit()
    return integration, key


def update_integration(
    session: Session, actor: User, integration_id: int, data: IntegrationUpdate
) -> Integration:
    integration = get_integration(session, integration_id)
    require_service_owner(actor, integration.service, "change integrations")
    for field in data.model_fields_set:
        value = getattr(data, field)
        if value is not None:
            setattr(integration, field, value)
    if integration.kind == IntegrationKind.HEARTBEAT and integration.last_ping_at:
        integration.heartbeat_due_at = integration.last_ping_at + _heartbeat_window(integration)
    audit.record(
        session,
        actor.id,
        "integration.updated",
        "integration",
        integration.id,
        f"Integration '{integration.name}' changed",
        data.model_dump(exclude_unset=True),
    )
    session.commit()
    return integration


def delete_integration(session: Session, actor: User, integration_id: int) -> None:
    integration = get_integration(session, integration_id)
    require_service_owner(actor, integration.service, "remove integrations")
    audit.record(
        session,
        actor.id,
        "integration.deleted",
        "integration",
        integration.id,
        f"Integration '{integration.name}' removed from {integration.service.name}",
    )
    session.delete(integration)
    session.commit()


def send_test_alert(
    session: Session, actor: User, integration_id: int, severity: AlertSeverity
) -> Alert:
    """A real alert through the integration, so a team sees its rules and paging work end to
    end before the first real outage; the person resolves it when the page has arrived."""
    integration = get_integration(session, integration_id)
    require_service_owner(actor, integration.service, "send test alerts")
    event = AlertEvent(
        action=Action.TRIGGER,
        dedup_key=f"tocsin-test-{random.token_hex(6)}",
        title=f"Test alert through {integration.name}, sent by {actor.name}",
        severity=severity,
        source="Tocsin test alert",
        details={"test": True, "sent_by": actor.email},
    )
    [outcome] = ingest_events(session, integration, [event])
    return get_alert(session, outcome.alert_id or 0)


# ---------------------------------------------------------------- ingest


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


def _trigger(session: Session, integration: Sender, event: AlertEvent, at: datetime) -> Outcome:
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
            outcomes.append(_trigger(session, integration, event, moment))
            continue
        alert = _open_alert(session, integration.id, event.dedup_key)
        if alert is None:
            outcomes.append(
                Outcome(event.dedup_key, None)
            )  # nothing open: dropped, as PagerDuty does
            continue
        by = f"{integration.name} (sender)"
        changed = (
            _acknowledge(session, alert, None, by, moment)
            if event.action is Action.ACKNOWLEDGE
            else _resolve(session, alert, None, by, moment)
        )
        outcomes.append(Outcome(event.dedup_key, alert.id, changed=changed))
    session.commit()
    return outcomes


# ---------------------------------------------------------------- acknowledging and resolving


def _acknowledge(session: Session, alert: Alert, actor: User | None, by: str, at: datetime) -> bool:
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


def _resolve(session: Session, alert: Alert, actor: User | None, by: str, at: datetime) -> bool:
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
    paging.notify_user(
        session,
        incident.incident_manager,
        key=f"alerts-resolved:{incident.id}:{event_id}",
        title=f"{incident.key}: every linked alert is resolved",
        body=(
            f"{incident.key} {incident.summary}\n\nEvery alert linked to it is resolved. The "
            "incident stays open until you resolve it: check the impact is over, then resolve "
            "it with what fixed it."
        ),
        purpose="info",
        subject=(incidents.SUBJECT, incident.id),
    )


def get_alert(session: Session, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"No alert ALR-{alert_id}.", field="alert_id")
    return alert


def alerts_of_incident(session: Session, incident_id: int, limit: int = 50) -> list[Alert]:
    """The alerts linked to an incident, newest first (a storm shows its latest `limit`)."""
    query = (
        select(Alert).where(Alert.incident_id == incident_id).order_by(Alert.id.desc()).limit(limit)
    )
    return list(session.scalars(query))


def open_alerts_of_incident(session: Session, incident_id: int) -> int:
    query = select(func.count()).where(
        Alert.incident_id == incident_id, Alert.status != AlertStatus.RESOLVED.value
    )
    return session.scalar(query) or 0


def parse_alert_key(key: str) -> int | None:
    digits = key.strip().upper().removeprefix("ALR-")
    return int(digits) if digits.isascii() and digits.isdigit() and len(digits) <= 15 else None


def acknowledge_alert(session: Session, actor: User, alert_id: int) -> Alert:
    require_responder(actor, "acknowledge alerts")
    alert = get_alert(session, alert_id)
    if not _acknowledge(session, alert, actor, actor.name, now()) and alert.status == "resolved":
        raise Conflict(f"{alert.key} is already resolved.", field="status")
    session.commit()
    return alert


def resolve_alert(session: Session, actor: User, alert_id: int) -> Alert:
    require_responder(actor, "resolve alerts")
    alert = get_alert(session, alert_id)
    _resolve(session, alert, actor, actor.name, now())
    session.commit()
    return alert


def list_alerts(session: Session, filters: AlertFilters) -> tuple[list[Alert], str | None]:
    query = select(Alert)
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
    only that it exists, never its summary."""
    incident = alert.incident
    if incident is None:
        return None
    link: dict[str, object] = {
        "id": incident.id,
        "key": incident.key,
        "status": incident.status,
        "summary": incident.summary,
    }
    if not incidents.can_see(session, actor, incident):
        link.update(summary="Restricted incident", status="restricted")
    return link


def alert_timeline(session: Session, alert_id: int) -> list[TimelineEvent]:
    get_alert(session, alert_id)
    return timeline.events_of(session, SUBJECT, alert_id)


# ---------------------------------------------------------------- alerts and incidents


def _link(session: Session, alert: Alert, incident: Incident, actor: User | None) -> None:
    if alert.incident_id == incident.id:
        return
    if alert.incident_id is not None:
        raise Conflict(
            f"{alert.key} is already linked to INC-{alert.incident.number}.", field="alert_id"
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
            f"{alert.key} already belongs to INC-{alert.incident.number}.", field="alert_id"
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
    _link(session, alert, incident, actor)
    session.commit()
    return incident


def attach_to_incident(session: Session, actor: User, alert_id: int, incident_key: str) -> Alert:
    require_responder(actor, "attach alerts to incidents")
    alert = get_alert(session, alert_id)
    incident = incidents.get_incident(session, actor, incident_key)
    _link(session, alert, incident, actor)
    session.commit()
    return alert


# ---------------------------------------------------------------- rules and maintenance


def rules_of(session: Session, service_id: int) -> list[AlertRule]:
    query = select(AlertRule).where(AlertRule.service_id == service_id).order_by(AlertRule.position)
    return list(session.scalars(query))


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


def create_maintenance(session: Session, actor: User, data: MaintenanceCreate) -> MaintenanceWindow:
    service = catalogue.service_for_input(session, data.service_id)
    require_service_owner(actor, service, "plan maintenance")
    if data.ends_at <= now():
        raise InvalidInput(
            "This maintenance would already be over: it must end in the future.", field="ends_at"
        )
    window = MaintenanceWindow(
        service=service,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        reason=data.reason,
        created_by_id=actor.id,
    )
    session.add(window)
    session.flush()
    audit.record(
        session,
        actor.id,
        "maintenance.created",
        "service",
        service.id,
        f"Maintenance on {service.name}: {data.starts_at:%Y-%m-%d %H:%M} UTC for "
        f"{data.ends_at - data.starts_at}",
    )
    session.commit()
    return window


def list_maintenance(
    session: Session, service_id: int | None = None, *, current_and_future: bool = True
):
    query = select(MaintenanceWindow).order_by(MaintenanceWindow.starts_at)
    if service_id is not None:
        query = query.where(MaintenanceWindow.service_id == service_id)
    if current_and_future:
        query = query.where(MaintenanceWindow.ends_at > now())
    return list(session.scalars(query))


def end_maintenance(session: Session, actor: User, window_id: int) -> None:
    """Ends a window now (or removes a future one)."""
    window = session.get(MaintenanceWindow, window_id)
    if window is None:
        raise NotFound(f"No maintenance window {window_id}.", field="window_id")
    require_service_owner(actor, window.service, "end maintenance")
    moment = now()
    if window.starts_at > moment:
        session.delete(window)
    else:
        window.ends_at = min(window.ends_at, moment)
    audit.record(
        session,
        actor.id,
        "maintenance.ended",
        "service",
        window.service_id,
        f"Maintenance on {window.service.name} ended",
    )
    session.commit()


# ---------------------------------------------------------------- routing (run by the engine)


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
        _link(session, alert, incident, None)
        message = f"Declared {incident.key} ({decision.incident_severity}) by the service's rules"

        def start() -> None:
            incidents.page_service_for(session, incident, due_at=at)
    else:
        message = f"Paging the on-call of {alert.service.name} by its escalation policy"

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


# Literal, as the partial index ix_alerts_suppressed_firing states it.
SUPPRESSED_FIRING = text("alerts.suppressed AND alerts.status = 'triggered'")


def still_firing_after_maintenance(
    session: Session, at: datetime, limit: int, skip: Collection[int] = ()
) -> list[Alert]:
    """Alerts maintenance kept quiet that still fire now that it is over (locked, so that
    several workers share them out; but for `skip`, whose hand-back just failed): repeated
    by their sender since the end, or unresolved `MAINTENANCE_GRACE` after it. Only
    windows that ended within `MAINTENANCE_LOOKBACK`: an alert left firing long after an
    old window (a sender that never resolves) is not woken up again."""
    window = MaintenanceWindow
    active = (
        select(window.id)
        .where(window.service_id == Alert.service_id, window.starts_at <= at, window.ends_at > at)
        .exists()
    )
    last_end = (
        select(func.max(window.ends_at))
        .where(window.service_id == Alert.service_id, window.ends_at <= at)
        .scalar_subquery()
    )
    query = (
        select(Alert)
        .where(SUPPRESSED_FIRING, ~active, last_end > at - routing.MAINTENANCE_LOOKBACK)
        .where(or_(Alert.last_seen_at >= last_end, last_end <= at - routing.MAINTENANCE_GRACE))
    )
    return claim_rows(session, query.order_by(Alert.id).limit(limit), Alert, skip)


def route_again_after_maintenance(session: Session, alert: Alert, at: datetime) -> None:
    """Hands a still-firing alert back to the router, as if it had just arrived; one that
    people already made part of an incident is theirs, and pages nobody again."""
    alert.suppressed = False
    if alert.incident_id is not None:
        message = (
            f"Maintenance on {alert.service.name} is over and this alert still fires: it is "
            f"handled in INC-{alert.incident.number}, so nobody is paged again"
        )
    else:
        alert.routed_at = None
        alert.action = None
        message = (
            f"Maintenance on {alert.service.name} is over and this alert still fires: "
            "the service's rules decide again"
        )
    timeline.record(session, SUBJECT, alert.id, "maintenance_over", message, at=at)


def unrouted_alerts(session: Session, limit: int, skip: Collection[int] = ()) -> list[Alert]:
    """New alerts waiting for the router (but for `skip`: ones whose routing just failed),
    locked so that several workers share them out."""
    query = select(Alert).where(Alert.routed_at.is_(None)).order_by(Alert.id).limit(limit)
    return claim_rows(session, query, Alert, skip)


def open_alert_counts(session: Session) -> dict[tuple[str, str], int]:
    """Alerts not yet resolved, by (status, severity), for the operator's metrics."""
    query = (
        select(Alert.status, Alert.severity, func.count())
        .where(text("alerts.status <> 'resolved'"))  # literal: the open-alert index's predicate
        .group_by(Alert.status, Alert.severity)
    )
    return {(status, severity): n for status, severity, n in session.execute(query)}


def oldest_unrouted(session: Session) -> datetime | None:
    """When the longest-waiting alert arrived that the router has not yet handled."""
    return session.scalar(select(func.min(Alert.first_seen_at)).where(Alert.routed_at.is_(None)))


# ---------------------------------------------------------------- heartbeats


def _heartbeat_window(integration: Integration) -> timedelta:
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
    integration.heartbeat_due_at = moment + _heartbeat_window(integration)
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
    _trigger(session, integration, clean(event), at)


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
