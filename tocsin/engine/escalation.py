"""Fires due escalation levels: each step exactly once, decided and queued in one transaction.

Each page's step runs in its own savepoint (isolation.py): a page whose step fails (say,
a target that can no longer be resolved) is set aside for a minute while every other due
page fires on time.
"""

from __future__ import annotations

from datetime import datetime

from tocsin.config import Settings
from tocsin.db import Database
from tocsin.engine.isolation import SetAside
from tocsin.paging import service as paging


class EscalationSteps:
    name = "escalation"
    batch = 20  # each batch's notifications go out when it commits: keep the first one quick

    def __init__(self, settings: Settings) -> None:
        self.base_url = settings.base_url
        self.failing = SetAside("the escalation step of page")

    def run_due(self, db: Database, at: datetime) -> int:
        """Claims due pages (other workers skip the locked ones), steps each, commits."""
        handled = 0
        while True:
            claimed = self.failing.run_batch(
                db,
                at,
                lambda session, skip: paging.due_pages(session, at, self.batch, skip),
                lambda session, page: paging.run_step(session, page, at, self.base_url),
            )
            handled += claimed
            if claimed < self.batch:
                return handled
