"""What people do with status pages: set them up, tell the public about incidents, plan maintenance.

Admins shape pages, groups and components. Responders (the communications manager
in practice) set component statuses, publish incidents, post their updates and plan
maintenance; viewers only read. Each operation checks that, writes the change, its
audit entry, the linked Tocsin incident's timeline event and the page's new version
in one transaction, and commits.

Subscribers are told by the engine right after the commit (subscribers.py,
engine/subscriber_updates.py): of each incident update with `notify` (the first and the
resolution included), and when a maintenance starts (by a person or by the engine).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tocsin.audit import service as audit
from tocsin.auth.models import User
from tocsin.auth.permissions import require_admin, require_responder
from tocsin.catalogue import service as catalogue
from tocsin.db import claim_rows, now, wake_engines
from tocsin.errors import Conflict, InvalidInput, NotFound
from tocsin.incidents import service as incidents
from tocsin.incidents.models import Incident
from tocsin.statuspage import changes, drafts, subscribers, workflow
from tocsin.statuspage.models import (
    Component,
    ComponentChange,
    ComponentGroup,
    IncidentComponent,
    IncidentUpdate,
    Maintenance,
    MaintenanceComponent,
    MaintenanceUpdate,
    PublicIncident,
    StatusPage,
    UpdateComponent,
)
from tocsin.statuspage.schemas import (
    ComponentCreate,
    ComponentStatusChoice,
    ComponentUpdate,
    GroupCreate,
    GroupUpdate,
    MaintenanceCreate,
    MaintenanceEdit,
    MaintenanceUpdatePost,
    PageCreate,
    PageUpdate,
    PublicIncidentCreate,
    PublicIncidentEdit,
    UpdatePost,
)
from tocsin.statuspage.workflow import (
    ComponentStatus,
    IncidentStatus,
    MaintenanceStatus,
    RefusedMove,
)
from tocsin.timeline import service as timeline

TIMELINE_SUBJECT = "incident"  # the Tocsin incident's timeline (tocsin.incidents.service.SUBJECT)
RECENT = 50  # incidents and maintenances an API list returns, like Statuspage's

# Statuspage's words for an automatic start and end.
AUTOMATIC_START_BODY = (
    "Scheduled maintenance is currently in progress. We will provide updates as necessary."
)
AUTOMATIC_END_BODY = "The scheduled maintenance has been completed."


# ---------------------------------------------------------------- pages


def _page_changed(
    session: Session,
    actor: User,
    page: StatusPage,
    action: str,
    summary: str,
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    """An admin's change to a page: in the audit log, and its cached documents made stale."""
    audit.record(session, actor.id, action, "status_page", page.id, summary, details)
    changes.page_changed(session, page.id, at or now())


def list_pages(session: Session) -> list[StatusPage]:
    return list(session.scalars(select(StatusPage).order_by(StatusPage.name, StatusPage.id)))


def get_page(session: Session, page_id: int) -> StatusPage:
    page = session.get(StatusPage, page_id)
    if page is None:
        raise NotFound(f"No status page with id {page_id}.", field="page_id")
    return page


def page_by_slug(session: Session, slug: str) -> StatusPage | None:
    return session.scalar(select(StatusPage).where(StatusPage.slug == slug.lower()))


def _unique_slug(session: Session, slug: str, own_id: int | None = None) -> None:
    clash = page_by_slug(session, slug)
    if clash is not None and clash.id != own_id:
        raise Conflict(f"The address /status/{slug} is taken by {clash.name}.", field="slug")


def create_page(session: Session, actor: User, data: PageCreate) -> StatusPage:
    require_admin(actor, "add status pages")
    _unique_slug(session, data.slug)
    at = now()
    page = StatusPage(
        slug=data.slug,
        name=data.name,
        public=data.public,
        time_zone=data.time_zone,
        url=data.url,
        created_at=at,
        updated_at=at,
    )
    session.add(page)
    session.flush()
    audit.record(
        session,
        actor.id,
        "status_page.created",
        "status_page",
        page.id,
        f"Status page {page.name} (/status/{page.slug}, {'public' if page.public else 'private'})"
        " added",
    )
    changes.note_removed(session)  # a slug that answered 404 may be cached as missing
    session.commit()
    return page


