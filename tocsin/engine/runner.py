"""The engine loop: runs every module on a tick, or at once when woken."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from tocsin.db import Database, now
from tocsin.engine.wakeup import Listener

log = logging.getLogger("tocsin.engine")


class EngineModule(Protocol):
    name: str

    def run_due(self, db: Database, at: datetime) -> int:
        """Claims and acts on the work due at `at`; returns how many items it handled."""
        ...


class EngineRunner:
    """One thread per module, each asking its module for due work.

    Separate threads keep a slow module (delivery, waiting on a mail server) from
    delaying the others (routing, escalation). New work calls `wake()`, which wakes
    every module at once; the tick is only the safety net. A module that fails is
    logged and retried on its next turn; it never stops the others.
    """

    def __init__(
        self, db: Database, modules: Sequence[EngineModule], tick_seconds: float = 1.0
    ) -> None:
        self.db = db
        self.modules = list(modules)
        self.tick_seconds = tick_seconds
        self._wakes = [threading.Event() for _ in self.modules]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        # Other processes' new work wakes this engine too (PostgreSQL only).
        self._listener = None if db.is_sqlite else Listener(db.url, self.wake)

    def run_once(self, at: datetime | None = None) -> dict[str, int]:
        """One pass over every module in order; tests call this with a clock they control."""
        moment = at or now()
        return {module.name: self._run(module, moment) for module in self.modules}

    def _run(self, module: EngineModule, at: datetime) -> int:
        try:
            return module.run_due(self.db, at)
        except Exception:
            log.exception("engine module %s failed; it will be retried", module.name)
            return 0

    def wake(self) -> None:
        """New work: wake the modules that act on it (time-driven ones keep to the tick)."""
        for module, event in zip(self.modules, self._wakes, strict=True):
            if getattr(module, "woken_by_new_work", True):
                event.set()

    def start(self) -> None:
        if self._threads:
            return
        log.info("engine started with %s", ", ".join(m.name for m in self.modules) or "no modules")
        for module, woken in zip(self.modules, self._wakes, strict=True):
            thread = threading.Thread(
                target=self._loop, args=(module, woken), name=f"tocsin-{module.name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        self.db.wakers.append(self.wake)
        if self._listener is not None:
            self._listener.start()

    def stop(self, timeout: float = 10.0) -> None:
        if self.wake in self.db.wakers:
            self.db.wakers.remove(self.wake)
        self._stop.set()
        for event in self._wakes:
            event.set()
        if self._listener is not None:
            self._listener.stop()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []
        log.info("engine stopped")

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def _loop(self, module: EngineModule, woken: threading.Event) -> None:
        while not self._stop.is_set():
            self._run(module, now())
            woken.wait(self.tick_seconds)
            woken.clear()
