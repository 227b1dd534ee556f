"""Tells status page subscribers about each posted update (and each maintenance start),
outside the request that posted it.

A page may have thousands of subscribers; queueing their mail inside the request made
the person posting the update wait seconds, or time out and lose the update. Each update
is claimed on its own (skipped while another worker holds it), and its notifications and
`subscribers_told_at` commit together: every subscriber is told exactly once.

An update that fails is logged and set aside for a minute while the ones after it go
out, so one bad update cannot hold up every page's subscribers; it is retried until it
works, and its wait shows as the `subscriber_updates` backlog on /metrics and Health.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy.orm import Session

from tocsin.db import Database
from tocsin.engine.isolation import SetAside
from tocsin.statuspage import subscribers

Claim = Callable[[Session, int, Collection[int]], list[Any]]
Tell = Callable[[Session, Any, datetime], int]


class SubscriberUpdates:
    name = "subscriber_updates"

    def __init__(self) -> None:
        self.failing = {
            "incident": SetAside("telling subscribers of incident update"),
            "maintenance": SetAside("telling subscribers of maintenance update"),
        }

    def run_due(self, db: Database, at: datetime) -> int:
        return self._tell_all(
            db, at, "incident", subscribers.untold_updates, subscribers.tell_about_update
        ) + self._tell_all(
            db,
            at,
            "maintenance",
            subscribers.untold_maintenance_updates,
            subscribers.tell_about_maintenance_update,
        )

    def _tell_all(self, db: Database, at: datetime, kind: str, claim: Claim, tell: Tell) -> int:
        """One update a transaction: a big page's fan-out is its own commit."""
        failing = self.failing[kind]
        told = 0
        while True:
            with db.begin() as session:
                claimed = claim(session, 1, failing.skipped(at))
                if not claimed:
                    return told
                update = claimed[0]
                work = partial(tell, session, update, at)
                if failing.run(session, update.id, at, work):
                    told += 1
                session.commit()
