"""Moves automatic scheduled maintenance (in progress at its start, completed at its end) and
reminds its subscribers an hour before it starts."""

from __future__ import annotations

from datetime import datetime

from tocsin.db import Database
from tocsin.statuspage import service as statuspage
from tocsin.statuspage import subscribers


class MaintenanceTransitions:
    name = "maintenance_transitions"
    woken_by_new_work = False  # time alone makes its work due
    batch = 50

    def run_due(self, db: Database, at: datetime) -> int:
        """Claims due maintenances in batches (skipping any another worker holds) and moves
        each once: the claim and the move commit together, so no two workers move one."""
        handled = self._remind(db, at)
        while True:
            with db.begin() as session:
                claimed = statuspage.due_maintenances(session, at, self.batch)
                for maintenance in claimed:
                    statuspage.advance_due_maintenance(session, maintenance, at)
                session.commit()
            handled += len(claimed)
            if len(claimed) < self.batch:
                return handled

    def _remind(self, db: Database, at: datetime) -> int:
        """The same for reminders: `reminded_at` and the reminders commit together. Counts the
        reminders queued (a window nobody follows reminds nobody)."""
        queued = 0
        while True:
            with db.begin() as session:
                claimed = subscribers.due_reminders(session, at, self.batch)
                for maintenance in claimed:
                    queued += subscribers.remind(session, maintenance, at)
                session.commit()
            if len(claimed) < self.batch:
                return queued
