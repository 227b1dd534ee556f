"""Tells status page subscribers about each posted update, outside the request that posted it.

A page may have thousands of subscribers; queueing their mail inside the request made
the person posting the update wait seconds, or time out and lose the update. Each update
is claimed on its own (skipped while another worker holds it), and its notifications
and `subscribers_told_at` commit together: every subscriber is told exactly once.
"""

from __future__ import annotations

from datetime import datetime

from tocsin.db import Database
from tocsin.statuspage import subscribers


class SubscriberUpdates:
    name = "subscriber_updates"
    # One update a transaction: a big page's fan-out is its own commit.
    batch = 1

    def run_due(self, db: Database, at: datetime) -> int:
        handled = 0
        while True:
            with db.begin() as session:
                claimed = subscribers.untold_updates(session, self.batch)
                for update in claimed:
                    subscribers.tell_about_update(session, update, at)
                session.commit()
            handled += len(claimed)
            if len(claimed) < self.batch:
                return handled
