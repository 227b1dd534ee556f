"""What the benchmark scripts share: the PostgreSQL admin URL, ports, starting and stopping."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request

PG_ADMIN = os.environ.get(
    "TOCSIN_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def free_port_from(first: int, span: int = 50) -> int:
    """The first port from `first` nobody listens on (each script has its own range)."""
    for port in range(first, first + span):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise SystemExit(f"no free port in {first}-{first + span - 1}")


def wait_healthy(url: str, deadline: float = 60) -> None:
    give_up = time.monotonic() + deadline
    while time.monotonic() < give_up:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not start")


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the process group (uvicorn workers too), SIGKILL if it lingers."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
