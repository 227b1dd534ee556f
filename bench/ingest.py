"""Ingest throughput: `wrk` drives POST /v2/enqueue and the Alertmanager endpoint.

For each database it migrates a fresh one, creates a service with a PagerDuty and an
Alertmanager integration, starts `tocsin serve` (2 workers on PostgreSQL; SQLite is
served by one process), and runs wrk with 1,000 distinct dedup keys cycling. A no-op
FastAPI endpoint under uvicorn with 2 workers is measured in the same run as the ceiling.
After each run it checks that every answered 2xx was stored (the sum of alert counts
covers the 2xx responses) and that no 5xx was returned.

    .venv/bin/python bench/ingest.py [--seconds 20] [--connections 32] [--only sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import PG_ADMIN, stop, wait_healthy  # noqa: E402
from tocsin import migrations  # noqa: E402
from tocsin.alerts import service as alerts  # noqa: E402
from tocsin.alerts.models import Alert  # noqa: E402
from tocsin.alerts.schemas import IntegrationCreate  # noqa: E402
from tocsin.auth import service as auth  # noqa: E402
from tocsin.auth.models import Role  # noqa: E402
from tocsin.auth.schemas import UserCreate  # noqa: E402
from tocsin.catalogue import service as catalogue  # noqa: E402
from tocsin.catalogue.schemas import ServiceCreate  # noqa: E402
from tocsin.db import Database  # noqa: E402

BIN = ROOT / ".venv" / "bin"
HERE = Path(__file__).resolve().parent
PORT = 18450


def seed(url: str) -> tuple[str, str]:
    migrations.upgrade(url)
    database = Database(url)
    with database.begin() as session:
        admin, _ = auth.create_user(
            session,
            None,
            UserCreate(
                email="bench@example.com",
                name="Bench",
                role=Role.ADMIN,
                password="bench-password-1",
            ),
        )
        svc = catalogue.create_service(session, admin, ServiceCreate(name="checkout"))
        keys = []
        for kind in ("pagerduty", "alertmanager"):
            _, key = alerts.create_integration(
                session,
                admin,
                IntegrationCreate(
                    service_id=svc.id, name=kind, kind=kind, rate_limit_per_minute=1_000_000
                ),
            )
            keys.append(key)
    database.dispose()
    return keys[0], keys[1]


def wrk(url: str, script: str, arg: str, seconds: int, connections: int) -> dict[str, float]:
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "5s",
            "-s",
            str(HERE / script),
            url,
            "--",
            arg,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    statuses = {int(c): int(n) for c, n in re.findall(r"STATUS (\d+) (\d+)", out)}
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": rps,
        "p50_ms": int(re.search(r"P50_US (\d+)", out).group(1)) / 1000,
        "p99_ms": int(re.search(r"P99_US (\d+)", out).group(1)) / 1000,
        "ok": sum(n for c, n in statuses.items() if 200 <= c < 300),
        "5xx": sum(n for c, n in statuses.items() if c >= 500),
        "other": sum(n for c, n in statuses.items() if c < 200 or 300 <= c < 500),
        "socket_errors": errors.group(1).strip() if errors else "none",
    }


def stored_events(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as connection:
        total = connection.execute(select(func.coalesce(func.sum(Alert.count), 0))).scalar_one()
    engine.dispose()
    return int(total)


def serve(env: dict[str, str], workers: int) -> subprocess.Popen:
    command = [str(BIN / "tocsin"), "serve", "--port", str(PORT), "--workers", str(workers)]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )


def run_database(kind: str, seconds: int, connections: int) -> list[dict[str, object]]:
    workdir = Path(tempfile.mkdtemp(prefix="tocsin-bench-"))
    name = f"tocsin_bench_ingest_{os.getpid()}"
    if kind == "sqlite":
        url, workers = f"sqlite:///{workdir / 'tocsin.db'}", 1
    else:
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url, workers = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", 2
    pd_key, am_key = seed(url)
    env = {**os.environ, "TOCSIN_DATABASE_URL": url, "TOCSIN_ADMIN_EMAIL": "bench@example.com"}
    results = []
    process = serve(env, workers)
    try:
        base = f"http://127.0.0.1:{PORT}"
        wait_healthy(base)
        for label, path, script, key in (
            ("POST /v2/enqueue", "/v2/enqueue", "ingest_pagerduty.lua", pd_key),
            (
                "Alertmanager webhook",
                f"/integrations/alertmanager/{am_key}",
                "ingest_alertmanager.lua",
                am_key,
            ),
        ):
            before = stored_events(url)
            wrk(base + path, script, key, 3, connections)  # warm-up, not reported
            before = stored_events(url)
            figures = wrk(base + path, script, key, seconds, connections)
            time.sleep(1)  # let requests still in flight when wrk stopped finish
            figures["stored"] = stored_events(url) - before
            results.append({"database": kind, "endpoint": label, "workers": workers, **figures})
    finally:
        stop(process)
        if kind == "postgresql":
            admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def run_noop(seconds: int, connections: int) -> dict[str, object]:
    process = subprocess.Popen(
        [
            str(BIN / "uvicorn"),
            "bench.noop_app:app",
            "--port",
            str(PORT + 1),
            "--workers",
            "2",
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{PORT + 1}"
        give_up = time.monotonic() + 30
        while time.monotonic() < give_up:
            try:
                urllib.request.urlopen(f"{base}/docs", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        wrk(base + "/v2/enqueue", "ingest_pagerduty.lua", "x" * 32, 3, connections)
        figures = wrk(base + "/v2/enqueue", "ingest_pagerduty.lua", "x" * 32, seconds, connections)
    finally:
        stop(process)
    return {
        "database": "none (no-op FastAPI)",
        "endpoint": "POST /v2/enqueue",
        "workers": 2,
        **figures,
        "stored": "-",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    rows = [run_noop(args.seconds, args.connections)]
    for kind in ("sqlite", "postgresql"):
        if args.only in (None, kind):
            rows += run_database(kind, args.seconds, args.connections)
    print(f"\nwrk -t2 -c{args.connections} -d{args.seconds}s, 1,000 dedup keys cycling\n")
    header = "| database | endpoint | workers | events/s | p50 ms | p99 ms | 2xx | stored | 5xx "
    print(header + "| other | socket errors |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        stored = r["stored"] if isinstance(r["stored"], str) else f"{r['stored']:,}"
        print(
            f"| {r['database']} | {r['endpoint']} | {r['workers']} | {r['rps']:,.0f} "
            f"| {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['ok']:,} | {stored} | {r['5xx']} "
            f"| {r['other']} | {r['socket_errors']} |"
        )


if __name__ == "__main__":
    main()
