"""Everything a public status page shows, read in one go into plain values.

The public cache draws the HTML page, the Statuspage JSON and the feed from one
snapshot per page version, so a page costs a handful of queries per change, however
many read it. Nothing internal is read: no authors, no linked Tocsin incidents or
services.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from tocsin.errors import NotFound
from tocsin.statuspage import workflow
from tocsin.statuspage.models import (
    Component,
    ComponentChange,
    ComponentDay,
    ComponentGroup,
    IncidentUpdate,
    Maintenance,
    PublicIncident,
    StatusPage,
)
from tocsin.statuspage.uptime import WINDOW_DAYS
from tocsin.statuspage.workflow import ComponentStatus, MaintenanceStatus

RECENT = 50  # what incidents.json and scheduled-maintenances.json list, like Statuspage
HISTORY_DAYS = 15  # the page's "past incidents" reach back this far, whatever RECENT holds


@dataclass(frozen=True)
class PageView:
    id: int
    code: str
    slug: str
    name: str
    public: bool
    time_zone: str
    url: str
    version: int
    created_at: datetime
    updated_at: datetime

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


@dataclass(frozen=True)
class GroupView:
    id: int
    code: str
    name: str
    description: str
    position: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ComponentView:
    id: int
    code: str
    name: str
    description: str
    status: ComponentStatus
    position: int
    group_id: int | None
    showcase: bool
    created_at: datetime
    updated_at: datetime
    # (when, status) oldest first, from the start of the uptime window.
    history: tuple[tuple[datetime, ComponentStatus], ...] = ()
    # Uptime is measured from this day; earlier days are "no data".
    start_date: date | None = None
    # Past days' downtime seconds imported from another tool, within the uptime window.
    imported: tuple[tuple[date, float], ...] = ()


@dataclass(frozen=True)
class AffectedView:
    code: str
    name: str
    old_status: ComponentStatus
    new_status: ComponentStatus


@dataclass(frozen=True)
class UpdateView:
    code: str
    status: str
    body: str
    notify: bool
    created_at: datetime
    display_at: datetime
    updated_at: datetime
    affected: tuple[AffectedView, ...] = ()


@dataclass(frozen=True)
class IncidentView:
    code: str
    name: str
    impact: workflow.Impact
    status: workflow.IncidentStatus
    started_at: datetime
    created_at: datetime
    updated_at: datetime
    monitoring_at: datetime | None
    resolved_at: datetime | None
    updates: tuple[UpdateView, ...]  # newest first
    component_ids: tuple[int, ...]

    @property
    def unresolved(self) -> bool:
        return self.status in workflow.UNRESOLVED


@dataclass(frozen=True)
class MaintenanceView:
    code: str
    name: str
    status: MaintenanceStatus
    scheduled_for: datetime
    scheduled_until: datetime
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    updates: tuple[UpdateView, ...]  # newest first
    component_ids: tuple[int, ...]

    @property
    def active(self) -> bool:
        return self.status in workflow.MAINTENANCE_ACTIVE

    @property
    def upcoming(self) -> bool:
        return self.status is MaintenanceStatus.SCHEDULED


@dataclass(frozen=True)
class Snapshot:
    page: PageView
    groups: tuple[GroupView, ...]  # by position
    components: tuple[ComponentView, ...]  # by position within their level
    incidents: tuple[IncidentView, ...]  # newest first: unresolved, recent, and the last days
    maintenances: tuple[MaintenanceView, ...]  # latest window first
    taken_at: datetime
    by_id: dict[int, ComponentView] = field(default_factory=dict)

    def components_of(self, group_id: int) -> list[ComponentView]:
        return [c for c in self.components if c.group_id == group_id]


def _page_url(page: StatusPage, base_url: str) -> str:
    return page.url or f"{base_url.rstrip('/')}/status/{page.slug}"


def load(session: Session, page_id: int, base_url: str, at: datetime) -> Snapshot:
    """Reads the page; its version is read first, so the rest is at least as new as it."""
    page = session.get(StatusPage, page_id, populate_existing=True)
    if page is None:
        raise NotFound("No such status page.", field="slug")
    page_view = PageView(
        id=page.id,
        code=page.code,
        slug=page.slug,
        name=page.name,
        public=page.public,
        time_zone=page.time_zone,
        url=_page_url(page, base_url),
        version=page.version,
        created_at=page.created_at,
        updated_at=page.updated_at,
    )
    groups = tuple(
        GroupView(g.id, g.code, g.name, g.description, g.position, g.created_at, g.updated_at)
        for g in session.scalars(
            select(ComponentGroup)
            .where(ComponentGroup.page_id == page.id)
            .order_by(ComponentGroup.position, ComponentGroup.id)
        )
    )
    rows = list(
        session.scalars(
            select(Component)
            .where(Component.page_id == page.id)
            .order_by(Component.position, Component.id)
        )
    )
    since = at - timedelta(days=WINDOW_DAYS + 1)
    histories = _histories(session, [c.id for c in rows], since)
    imported = _imported(session, [c.id for c in rows], since.astimezone(page_view.zone).date())
    components = tuple(
        ComponentView(
            id=c.id,
            code=c.code,
            name=c.name,
            description=c.description,
            status=ComponentStatus(c.status),
            position=c.position,
            group_id=c.group_id,
            showcase=c.showcase,
            created_at=c.created_at,
            updated_at=c.updated_at,
            history=histories.get(c.id, ((c.created_at, ComponentStatus(c.status)),)),
            start_date=c.start_date or c.created_at.astimezone(page_view.zone).date(),
            imported=imported.get(c.id, ()),
        )
        for c in rows
    )
    return Snapshot(
        page=page_view,
        groups=groups,
        components=components,
        incidents=_incidents(session, page.id, at),
        maintenances=_maintenances(session, page.id),
        taken_at=at,
        by_id={c.id: c for c in components},
    )


def _histories(
    session: Session, component_ids: list[int], since: datetime
) -> dict[int, tuple[tuple[datetime, ComponentStatus], ...]]:
    """Each component's status changes since `since`, starting with its status at `since`."""
    if not component_ids:
        return {}
    found: dict[int, list[tuple[datetime, ComponentStatus]]] = {i: [] for i in component_ids}
    last_before = (
        select(ComponentChange.component_id, func.max(ComponentChange.at).label("at"))
        .where(ComponentChange.component_id.in_(component_ids), ComponentChange.at < since)
        .group_by(ComponentChange.component_id)
        .subquery()
    )
    starting = select(ComponentChange.component_id, ComponentChange.status).join(
        last_before,
        (last_before.c.component_id == ComponentChange.component_id)
        & (last_before.c.at == ComponentChange.at),
    )
    for component_id, status in session.execute(starting):
        found[component_id] = [(since, ComponentStatus(status))]
    recent = (
        select(ComponentChange.component_id, ComponentChange.at, ComponentChange.status)
        .where(ComponentChange.component_id.in_(component_ids), ComponentChange.at >= since)
        .order_by(ComponentChange.component_id, ComponentChange.at, ComponentChange.id)
    )
    for component_id, at, status in session.execute(recent):
        found[component_id].append((at, ComponentStatus(status)))
    return {i: tuple(changes) for i, changes in found.items() if changes}


