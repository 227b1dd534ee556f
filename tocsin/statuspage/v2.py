"""The Atlassian Statuspage public API v2 documents, drawn from a snapshot.

Field names, nesting, types and enums follow Statuspage's `/api/v2/*.json` so that
existing widgets and monitors read Tocsin unchanged. Where Tocsin differs:

- `id`s are Tocsin's random 12-character public codes (Statuspage's look alike);
  `page_id` is the page's code.
- `shortlink` is the incident's own page on this status page (Statuspage: stspg.io).
- `status.indicator` is one of none|minor|major|critical; a page whose only trouble is
  maintenance says "none" with the description "Service Under Maintenance" (Atlassian
  may say "maintenance").
- `start_date` of a component is the day its uptime is measured from (by default the
  day it was added); `only_show_if_degraded` is
  always false; `custom_tweet` and `tweet_id` are always null (no Twitter).
- A scheduled maintenance has `impact` "maintenance"; its `monitoring_at` is its first
  "verifying" update, `resolved_at` its completion, `started_at` its creation (as
  Statuspage does), and its updates' `affected_components` are null.
- Times are given in the page's time zone with milliseconds, as Statuspage does
  ("2026-03-02T10:00:00.000+01:00"; "Z" for UTC pages).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tocsin.statuspage import workflow
from tocsin.statuspage.snapshot import (
    ComponentView,
    GroupView,
    IncidentView,
    MaintenanceView,
    Snapshot,
    UpdateView,
)

Document = dict[str, Any]


def stamp(value: datetime | None, zone: ZoneInfo) -> str | None:
    if value is None:
        return None
    text = value.astimezone(zone).isoformat(timespec="milliseconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def encode(document: Document) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def page_of(snap: Snapshot) -> Document:
    page = snap.page
    return {
        "id": page.code,
        "name": page.name,
        "url": page.url,
        "time_zone": page.time_zone,
        "updated_at": stamp(page.updated_at, page.zone),
    }


def group_status(snap: Snapshot, group: GroupView) -> workflow.ComponentStatus:
    return workflow.worst(c.status for c in snap.components_of(group.id))


def indicator_of(snap: Snapshot) -> workflow.Indicator:
    return workflow.page_indicator(
        (c.status for c in snap.components),
        (i.impact for i in snap.incidents if i.unresolved),
        maintenance_active=any(m.active for m in snap.maintenances),
    )


def status_of(snap: Snapshot) -> Document:
    indicator = indicator_of(snap)
    return {"indicator": indicator.indicator.value, "description": indicator.description}


def _component(snap: Snapshot, component: ComponentView, position: int) -> Document:
    zone = snap.page.zone
    group = next((g for g in snap.groups if g.id == component.group_id), None)
    return {
        "id": component.code,
        "name": component.name,
        "status": component.status.value,
        "created_at": stamp(component.created_at, zone),
        "updated_at": stamp(component.updated_at, zone),
        "position": position,
        "description": component.description or None,
        "showcase": component.showcase,
        "start_date": (
            component.start_date or component.created_at.astimezone(zone).date()
        ).isoformat(),
        "group_id": group.code if group else None,
        "page_id": snap.page.code,
        "group": False,
        "only_show_if_degraded": False,
    }


def _group(snap: Snapshot, group: GroupView, position: int) -> Document:
    zone = snap.page.zone
    children = snap.components_of(group.id)
    updated = max([group.updated_at, *(c.updated_at for c in children)])
    return {
        "id": group.code,
        "name": group.name,
        "status": group_status(snap, group).value,
        "created_at": stamp(group.created_at, zone),
        "updated_at": stamp(updated, zone),
        "position": position,
        "description": group.description or None,
        "showcase": False,
        "start_date": None,
        "group_id": None,
        "page_id": snap.page.code,
        "group": True,
        "only_show_if_degraded": False,
        "components": [c.code for c in children],
    }


def components_of(snap: Snapshot) -> list[Document]:
    """Groups and loose components in page order, each group followed by its components."""
    top: list[tuple[int, int, GroupView | ComponentView]] = [
        (g.position, 0, g) for g in snap.groups
    ] + [(c.position, 1, c) for c in snap.components if c.group_id is None]
    top.sort(key=lambda item: (item[0], item[1], item[2].id))
    documents: list[Document] = []
    for _position, _kind, item in top:
        if isinstance(item, GroupView):
            documents.append(_group(snap, item, len(documents) + 1))
            for child in snap.components_of(item.id):
                documents.append(_component(snap, child, len(documents) + 1))
        else:
            documents.append(_component(snap, item, len(documents) + 1))
    return documents


def _update(snap: Snapshot, parent_code: str, update: UpdateView, maintenance: bool) -> Document:
    zone = snap.page.zone
    affected = (
        [
            {
                "code": a.code,
                "name": a.name,
                "old_status": a.old_status.value,
                "new_status": a.new_status.value,
            }
            for a in update.affected
        ]
        if update.affected and not maintenance
        else None
    )
    return {
        "id": update.code,
        "status": update.status,
        "body": update.body,
        "incident_id": parent_code,
        "created_at": stamp(update.created_at, zone),
        "updated_at": stamp(update.updated_at, zone),
        "display_at": stamp(update.display_at, zone),
        "affected_components": affected,
        "deliver_notifications": update.notify,
        "custom_tweet": None,
        "tweet_id": None,
    }


def shortlink(snap: Snapshot, code: str) -> str:
    return f"{snap.page.url}/incidents/{code}"


def _affected_components(snap: Snapshot, ids: tuple[int, ...]) -> list[Document]:
    order = {c["id"]: c for c in components_of(snap)}
    chosen = [snap.by_id[i] for i in ids if i in snap.by_id]
    return [order[c.code] for c in chosen if c.code in order]


def incident_of(snap: Snapshot, incident: IncidentView) -> Document:
    zone = snap.page.zone
    return {
        "id": incident.code,
        "name": incident.name,
        "status": incident.status.value,
        "created_at": stamp(incident.created_at, zone),
        "updated_at": stamp(incident.updated_at, zone),
        "monitoring_at": stamp(incident.monitoring_at, zone),
        "resolved_at": stamp(incident.resolved_at, zone),
        "impact": incident.impact.value,
        "shortlink": shortlink(snap, incident.code),
        "started_at": stamp(incident.started_at, zone),
        "page_id": snap.page.code,
        "incident_updates": [_update(snap, incident.code, u, False) for u in incident.updates],
        "components": _affected_components(snap, incident.component_ids),
    }


def maintenance_of(snap: Snapshot, maintenance: MaintenanceView) -> Document:
    zone = snap.page.zone
    verifying = [u for u in maintenance.updates if u.status == "verifying"]
    return {
        "id": maintenance.code,
        "name": maintenance.name,
        "status": maintenance.status.value,
        "created_at": stamp(maintenance.created_at, zone),
        "updated_at": stamp(maintenance.updated_at, zone),
        "monitoring_at": stamp(verifying[-1].created_at, zone) if verifying else None,
        "resolved_at": stamp(maintenance.completed_at, zone),
        "impact": "maintenance",
        "shortlink": shortlink(snap, maintenance.code),
        "started_at": stamp(maintenance.created_at, zone),
        "page_id": snap.page.code,
        "incident_updates": [_update(snap, maintenance.code, u, True) for u in maintenance.updates],
        "components": _affected_components(snap, maintenance.component_ids),
        "scheduled_for": stamp(maintenance.scheduled_for, zone),
        "scheduled_until": stamp(maintenance.scheduled_until, zone),
    }


def _recent_incidents(snap: Snapshot) -> list[IncidentView]:
    return list(snap.incidents[:50])


def _upcoming(snap: Snapshot) -> list[MaintenanceView]:
    return sorted((m for m in snap.maintenances if m.upcoming), key=lambda m: m.scheduled_for)


def _active(snap: Snapshot) -> list[MaintenanceView]:
    return sorted((m for m in snap.maintenances if m.active), key=lambda m: m.scheduled_for)


# ---------------------------------------------------------------- the documents, by file name


def summary(snap: Snapshot) -> Document:
    return {
        "page": page_of(snap),
        "components": components_of(snap),
        "incidents": [incident_of(snap, i) for i in snap.incidents if i.unresolved],
        "scheduled_maintenances": [
            maintenance_of(snap, m) for m in _active(snap) + _upcoming(snap)
        ],
        "status": status_of(snap),
    }


def status(snap: Snapshot) -> Document:
    return {"page": page_of(snap), "status": status_of(snap)}


def components(snap: Snapshot) -> Document:
    return {"page": page_of(snap), "components": components_of(snap)}


def incidents(snap: Snapshot) -> Document:
    return {
        "page": page_of(snap),
        "incidents": [incident_of(snap, i) for i in _recent_incidents(snap)],
    }


def unresolved(snap: Snapshot) -> Document:
    return {
        "page": page_of(snap),
        "incidents": [incident_of(snap, i) for i in snap.incidents if i.unresolved],
    }


def maintenances(snap: Snapshot) -> Document:
    return {
        "page": page_of(snap),
        "scheduled_maintenances": [maintenance_of(snap, m) for m in snap.maintenances[:50]],
    }


def upcoming(snap: Snapshot) -> Document:
    return {
        "page": page_of(snap),
        "scheduled_maintenances": [maintenance_of(snap, m) for m in _upcoming(snap)],
    }


def active(snap: Snapshot) -> Document:
    return {
        "page": page_of(snap),
        "scheduled_maintenances": [maintenance_of(snap, m) for m in _active(snap)],
    }


DOCUMENTS = {
    "summary.json": summary,
    "status.json": status,
    "components.json": components,
    "incidents.json": incidents,
    "incidents/unresolved.json": unresolved,
    "scheduled-maintenances.json": maintenances,
    "scheduled-maintenances/upcoming.json": upcoming,
    "scheduled-maintenances/active.json": active,
}
