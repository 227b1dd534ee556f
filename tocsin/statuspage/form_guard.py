"""What a stranger may do with the public subscribe form, and what it may leave behind.

Each send of the form may mail someone, so it is counted per client address (an IPv6
client by its /64, which one host usually owns whole) and per page, in fixed windows kept
in the database: every server process shares the count. Over either limit the form is
refused with the seconds until the window ends. Housekeeping forgets passed windows,
subscribers who never confirmed, and mailed links past their age.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tocsin.config import Settings
from tocsin.errors import TooManyAttempts
from tocsin.statuspage.models import FormSendCount, StatusPage, Subscriber, SubscriberLink

PRUNE_BATCH = 500


@dataclass(frozen=True)
class Limit:
    """At most `sends` per `window` for one counter."""

    key: str
    sends: int
    window: timedelta


@dataclass(frozen=True)
class Sender:
    """Who sends the form (their address as the server saw it) under which settings."""

    address: str
    settings: Settings

    def limits(self, page: StatusPage) -> list[Limit]:
        per_client = timedelta(minutes=self.settings.subscribe_client_window_minutes)
        return [
            Limit(
                f"subscribe:client:{client_place(self.address)}",
                self.settings.subscribe_per_client,
                per_client,
            ),
            Limit(
                f"subscribe:page:{page.id}",
                self.settings.subscribe_per_page_hour,
                timedelta(hours=1),
            ),
        ]


def client_place(address: str) -> str:
    """The address as a counter sees it: IPv4 whole, IPv6 by its /64."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def count_send(session: Session, limits: list[Limit], at: datetime) -> None:
    """Counts one send against every limit, or refuses it (counting nothing) when any is spent."""
    rows = _rows(session, limits, at)
    waits = []
    for limit in limits:
        row = rows[limit.key]
        if row.window_ends_at <= at:
            row.sends, row.window_started_at, row.window_ends_at = 0, at, at + limit.window
        if row.sends >= limit.sends:
            waits.append(row.window_ends_at - at)
    if waits:
        seconds = max(1, math.ceil(max(waits).total_seconds()))
        raise TooManyAttempts(
            "Too many subscription requests from here just now. "
            f"Please try again in {_minutes_words(seconds)}.",
            retry_after=seconds,
        )
    for limit in limits:
        rows[limit.key].sends += 1


def _rows(session: Session, limits: list[Limit], at: datetime) -> dict[str, FormSendCount]:
    """The counters, created when missing and locked, so concurrent sends each count."""
    dialect = session.bind.dialect.name
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(FormSendCount)
    session.execute(
        insert.values(
            [
                {
                    "key": lim.key,
                    "sends": 0,
                    "window_started_at": at,
                    "window_ends_at": at + lim.window,
                }
                for lim in limits
            ]
        ).on_conflict_do_nothing(index_elements=[FormSendCount.key])
    )
    keys = sorted(lim.key for lim in limits)
    query = select(FormSendCount).where(FormSendCount.key.in_(keys)).order_by(FormSendCount.key)
    if dialect == "postgresql":
        query = query.with_for_update()
    found = session.scalars(query.execution_options(populate_existing=True))
    return {row.key: row for row in found}


def _minutes_words(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return "a minute" if minutes == 1 else f"{minutes} minutes"


# ---------------------------------------------------------------- housekeeping


def prune(session: Session, settings: Settings, at: datetime) -> int:
    """Forgets passed windows, subscribers unconfirmed for too long (with their links and
    choices), and mailed links past their age; a batch of each. Returns how many rows went."""
    gone = 0
    passed = select(FormSendCount.key).where(FormSendCount.window_ends_at <= at).limit(PRUNE_BATCH)
    if keys := list(session.scalars(passed)):
        gone += session.execute(delete(FormSendCount).where(FormSendCount.key.in_(keys))).rowcount
    since = at - timedelta(days=settings.unconfirmed_subscriber_days)
    unconfirmed = (
        select(Subscriber.id)
        .where(Subscriber.confirmed_at.is_(None), Subscriber.created_at < since)
        .limit(PRUNE_BATCH)
    )
    if ids := list(session.scalars(unconfirmed)):
        # Foreign keys cascade to their links and chosen components.
        gone += session.execute(delete(Subscriber).where(Subscriber.id.in_(ids))).rowcount
    old = at - timedelta(days=settings.subscriber_link_days)
    links = select(SubscriberLink.id).where(SubscriberLink.created_at < old).limit(PRUNE_BATCH)
    if ids := list(session.scalars(links)):
        gone += session.execute(delete(SubscriberLink).where(SubscriberLink.id.in_(ids))).rowcount
    session.commit()
    return gone
