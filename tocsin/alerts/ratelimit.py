"""A token bucket per integration key, so one noisy sender cannot drown the others.

Kept in process memory: each server process enforces the limit on what it receives.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[int, tuple[float, float]] = {}  # key -> (tokens, last refill)
        self._lock = threading.Lock()

    def allow(self, key: int, per_minute: int, cost: int = 1) -> float:
        """0 when allowed; otherwise the seconds to wait before trying again."""
        rate = per_minute / 60.0
        with self._lock:
            moment = self._clock()
            tokens, last = self._buckets.get(key, (float(per_minute), moment))
            tokens = min(float(per_minute), tokens + (moment - last) * rate)
            if tokens >= cost:
                self._buckets[key] = (tokens - cost, moment)
                return 0.0
            self._buckets[key] = (tokens, moment)
            return (cost - tokens) / rate if rate else math.inf
