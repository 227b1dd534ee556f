"""Reminds whoever owes a stakeholder update when it is due: the communications manager,
then the incident manager (see comms/cadence.py).

Time alone makes this work due, so it looks every few seconds. Each incident is
claimed on its own (its row, skipped when another worker holds it), and the reminder
state, the outbox rows and the timeline events commit together: each reminder goes
out exactly once, however many workers run.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tocsin.comms import service as comms
from tocsin.comms.cadence import Cadence
from tocsin.config import Settings
from tocsin.db import Database


class UpdateReminders:
    name = "update_reminders"
    woken_by_new_work = False
    every = timedelta(seconds=5)

    def __init__(self, settings: Settings) -> None:
        self.cadence = Cadence.parse(settings.update_cadence)
        self.base_url = settings.base_url
        self.last_run: datetime | None = None

    def run_due(self, db: Database, at: datetime) -> int:
        if self.last_run is not None and timedelta(0) <= at - self.last_run < self.every:
            return 0
        self.last_run = at
        with db.session(write=False) as session:
            owed = comms.owed_reminders(session, self.cadence, at)
        handled = 0
        for item in owed:
            with db.begin() as session:
                handled += comms.remind(session, item.incident_id, at, self.cadence, self.base_url)
                session.commit()
        return handled
