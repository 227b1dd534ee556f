"""Routes new alerts: the service's rules decide if each pages, opens an incident, or is kept.
An alert maintenance kept quiet that still fires after it is routed again.

Each alert is routed in its own savepoint (isolation.py): one whose routing fails is set
aside for a minute while the alerts behind it are routed on time.
"""

from __future__ import annotations

from datetime import datetime

from tocsin.alerts import service as alerts
from tocsin.db import Database, now
from tocsin.engine.isolation import SetAside


class AlertRouter:
    name = "alert_router"
    # Small batches: a claimed alert's row stays locked until its batch commits, so a
    # sender's repeat of it waits that long, and its page starts only then.
    batch = 20

    def __init__(self) -> None:
        self.failing = SetAside("routing alert")
        self.failing_hand_back = SetAside("handing back alert after maintenance")

    def run_due(self, db: Database, at: datetime) -> int:
        """Hands back the alerts still firing after maintenance, then claims unrouted alerts
        in batches (skipping any another worker holds) and routes each. A hand-back and its
        claim commit together, so each alert goes back once."""
        handled = self.failing_hand_back.run_batch(
            db,
            at,
            lambda session, skip: alerts.still_firing_after_maintenance(
                session, at, self.batch, skip
            ),
            lambda session, alert: alerts.route_again_after_maintenance(session, alert, at),
        )
        while True:
            # Each alert is routed at the time it is (its page starts then), not at the
            # pass's start: a long pass would start pages in the past.
            moment = max(at, now())
            claimed = self.failing.run_batch(
                db,
                moment,
                lambda session, skip: alerts.unrouted_alerts(session, self.batch, skip),
                lambda session, alert, due=moment: alerts.route_alert(
                    session, alert, max(due, now())
                ),
            )
            handled += claimed
            if claimed < self.batch:
                return handled
