"""Fires due escalation levels: each step exactly once, decided and queued in one transaction."""

from __future__ import annotations

from datetime import datetime

from tocsin.config import Settings
from tocsin.db import Database
from tocsin.paging import service as paging


class EscalationSteps:
    name = "escalation"
    batch = 20  # each batch's notifications go out when it commits: keep the first one quick

    def __init__(self, settings: Settings) -> None:
        self.base_url = settings.base_url

    def run_due(self, db: Database, at: datetime) -> int:
        """Claims due pages (other workers skip the locked ones), steps each, commits."""
        handled = 0
        while True:
            with db.begin() as session:
                due = paging.due_pages(session, at, self.batch)
                for page in due:
                    paging.run_step(session, page, at, self.base_url)
                session.commit()
            handled += len(due)
            if len(due) < self.batch:
                return handled
