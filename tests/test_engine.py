"""The engine loop: modules run on demand, one failing module never stops the others."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from sqlalchemy import func, select, text

from tocsin.auth import service as auth
from tocsin.auth.models import LoginSession, User
from tocsin.db import Database, now, wake_engines
from tocsin.engine.housekeeping import ExpiredLogins, SqliteStatistics
from tocsin.engine.runner import EngineRunner


def logins(db: Database) -> int:
    with db.begin() as session:
        return session.scalar(select(func.count()).select_from(LoginSession))


def test_expired_logins_are_removed_when_due(db, responder, clock):
    with db.begin() as session:
        auth.start_login(session, session.get(User, responder.id), hours=12)
    runner = EngineRunner(db, [ExpiredLogins()])
    assert runner.run_once(clock.current) == {"expired_logins": 0}
    assert logins(db) == 1
    assert runner.run_once(clock.current + timedelta(hours=12, seconds=1)) == {"expired_logins": 1}
    assert logins(db) == 0


class Exploding:
    name = "exploding"

    def run_due(self, db: Database, at: datetime) -> int:
        raise RuntimeError("boom")


class Counting:
    name = "counting"

    def __init__(self) -> None:
        self.calls = 0
        self.called = threading.Event()

    def run_due(self, db: Database, at: datetime) -> int:
        self.calls += 1
        self.called.set()
        return 1


def test_a_failing_module_does_not_stop_the_others(db):
    counting = Counting()
    runner = EngineRunner(db, [Exploding(), counting])
    assert runner.run_once() == {"exploding": 0, "counting": 1}


def test_waking_the_engine_runs_the_modules_without_waiting_for_the_tick(db):
    counting = Counting()
    runner = EngineRunner(db, [counting], tick_seconds=3600)
    runner.start()
    try:
        assert counting.called.wait(5), "the first pass runs at start"
        counting.called.clear()
        runner.wake()
        assert counting.called.wait(5), "a wake-up runs a pass at once, not after an hour"
    finally:
        runner.stop()
    assert not runner.running


def test_a_commit_that_brings_new_work_wakes_the_engine_of_this_process(db):
    """The router's new page starts the escalation at once, not on the next tick."""
    counting = Counting()
    runner = EngineRunner(db, [counting], tick_seconds=3600)
    runner.start()
    try:
        assert counting.called.wait(5), "the first pass runs at start"
        counting.called.clear()
        with db.begin() as session:
            wake_engines(session)
            session.commit()
        assert counting.called.wait(5), "the commit woke the engine, not the hourly tick"
    finally:
        runner.stop()
    assert runner.wake not in db.wakers


NEW_WORK = "UPDATE counters SET value = value WHERE name = 'incident'"


def test_only_a_committed_wake_up_wakes(db):
    woken: list[bool] = []
    db.wakers.append(lambda: woken.append(True))
    try:
        with db.begin() as session:
            session.execute(text(NEW_WORK))
            wake_engines(session)
            session.rollback()
            session.commit()  # the rolled-back work is gone; so is its wake-up
            assert woken == []
            session.execute(text(NEW_WORK))
            wake_engines(session)
            session.commit()
            assert woken == [True]
            session.commit()
            assert woken == [True], "one wake-up per commit that asked for it"
    finally:
        db.wakers.clear()


def test_sqlite_statistics_wait_their_turn_behind_a_writer(db, responder):
    """At first start every module writes at once; ANALYZE must queue, not fail."""
    statistics = SqliteStatistics()
    if not db.is_sqlite:
        assert statistics.run_due(db, now()) == 0  # autovacuum does this on PostgreSQL
        return
    writing = threading.Event()
    release = threading.Event()

    def hold_the_write_lock() -> None:
        with db.begin() as session:
            session.execute(text(NEW_WORK))
            writing.set()
            release.wait(5)
            session.commit()

    writer = threading.Thread(target=hold_the_write_lock)
    writer.start()
    assert writing.wait(5)
    threading.Timer(0.3, release.set).start()  # the writer finishes while ANALYZE waits
    try:
        assert statistics.run_due(db, now()) == 1
    finally:
        release.set()
        writer.join(5)
