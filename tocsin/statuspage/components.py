"""A page's components and their groups: its layout, and the status each component shows."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tocsin.audit import service as audit
from tocsin.auth.models import User
from tocsin.auth.permissions import require_admin, require_responder
from tocsin.catalogue import service as catalogue
from tocsin.db import now
from tocsin.errors import InvalidInput, NotFound
from tocsin.statuspage import changes
from tocsin.statuspage.models import Component, ComponentChange, ComponentGroup, StatusPage
from tocsin.statuspage.page_setup import get_page, record_change
from tocsin.statuspage.schemas import ComponentCreate, ComponentUpdate, GroupCreate, GroupUpdate
from tocsin.statuspage.workflow import ComponentStatus

# ---------------------------------------------------------------- groups


def list_groups(session: Session, page_id: int) -> list[ComponentGroup]:
    query = (
        select(ComponentGroup)
        .where(ComponentGroup.page_id == page_id)
        .order_by(ComponentGroup.position, ComponentGroup.id)
    )
    return list(session.scalars(query))


def _group_of(session: Session, page: StatusPage, group_id: int, field: str) -> ComponentGroup:
    group = session.get(ComponentGroup, group_id)
    if group is None or group.page_id != page.id:
        raise NotFound(f"No component group {group_id} on {page.name}.", field=field)
    return group


def _next_position(session: Session, page_id: int, group_id: int | None) -> int:
    """After the last item at that level: groups and loose components share the top level."""
    components = select(func.max(Component.position)).where(
        Component.page_id == page_id,
        Component.group_id.is_(None) if group_id is None else Component.group_id == group_id,
    )
    highest = session.scalar(components)
    if group_id is None:
        groups = select(func.max(ComponentGroup.position)).where(ComponentGroup.page_id == page_id)
        highest = max(v for v in (highest, session.scalar(groups), -1) if v is not None)
    return (highest if highest is not None else -1) + 1


def create_group(session: Session, actor: User, page_id: int, data: GroupCreate) -> ComponentGroup:
    require_admin(actor, "change status page components")
    page = get_page(session, page_id)
    at = now()
    group = ComponentGroup(
        page_id=page.id,
        name=data.name,
        description=data.description,
        position=data.position
        if data.position is not None
        else _next_position(session, page.id, None),
        created_at=at,
        updated_at=at,
    )
    session.add(group)
    session.flush()
    record_change(
        session,
        actor,
        page,
        "status_page.group_created",
        f"Component group {group.name} added to {page.name}",
        at=at,
    )
    session.commit()
    return group


def update_group(
    session: Session, actor: User, page_id: int, group_id: int, data: GroupUpdate
) -> ComponentGroup:
    require_admin(actor, "change status page components")
    page = get_page(session, page_id)
    group = _group_of(session, page, group_id, "group_id")
    changed = data.model_dump(exclude_unset=True, exclude_none=True)
    for name, value in changed.items():
        setattr(group, name, value)
    at = now()
    group.updated_at = at
    record_change(
        session,
        actor,
        page,
        "status_page.group_updated",
        f"Component group {group.name} on {page.name} changed",
        changed,
        at=at,
    )
    session.commit()
    return group


def delete_group(session: Session, actor: User, page_id: int, group_id: int) -> None:
    """Its components stay on the page, outside any group."""
    require_admin(actor, "change status page components")
    page = get_page(session, page_id)
    group = _group_of(session, page, group_id, "group_id")
    for component in session.scalars(select(Component).where(Component.group_id == group.id)):
        component.group_id = None
    audit.record(
        session,
        actor.id,
        "status_page.group_deleted",
        "status_page",
        page.id,
        f"Component group {group.name} removed from {page.name}",
    )
    session.delete(group)
    changes.page_changed(session, page.id, now())
    session.commit()


# ---------------------------------------------------------------- components


def list_components(session: Session, page_id: int) -> list[Component]:
    """In the page's order: by group (groups by position), then by position."""
    components = list(
        session.scalars(
            select(Component)
            .where(Component.page_id == page_id)
            .order_by(Component.position, Component.id)
        )
    )
    groups = {g.id: (g.position, g.id) for g in list_groups(session, page_id)}

    def place(component: Component) -> tuple[int, int, int, int]:
        if component.group_id in groups:
            position, group_id = groups[component.group_id]
            return (position, group_id, component.position, component.id)
        return (component.position, 0, 0, component.id)

    return sorted(components, key=place)


def component_of(session: Session, page: StatusPage, component_id: int, field: str) -> Component:
    component = session.get(Component, component_id)
    if component is None or component.page_id != page.id:
        raise InvalidInput(f"No component {component_id} on {page.name}.", field=field)
    return component


