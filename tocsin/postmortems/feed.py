"""The postmortem blog as an Atom feed (RFC 4287), for feed readers: built with ElementTree,
so every text is escaped."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from xml.etree import ElementTree

ATOM = "http://www.w3.org/2005/Atom"


@dataclass(frozen=True)
class Entry:
    key: str
    title: str
    summary: str
    link: str
    author: str
    published: datetime


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def atom(base_url: str, entries: list[Entry], updated: datetime) -> bytes:
    ElementTree.register_namespace("", ATOM)
    feed = ElementTree.Element(f"{{{ATOM}}}feed")

    def add(parent: ElementTree.Element, tag: str, text: str | None = None, **attrs: str):
        element = ElementTree.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        if text is not None:
            element.text = text
        return element

    add(feed, "id", "tag:tocsin,2026:postmortems")
    add(feed, "title", "What we learned: postmortems")
    add(feed, "link", rel="alternate", type="text/html", href=f"{base_url}/postmortems/blog")
    add(feed, "updated", _rfc3339(max([updated, *(e.published for e in entries)])))
    author = add(feed, "author")
    add(author, "name", "Tocsin")
    for item in entries:
        entry = add(feed, "entry")
        add(entry, "id", f"tag:tocsin,2026:postmortem/{item.key}")
        add(entry, "title", item.title)
        add(entry, "link", rel="alternate", type="text/html", href=item.link)
        add(entry, "published", _rfc3339(item.published))
        add(entry, "updated", _rfc3339(item.published))
        who = add(entry, "author")
        add(who, "name", item.author)
        add(entry, "summary", item.summary)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(
        feed, encoding="utf-8"
    )
