"""Scheduled maintenance: planned by people, started and ended by them or by the engine."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.audit import service as audit
from tocsin.auth.models import User
from tocsin.auth.permissions import require_responder
from tocsin.db import claim_rows, now, wake_engines
from tocsin.errors import Conflict, InvalidInput, NotFound
from tocsin.statuspage import changes, workflow
from tocsin.statuspage.components import component_of, set_status
from tocsin.statuspage.models import (
    Component,
    Maintenance,
    MaintenanceComponent,
    MaintenanceUpdate,
    StatusPage,
)
from tocsin.statuspage.page_setup import RECENT, get_page, record_change
from tocsin.statuspage.schemas import MaintenanceCreate, MaintenanceEdit, MaintenanceUpdatePost
from tocsin.statuspage.workflow import ComponentStatus, MaintenanceStatus, RefusedMove

# Statuspage's words for an automatic start and end.
AUTOMATIC_START_BODY = (
    "Scheduled maintenance is currently in progress. We will provide updates as necessary."
)
AUTOMATIC_END_BODY = "The scheduled maintenance has been completed."


def list_maintenances(
    session: Session, page_id: int, *, limit: int = RECENT, open_only: bool = False
) -> list[Maintenance]:
    """Latest window first."""
    query = select(Maintenance).where(Maintenance.page_id == page_id)
    if open_only:
        query = query.where(Maintenance.status != MaintenanceStatus.COMPLETED.value)
    query = query.order_by(Maintenance.scheduled_for.desc(), Maintenance.id.desc())
    return list(session.scalars(query.limit(limit)))


def get_maintenance(session: Session, page_id: int, maintenance_id: int) -> Maintenance:
    maintenance = session.get(Maintenance, maintenance_id)
    if maintenance is None or maintenance.page_id != page_id:
        raise NotFound(f"No maintenance {maintenance_id} on this page.", field="maintenance_id")
    return maintenance


def _check_window(scheduled_for: datetime, scheduled_until: datetime) -> None:
    if scheduled_until <= scheduled_for:
        raise InvalidInput("The window must end after it starts.", field="scheduled_until")


def _set_maintenance_components(
    session: Session, page: StatusPage, maintenance: Maintenance, component_ids: Iterable[int]
) -> None:
    wanted = list(dict.fromkeys(component_ids))
    for component_id in wanted:
        component_of(session, page, component_id, "component_ids")
    keep = [link for link in maintenance.components if link.component_id in wanted]
    have = {link.component_id for link in keep}
    maintenance.components = keep + [
        MaintenanceComponent(component_id=c) for c in wanted if c not in have
    ]


def create_maintenance(
    session: Session, actor: User, page_id: int, data: MaintenanceCreate
) -> Maintenance:
    require_responder(actor, "schedule maintenance")
    page = get_page(session, page_id)
    _check_window(data.scheduled_for, data.scheduled_until)
    at = now()
    maintenance = Maintenance(
        page_id=page.id,
        name=data.name,
        status=MaintenanceStatus.SCHEDULED.value,
        scheduled_for=data.scheduled_for,
        scheduled_until=data.scheduled_until,
        automatic=data.automatic,
        remind_subscribers=data.remind_subscribers,
        created_at=at,
        updated_at=at,
    )
    session.add(maintenance)
    _set_maintenance_components(session, page, maintenance, data.component_ids)
    maintenance.updates.append(
        MaintenanceUpdate(
            status=MaintenanceStatus.SCHEDULED.value,
            body=data.body.strip(),
            notify=data.notify,
            author_id=actor.id,
            created_at=at,
            display_at=at,
            updated_at=at,
            # The engine tells subscribers at once (SubscriberUpdates), then reminds them an
            # hour before, and announces the start and the end.
            subscribers_told_at=None if data.notify else at,
        )
    )
    session.flush()
    record_change(
        session,
        actor,
        page,
        "status_page.maintenance_created",
        f"Maintenance “{maintenance.name}” scheduled on {page.name}",
        {
            "maintenance": maintenance.code,
            "scheduled_for": maintenance.scheduled_for.isoformat(),
            "scheduled_until": maintenance.scheduled_until.isoformat(),
        },
        at=at,
    )
    if data.notify:
        wake_engines(session)
    session.commit()
    return maintenance


def edit_maintenance(
    session: Session, actor: User, page_id: int, maintenance_id: int, data: MaintenanceEdit
) -> Maintenance:
    require_responder(actor, "change maintenance")
    page = get_page(session, page_id)
    maintenance = get_maintenance(session, page.id, maintenance_id)
    if maintenance.status != MaintenanceStatus.SCHEDULED.value:
        raise Conflict(
            "Only a maintenance that has not started can be changed; post an update instead.",
            code="maintenance_started",
        )
    fields = data.model_dump(exclude_unset=True, exclude_none=True)
    for name in ("name", "scheduled_for", "scheduled_until", "automatic", "remind_subscribers"):
        if name in fields:
            setattr(maintenance, name, fields[name])
    _check_window(maintenance.scheduled_for, maintenance.scheduled_until)
    if data.component_ids is not None:
        _set_maintenance_components(session, page, maintenance, data.component_ids)
    if "scheduled_for" in fields:
        maintenance.reminded_at = None  # a new start deserves a new reminder
    at = now()
    maintenance.updated_at = at
    record_change(
        session,
        actor,
        page,
        "status_page.maintenance_edited",
        f"Maintenance “{maintenance.name}” on {page.name} changed",
        data.model_dump(exclude_unset=True, mode="json"),
        at=at,
    )
    session.commit()
    return maintenance


def _covering_maintenances(
    session: Session, component_id: int, other_than: int
) -> list[MaintenanceComponent]:
    """The components' links of other started maintenances that cover this component."""
    query = (
        select(MaintenanceComponent)
        .join(Maintenance, Maintenance.id == MaintenanceComponent.maintenance_id)
        .where(
            MaintenanceComponent.component_id == component_id,
            Maintenance.id != other_than,
            Maintenance.status.in_([s.value for s in workflow.MAINTENANCE_ACTIVE]),
        )
    )
    return list(session.scalars(query))


