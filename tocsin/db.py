"""Database engine, sessions, the declarative base, column types and the clock.

One code path serves SQLite (the embedded default) and PostgreSQL. Times are
always timezone-aware UTC; `now()` is the one clock, replaceable by tests.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Collection, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Engine,
    Integer,
    MetaData,
    Select,
    create_engine,
    event,
    make_url,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

# ---------------------------------------------------------------- the clock

_clock: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def now() -> datetime:
    """The current time, aware and in UTC; tests replace the clock with `set_clock`."""
    return _clock()


def set_clock(clock: Callable[[], datetime] | None) -> None:
    global _clock
    _clock = clock or (lambda: datetime.now(UTC))


def as_utc(value: datetime) -> datetime:
    """Naive datetimes are taken as UTC; aware ones are converted.

    A time at the edge of the calendar (9999-12-31T23:00-05:00) has no UTC form:
    that is a ValueError, so input validation reports it instead of crashing.
    """
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is outside the range of dates that can be stored") from None


# ---------------------------------------------------------------- column types


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC and always gives back aware UTC values.

    SQLite has no time zone type, so values are stored naive there and made
    aware again on load.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return as_utc(value)


# bigint ids on PostgreSQL; SQLite only auto-increments an INTEGER primary key.
BigId = BigInteger().with_variant(Integer(), "sqlite")
JSONDoc = JSON().with_variant(JSONB(), "postgresql")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# ---------------------------------------------------------------- queries every domain needs


def row_named(session: Session, model: Any, name: str) -> Any | None:
    """The row whose name equals `name` ignoring case, in any script.

    Compared in Python: SQLite's lower() only folds ASCII ("Écran" vs "ÉCRAN"). The
    tables named this way (teams, services, products) are small.
    """
    wanted = name.casefold()
    for row_id, row_name in session.execute(select(model.id, model.name)):
        if row_name.casefold() == wanted:
            return session.get(model, row_id)
    return None


def claim_rows(session: Session, query: Select, of: Any, skip: Collection[int] = ()) -> list:
    """The engine's claim: the rows of `query` (but for the ids in `skip`, set aside after
    failing) for this worker alone. On PostgreSQL they are locked FOR UPDATE SKIP LOCKED,
    so other workers pass over them until this transaction ends; SQLite has one writer."""
    if skip:
        query = query.where(of.id.not_in(list(skip)))
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=of)
    return list(session.scalars(query))


# ---------------------------------------------------------------- waking the engine

ENGINE_CHANNEL = "tocsin_engine"


_WAKE = "tocsin_wake_engines"


def wake_engines(session: Session) -> None:
    """Wakes the engines when the caller's transaction commits: this process's at once (see
    `Database.wakers`), other processes' through PostgreSQL NOTIFY.

    Delivered only on commit, so a woken engine always finds the new work; the tick is the
    safety net.
    """
    session.info[_WAKE] = True
    if session.bind.dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": ENGINE_CHANNEL})


# ---------------------------------------------------------------- engine and sessions


SQLITE_BUSY_SECONDS = 30
_HOLDS_WRITE_LOCK = "tocsin_holds_write_lock"


def _configure_sqlite(engine: Engine) -> None:
    """WAL, foreign keys, a generous busy timeout, and explicit BEGIN.

    pysqlite's own transaction handling is switched off so that writers can
    start with BEGIN IMMEDIATE: a deferred transaction that reads and then
    writes fails at once with SQLITE_BUSY when another writer got in between,
    while an immediate one waits its turn.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
        cursor.close()

    # Writers of this process queue here rather than in SQLite's busy handler, which
    # sleeps in steps of up to 100 ms: under load that turned 1 ms writes into seconds.
    write_lock = threading.Lock()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode == "IMMEDIATE":
            if not write_lock.acquire(timeout=SQLITE_BUSY_SECONDS):
                raise TimeoutError("another writer held the SQLite database for too long")
            connection.info[_HOLDS_WRITE_LOCK] = True
        try:
            connection.exec_driver_sql(f"BEGIN {mode}")
        except BaseException:
            _release(connection.info)
            raise

    def _release(info: dict[str, Any]) -> None:
        if info.pop(_HOLDS_WRITE_LOCK, False):
            write_lock.release()

    event.listen(engine, "commit", lambda connection: _release(connection.info))
    event.listen(engine, "rollback", lambda connection: _release(connection.info))
    # The safety net: a connection going back to the pool never keeps the lock.
    event.listen(engine, "checkin", lambda _dbapi, record: _release(record.info))


def owner_only_sqlite_file(url: str) -> None:
    """Creates the SQLite file owner-only (0600) before SQLite would with the umask's mode:
    it holds channel URLs with their tokens. SQLite gives its -wal and -shm files the
    database file's mode, so they are owner-only too."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if path.exists() or not path.parent.is_dir():
        return  # an existing file keeps its mode; a missing folder is SQLite's error to give
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        owner_only_sqlite_file(url)
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        _configure_sqlite(engine)
        return engine
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 8)
        kwargs.setdefault("max_overflow", 8)
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


class Database:
    """An engine and its two session factories: one for reads, one for writes.

    On PostgreSQL both are the same. On SQLite a write session begins with
    BEGIN IMMEDIATE so concurrent writers queue instead of failing.
    """

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        write_engine = (
            self.engine.execution_options(sqlite_begin="IMMEDIATE")
            if self.is_sqlite
            else self.engine
        )
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(write_engine, expire_on_commit=False)
        # Engines running in this process: woken when a commit brought them new work, so
        # one step (an alert routed) starts the next (its page) without waiting for a tick.
        self.wakers: list[Callable[[], None]] = []
        for maker in (self._read, self._write):
            event.listen(maker, "after_commit", self._after_commit)
            event.listen(maker, "after_soft_rollback", self._after_rollback)

    def _after_commit(self, session: Session) -> None:
        if session.info.pop(_WAKE, False):
            for wake in list(self.wakers):
                wake()

    @staticmethod
    def _after_rollback(session: Session, _previous: Any) -> None:
        session.info.pop(_WAKE, None)

    def session(self, *, write: bool = True) -> Session:
        return (self._write if write else self._read)()

    @contextlib.contextmanager
    def begin(self) -> Iterator[Session]:
        """A write session for scripts, the CLI and the engine; closed afterwards."""
        session = self.session(write=True)
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