def update_page(session: Session, actor: User, page_id: int, data: PageUpdate) -> StatusPage:
    require_admin(actor, "change status pages")
    page = get_page(session, page_id)
    changed = data.model_dump(exclude_unset=True, exclude_none=True)
    if "slug" in changed:
        _unique_slug(session, data.slug, page.id)
    for name, value in changed.items():
        setattr(page, name, value)
    audit.record(
        session,
        actor.id,
        "status_page.updated",
        "status_page",
        page.id,
        f"Status page {page.name} changed",
        changed,
    )
    session.flush()
    changes.page_changed(session, page.id, now())
    session.commit()
    return page


def delete_page(session: Session, actor: User, page_id: int) -> None:
    require_admin(actor, "remove status pages")
    page = get_page(session, page_id)
    audit.record(
        session,
        actor.id,
        "status_page.deleted",
        "status_page",
        page.id,
        f"Status page {page.name} (/status/{page.slug}) removed",
    )
    session.delete(page)
    changes.note_removed(session)
    session.commit()


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
    _page_changed(
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
    _page_changed(
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


def _component_of(session: Session, page: StatusPage, component_id: int, field: str) -> Component:
    component = session.get(Component, component_id)
    if component is None or component.page_id != page.id:
        raise InvalidInput(f"No component {component_id} on {page.name}.", field=field)
    return component


def _set_status(
    session: Session, component: Component, status: ComponentStatus, at: datetime
) -> ComponentStatus:
    """Changes a component's status and records when; returns the old status."""
    old = ComponentStatus(component.status)
    if old is not status:
        component.status = status.value
        component.updated_at = at
        session.add(ComponentChange(component_id=component.id, status=status.value, at=at))
    return old


def create_component(
    session: Session, actor: User, page_id: int, data: ComponentCreate
) -> Component:
    require_admin(actor, "add status page components")
    page = get_page(session, page_id)
    group = _group_of(session, page, data.group_id, "group_id") if data.group_id else None
    service = catalogue.service_for_input(session, data.service_id)
    at = now()
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
        created_at=at,
        updated_at=at,
    )
    session.add(component)
    session.flush()
    session.add(ComponentChange(component_id=component.id, status=component.status, at=at))
    _page_changed(
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
    component = _component_of(session, page, component_id, "component_id")
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
    if data.status is not None and data.status.value != component.status:
        old = _set_status(session, component, data.status, at)
        details["status"] = [old.value, data.status.value]
    if not details:
        return component
    component.updated_at = at
    _page_changed(
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
    component = _component_of(session, page, component_id, "component_id")
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


# ---------------------------------------------------------------- public incidents


def list_incidents(
    session: Session, page_id: int, *, unresolved_only: bool = False, limit: int = RECENT
) -> list[PublicIncident]:
    """Newest first."""
    query = select(PublicIncident).where(PublicIncident.page_id == page_id)
    if unresolved_only:
        query = query.where(PublicIncident.status.in_([s.value for s in workflow.UNRESOLVED]))
    query = query.order_by(PublicIncident.created_at.desc(), PublicIncident.id.desc())
    return list(session.scalars(query.limit(limit)))


def get_incident(session: Session, page_id: int, incident_id: int) -> PublicIncident:
    incident = session.get(PublicIncident, incident_id)
    if incident is None or incident.page_id != page_id:
        raise NotFound(f"No public incident {incident_id} on this page.", field="incident_id")
    return incident


def linked_incidents(session: Session, tocsin_incident_id: int) -> list[PublicIncident]:
    """The public incidents telling the world about one Tocsin incident, newest first."""
    query = (
        select(PublicIncident)
        .where(PublicIncident.incident_id == tocsin_incident_id)
        .order_by(PublicIncident.id.desc())
    )
    return list(session.scalars(query))


def visible_incident_key(session: Session, actor: User, incident: PublicIncident) -> str | None:
    """The linked Tocsin incident's key, if `actor` may see that incident (restricted ones)."""
    if incident.incident_id is None:
        return None
    linked = session.get(Incident, incident.incident_id)
    if linked is None or not incidents.can_see(session, actor, linked):
        return None
    return linked.key


def _tocsin_incident(session: Session, actor: User, key: str) -> Incident:
    try:
        return incidents.get_incident(session, actor, key)
    except NotFound:
        raise InvalidInput(f"No incident {key} that you can see.", field="incident_key") from None


def _apply_components(
    session: Session,
    page: StatusPage,
    incident: PublicIncident,
    update: IncidentUpdate,
    choices: Iterable[ComponentStatusChoice],
    at: datetime,
) -> dict[str, list[str]]:
    """Sets the chosen statuses, records them on the update and the incident.

    On resolution, each component this incident still holds at the status it gave it
    goes back to operational, unless another unresolved incident affects it too.
    """
    seen: dict[int, ComponentStatus] = {}
    for choice in choices:
        seen[choice.component_id] = choice.status
    held = {link.component_id: link for link in incident.components}
    if IncidentStatus(update.status) is IncidentStatus.RESOLVED:
        others = _components_of_other_open_incidents(session, page.id, incident.id)
        for component_id, link in held.items():
            if component_id in seen or component_id in others:
                continue
            component = session.get(Component, component_id)
            if component is not None and component.status == link.status:
                seen[component_id] = ComponentStatus.OPERATIONAL
    changed: dict[str, list[str]] = {}
    for component_id, status in seen.items():
        component = _component_of(session, page, component_id, "components")
        old = _set_status(session, component, status, at)
        update.affected.append(
            UpdateComponent(
                component_id=component.id,
                code=component.code,
                name=component.name,
                old_status=old.value,
                new_status=status.value,
            )
        )
        if component_id in held:
            held[component_id].status = status.value
        else:
            link = IncidentComponent(component_id=component.id, status=status.value)
            incident.components.append(link)
            held[component_id] = link
        if old is not status:
            changed[component.name] = [old.value, status.value]
    return changed


def _components_of_other_open_incidents(
    session: Session, page_id: int, incident_id: int
) -> set[int]:
    query = (
        select(IncidentComponent.component_id)
        .join(PublicIncident, PublicIncident.id == IncidentComponent.incident_id)
        .where(
            PublicIncident.page_id == page_id,
            PublicIncident.id != incident_id,
            PublicIncident.status.in_([s.value for s in workflow.UNRESOLVED]),
        )
    )
    return set(session.scalars(query))


def _move(incident: PublicIncident, status: IncidentStatus, at: datetime) -> None:
    current = IncidentStatus(incident.status) if incident.status else None
    try:
        workflow.check_incident_move(current, status)
    except RefusedMove as refused:
        raise Conflict(str(refused), field="status", code="illegal_transition") from None
    incident.status = status.value
    if status is IncidentStatus.MONITORING and incident.monitoring_at is None:
        incident.monitoring_at = at
    if status in (IncidentStatus.RESOLVED, IncidentStatus.POSTMORTEM):
        incident.resolved_at = incident.resolved_at or at
    else:
        incident.resolved_at = None  # reopened


def _record_on_timeline(
    session: Session,
    page: StatusPage,
    incident: PublicIncident,
    update: IncidentUpdate,
    actor: User,
    changed: dict[str, list[str]],
    first: bool,
) -> None:
    if incident.incident_id is None:
        return
    label = workflow.INCIDENT_LABEL[IncidentStatus(update.status)]
    if first:
        message = f"Published on status page {page.name} ({label}): {update.body}"
    else:
        message = f"Status page update on {page.name} ({label}): {update.body}"
    timeline.record(
        session,
        TIMELINE_SUBJECT,
        incident.incident_id,
        "status_page_update",
        message,
        actor_id=actor.id,
        data={
            "status_page": page.slug,
            "public_incident": incident.code,
            "status": update.status,
            "impact": incident.impact,
            "notify": update.notify,
            "components": changed,
        },
        at=update.created_at,
    )


def create_incident(
    session: Session,
    actor: User,
    page_id: int,
    data: PublicIncidentCreate,
    *,
    commit: bool = True,
    on_timeline: bool = True,
) -> PublicIncident:
    """Publishes an incident with its first update. `commit=False`: the caller (a stakeholder
    update sent to several audiences) commits it with the rest of its change;
    `on_timeline=False`: that caller records the one incident timeline event itself."""
    require_responder(actor, "publish incidents on status pages")
    page = get_page(session, page_id)
    linked = _tocsin_incident(session, actor, data.incident_key) if data.incident_key else None
    at = now()
    impact = data.impact or workflow.worst_impact(
        workflow.impact_of(choice.status) for choice in data.components
    )
    incident = PublicIncident(
        page_id=page.id,
        name=data.name,
        impact=impact.value,
        status="",
        incident_id=linked.id if linked else None,
        started_at=at,
        created_at=at,
        updated_at=at,
    )
    _move(incident, data.status, at)
    session.add(incident)
    session.flush()
    update = IncidentUpdate(
        incident_id=incident.id,
        status=data.status.value,
        body=data.body.strip(),
        notify=data.notify,
        author_id=actor.id,
        created_at=at,
        display_at=at,
        updated_at=at,
    )
    incident.updates.append(update)
    changed = _apply_components(session, page, incident, update, data.components, at)
    session.flush()
    if on_timeline:
        _record_on_timeline(session, page, incident, update, actor, changed, first=True)
    _page_changed(
        session,
        actor,
        page,
        "status_page.incident_created",
        f"Published “{incident.name}” ({incident.impact}) on {page.name}",
        {"public_incident": incident.code, "incident": linked.key if linked else None},
        at=at,
    )
    _tell_subscribers_later(session, page, incident, update)
    if commit:
        session.commit()
    return incident


def _tell_subscribers_later(
    session: Session, page: StatusPage, incident: PublicIncident, update: IncidentUpdate
) -> None:
    """The engine tells the subscribers (subscribers.tell_about_update): queueing mail for
    thousands must not hold up, or time out, the update itself. What they are told is
    fixed now, as of this update."""
    if update.notify:
        update.subscriber_plan = subscribers.plan_for_update(session, page, incident, update)
        wake_engines(session)
    else:
        update.subscribers_told_at = update.created_at


def oldest_untold_update(session: Session) -> datetime | None:
    """When the longest-waiting update was posted whose subscribers are not yet told."""
    return subscribers.oldest_untold(session)


def post_update(
    session: Session,
    actor: User,
    page_id: int,
    incident_id: int,
    data: UpdatePost,
    *,
    commit: bool = True,
    on_timeline: bool = True,
) -> IncidentUpdate:
    """A new update: moves the incident's status and its components' statuses together.
    `commit` and `on_timeline` as for `create_incident`."""
    require_responder(actor, "post status page updates")
    page = get_page(session, page_id)
    incident = get_incident(session, page.id, incident_id)
    at = now()
    _move(incident, data.status, at)
    if data.impact is not None:
        incident.impact = data.impact.value
    incident.updated_at = at
    update = IncidentUpdate(
        incident_id=incident.id,
        status=data.status.value,
        body=data.body.strip(),
        notify=data.notify,
        author_id=actor.id,
        created_at=at,
        display_at=at,
        updated_at=at,
    )
    incident.updates.insert(0, update)
    changed = _apply_components(session, page, incident, update, data.components, at)
    session.flush()
    if on_timeline:
        _record_on_timeline(session, page, incident, update, actor, changed, first=False)
    _page_changed(
        session,
        actor,
        page,
        "status_page.incident_updated",
        f"Update on “{incident.name}” ({update.status}) on {page.name}",
        {"public_incident": incident.code, "components": changed},
        at=at,
    )
    _tell_subscribers_later(session, page, incident, update)
    if commit:
        session.commit()
    return update


def resolve_incident(
    session: Session,
    actor: User,
    page_id: int,
    incident_id: int,
    body: str = "This incident has been resolved.",
    notify: bool = True,
) -> IncidentUpdate:
    """Resolves with a final update; its components go back to operational (see
    `_apply_components`)."""
    return post_update(
        session,
        actor,
        page_id,
        incident_id,
        UpdatePost(status=IncidentStatus.RESOLVED, body=body, notify=notify),
    )


def edit_incident(
    session: Session, actor: User, page_id: int, incident_id: int, data: PublicIncidentEdit
) -> PublicIncident:
    """Fixes the name or impact without posting an update."""
    require_responder(actor, "change public incidents")
    page = get_page(session, page_id)
    incident = get_incident(session, page.id, incident_id)
    changed = data.model_dump(exclude_unset=True, exclude_none=True, mode="json")
    if not changed:
        return incident
    for name, value in changed.items():
        setattr(incident, name, value)
    at = now()
    incident.updated_at = at
    _page_changed(
        session,
        actor,
        page,
        "status_page.incident_edited",
        f"Public incident “{incident.name}” on {page.name} edited",
        changed,
        at=at,
    )
    session.commit()
    return incident


def delete_incident(session: Session, actor: User, page_id: int, incident_id: int) -> None:
    """Takes an incident published by mistake off the page; component statuses stay."""
    require_admin(actor, "remove public incidents")
    page = get_page(session, page_id)
    incident = get_incident(session, page.id, incident_id)
    audit.record(
        session,
        actor.id,
        "status_page.incident_deleted",
        "status_page",
        page.id,
        f"Public incident “{incident.name}” removed from {page.name}",
        {"public_incident": incident.code},
    )
    session.delete(incident)
    changes.page_changed(session, page.id, now())
    session.commit()


def draft_for(
    session: Session, actor: User, page: StatusPage, key: str
) -> tuple[Incident, drafts.Draft, list[Component]]:
    """A first update filled from a Tocsin incident, and the page's components that its
    service backs (pre-selected with a status from its severity)."""
    incident = incidents.get_incident(session, actor, key)
    draft = drafts.draft(facts_of(session, incident, page), now(), ZoneInfo(page.time_zone))
    return incident, draft, _backed_components(session, incident, page)


def _backed_components(session: Session, incident: Incident, page: StatusPage) -> list[Component]:
    if incident.service_id is None:
        return []
    return [c for c in list_components(session, page.id) if c.service_id == incident.service_id]


def facts_of(session: Session, incident: Incident, page: StatusPage) -> drafts.IncidentFacts:
    """The incident as the page's readers know it: its products, else the page's components
    its service backs; only a private page names the (internal) service itself."""
    products = tuple(p.name for p in incident.products) or tuple(
        c.name for c in _backed_components(session, incident, page)
    )
    return drafts.IncidentFacts(
        key=incident.key,
        severity=incident.severity,
        summary=incident.summary,
        status=incident.status,
        products=products,
        service=incident.service.name if incident.service and not page.public else None,
    )


def follow_up_draft(
    session: Session, page: StatusPage, incident: PublicIncident, status: IncidentStatus
) -> str:
    """The body of the next update, from the linked Tocsin incident when there is one."""
    linked = session.get(Incident, incident.incident_id) if incident.incident_id else None
    if linked is None:
        return ""
    facts = facts_of(session, linked, page)
    return drafts.draft_body(facts, status, now(), ZoneInfo(page.time_zone))


# ---------------------------------------------------------------- maintenance


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
        _component_of(session, page, component_id, "component_ids")
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
            subscribers_told_at=at,  # subscribers hear of it an hour before, and at its start
        )
    )
    session.flush()
    _page_changed(
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
    _page_changed(
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
        _set_status(session, component, ComponentStatus.UNDER_MAINTENANCE, at)


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
        _set_status(session, component, ComponentStatus(link.status_before or "operational"), at)


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
    announces_start = notify and current is MaintenanceStatus.SCHEDULED
    announces_start = announces_start and workflow.is_started(target)
    update = MaintenanceUpdate(
        status=target.value,
        body=body.strip(),
        notify=notify,
        author_id=author_id,
        created_at=at,
        display_at=at,
        updated_at=at,
        # The engine announces the start (SubscriberUpdates); other moves announce nothing.
        subscribers_told_at=None if announces_start else at,
    )
    maintenance.updates.insert(0, update)
    changes.page_changed(session, maintenance.page_id, at)
    if announces_start:
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
