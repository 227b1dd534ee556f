"""How many wrong passwords a login may take before it waits: pure rules.

Two counters slow a password guesser down without letting anyone lock a colleague out
at 3 a.m.: one per address *from one place* (a guesser elsewhere does not block the
person), and one per place for any address (one machine trying many accounts). Past
the free failures each further one doubles the wait, up to a quarter of an hour;
failures older than the window are forgotten, and a right password clears its address.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

WINDOW = timedelta(minutes=15)
LONGEST_WAIT = timedelta(minutes=15)
ADDRESS_FREE_FAILURES = 5
PLACE_FREE_FAILURES = 30


@dataclass(frozen=True)
class Counter:
    key: str  # a digest: the table never holds addresses or IP addresses in clear
    free_failures: int
    clears_on_success: bool


def counters(email: str, place: str) -> list[Counter]:
    address = email.strip().casefold()
    return [
        Counter(_digest("address", f"{address}|{place}"), ADDRESS_FREE_FAILURES, True),
        Counter(_digest("place", place), PLACE_FREE_FAILURES, False),
    ]


def _digest(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()


def wait_after(failures: int, free_failures: int) -> timedelta | None:
    """None while failures are free; then 1, 2, 4, 8 minutes, ... up to LONGEST_WAIT."""
    if failures < free_failures:
        return None
    return min(LONGEST_WAIT, timedelta(minutes=2 ** (failures - free_failures)))


def counts_again(first_failed_at: datetime, at: datetime) -> bool:
    """True when the old failures are past the window and counting starts over."""
    return at - first_failed_at > WINDOW
