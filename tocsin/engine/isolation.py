"""One item's failure must not stop the engine's other work.

A module that handles a batch runs each item in its own savepoint through `SetAside`:
an item whose work raises is logged, rolled back alone and set aside for a while (other
workers may still try it), so the items behind it go on; it is retried once its time
is up. The database keeps it due, so nothing is lost, and the module's backlog on
/metrics and Health shows how long it has waited.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy.orm import Session

from tocsin.db import Database

log = logging.getLogger("tocsin.engine")


class SetAside:
    def __init__(self, what: str, retry_after: timedelta = timedelta(minutes=1)) -> None:
        self.what = what
        self.retry_after = retry_after
        self._until: dict[int, datetime] = {}

    def skipped(self, at: datetime) -> set[int]:
        """The items to leave out of the next claim."""
        return {item_id for item_id, until in self._until.items() if until > at}

    def run(self, session: Session, item_id: int, at: datetime, work: Callable[[], object]) -> bool:
        """Does `work` in a savepoint; False (logged, set aside) when it raised."""
        try:
            with session.begin_nested():
                work()
        except Exception:
            log.exception("%s %s failed; set aside and retried later", self.what, item_id)
            self._until[item_id] = at + self.retry_after
            return False
        self._until.pop(item_id, None)
        return True

    def run_batch(
        self,
        db: Database,
        at: datetime,
        claim: Callable[[Session, set[int]], list[Any]],
        work: Callable[[Session, Any], object],
    ) -> int:
        """One transaction: claims a batch (leaving out what is set aside), does `work` on
        each item in its own savepoint, commits the claim and the work together. Returns
        how many it claimed, so a caller can go on while batches come back full."""
        with db.begin() as session:
            claimed = claim(session, self.skipped(at))
            for item in claimed:
                self.run(session, item.id, at, partial(work, session, item))
            session.commit()
        return len(claimed)
