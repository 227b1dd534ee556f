"""How accepted events reach the database, committed before the sender gets its 2xx.

`ServiceIngest` runs `service.ingest_events` in the thread pool: one transaction per
request. It serves SQLite, every acknowledge and resolve, and is the fallback.

`GroupCommitIngest` (PostgreSQL) batches triggers from concurrent requests into one
multi-row upsert per transaction, and answers each request once the batch holding it
has committed (see PERFORMANCE-NOTES.md): CPU per event, not fsync, is the limit, and
batching cuts it by two thirds. A batch is one statement on an autocommit connection
(upsert, timeline events and engine wake-up together), so one round trip, not four.
A full queue answers 503 with Retry-After; a batch that fails is retried row by row,
so one bad event cannot fail its neighbours.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import make_url
from sqlalchemy.exc import IntegrityError

from tocsin.alerts import service
from tocsin.alerts.directory import IntegrationRef
from tocsin.alerts.events import Action, AlertEvent
from tocsin.db import ENGINE_CHANNEL, Database, now

log = logging.getLogger("tocsin.ingest")


class IntegrationGone(Exception):
    """The integration was removed between finding its key and storing its events."""


class Overloaded(Exception):
    """The write queue is full; the sender should retry after `retry_after` seconds."""

    retry_after = 1


class ServiceIngest:
    def __init__(self, db: Database, on_new_alert: Callable[[], None]) -> None:
        self.db = db
        self.on_new_alert = on_new_alert

    async def store(
        self, ref: IntegrationRef, events: list[AlertEvent], nul_free: bool = False
    ) -> list[service.Outcome]:
        """`nul_free`: the caller knows no text holds NUL (the service cleans anyway)."""
        outcomes = await run_in_threadpool(self._store, ref, events)
        if any(o.created for o in outcomes):
            self.on_new_alert()
        return outcomes

    def _store(self, ref: IntegrationRef, events: list[AlertEvent]) -> list[service.Outcome]:
        with self.db.begin() as session:
            try:
                return service.ingest_events(session, ref, events)
            except IntegrityError as refused:
                # The integration was removed since its key was cached.
                raise IntegrationGone from refused

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


# One statement, so one round trip in autocommit: the batch's upsert, a `triggered` timeline
# event for each alert it opened, and a wake-up for the engines when there is any.
UPSERT = """
WITH incoming AS (
    SELECT * FROM jsonb_to_recordset(%(rows)s::jsonb)
        AS incoming(integration_id bigint, service_id bigint, dedup_key text, severity text,
                    title text, source text, component text, group_name text, event_class text,
                    details jsonb, labels jsonb, links jsonb, images jsonb, count int,
                    integration_name text)
), upserted AS (
    INSERT INTO alerts (integration_id, service_id, dedup_key, status, severity, title, source,
                        component, group_name, event_class, details, labels, links, images,
                        count, first_seen_at, last_seen_at, suppressed)
    SELECT integration_id, service_id, dedup_key, 'triggered', severity, title, source,
           component, group_name, event_class, details, labels, links, images, count,
           %(now)s, %(now)s, false
    FROM incoming
    ORDER BY integration_id, dedup_key
    ON CONFLICT (integration_id, dedup_key) WHERE status <> 'resolved'
    DO UPDATE SET count = alerts.count + EXCLUDED.count,
                  last_seen_at = EXCLUDED.last_seen_at,
                  -- a repeat that sends no details keeps what is there
                  details = CASE WHEN EXCLUDED.details = '{}'::jsonb THEN alerts.details
                                 ELSE EXCLUDED.details END
    RETURNING id, integration_id, dedup_key, (xmax = 0) AS inserted
), triggered AS (
    INSERT INTO timeline_events (subject_type, subject_id, at, kind, message, data, starred)
    SELECT 'alert', upserted.id, %(now)s, 'triggered',
           'Triggered through ' || incoming.integration_name || ': ' || incoming.title,
           '{}'::jsonb, false
    FROM upserted JOIN incoming USING (integration_id, dedup_key)
    WHERE upserted.inserted
    ORDER BY upserted.id
    RETURNING subject_id
), woken AS (
    SELECT pg_notify(%(channel)s, '') FROM (SELECT 1 FROM triggered LIMIT 1) AS any_new
)
SELECT id, integration_id, dedup_key, inserted, (SELECT count(*) FROM woken) FROM upserted
"""


@dataclass
class _Request:
    ref: IntegrationRef
    events: list[AlertEvent]
    done: asyncio.Future[list[service.Outcome]] = field(repr=False)


class GroupCommitIngest:
    """Triggers go through one writer per process; everything else through the service."""

    def __init__(
        self,
        db: Database,
        on_new_alert: Callable[[], None],
        max_batch: int = 512,
        max_queue: int = 20_000,
    ) -> None:
        self.fallback = ServiceIngest(db, on_new_alert)
        self.on_new_alert = on_new_alert
        self.conninfo = (
            make_url(db.url).set(drivername="postgresql").render_as_string(hide_password=False)
        )
        self.max_batch = max_batch
        self.max_queue = max_queue
        # Made in start(): a queue belongs to the event loop that uses it.
        self.queue: asyncio.Queue[_Request] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._connection: psycopg.AsyncConnection | None = None

    async def start(self) -> None:
        """Starts the writer on the running loop; an app has one loop, so one writer."""
        if self._writer is not None and not self._writer.done():
            raise RuntimeError("the ingest writer is already running on another event loop")
        self.queue = asyncio.Queue(self.max_queue)
        self._writer = asyncio.create_task(self._run(), name="tocsin-ingest-writer")

    async def stop(self) -> None:
        """Drains what was accepted, then closes."""
        if self._writer is None:
            return
        await self.queue.join()
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer
        self._writer = None
        self.queue = None
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    async def store(
        self, ref: IntegrationRef, events: list[AlertEvent], nul_free: bool = False
    ) -> list[service.Outcome]:
        """`nul_free`: the caller knows no text holds NUL, so cleaning can be skipped."""
        if any(e.action is not Action.TRIGGER for e in events) or self.queue is None:
            return await self.fallback.store(ref, events)
        done: asyncio.Future[list[service.Outcome]] = asyncio.get_running_loop().create_future()
        if not nul_free:
            events = [service.clean(e) for e in events]
        try:
            self.queue.put_nowait(_Request(ref, events, done))
        except asyncio.QueueFull:
            raise Overloaded from None
        return await done

    async def _run(self) -> None:
        queue = self.queue
        assert queue is not None
        while True:
            batch = [await queue.get()]
            while len(batch) < self.max_batch and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                await self._write_batch(batch)
            finally:
                for _ in batch:
                    queue.task_done()

    async def _connect(self) -> psycopg.AsyncConnection:
        if self._connection is None or self._connection.closed or self._connection.broken:
            # Autocommit: each batch is one statement, so one transaction and one round trip.
            self._connection = await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)
        return self._connection

    async def _write_batch(self, batch: list[_Request]) -> None:
        try:
            results = await self._upsert(batch)
        except Exception:
            log.warning(
                "a batch of %d requests failed; retrying them one by one", len(batch), exc_info=True
            )
            await self._one_by_one(batch)
            return
        created = False
        for request, outcomes in zip(batch, results, strict=True):
            created = created or any(o.created for o in outcomes)
            if not request.done.done():
                request.done.set_result(outcomes)
        if created:
            self.on_new_alert()

    async def _one_by_one(self, batch: list[_Request]) -> None:
        for request in batch:
            try:
                outcomes = await self.fallback.store(request.ref, request.events)
            except Exception as failure:
                if not request.done.done():
                    request.done.set_exception(failure)
                continue
            if not request.done.done():
                request.done.set_result(outcomes)

    async def _upsert(self, batch: list[_Request]) -> list[list[service.Outcome]]:
        """One statement for every trigger of the batch; a repeated key is counted, not repeated."""
        rows: dict[tuple[int, str], dict[str, object]] = {}
        for request in batch:
            for event in request.events:
                key = (request.ref.id, event.dedup_key)
                row = rows.get(key)
                if row is None:
                    rows[key] = _row(request.ref, event)
                else:
                    row["count"] += 1  # type: ignore[operator]
                    if event.details:
                        row["details"] = event.details
        ordered = [rows[k] for k in sorted(rows)]
        connection = await self._connect()
        cursor = await connection.execute(
            UPSERT, {"rows": json.dumps(ordered), "now": now(), "channel": ENGINE_CHANNEL}
        )
        stored = {(i, d): (alert_id, new) for alert_id, i, d, new, _ in await cursor.fetchall()}

        announced: set[tuple[int, str]] = set()
        results = []
        for request in batch:
            outcomes = []
            for event in request.events:
                key = (request.ref.id, event.dedup_key)
                alert_id, inserted = stored[key]
                created = inserted and key not in announced
                announced.add(key)
                outcomes.append(
                    service.Outcome(event.dedup_key, alert_id, created=created, changed=created)
                )
            results.append(outcomes)
        return results


def _row(ref: IntegrationRef, event: AlertEvent) -> dict[str, object]:
    return {
        "integration_id": ref.id,
        "service_id": ref.service_id,
        "dedup_key": event.dedup_key,
        "severity": event.severity.value,
        "title": event.title or event.dedup_key,
        "source": event.source,
        "component": event.component,
        "group_name": event.group,
        "event_class": event.event_class,
        "details": event.details,
        "labels": event.labels,
        "links": event.links,
        "images": event.images,
        "count": 1,
        "integration_name": ref.name,
    }
