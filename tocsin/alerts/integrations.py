"""Integrations and their keys: how a sender reaches a service, and a test alert to prove it."""

from __future__ import annotations

import secrets as random

from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.alerts.alert_keys import get_alert
from tocsin.alerts.events import (
    Action,
    AlertEvent,
    AlertSeverity,
)
from tocsin.alerts.heartbeats import heartbeat_window
from tocsin.alerts.intake import ingest_events
from tocsin.alerts.models import (
    Alert,
    Integration,
    IntegrationKind,
)
from tocsin.alerts.owners import require_service_owner
from tocsin.alerts.schemas import (
    IntegrationCreate,
    IntegrationUpdate,
)
from tocsin.audit import service as audit
from tocsin.auth import secrets
from tocsin.auth.models import User
from tocsin.catalogue import service as catalogue
from tocsin.db import now, wake_engines
from tocsin.errors import NotFound

KEY_LOOKUP = 12
KEY_LENGTH = 32


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
        integration.heartbeat_due_at = now() + heartbeat_window(integration)
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
    if integration.kind == IntegrationKind.HEARTBEAT and integration.heartbeat_due_at:
        # A new interval or grace applies at once: a job that already stopped is missed by
        # the new rule, not the old one. A heartbeat already missed waits for its next ping.
        since = integration.last_ping_at or integration.created_at
        integration.heartbeat_due_at = since + heartbeat_window(integration)
        wake_engines(session)
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
