"""The page's incident history as an Atom feed (RFC 4287), for feed readers and chat bots.

One entry per incident and maintenance, newest change first; its content lists the
updates, newest first, as Statuspage's own feed does. Built with ElementTree, so
every text is escaped.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from xml.etree import ElementTree

from tocsin.statuspage import workflow
from tocsin.statuspage.snapshot import IncidentView, MaintenanceView, Snapshot
from tocsin.statuspage.v2 import shortlink

ATOM = "http://www.w3.org/2005/Atom"
ENTRIES = 50
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def _label(item: IncidentView | MaintenanceView, status: str) -> str:
    if isinstance(item, MaintenanceView):
        return workflow.MAINTENANCE_LABEL[workflow.MaintenanceStatus(status)]
    return workflow.INCIDENT_LABEL[workflow.IncidentStatus(status)]


def _content(snap: Snapshot, item: IncidentView | MaintenanceView) -> str:
    """The updates as small HTML, escaped again by the XML writer (type="html")."""
    zone = snap.page.zone
    parts = []
    if isinstance(item, MaintenanceView):
        start = item.scheduled_for.astimezone(zone)
        end = item.scheduled_until.astimezone(zone)
        parts.append(
            f"<p><strong>THIS IS A SCHEDULED EVENT {start:%b %d, %H:%M} - "
            f"{end:%b %d, %H:%M %Z}</strong></p>"
        )
    for update in item.updates:
        when = update.display_at.astimezone(zone)
        body = escape(update.body).replace("\n", "<br>")
        parts.append(
            f"<p><small>{when:%b} <var>{when.day}</var>, <var>{when:%H:%M} {when:%Z}</var>"
            f"</small><br><strong>{escape(_label(item, update.status))}</strong> - {body}</p>"
        )
    return "".join(parts)


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def history(snap: Snapshot) -> bytes:
    items: list[IncidentView | MaintenanceView] = [*snap.incidents, *snap.maintenances]
    items.sort(key=lambda item: item.updated_at, reverse=True)
    items = items[:ENTRIES]
    ElementTree.register_namespace("", ATOM)
    feed = ElementTree.Element(f"{{{ATOM}}}feed", {XML_LANG: "en"})

    def add(parent: ElementTree.Element, tag: str, text: str | None = None, **attrs: str):
        element = ElementTree.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        if text is not None:
            element.text = text
        return element

    add(feed, "id", f"tag:tocsin,2026:status-page/{snap.page.code}")
    add(feed, "link", rel="alternate", type="text/html", href=snap.page.url)
    add(feed, "link", rel="self", type="application/atom+xml", href=f"{snap.page.url}/history.atom")
    add(feed, "title", f"{snap.page.name} status")
    updated = max([snap.page.updated_at, *(item.updated_at for item in items)])
    add(feed, "updated", _rfc3339(updated))
    author = add(feed, "author")
    add(author, "name", snap.page.name)
    for item in items:
        entry = add(feed, "entry")
        add(entry, "id", f"tag:tocsin,2026:status-incident/{item.code}")
        add(entry, "published", _rfc3339(item.created_at))
        add(entry, "updated", _rfc3339(item.updated_at))
        add(entry, "link", rel="alternate", type="text/html", href=shortlink(snap, item.code))
        add(entry, "title", item.name)
        add(entry, "content", _content(snap, item), type="html")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(
        feed, encoding="utf-8", xml_declaration=False
    )
