"""Public incidents and their updates: what the page tells the world, moving components along."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.audit import service as audit
from tocsin.auth.models import User
from tocsin.auth.permissions import require_admin, require_responder
from tocsin.db import now, wake_engines
from tocsin.errors import Conflict, InvalidInput, NotFound
from tocsin.incidents import service as incidents
from tocsin.incidents.models import Incident
from tocsin.statuspage import changes, subscribers, workflow
from tocsin.statuspage.components import component_of, set_status
from tocsin.statuspage.models import (
    Component,
    IncidentComponent,
    IncidentUpdate,
    PublicIncident,
    StatusPage,
    UpdateComponent,
)
from tocsin.statuspage.page_setup import RECENT, get_page, record_change
from tocsin.statuspage.schemas import (
    ComponentStatusChoice,
    PublicIncidentCreate,
    PublicIncidentEdit,
    UpdatePost,
)
from tocsin.statuspage.workflow import ComponentStatus, IncidentStatus, RefusedMove
from tocsin.timeline import service as timeline

TIMELINE_SUBJECT = "incident"  # the Tocsin incident's timeline (tocsin.incidents.service.SUBJECT)


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
        component = component_of(session, page, component_id, "components")
        old = set_status(session, component, status, at)
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
    if linked is not None:
        incidents.require_not_ended(linked, "publish it on a status page")
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
    record_change(
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
    record_change(
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
    record_change(
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
