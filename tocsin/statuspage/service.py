"""What people do with status pages: set them up, tell the public about incidents, plan maintenance.

Admins shape pages, groups and components. Responders (the communications manager
in practice) set component statuses, publish incidents, post their updates and plan
maintenance; viewers only read. Each operation checks that, writes the change, its
audit entry, the linked Tocsin incident's timeline event and the page's new version
in one transaction, and commits.

Subscribers are told by the engine right after the commit (subscribers.py,
engine/subscriber_updates.py): of each incident update with `notify` (the first and the
resolution included), and of a maintenance when it is scheduled, when it starts (by a
person or by the engine) and when it completes.

This module is the front door: callers import the operations from here. They live by
seam in page_setup.py (the pages), components.py (groups and components),
public_incidents.py (incidents and their updates), maintenance.py (scheduled
maintenance and the engine's part of it) and past_uptime.py (uptime imported from
elsewhere); what is left here are the drafts that tie a
Tocsin incident to a page's components and incidents.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from tocsin.auth.models import User
from tocsin.db import now
from tocsin.incidents import service as incidents
from tocsin.incidents.models import Incident
from tocsin.statuspage import drafts
from tocsin.statuspage.components import (
    create_component,
    create_group,
    delete_component,
    delete_group,
    list_components,
    list_groups,
    page_today,
    start_date_of,
    update_component,
    update_group,
)
from tocsin.statuspage.maintenance import (
    AUTOMATIC_END_BODY,
    AUTOMATIC_START_BODY,
    advance_due_maintenance,
    create_maintenance,
    due_maintenances,
    edit_maintenance,
    get_maintenance,
    list_maintenances,
    post_maintenance_update,
)
from tocsin.statuspage.models import Component, PublicIncident, StatusPage
from tocsin.statuspage.page_setup import (
    RECENT,
    create_page,
    delete_page,
    get_page,
    list_pages,
    page_by_slug,
    update_page,
)
from tocsin.statuspage.past_uptime import import_uptime, imported_days
from tocsin.statuspage.public_incidents import (
    TIMELINE_SUBJECT,
    create_incident,
    delete_incident,
    edit_incident,
    get_incident,
    linked_incidents,
    list_incidents,
    oldest_untold_update,
    post_update,
    resolve_incident,
    visible_incident_key,
)
from tocsin.statuspage.workflow import IncidentStatus

__all__ = [
    "AUTOMATIC_END_BODY",
    "AUTOMATIC_START_BODY",
    "RECENT",
    "TIMELINE_SUBJECT",
    "advance_due_maintenance",
    "create_component",
    "create_group",
    "create_incident",
    "create_maintenance",
    "create_page",
    "delete_component",
    "delete_group",
    "delete_incident",
    "delete_page",
    "draft_for",
    "due_maintenances",
    "edit_incident",
    "edit_maintenance",
    "facts_of",
    "follow_up_draft",
    "get_incident",
    "get_maintenance",
    "get_page",
    "import_uptime",
    "imported_days",
    "linked_incidents",
    "list_components",
    "list_groups",
    "list_incidents",
    "list_maintenances",
    "list_pages",
    "oldest_untold_update",
    "page_by_slug",
    "page_today",
    "post_maintenance_update",
    "post_update",
    "resolve_incident",
    "start_date_of",
    "update_component",
    "update_group",
    "update_page",
    "visible_incident_key",
]


# ---------------------------------------------------------------- drafts from a Tocsin incident


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
