"""Raises an alert for every heartbeat that went quiet past its interval plus grace."""

from __future__ import annotations

from datetime import datetime

from tocsin.alerts import service as alerts
from tocsin.db import Database


class MissedHeartbeats:
    name = "missed_heartbeats"
    woken_by_new_work = False  # time alone makes its work due
    batch = 100

    def run_due(self, db: Database, at: datetime) -> int:
        with db.begin() as session:
            silent = alerts.silent_heartbeats(session, at, self.batch)
            for integration in silent:
                alerts.raise_missed_heartbeat(session, integration, at)
            session.commit()
            return len(silent)
