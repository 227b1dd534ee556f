"""Maintenance windows: alerts in one page nobody; ones still firing after are routed again."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import Session

from tocsin.alerts import routing
from tocsin.alerts.alert_keys import SUBJECT
from tocsin.alerts.models import (
    Alert,
    MaintenanceWindow,
)
from tocsin.alerts.owners import require_service_owner
from tocsin.alerts.schemas import MaintenanceCreate
from tocsin.audit import service as audit
from tocsin.auth.models import User
from tocsin.catalogue import service as catalogue
from tocsin.db import claim_rows, now
from tocsin.errors import InvalidInput, NotFound
from tocsin.timeline import service as timeline


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
