"""Routes new alerts: the service's rules decide if each pages, opens an incident, or is kept.
An alert maintenance kept quiet that still fires after it is routed again.

Each alert is routed in its own savepoint (isolation.py): one whose routing fails is set
aside for a minute while the alerts behind it are routed on time.
"""

from __future__ import annotations

from datetime import datetime

from tocsin.alerts import service as alerts
from tocsin.db import Database
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
        """Claims unrouted alerts in batches (skipping any another worker holds), routes each."""
        handled = self._after_maintenance(db, at)
        while True:
            with db.begin() as session:
                claimed = alerts.unrouted_alerts(session, self.batch, self.failing.skipped(at))
                for alert in claimed:
                    self.failing.run(
                        session,
                        alert.id,
                        at,
                        lambda alert=alert: alerts.route_alert(session, alert, at),
                    )
                session.commit()
            handled += len(claimed)
            if len(claimed) < self.batch:
                return handled

    def _after_maintenance(self, db: Database, at: datetime) -> int:
        """Alerts still firing after their service's maintenance go back to the router; the
        hand-back and its claim commit together, so each goes back once."""
        with db.begin() as session:
            skipped = self.failing_hand_back.skipped(at)
            claimed = alerts.still_firing_after_maintenance(session, at, self.batch, skipped)
            for alert in claimed:
                self.failing_hand_back.run(
                    session,
                    alert.id,
                    at,
                    lambda alert=alert: alerts.route_again_after_maintenance(session, alert, at),
                )
            session.commit()
        return len(claimed)
