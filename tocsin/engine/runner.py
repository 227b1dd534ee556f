"""The engine loop: runs every module on a tick, or at once when woken."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from tocsin.db import Database, now

log = logging.getLogger("tocsin.engine")


class EngineModule(Protocol):
    name: str

    def run_due(self, db: Database, at: datetime) -> int:
        """Claims and acts on the work due at `at`; returns how many items it handled."""
        ...


class EngineRunner:
    """A thread that keeps asking each module for due work.

    New work calls `wake()` so it is handled at once; the tick is only the safety
    net. A module that fails is logged and retried on the next tick; it never
    stops the others.
    """

    def __init__(
        self, db: Database, modules: Sequence[EngineModule], tick_seconds: float = 1.0
    ) -> None:
        self.db = db
        self.modules = list(modules)
        self.tick_seconds = tick_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self, at: datetime | None = None) -> dict[str, int]:
        """One pass over every module; tests call this with a clock they control."""
        moment = at or now()
        handled: dict[str, int] = {}
        for module in self.modules:
            try:
                handled[module.name] = module.run_due(self.db, moment)
            except Exception:
                log.exception("engine module %s failed; it will be retried", module.name)
                handled[module.name] = 0
        return handled

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="tocsin-engine", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        log.info("engine started with %s", ", ".join(m.name for m in self.modules) or "no modules")
        while not self._stop.is_set():
            self.run_once()
            self._wake.wait(self.tick_seconds)
            self._wake.clear()
        log.info("engine stopped")
