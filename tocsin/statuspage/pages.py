"""The public HTML pages, drawn from a snapshot: the status page, one incident, the history.

Drawn once per page version (and again after midnight in the page's time zone, when
the uptime bars move on a day), for everyone: nothing here depends on who reads.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from tocsin.statuspage import uptime, v2, workflow
from tocsin.statuspage.snapshot import (
    HISTORY_DAYS,
    ComponentView,
    GroupView,
    IncidentView,
    MaintenanceView,
    Snapshot,
)
from tocsin.statuspage.workflow import ComponentStatus
from tocsin.web.templating import templates

# A day's bar colour, by its worst status (None: nothing measured that day).
DAY_CLASS: dict[ComponentStatus | None, str] = {
    None: "nodata",
    ComponentStatus.OPERATIONAL: "ok",
    ComponentStatus.UNDER_MAINTENANCE: "maint",
    ComponentStatus.DEGRADED_PERFORMANCE: "minor",
    ComponentStatus.PARTIAL_OUTAGE: "partial",
    ComponentStatus.MAJOR_OUTAGE: "major",
}
STATUS_CLASS: dict[ComponentStatus, str] = {
    ComponentStatus.OPERATIONAL: "ok",
    ComponentStatus.UNDER_MAINTENANCE: "maint",
    ComponentStatus.DEGRADED_PERFORMANCE: "minor",
    ComponentStatus.PARTIAL_OUTAGE: "partial",
    ComponentStatus.MAJOR_OUTAGE: "major",
}


@dataclass(frozen=True)
class Bar:
    css: str
    title: str


@dataclass(frozen=True)
class Row:
    name: str
    description: str
    status: ComponentStatus
    status_label: str
    status_class: str
    bars: list[Bar] | None  # None: the uptime bar is not shown (showcase off)
    percent: str
    children: list[Row]
    is_group: bool = False

    @property
    def troubled(self) -> bool:
        return self.status is not ComponentStatus.OPERATIONAL


def _bars(measured: uptime.Uptime) -> list[Bar]:
    return [Bar(DAY_CLASS[day.worst], uptime.describe_day(day)) for day in measured.days]


def _component_row(
    snap: Snapshot, component: ComponentView, at: datetime
) -> tuple[Row, uptime.Uptime]:
    measured = uptime.daily(
        component.history,
        at,
        snap.page.zone,
        start=component.start_date,
        imported=dict(component.imported),
    )
    row = Row(
        name=component.name,
        description=component.description,
        status=component.status,
        status_label=workflow.COMPONENT_LABEL[component.status],
        status_class=STATUS_CLASS[component.status],
        bars=_bars(measured) if component.showcase else None,
        percent=uptime.shown_percent(measured.percent),
        children=[],
    )
    return row, measured


def _group_row(snap: Snapshot, group: GroupView, at: datetime) -> Row:
    children, measured = [], []
    for component in snap.components_of(group.id):
        row, numbers = _component_row(snap, component, at)
        children.append(row)
        if component.showcase:
            measured.append(numbers)
    status = v2.group_status(snap, group)
    together = uptime.combined(measured)
    return Row(
        name=group.name,
        description=group.description,
        status=status,
        status_label=workflow.COMPONENT_LABEL[status],
        status_class=STATUS_CLASS[status],
        bars=_bars(together) if together.days else None,
        percent=uptime.shown_percent(together.percent),
        children=children,
        is_group=True,
    )


def rows_of(snap: Snapshot, at: datetime) -> list[Row]:
    top: list[tuple[int, int, int, GroupView | ComponentView]] = [
        (g.position, 0, g.id, g) for g in snap.groups
    ] + [(c.position, 1, c.id, c) for c in snap.components if c.group_id is None]
    top.sort(key=lambda item: item[:3])
    rows = []
    for *_order, item in top:
        if isinstance(item, GroupView):
            rows.append(_group_row(snap, item, at))
        else:
            rows.append(_component_row(snap, item, at)[0])
    return rows


def _when(snap: Snapshot) -> Any:
    zone = snap.page.zone

    def when(value: datetime | None, fmt: str = "%b %d, %H:%M %Z") -> str:
        return value.astimezone(zone).strftime(fmt) if value else ""

    return when


def _past_days(
    snap: Snapshot, at: datetime
) -> list[tuple[date, list[IncidentView | MaintenanceView]]]:
    """The last days, newest first, each with the incidents and maintenances of that day.
    An incident still open is listed on its day too (as Statuspage does): a day must not
    say "No incidents reported" while one is going on."""
    zone = snap.page.zone
    today = at.astimezone(zone).date()
    by_day: dict[date, list[IncidentView | MaintenanceView]] = defaultdict(list)
    for incident in snap.incidents:
        by_day[incident.created_at.astimezone(zone).date()].append(incident)
    for maintenance in snap.maintenances:
        if maintenance.status is workflow.MaintenanceStatus.COMPLETED:
            by_day[maintenance.scheduled_for.astimezone(zone).date()].append(maintenance)
    return [
        (day, by_day.get(day, []))
        for day in (today - timedelta(days=offset) for offset in range(HISTORY_DAYS))
    ]


def _labels() -> dict[str, Any]:
    return {
        "incident_labels": {s.value: label for s, label in workflow.INCIDENT_LABEL.items()},
        "maintenance_labels": {s.value: label for s, label in workflow.MAINTENANCE_LABEL.items()},
        "impact_labels": {s.value: label for s, label in workflow.IMPACT_LABEL.items()},
    }


def _common(snap: Snapshot) -> dict[str, Any]:
    indicator = v2.indicator_of(snap)
    return {
        "page": snap.page,
        "base": f"/status/{snap.page.slug}",
        "indicator": indicator,
        "when": _when(snap),
        "is_maintenance": lambda item: isinstance(item, MaintenanceView),
        "names_of": lambda ids: [snap.by_id[i].name for i in ids if i in snap.by_id],
        **_labels(),
    }


def status_page(snap: Snapshot, at: datetime) -> bytes:
    """The status page as of `at` (the day bars end on its day)."""
    context = {
        **_common(snap),
        "active_incidents": [i for i in snap.incidents if i.unresolved],
        "active_maintenances": sorted(
            (m for m in snap.maintenances if m.active), key=lambda m: m.scheduled_for
        ),
        "upcoming_maintenances": sorted(
            (m for m in snap.maintenances if m.upcoming), key=lambda m: m.scheduled_for
        ),
        "rows": rows_of(snap, at),
        "past_days": _past_days(snap, at),
        "window_days": uptime.WINDOW_DAYS,
    }
    return _render("statuspage/public/page.html", context)


def incident_page(snap: Snapshot, item: IncidentView | MaintenanceView) -> bytes:
    return _render("statuspage/public/incident.html", {**_common(snap), "item": item})


def history_page(snap: Snapshot) -> bytes:
    zone = snap.page.zone
    months: dict[tuple[int, int], list[IncidentView | MaintenanceView]] = defaultdict(list)
    items: list[IncidentView | MaintenanceView] = [
        *(i for i in snap.incidents),
        *(m for m in snap.maintenances if not m.upcoming),
    ]
    for item in items:
        began = item.created_at if isinstance(item, IncidentView) else item.scheduled_for
        local = began.astimezone(zone)
        months[(local.year, local.month)].append(item)
    ordered = [
        (date(year, month, 1), sorted(found, key=_began, reverse=True))
        for (year, month), found in sorted(months.items(), reverse=True)
    ]
    return _render("statuspage/public/history.html", {**_common(snap), "months": ordered})


def _began(item: IncidentView | MaintenanceView) -> datetime:
    return item.created_at if isinstance(item, IncidentView) else item.scheduled_for


def next_midnight(snap: Snapshot, at: datetime) -> datetime:
    """When the day bars and the past days move on: the next midnight in the page's zone."""
    zone = snap.page.zone
    tomorrow = at.astimezone(zone).date() + timedelta(days=1)
    return datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=zone)


def _render(name: str, context: dict[str, Any]) -> bytes:
    return templates.env.get_template(name).render(context).encode()
