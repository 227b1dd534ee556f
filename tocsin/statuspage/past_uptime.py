"""Past uptime imported from another tool (moving from Statuspage, say), so a component's
90-day bars and percentage do not start empty or at 100 % on the day it moves in."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from tocsin.auth.models import User
from tocsin.auth.permissions import require_admin
from tocsin.db import now
from tocsin.errors import InvalidInput, NotFound
from tocsin.statuspage.components import page_today, start_date_of
from tocsin.statuspage.models import Component, ComponentDay, StatusPage
from tocsin.statuspage.page_setup import get_page, record_change
from tocsin.statuspage.schemas import PastDay, UptimeImport
from tocsin.statuspage.uptime import WINDOW_DAYS


def _day_seconds(page: StatusPage, day: date) -> float:
    """How long the day lasts on the page (23 or 25 hours on a daylight-saving night)."""
    zone = ZoneInfo(page.time_zone)
    begins = datetime(day.year, day.month, day.day, tzinfo=zone)
    following = day + timedelta(days=1)
    ends = datetime(following.year, following.month, following.day, tzinfo=zone)
    return ends.timestamp() - begins.timestamp()


def _downtime(page: StatusPage, entry: PastDay, index: int) -> float:
    length = _day_seconds(page, entry.date)
    if entry.uptime_percent is not None:
        return length * (100.0 - entry.uptime_percent) / 100.0
    minutes = entry.outage_minutes or 0.0
    if minutes * 60 > length:
        raise InvalidInput(
            f"{entry.date} lasts {length / 60:.0f} minutes on this page; "
            f"it cannot hold {minutes:g} minutes of outage.",
            field=f"days.{index}.outage_minutes",
        )
    return minutes * 60.0


def import_uptime(
    session: Session, actor: User, page_id: int, component_id: int, data: UptimeImport
) -> tuple[date, list[ComponentDay]]:
    """Stores the past days (a day given again replaces its earlier import); a day before the
    component's start date moves the start date back to it. Returns the start date and the
    component's imported days in the window."""
    require_admin(actor, "import past uptime")
    page = get_page(session, page_id)
    component = session.get(Component, component_id)
    if component is None or component.page_id != page.id:
        raise NotFound(f"No component {component_id} on {page.name}.", field="component_id")
    at = now()
    today = page_today(page, at)
    first = today - timedelta(days=WINDOW_DAYS - 1)
    seen: set[date] = set()
    rows = []
    for index, entry in enumerate(data.days):
        field = f"days.{index}.date"
        if entry.date >= today:
            raise InvalidInput(
                f"{entry.date} is not past yet on this page; only days before {today} "
                "can be imported (today is being measured).",
                field=field,
            )
        if entry.date < first:
            raise InvalidInput(
                f"{entry.date} is older than the {WINDOW_DAYS} days the bars show; "
                f"import days from {first} on.",
                field=field,
            )
        if entry.date in seen:
            raise InvalidInput(f"{entry.date} is given twice.", field=field)
        seen.add(entry.date)
        rows.append(
            {
                "component_id": component.id,
                "day": entry.date,
                "downtime_seconds": _downtime(page, entry, index),
                "imported_at": at,
            }
        )
    session.execute(
        delete(ComponentDay).where(
            ComponentDay.component_id == component.id, ComponentDay.day.in_(seen)
        )
    )
    session.execute(insert(ComponentDay), rows)
    earliest = min(seen)
    details: dict[str, object] = {"days": len(rows), "from": str(earliest), "to": str(max(seen))}
    if earliest < start_date_of(page, component):
        details["start_date"] = [str(start_date_of(page, component)), str(earliest)]
        component.start_date = earliest
    elif component.start_date is None:
        component.start_date = start_date_of(page, component)
    component.updated_at = at
    record_change(
        session,
        actor,
        page,
        "status_page.uptime_imported",
        f"Past uptime of {component.name} on {page.name} imported ({len(rows)} days)",
        details,
        at=at,
    )
    session.commit()
    return component.start_date, imported_days(session, component.id, first)


def imported_days(session: Session, component_id: int, since: date) -> list[ComponentDay]:
    query = (
        select(ComponentDay)
        .where(ComponentDay.component_id == component_id, ComponentDay.day >= since)
        .order_by(ComponentDay.day)
    )
    return list(session.scalars(query))
