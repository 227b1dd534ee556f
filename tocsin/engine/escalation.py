"""Fires due escalation levels: each step exactly once, decided and queued in one transaction.

Each page's step runs in its own savepoint: a page whose step fails (say, a target that
can no longer be resolved) is logged and set aside for a minute while every other due
page fires on time. It is retried until it works; meanwhile the escalation backlog on
/metrics and Health shows how long it has waited.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from tocsin.config import Settings
from tocsin.db import Database
from tocsin.paging import service as paging

log = logging.getLogger("tocsin.engine")


class EscalationSteps:
    name = "escalation"
    batch = 20  # each batch's notifications go out when it commits: keep the first one quick
    retry_after = timedelta(minutes=1)

    def __init__(self, settings: Settings) -> None:
        self.base_url = settings.base_url
        self.failing: dict[int, datetime] = {}  # page id -> when to try its step again

    def run_due(self, db: Database, at: datetime) -> int:
        """Claims due pages (other workers skip the locked ones), steps each, commits."""
        handled = 0
        while True:
            skip = {page_id for page_id, until in self.failing.items() if until > at}
            with db.begin() as session:
                due = paging.due_pages(session, at, self.batch, skip)
                for page in due:
                    page_id = page.id
                    try:
                        with session.begin_nested():
                            paging.run_step(session, page, at, self.base_url)
                    except Exception:
                        log.exception("escalation step of page %s failed; retried later", page_id)
                        self.failing[page_id] = at + self.retry_after
                    else:
                        self.failing.pop(page_id, None)
                session.commit()
            handled += len(due)
            if len(due) < self.batch:
                return handled
