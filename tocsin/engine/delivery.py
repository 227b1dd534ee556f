"""Delivers the outbox: lease due notifications, send them, record what happened.

The lease commits before sending, so nothing is held locked while waiting on a mail
server. A worker whose lease ran out (and whose notification another worker reclaimed)
sees a newer attempt and does not send. A worker that dies mid-send leaves a lease that
runs out, and the notification is sent again: at least once, with its idempotency key
travelling along.

Sends run several at a time: each mostly waits on a mail server or a webhook, and in a
big outage a thousand pages must not queue behind one slow connection.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from tocsin.config import Settings
from tocsin.db import Database, now
from tocsin.paging import channels
from tocsin.paging import service as paging


class Deliveries:
    name = "delivery"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.lease = timedelta(seconds=settings.delivery_lease_seconds)
        self.concurrency = max(1, settings.delivery_concurrency)
        # Claim a few rounds of sends at once: fewer claiming transactions, all leased.
        self.batch = self.concurrency * 4
        self._senders: ThreadPoolExecutor | None = None

    def run_due(self, db: Database, at: datetime) -> int:
        with db.begin() as session:
            claimed = paging.claim_deliveries(session, at, self.batch, self.lease)
            session.commit()
        # One address's messages go out one after another, in the order they were queued
        # ("Resolved" never overtakes "Identified"); different addresses go out together.
        by_address: dict[tuple[str, str], list[paging.Delivery]] = {}
        for delivery in claimed:
            by_address.setdefault((delivery.channel, delivery.address), []).append(delivery)
        queues = list(by_address.values())
        if len(queues) <= 1 or self.concurrency == 1:
            for queue in queues:
                self._deliver_in_turn(db, queue, at)
        else:
            if self._senders is None:
                self._senders = ThreadPoolExecutor(self.concurrency, "tocsin-send")
            # list() waits for every send and re-raises the first unexpected failure.
            list(self._senders.map(lambda queue: self._deliver_in_turn(db, queue, at), queues))
        return len(claimed)

    def _deliver_in_turn(
        self, db: Database, queue: list[paging.Delivery], claimed_at: datetime
    ) -> None:
        for delivery in queue:
            self._deliver(db, delivery, claimed_at)

    def _deliver(self, db: Database, delivery: paging.Delivery, claimed_at: datetime) -> None:
        if now() - claimed_at > self.lease / 2:
            # Waited long for its turn: take the lease again, or leave it to whoever took it.
            with db.begin() as session:
                still_ours = paging.renew_lease(
                    session, delivery, max(claimed_at, now()), self.lease
                )
                session.commit()
            if not still_ours:
                return
        final = False
        try:
            channels.send(delivery, self.settings)
            error = None
        except channels.DeliveryError as failure:
            error = str(failure)
            final = failure.permanent
        with db.begin() as session:
            paging.record_delivery(session, delivery, error, max(claimed_at, now()), final=final)
            session.commit()
