"""Finding the integration behind a key without a database round trip on every event.

Keys are looked up by their public part and cached for a few seconds; the secret part
is compared in constant time on every request: hashed and compared with the stored
hash, or, once a key has matched, compared with that key (skipping the hash), until
the entry is reloaded. Rotating or removing a key in this
process forgets the cache at once; other processes follow within `ttl` seconds.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi.concurrency import run_in_threadpool

from tocsin.alerts import service
from tocsin.alerts.models import Integration
from tocsin.auth import secrets
from tocsin.db import Database


@dataclass(frozen=True)
class IntegrationRef:
    """What ingest needs to know of an integration, detached from any session."""

    id: int
    service_id: int
    kind: str
    name: str
    rate_limit_per_minute: int
    secret_hash: str


@dataclass(slots=True)
class _Entry:
    loaded_at: float
    ref: IntegrationRef | None
    matched: bytes | None = None  # the full key that last matched `ref`


class IntegrationDirectory:
    def __init__(
        self, db: Database, ttl: float = 2.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.db = db
        self.ttl = ttl
        self._clock = clock
        self._cache: dict[str, _Entry] = {}

    async def find(self, key: str, kind: str) -> IntegrationRef | None:
        if not isinstance(key, str) or len(key) != service.KEY_LENGTH:
            return None
        lookup = key[: service.KEY_LOOKUP]
        cached = self._cache.get(lookup)
        if cached is None or self._clock() - cached.loaded_at > self.ttl:
            ref = await run_in_threadpool(self._load, lookup)
            if len(self._cache) > 10_000:
                self._cache.clear()
            cached = self._cache[lookup] = _Entry(self._clock(), ref)
        ref = cached.ref
        if ref is None or ref.kind != kind:
            return None
        given = key.encode("utf-8", "surrogatepass")
        if cached.matched is not None and hmac.compare_digest(given, cached.matched):
            return ref
        if not secrets.same_secret(key[service.KEY_LOOKUP :], ref.secret_hash):
            return None
        cached.matched = given
        return ref

    def forget(self) -> None:
        self._cache.clear()

    def _load(self, lookup: str) -> IntegrationRef | None:
        with self.db.session(write=False) as session:
            found = service.integration_by_lookup(session, lookup)
            return None if found is None else ref_of(found)


def ref_of(integration: Integration) -> IntegrationRef:
    return IntegrationRef(
        id=integration.id,
        service_id=integration.service_id,
        kind=integration.kind,
        name=integration.name,
        rate_limit_per_minute=integration.rate_limit_per_minute,
        secret_hash=integration.secret_hash,
    )
