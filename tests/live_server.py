"""The real app under uvicorn in a background thread, for tests that drive a browser.

Import the `live_server` fixture into a test module. The port is bound here, in
the test process, before uvicorn starts (18200-18299), so two test runs on one
machine cannot race for it; readiness is /healthz answering, waited for with a
deadline.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import uvicorn

from tocsin.app import create_app
from tocsin.config import Settings
from tocsin.db import Database

PORTS = range(18200, 18300)
START_DEADLINE = 15.0
STOP_DEADLINE = 10.0


@dataclass
class LiveServer:
    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(STOP_DEADLINE)
        if self.thread.is_alive():  # open keep-alive connections: stop waiting for them
            self.server.force_exit = True
            self.thread.join(STOP_DEADLINE)


def bind_free_port(host: str = "127.0.0.1") -> socket.socket:
    """A listening-ready socket on the first free port of PORTS."""
    for port in PORTS:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((host, port))
        except OSError:
            sock.close()
            continue
        return sock
    raise RuntimeError(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


def wait_until_healthy(url: str, thread: threading.Thread, deadline: float) -> None:
    """Polls /healthz until it answers 200; fails when the server thread dies or time runs out."""
    give_up = time.monotonic() + deadline
    pause = threading.Event()
    last_error: Exception | None = None
    while time.monotonic() < give_up:
        if not thread.is_alive():
            raise RuntimeError("the live server stopped while starting; see the log above")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError) as failure:
            last_error = failure
        pause.wait(0.02)  # a poll interval, not a wait for something to happen
    raise TimeoutError(f"{url}/healthz did not answer within {deadline}s: {last_error}")


def start_live_server(
    settings: Settings, database: Database, forwarded_allow_ips: str | None = None
) -> LiveServer:
    """`forwarded_allow_ips`: the proxies whose X-Forwarded-* uvicorn believes (its default,
    127.0.0.1, when None)."""
    sock = bind_free_port()
    host, port = sock.getsockname()
    url = f"http://{host}:{port}"
    app_settings = settings.model_copy(update={"base_url": url, "run_engine": False})
    app = create_app(app_settings, database)
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="on",
        forwarded_allow_ips=forwarded_allow_ips,
    )
    server = uvicorn.Server(config)

    def serve() -> None:
        asyncio.run(server.serve(sockets=[sock]))

    thread = threading.Thread(target=serve, name=f"tocsin-live-{port}", daemon=True)
    thread.start()
    live = LiveServer(url=url, server=server, thread=thread)
    try:
        wait_until_healthy(url, thread, START_DEADLINE)
    except BaseException:
        live.stop()
        sock.close()
        raise
    return live


@pytest.fixture
def live_server(settings: Settings, db: Database) -> Iterator[LiveServer]:
    """Tocsin at `live_server.url`, on the test database, for one test."""
    live = start_live_server(settings, db)
    try:
        yield live
    finally:
        live.stop()
