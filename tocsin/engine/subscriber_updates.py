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

import logging
from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from tocsin.db import Database
from tocsin.statuspage import subscribers

log = logging.getLogger("tocsin.engine")

Claim = Callable[[Session, int, Collection[int]], list[Any]]
Tell = Callable[[Session, Any, datetime], int]


class SubscriberUpdates:
    name = "subscriber_updates"
    retry_after = timedelta(minutes=1)

    def __init__(self) -> None:
        # (kind, update id) -> when to try again, for updates whose telling failed.
        self.failing: dict[tuple[str, int], datetime] = {}

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
        told = 0
        while True:
            skip = {i for (k, i), until in self.failing.items() if k == kind and until > at}
            with db.begin() as session:
                claimed = claim(session, 1, skip)
                if not claimed:
                    return told
                update_id = claimed[0].id
                try:
                    tell(session, claimed[0], at)
                    session.commit()
                except Exception:
                    session.rollback()
                    log.exception("telling subscribers of %s update %s failed", kind, update_id)
                    self.failing[(kind, update_id)] = at + self.retry_after
                    continue
            self.failing.pop((kind, update_id), None)
            told += 1
