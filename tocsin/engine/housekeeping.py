"""Housekeeping: expired logins, old counts of wrong passwords, and what strangers left with
the public subscribe form (never-confirmed subscribers, old links, passed counts) are
deleted, and SQLite keeps the statistics its planner needs."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, text

from tocsin.auth import service as auth
from tocsin.auth.models import LoginSession
from tocsin.config import Settings
from tocsin.db import Database
from tocsin.statuspage import form_guard


class ExpiredLogins:
    name = "expired_logins"
    woken_by_new_work = False  # time alone makes its work due
    batch = 500

    def run_due(self, db: Database, at: datetime) -> int:
        with db.begin() as session:
            ids = list(
                session.scalars(
                    select(LoginSession.id).where(LoginSession.expires_at <= at).limit(self.batch)
                )
            )
            if ids:
                session.execute(delete(LoginSession).where(LoginSession.id.in_(ids)))
            # Counters of wrong passwords past their window go too (not counted: no login).
            auth.forget_old_login_failures(session, at)
            session.commit()
            return len(ids)


class StaleSubscriptions:
    """Subscribers unconfirmed for `unconfirmed_subscriber_days`, mailed links older than
    `subscriber_link_days`, and the subscribe form's passed counts; every few minutes."""

    name = "stale_subscriptions"
    woken_by_new_work = False  # time alone makes its work due
    every = timedelta(minutes=5)

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.last_run: datetime | None = None

    def run_due(self, db: Database, at: datetime) -> int:
        if self.last_run and at - self.last_run < self.every:
            return 0
        with db.begin() as session:
            gone = form_guard.prune(session, self.settings, at)
        # A full batch: more may wait, so the next pass looks again at once.
        self.last_run = None if gone >= form_guard.PRUNE_BATCH else at
        return gone


class SqliteStatistics:
    """Runs `PRAGMA optimize` every few hours on SQLite.

    Without statistics SQLite sorts whole result sets where an index would do (the
    incident list filtered by several severities, measured in bench/RESULTS.md).
    PostgreSQL's autovacuum does this by itself.
    """

    name = "sqlite_statistics"
    woken_by_new_work = False  # time alone makes its work due
    every = timedelta(hours=6)

    def __init__(self) -> None:
        self.last_run: datetime | None = None

    def run_due(self, db: Database, at: datetime) -> int:
        if not db.is_sqlite or (self.last_run and at - self.last_run < self.every):
            return 0
        # As a writer (BEGIN IMMEDIATE, in turn with the others): ANALYZE writes, and a
        # plain connection that starts writing while another writer is busy fails at once.
        with db.begin() as session:
            session.execute(text("PRAGMA analysis_limit=1000"))
            session.execute(text("PRAGMA optimize=0x10002"))
            session.commit()
        self.last_run = at
        return 1
