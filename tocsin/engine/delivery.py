"""Delivers the outbox: lease due notifications, send them, record what happened.

A worker leases only what it sends now, for a few seconds, and renews the lease while
the sends run; the lease commits before sending, so nothing is held locked while
waiting on a mail server. A worker killed mid-send stops renewing, and within seconds
another worker takes its notifications over and sends them again: at least once, with
the same idempotency key (the mail's Message-ID), so a receiver folds the repeat. A
worker that stalled past its lease (and whose notification another worker took over)
sees a newer attempt and does not send.

Any exception while building or sending one notification is that attempt's failure:
logged, recorded, retried with backoff and given up after the last attempt, never in the
way of the notifications beside it.

Sends run several at a time: each mostly waits on a mail server or a webhook, and in a
big outage a thousand pages must not queue behind one slow connection.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import datetime, timedelta

from tocsin.config import Settings
from tocsin.db import Database, now
from tocsin.paging import channels
from tocsin.paging import service as paging

log = logging.getLogger("tocsin.delivery")


class Deliveries:
    name = "delivery"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.lease = timedelta(seconds=settings.delivery_lease_seconds)
        self.renew_every = max(0.2, settings.delivery_lease_seconds / 3)
        self.concurrency = max(1, settings.delivery_concurrency)
        self._senders: ThreadPoolExecutor | None = None
        # What this worker is sending, and until when its lease is known to hold.
        self._leased: dict[int, tuple[paging.Delivery, datetime]] = {}
        self._lock = threading.Lock()

    def run_due(self, db: Database, at: datetime) -> int:
        """Claims a round of sends (one per sender at most), sends it, and goes on while
        more is due; returns how many it handled."""
        handled = 0
        while True:
            moment = max(at, now())
            with db.begin() as session:
                claimed = paging.claim_deliveries(session, moment, self.concurrency, self.lease)
                session.commit()
            if not claimed:
                return handled
            self._send_round(db, claimed, moment)
            handled += len(claimed)

    def _send_round(self, db: Database, claimed: list[paging.Delivery], at: datetime) -> None:
        # One address's messages go out one after another, in the order they were queued
        # ("Resolved" never overtakes "Identified"); different addresses go out together.
        by_address: dict[tuple[str, str], list[paging.Delivery]] = {}
        for delivery in claimed:
            by_address.setdefault((delivery.channel, delivery.address), []).append(delivery)
        with self._lock:
            self._leased.update({d.id: (d, at + self.lease) for d in claimed})
        if self._senders is None:
            self._senders = ThreadPoolExecutor(self.concurrency, "tocsin-send")
        # The sends run on the pool; this thread renews their leases until they are done.
        running = {
            self._senders.submit(self._deliver_in_turn, db, queue, at)
            for queue in by_address.values()
        }
        while running:  # until every send is done, renewing each time a lease's third passes
            _done, running = wait(running, self.renew_every)
            if running:
                self._renew(db)

    def _renew(self, db: Database) -> None:
        """Extends the lease of every send in progress; a send whose notification another
        worker took over meanwhile finds out before it sends (see `_deliver`)."""
        with self._lock:
            leased = [delivery for delivery, _until in self._leased.values()]
        if not leased:
            return
        moment = now()
        try:
            with db.begin() as session:
                kept = [d for d in leased if paging.renew_lease(session, d, moment, self.lease)]
                session.commit()
        except Exception:
            log.warning("could not renew the leases of %d sends", len(leased), exc_info=True)
            return
        with self._lock:
            for delivery in kept:
                if delivery.id in self._leased:
                    self._leased[delivery.id] = (delivery, moment + self.lease)

    def _deliver_in_turn(self, db: Database, queue: list[paging.Delivery], at: datetime) -> None:
        for delivery in queue:
            try:
                self._deliver(db, delivery, at)
            finally:
                with self._lock:
                    self._leased.pop(delivery.id, None)

    def _deliver(self, db: Database, delivery: paging.Delivery, claimed_at: datetime) -> None:
        with self._lock:
            _, until = self._leased.get(delivery.id, (delivery, None))
        if until is None or now() > until - self.lease / 2:
            # Renewals did not keep up (a stalled worker): send only if it is still ours.
            with db.begin() as session:
                still_ours = paging.renew_lease(session, delivery, now(), self.lease)
                session.commit()
            if not still_ours:
                return
        final = False  # a failure no retry can mend (an address Tocsin refuses)
        try:
            channels.send(delivery, self.settings)
            error = None
        except Exception as failure:
            error = channels.failure_text(failure, delivery)
            final = isinstance(failure, channels.DeliveryError) and failure.permanent
            log.warning(
                "notification %s by %s failed (attempt %d): %s",
                delivery.idempotency_key,
                channels.shown(delivery, self.settings),
                delivery.attempts,
                error,
            )
        try:
            with db.begin() as session:
                paging.record_delivery(
                    session, delivery, error, max(claimed_at, now()), final=final
                )
                session.commit()
        except Exception:
            # Its lease runs out unrenewed, and it is tried again (or given up) in seconds.
            log.exception("could not record the delivery of %s", delivery.idempotency_key)
