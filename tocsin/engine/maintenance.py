"""Moves automatic scheduled maintenance: in progress at its start, completed at its end."""

from __future__ import annotations

from datetime import datetime

from tocsin.db import Database
from tocsin.statuspage import service as statuspage


class MaintenanceTransitions:
    name = "maintenance_transitions"
    batch = 50

    def run_due(self, db: Database, at: datetime) -> int:
        """Claims due maintenances in batches (skipping any another worker holds) and moves
        each once: the claim and the move commit together, so no two workers move one."""
        handled = 0
        while True:
            with db.begin() as session:
                claimed = statuspage.due_maintenances(session, at, self.batch)
                for maintenance in claimed:
                    statuspage.advance_due_maintenance(session, maintenance, at)
                session.commit()
            handled += len(claimed)
            if len(claimed) < self.batch:
                return handled
