"""On-call shifts as an iCalendar (RFC 5545) feed that calendar apps subscribe to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import icalendar

PRODUCT = "-//Tocsin//On-call schedules//EN"
# How often subscribers should fetch again (Apple and Google read one or the other).
REFRESH = timedelta(hours=1)


@dataclass(frozen=True)
class Event:
    uid: str
    start: datetime
    end: datetime
    summary: str
    description: str = ""
    url: str = ""


def uid(schedule_id: int, user_id: int, start: datetime) -> str:
    """The same shift keeps its UID from one fetch to the next, so apps update, not duplicate."""
    return f"shift-{schedule_id}-{user_id}-{start.astimezone(UTC):%Y%m%dT%H%M%SZ}@tocsin"


def render(name: str, events: list[Event], stamp: datetime) -> bytes:
    feed = icalendar.Calendar()
    feed.add("prodid", PRODUCT)
    feed.add("version", "2.0")
    feed.add("calscale", "GREGORIAN")
    feed.add("method", "PUBLISH")
    feed.add("x-wr-calname", name)
    feed.add("x-published-ttl", "PT1H")
    feed.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    for item in events:
        event = icalendar.Event()
        event.add("uid", item.uid)
        event.add("dtstamp", stamp.astimezone(UTC))
        event.add("dtstart", item.start.astimezone(UTC))
        event.add("dtend", item.end.astimezone(UTC))
        event.add("summary", item.summary)
        if item.description:
            event.add("description", item.description)
        if item.url:
            event.add("url", item.url)
        event.add("transp", "TRANSPARENT")  # being on call does not make anyone busy
        feed.add_component(event)
    return feed.to_ical()
