"""REST routes for managing status pages (Tocsin's own API; the public JSON is in public.py)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.orm import Session

from tocsin.auth.models import User
from tocsin.deps import CurrentUser, DbSession, IdPath
from tocsin.statuspage import service, subscribers
from tocsin.statuspage.models import PublicIncident
from tocsin.statuspage.schemas import (
    ComponentCreate,
    ComponentOut,
    ComponentUpdate,
    GroupCreate,
    GroupOut,
    GroupUpdate,
    MaintenanceCreate,
    MaintenanceEdit,
    MaintenanceOut,
    MaintenanceUpdatePost,
    PageCreate,
    PageOut,
    PageUpdate,
    PublicIncidentCreate,
    PublicIncidentEdit,
    PublicIncidentOut,
    SubscriberCreate,
    SubscriberOut,
    UpdatePost,
    UptimeImport,
    UptimeImported,
)

router = APIRouter(prefix="/status-pages", tags=["status pages"])


def _incident_out(session: Session, user: User, incident: PublicIncident) -> object:
    key = service.visible_incident_key(session, user, incident)
    return PublicIncidentOut.model_validate(incident).model_copy(update={"incident_key": key})


# ---------------------------------------------------------------- pages


@router.get("", response_model=list[PageOut])
def list_pages(user: CurrentUser, session: DbSession) -> object:
    return service.list_pages(session)


@router.post("", response_model=PageOut, status_code=201)
def create_page(body: PageCreate, user: CurrentUser, session: DbSession) -> object:
    """Admins only. The page is at /status/{slug}; its Statuspage JSON under /api/v2/."""
    return service.create_page(session, user, body)


@router.get("/{page_id}", response_model=PageOut)
def get_page(page_id: IdPath, user: CurrentUser, session: DbSession) -> object:
    return service.get_page(session, page_id)


@router.patch("/{page_id}", response_model=PageOut)
def update_page(page_id: IdPath, body: PageUpdate, user: CurrentUser, session: DbSession) -> object:
    return service.update_page(session, user, page_id, body)


@router.delete("/{page_id}", status_code=204)
def delete_page(page_id: IdPath, user: CurrentUser, session: DbSession) -> None:
    service.delete_page(session, user, page_id)


# ---------------------------------------------------------------- groups and components


@router.get("/{page_id}/groups", response_model=list[GroupOut])
def list_groups(page_id: IdPath, user: CurrentUser, session: DbSession) -> object:
    return service.list_groups(session, service.get_page(session, page_id).id)


@router.post("/{page_id}/groups", response_model=GroupOut, status_code=201)
def create_group(
    page_id: IdPath, body: GroupCreate, user: CurrentUser, session: DbSession
) -> object:
    return service.create_group(session, user, page_id, body)


@router.patch("/{page_id}/groups/{group_id}", response_model=GroupOut)
def update_group(
    page_id: IdPath, group_id: IdPath, body: GroupUpdate, user: CurrentUser, session: DbSession
) -> object:
    return service.update_group(session, user, page_id, group_id, body)


@router.delete("/{page_id}/groups/{group_id}", status_code=204)
def delete_group(page_id: IdPath, group_id: IdPath, user: CurrentUser, session: DbSession) -> None:
    service.delete_group(session, user, page_id, group_id)


@router.get("/{page_id}/components", response_model=list[ComponentOut])
def list_components(page_id: IdPath, user: CurrentUser, session: DbSession) -> object:
    return service.list_components(session, service.get_page(session, page_id).id)


@router.post("/{page_id}/components", response_model=ComponentOut, status_code=201)
def create_component(
    page_id: IdPath, body: ComponentCreate, user: CurrentUser, session: DbSession
) -> object:
    return service.create_component(session, user, page_id, body)


@router.patch("/{page_id}/components/{component_id}", response_model=ComponentOut)
def update_component(
    page_id: IdPath,
    component_id: IdPath,
    body: ComponentUpdate,
    user: CurrentUser,
    session: DbSession,
) -> object:
    """Responders may send `status` alone; any other field needs an admin."""
    return service.update_component(session, user, page_id, component_id, body)


@router.post("/{page_id}/components/{component_id}/uptime", response_model=UptimeImported)
def import_uptime(
    page_id: IdPath,
    component_id: IdPath,
    body: UptimeImport,
    user: CurrentUser,
    session: DbSession,
) -> object:
    """Past days' uptime from another tool (admins): each day's `outage_minutes` or
    `uptime_percent`, for days before today within the 90-day window. A day sent again
    replaces its earlier import; a day before the start date moves it back."""
    start_date, days = service.import_uptime(session, user, page_id, component_id, body)
    return {
        "component_id": component_id,
        "start_date": start_date,
        "days": [{"date": d.day, "outage_minutes": d.downtime_seconds / 60} for d in days],
    }


@router.delete("/{page_id}/components/{component_id}", status_code=204)
def delete_component(
    page_id: IdPath, component_id: IdPath, user: CurrentUser, session: DbSession
) -> None:
    service.delete_component(session, user, page_id, component_id)


# ---------------------------------------------------------------- public incidents


@router.get("/{page_id}/incidents", response_model=list[PublicIncidentOut])
def list_incidents(
    page_id: IdPath, user: CurrentUser, session: DbSession, unresolved: bool = False
) -> object:
    """Newest first, the last 50."""
    page = service.get_page(session, page_id)
    found = service.list_incidents(session, page.id, unresolved_only=unresolved)
    return [_incident_out(session, user, incident) for incident in found]


@router.post("/{page_id}/incidents", response_model=PublicIncidentOut, status_code=201)
def create_incident(
    page_id: IdPath, body: PublicIncidentCreate, user: CurrentUser, session: DbSession
) -> object:
    """Publishes an incident with its first update; `incident_key` links a Tocsin incident,
    whose timeline then records every update."""
    incident = service.create_incident(session, user, page_id, body)
    return _incident_out(session, user, incident)


@router.get("/{page_id}/incidents/{incident_id}", response_model=PublicIncidentOut)
def get_incident(
    page_id: IdPath, incident_id: IdPath, user: CurrentUser, session: DbSession
) -> object:
    page = service.get_page(session, page_id)
    return _incident_out(session, user, service.get_incident(session, page.id, incident_id))


@router.patch("/{page_id}/incidents/{incident_id}", response_model=PublicIncidentOut)
def edit_incident(
    page_id: IdPath,
    incident_id: IdPath,
    body: PublicIncidentEdit,
    user: CurrentUser,
    session: DbSession,
) -> object:
    incident = service.edit_incident(session, user, page_id, incident_id, body)
    return _incident_out(session, user, incident)


@router.delete("/{page_id}/incidents/{incident_id}", status_code=204)
def delete_incident(
    page_id: IdPath, incident_id: IdPath, user: CurrentUser, session: DbSession
) -> None:
    service.delete_incident(session, user, page_id, incident_id)


@router.post(
    "/{page_id}/incidents/{incident_id}/updates", response_model=PublicIncidentOut, status_code=201
)
def post_update(
    page_id: IdPath, incident_id: IdPath, body: UpdatePost, user: CurrentUser, session: DbSession
) -> object:
    """Moves the incident and its components' statuses together; resolving puts the components
    it holds back to operational unless the update says otherwise."""
    service.post_update(session, user, page_id, incident_id, body)
    return _incident_out(session, user, service.get_incident(session, page_id, incident_id))


# ---------------------------------------------------------------- maintenance


@router.get("/{page_id}/maintenances", response_model=list[MaintenanceOut])
def list_maintenances(page_id: IdPath, user: CurrentUser, session: DbSession) -> object:
    """Latest window first, the last 50."""
    return service.list_maintenances(session, service.get_page(session, page_id).id)


@router.post("/{page_id}/maintenances", response_model=MaintenanceOut, status_code=201)
def create_maintenance(
    page_id: IdPath, body: MaintenanceCreate, user: CurrentUser, session: DbSession
) -> object:
    """With `automatic`, the engine starts it and completes it at the scheduled times."""
    return service.create_maintenance(session, user, page_id, body)


@router.get("/{page_id}/maintenances/{maintenance_id}", response_model=MaintenanceOut)
def get_maintenance(
    page_id: IdPath, maintenance_id: IdPath, user: CurrentUser, session: DbSession
) -> object:
    return service.get_maintenance(session, service.get_page(session, page_id).id, maintenance_id)


@router.patch("/{page_id}/maintenances/{maintenance_id}", response_model=MaintenanceOut)
def edit_maintenance(
    page_id: IdPath,
    maintenance_id: IdPath,
    body: MaintenanceEdit,
    user: CurrentUser,
    session: DbSession,
) -> object:
    """Only before it starts."""
    return service.edit_maintenance(session, user, page_id, maintenance_id, body)


@router.post(
    "/{page_id}/maintenances/{maintenance_id}/updates",
    response_model=MaintenanceOut,
    status_code=201,
)
def post_maintenance_update(
    page_id: IdPath,
    maintenance_id: IdPath,
    body: MaintenanceUpdatePost,
    user: CurrentUser,
    session: DbSession,
) -> object:
    service.post_maintenance_update(session, user, page_id, maintenance_id, body)
    return service.get_maintenance(session, page_id, maintenance_id)


# ---------------------------------------------------------------- subscribers


@router.get("/{page_id}/subscribers", response_model=list[SubscriberOut])
def list_subscribers(page_id: IdPath, user: CurrentUser, session: DbSession) -> object:
    """Responders: each subscriber, what it follows, and how its latest notification went."""
    return subscribers.overview(session, user, page_id)


@router.post("/{page_id}/subscribers", response_model=SubscriberOut, status_code=201)
def add_subscriber(
    page_id: IdPath, body: SubscriberCreate, user: CurrentUser, session: DbSession
) -> object:
    """A webhook (told at once, in Statuspage's webhook format) or an email address (asked to
    confirm unless `skip_confirmation`). No `component_ids`: the whole page."""
    added = subscribers.add_subscriber(session, user, page_id, body)
    return next(s for s in subscribers.overview(session, user, page_id) if s["id"] == added.id)


@router.delete("/{page_id}/subscribers/{subscriber_id}", status_code=204)
def remove_subscriber(
    page_id: IdPath, subscriber_id: IdPath, user: CurrentUser, session: DbSession
) -> None:
    """Admins only."""
    subscribers.remove_subscriber(session, user, page_id, subscriber_id)