def _imported(
    session: Session, component_ids: list[int], since: date
) -> dict[int, tuple[tuple[date, float], ...]]:
    """Each component's imported days from `since` on."""
    if not component_ids:
        return {}
    found: dict[int, list[tuple[date, float]]] = {}
    query = (
        select(ComponentDay.component_id, ComponentDay.day, ComponentDay.downtime_seconds)
        .where(ComponentDay.component_id.in_(component_ids), ComponentDay.day >= since)
        .order_by(ComponentDay.component_id, ComponentDay.day)
    )
    for component_id, day, seconds in session.execute(query):
        found.setdefault(component_id, []).append((day, seconds))
    return {i: tuple(days) for i, days in found.items()}


def _update_view(update: object, affected: bool = True) -> UpdateView:
    return UpdateView(
        code=update.code,
        status=update.status,
        body=update.body,
        notify=update.notify,
        created_at=update.created_at,
        display_at=update.display_at,
        updated_at=update.updated_at,
        affected=tuple(
            AffectedView(
                a.code, a.name, ComponentStatus(a.old_status), ComponentStatus(a.new_status)
            )
            for a in update.affected
        )
        if affected
        else (),
    )


def incident_view(incident: PublicIncident) -> IncidentView:
    return IncidentView(
        code=incident.code,
        name=incident.name,
        impact=workflow.Impact(incident.impact),
        status=workflow.IncidentStatus(incident.status),
        started_at=incident.started_at,
        created_at=incident.created_at,
        updated_at=incident.updated_at,
        monitoring_at=incident.monitoring_at,
        resolved_at=incident.resolved_at,
        updates=tuple(_update_view(u) for u in incident.updates),
        component_ids=tuple(link.component_id for link in incident.components),
    )


