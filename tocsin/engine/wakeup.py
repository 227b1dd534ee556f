"""Waking engines in other processes: LISTEN for what `db.wake_engines` NOTIFYs (PostgreSQL)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg
from sqlalchemy import make_url

from tocsin.db import ENGINE_CHANNEL

log = logging.getLogger("tocsin.engine")


class Listener:
    """A thread that LISTENs and calls `wake` for every notification."""

    def __init__(self, url: str, wake: Callable[[], None]) -> None:
        self.conninfo = (
            make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        )
        self.wake = wake
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="tocsin-listen", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True) as connection:
                    connection.execute(f"LISTEN {ENGINE_CHANNEL}")
                    while not self._stop.is_set():
                        for _ in connection.notifies(timeout=1.0, stop_after=1):
                            self.wake()
            except psycopg.Error:
                log.warning("lost the LISTEN connection; retrying", exc_info=True)
                self._stop.wait(1.0)
