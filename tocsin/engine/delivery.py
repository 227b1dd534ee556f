"""Delivers the outbox: lease due notifications, send them, record what happened.

The lease commits before sending, so nothing is held locked while waiting on a mail
server, and is renewed just before each send: a worker whose lease ran out (and whose
notification another worker reclaimed) sees a newer attempt and does not send. A
worker that dies mid-send leaves a lease that runs out, and the notification is sent
again: at least once, with its idempotency key travelling along.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tocsin.config import Settings
from tocsin.db import Database, now
from tocsin.paging import channels
from tocsin.paging import service as paging


class Deliveries:
    name = "delivery"
    batch = 20

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.lease = timedelta(seconds=settings.delivery_lease_seconds)

    def run_due(self, db: Database, at: datetime) -> int:
        with db.begin() as session:
            claimed = paging.claim_deliveries(session, at, self.batch, self.lease)
            session.commit()
        for delivery in claimed:
            with db.begin() as session:
                still_ours = paging.renew_lease(session, delivery, max(at, now()), self.lease)
                session.commit()
            if not still_ours:
                continue
            try:
                channels.send(delivery, self.settings)
                error = None
            except channels.DeliveryError as failure:
                error = str(failure)
            with db.begin() as session:
                paging.record_delivery(session, delivery, error, max(at, now()))
                session.commit()
        return len(claimed)
