"""Fires due escalation levels: each step exactly once, decided and queued in one transaction.

Each page's step runs in its own savepoint (isolation.py): a page whose step fails (say,
a target that can no longer be resolved) is set aside for a minute while every other due
page fires on time.
"""

from __future__ import annotations

from datetime import datetime

from tocsin.config import Settings
from tocsin.db import Database, now
from tocsin.engine.isolation import SetAside
from tocsin.paging import service as paging


class EscalationSteps:
    name = "escalation"
    batch = 20  # each batch's notifications go out when it commits: keep the first one quick

    def __init__(self, settings: Settings) -> None:
        self.base_url = settings.base_url
        self.failing = SetAside("the escalation step of page")

    def run_due(self, db: Database, at: datetime) -> int:
        """Claims due pages (other workers skip the locked ones), steps each, commits.

        A long pass keeps reading the clock: each batch claims what is due when it starts,
        and each step is timed when it acts, so the next level is due its full delay after
        this one's page (a pass's start time made it due early by however long the pass ran).
        """
        handled = 0
        while True:
            moment = max(at, now())
            claimed = self.failing.run_batch(
                db,
                moment,
                lambda session, skip, due=moment: paging.due_pages(session, due, self.batch, skip),
                lambda session, page, due=moment: paging.run_step(
                    session, page, max(due, now()), self.base_url
                ),
            )
            handled += claimed
            if claimed < self.batch:
                return handled