def _start_maintenance(session: Session, maintenance: Maintenance, at: datetime) -> None:
    """Components go under maintenance; what they were is kept to restore at the end. A
    component already under another started maintenance keeps that one's saved status."""
    maintenance.started_at = at
    for link in maintenance.components:
        component = session.get(Component, link.component_id)
        if component is None:
            continue
        before = ComponentStatus(component.status)
        if before is ComponentStatus.UNDER_MAINTENANCE:
            saved = [
                o.status_before
                for o in _covering_maintenances(session, component.id, maintenance.id)
            ]
            before = ComponentStatus(next((s for s in saved if s), ComponentStatus.OPERATIONAL))
        link.status_before = before.value
        set_status(session, component, ComponentStatus.UNDER_MAINTENANCE, at)


def _finish_maintenance(session: Session, maintenance: Maintenance, at: datetime) -> None:
    """Components go back to what they were, unless something else moved them meanwhile or
    another started maintenance still covers them."""
    maintenance.completed_at = at
    if maintenance.started_at is None:
        return  # it never started (cancelled, or its whole window passed unseen)
    for link in maintenance.components:
        component = session.get(Component, link.component_id)
        if component is None or component.status != ComponentStatus.UNDER_MAINTENANCE.value:
            continue
        if _covering_maintenances(session, component.id, maintenance.id):
            continue
        set_status(session, component, ComponentStatus(link.status_before or "operational"), at)


def _advance(
    session: Session,
    maintenance: Maintenance,
    target: MaintenanceStatus,
    body: str,
    notify: bool,
    author_id: int | None,
    at: datetime,
) -> MaintenanceUpdate:
    current = MaintenanceStatus(maintenance.status)
    try:
        workflow.check_maintenance_move(current, target)
    except RefusedMove as refused:
        raise Conflict(str(refused), field="status", code="illegal_transition") from None
    if current is MaintenanceStatus.SCHEDULED and workflow.is_started(target):
        _start_maintenance(session, maintenance, at)
    if target is MaintenanceStatus.COMPLETED:
        _finish_maintenance(session, maintenance, at)
    maintenance.status = target.value
    maintenance.updated_at = at
    starts = current is MaintenanceStatus.SCHEDULED and workflow.is_started(target)
    announced = notify and (starts or target is MaintenanceStatus.COMPLETED)
    update = MaintenanceUpdate(
        status=target.value,
        body=body.strip(),
        notify=notify,
        author_id=author_id,
        created_at=at,
        display_at=at,
        updated_at=at,
        # The engine announces the start and the end (SubscriberUpdates); other moves
        # announce nothing.
        subscribers_told_at=None if announced else at,
    )
    maintenance.updates.insert(0, update)
    changes.page_changed(session, maintenance.page_id, at)
    if announced:
        wake_engines(session)
    return update


def post_maintenance_update(
    session: Session, actor: User, page_id: int, maintenance_id: int, data: MaintenanceUpdatePost
) -> MaintenanceUpdate:
    """Moves the maintenance by hand (or just tells how it goes, with the same status)."""
    require_responder(actor, "post maintenance updates")
    page = get_page(session, page_id)
    maintenance = get_maintenance(session, page.id, maintenance_id)
    update = _advance(session, maintenance, data.status, data.body, data.notify, actor.id, now())
    audit.record(
        session,
        actor.id,
        "status_page.maintenance_updated",
        "status_page",
        page.id,
        f"Update on maintenance “{maintenance.name}” ({update.status}) on {page.name}",
        {"maintenance": maintenance.code},
    )
    session.commit()
    return update


# ---------------------------------------------------------------- the engine's part


def due_maintenances(session: Session, at: datetime, limit: int) -> list[Maintenance]:
    """Automatic maintenances whose start or end has come, locked so that several workers
    share them out (each row is taken by one, the others skip it)."""
    due = (
        (Maintenance.status == MaintenanceStatus.SCHEDULED.value)
        & (Maintenance.scheduled_for <= at)
    ) | (
        Maintenance.status.in_([s.value for s in workflow.MAINTENANCE_ACTIVE])
        & (Maintenance.scheduled_until <= at)
    )
    query = (
        select(Maintenance)
        .where(Maintenance.automatic.is_(True), due)
        .order_by(Maintenance.scheduled_for, Maintenance.id)
        .limit(limit)
    )
    return claim_rows(session, query, Maintenance)


def advance_due_maintenance(session: Session, maintenance: Maintenance, at: datetime) -> None:
    """The engine's automatic move; adds to the caller's transaction.

    A window that has already ended (the engine was down throughout) completes without
    ever putting its components under maintenance.
    """
    status = MaintenanceStatus(maintenance.status)
    if status is MaintenanceStatus.SCHEDULED and maintenance.scheduled_until > at:
        _advance(
            session,
            maintenance,
            MaintenanceStatus.IN_PROGRESS,
            AUTOMATIC_START_BODY,
            True,
            None,
            at,
        )
        return
    _advance(session, maintenance, MaintenanceStatus.COMPLETED, AUTOMATIC_END_BODY, True, None, at)