def maintenance_view(maintenance: Maintenance) -> MaintenanceView:
    return MaintenanceView(
        code=maintenance.code,
        name=maintenance.name,
        status=MaintenanceStatus(maintenance.status),
        scheduled_for=maintenance.scheduled_for,
        scheduled_until=maintenance.scheduled_until,
        created_at=maintenance.created_at,
        updated_at=maintenance.updated_at,
        started_at=maintenance.started_at,
        completed_at=maintenance.completed_at,
        updates=tuple(_update_view(u, affected=False) for u in maintenance.updates),
        component_ids=tuple(link.component_id for link in maintenance.components),
    )


def _incidents(session: Session, page_id: int, at: datetime) -> tuple[IncidentView, ...]:
    recent_ids = select(PublicIncident.id).where(PublicIncident.page_id == page_id)
    recent_ids = recent_ids.order_by(
        PublicIncident.created_at.desc(), PublicIncident.id.desc()
    ).limit(RECENT)
    query = (
        select(PublicIncident)
        .where(
            PublicIncident.page_id == page_id,
            or_(
                PublicIncident.id.in_(recent_ids.scalar_subquery()),
                PublicIncident.status.in_([s.value for s in workflow.UNRESOLVED]),
                PublicIncident.created_at >= at - timedelta(days=HISTORY_DAYS + 2),
            ),
        )
        .options(
            selectinload(PublicIncident.updates).selectinload(IncidentUpdate.affected),
            selectinload(PublicIncident.components),
        )
        .order_by(PublicIncident.created_at.desc(), PublicIncident.id.desc())
    )
    return tuple(incident_view(i) for i in session.scalars(query))


def _maintenances(session: Session, page_id: int) -> tuple[MaintenanceView, ...]:
    recent_ids = (
        select(Maintenance.id)
        .where(Maintenance.page_id == page_id)
        .order_by(Maintenance.scheduled_for.desc(), Maintenance.id.desc())
        .limit(RECENT)
    )
    query = (
        select(Maintenance)
        .where(
            Maintenance.page_id == page_id,
            or_(
                Maintenance.id.in_(recent_ids.scalar_subquery()),
                Maintenance.status != MaintenanceStatus.COMPLETED.value,
            ),
        )
        .order_by(Maintenance.scheduled_for.desc(), Maintenance.id.desc())
    )
    return tuple(maintenance_view(m) for m in session.scalars(query))


def one_incident(session: Session, page_id: int, code: str) -> IncidentView | MaintenanceView:
    """An incident or maintenance by its public code, however old: its own page."""
    incident = session.scalar(
        select(PublicIncident).where(PublicIncident.page_id == page_id, PublicIncident.code == code)
    )
    if incident is not None:
        return incident_view(incident)
    maintenance = session.scalar(
        select(Maintenance).where(Maintenance.page_id == page_id, Maintenance.code == code)
    )
    if maintenance is not None:
        return maintenance_view(maintenance)
    raise NotFound("No such incident on this status page.", field="code")