def set_status(
    session: Session, component: Component, status: ComponentStatus, at: datetime
) -> ComponentStatus:
    """Changes a component's status and records when; returns the old status."""
    old = ComponentStatus(component.status)
    if old is not status:
        component.status = status.value
        component.updated_at = at
        session.add(ComponentChange(component_id=component.id, status=status.value, at=at))
    return old


def page_today(page: StatusPage, at: datetime) -> date:
    """The day it is on the page (its uptime days are the page's time zone's)."""
    return at.astimezone(ZoneInfo(page.time_zone)).date()


def start_date_of(page: StatusPage, component: Component) -> date:
    """The day uptime is measured from: as set, else the day the component was added."""
    return component.start_date or page_today(page, component.created_at)


def _check_start_date(page: StatusPage, start_date: date, at: datetime) -> date:
    if start_date > page_today(page, at):
        raise InvalidInput(
            "The start date cannot be in the future: uptime is measured from that day.",
            field="start_date",
        )
    return start_date


def create_component(
    session: Session, actor: User, page_id: int, data: ComponentCreate
) -> Component:
    require_admin(actor, "add status page components")
    page = get_page(session, page_id)
    group = _group_of(session, page, data.group_id, "group_id") if data.group_id else None
    service = catalogue.service_for_input(session, data.service_id)
    at = now()
    start_date = _check_start_date(page, data.start_date, at) if data.start_date else None
    component = Component(
        page_id=page.id,
        group_id=group.id if group else None,
        name=data.name,
        description=data.description,
        status=data.status.value,
        position=data.position
        if data.position is not None
        else _next_position(session, page.id, group.id if group else None),
        showcase=data.showcase,
        service_id=service.id if service else None,
        start_date=start_date or page_today(page, at),
        created_at=at,
        updated_at=at,
    )
    session.add(component)
    session.flush()
    session.add(ComponentChange(component_id=component.id, status=component.status, at=at))
    record_change(
        session,
        actor,
        page,
        "status_page.component_created",
        f"Component {component.name} added to {page.name}",
        at=at,
    )
    session.commit()
    return component


def update_component(
    session: Session, actor: User, page_id: int, component_id: int, data: ComponentUpdate
) -> Component:
    """A status alone is a responder's call (a quick fix without an incident); anything else
    reshapes the page and needs an admin."""
    fields = data.model_fields_set
    if fields - {"status"}:
        require_admin(actor, "change status page components")
    else:
        require_responder(actor, "set component statuses")
    page = get_page(session, page_id)
    component = component_of(session, page, component_id, "component_id")
    at = now()
    details: dict[str, Any] = {}
    for name in ("name", "description", "position", "showcase"):
        value = getattr(data, name)
        if name in fields and value is not None and value != getattr(component, name):
            details[name] = [getattr(component, name), value]
            setattr(component, name, value)
    if "group_id" in fields and data.group_id != component.group_id:
        group = _group_of(session, page, data.group_id, "group_id") if data.group_id else None
        details["group"] = [component.group_id, group.id if group else None]
        component.group_id = group.id if group else None
    if "service_id" in fields and data.service_id != component.service_id:
        service = catalogue.service_for_input(session, data.service_id)
        details["service"] = [component.service_id, service.id if service else None]
        component.service_id = service.id if service else None
    if "start_date" in fields and data.start_date is not None:
        start_date = _check_start_date(page, data.start_date, at)
        if start_date != start_date_of(page, component):
            details["start_date"] = [start_date_of(page, component).isoformat(), str(start_date)]
        component.start_date = start_date
    if data.status is not None and data.status.value != component.status:
        old = set_status(session, component, data.status, at)
        details["status"] = [old.value, data.status.value]
    if not details:
        return component
    component.updated_at = at
    record_change(
        session,
        actor,
        page,
        "status_page.component_updated",
        f"Component {component.name} on {page.name} changed",
        details,
        at=at,
    )
    session.commit()
    return component


def delete_component(session: Session, actor: User, page_id: int, component_id: int) -> None:
    """Past updates keep the component's name; its uptime history goes with it."""
    require_admin(actor, "remove status page components")
    page = get_page(session, page_id)
    component = component_of(session, page, component_id, "component_id")
    audit.record(
        session,
        actor.id,
        "status_page.component_deleted",
        "status_page",
        page.id,
        f"Component {component.name} removed from {page.name}",
    )
    session.delete(component)
    changes.page_changed(session, page.id, now())
    session.commit()
