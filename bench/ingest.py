"""Ingest throughput: `wrk` drives POST /v2/enqueue and the Alertmanager endpoint.

For each database it migrates a fresh one, creates a service with a PagerDuty and an
Alertmanager integration, starts `tocsin serve` (2 workers on PostgreSQL; SQLite is
served by one process), and runs wrk with 1,000 distinct dedup keys cycling. A no-op
FastAPI endpoint under uvicorn with 2 workers is measured in the same run as the ceiling;
"of no-op" is each row's events/s over that ceiling's requests/s. After each run it
checks that every answered 2xx was stored (the sum of alert counts covers the 2xx
responses) and that no 5xx was returned.

The warm-up (3 s, repeated until all 1,000 alerts exist) creates the alerts; the
measured window starts once the engine has routed them and escalated their pages
("engine settled after"), so it measures repeats counting up, not the engine's first
pass over 1,000 new alerts. CPU columns are from /proc: the server's processes (all
workers, engine threads included) and the database's backends, per answered request.

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
from tocsin.timeline.models import TimelineEvent  # noqa: E402

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


def cpu_ticks(pids: list[int]) -> dict[int, int]:
    """User + system CPU clock ticks of each of these processes still running."""
    ticks = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks[pid] = int(fields[11]) + int(fields[12])
    return ticks


def cpu_used(before: dict[int, int], after: dict[int, int]) -> float:
    """CPU seconds between two readings, over the processes alive at both."""
    used = sum(after[pid] - before[pid] for pid in before.keys() & after.keys())
    return used / os.sysconf("SC_CLK_TCK")


def server_pids(process: subprocess.Popen) -> list[int]:
    """The server process and its children (uvicorn's workers)."""
    pids = [process.pid]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            if parent == process.pid:
                pids.append(int(entry))
    return pids


def backend_pids(url: str) -> list[int]:
    """PostgreSQL backends connected to the benchmark's database (none for SQLite)."""
    if not url.startswith("postgresql"):
        return []
    engine = create_engine(url)
    with engine.connect() as connection:
        pids = connection.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        ).scalars()
        pids = [p for p in pids if p != connection.connection.dbapi_connection.info.backend_pid]
    engine.dispose()
    return pids


def wait_settled(url: str, deadline: float = 180) -> float:
    """Seconds until the engine is done with the alerts the warm-up created: every one
    routed, and no timeline event written for 2 s (their pages started and escalated)."""
    started = time.monotonic()
    engine = create_engine(url)
    last, quiet_since = -1, time.monotonic()
    try:
        while time.monotonic() - started < deadline:
            with engine.connect() as connection:
                waiting = connection.execute(
                    select(func.count()).select_from(Alert).where(Alert.routed_at.is_(None))
                ).scalar_one()
                events = connection.execute(
                    select(func.count()).select_from(TimelineEvent)
                ).scalar_one()
            if events != last:
                last, quiet_since = events, time.monotonic()
            elif not waiting and time.monotonic() - quiet_since >= 2:
                return quiet_since - started
            time.sleep(0.2)
    finally:
        engine.dispose()
    return time.monotonic() - started


def alert_rows(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(select(func.count()).select_from(Alert)).scalar_one()
    engine.dispose()
    return int(rows)


def stored_events(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as connection:
        total = connection.execute(select(func.coalesce(func.sum(Alert.count), 0))).scalar_one()
    engine.dispose()
    return int(total)


def serve(
    env: dict[str, str], workers: int, log: Path, separate_worker: bool = False
) -> list[subprocess.Popen]:
    """`tocsin serve` (and, for the production layout, `--no-engine` beside a worker)."""
    command = [str(BIN / "tocsin"), "serve", "--port", str(PORT), "--workers", str(workers)]
    commands = [command]
    if separate_worker:
        command.append("--no-engine")
        commands.append([str(BIN / "tocsin"), "worker"])
    processes = []
    # The log goes to a file: a pipe nobody reads would stall the server once full.
    with log.open("wb") as output:
        for argv in commands:
            processes.append(
                subprocess.Popen(
                    argv, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
                )
            )
    return processes


def run_database(
    kind: str, seconds: int, connections: int, separate_worker: bool = False
) -> list[dict[str, object]]:
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
    process, *others = serve(env, workers, workdir / "serve.log", separate_worker)
    try:
        base = f"http://127.0.0.1:{PORT}"
        wait_healthy(base)
        for done, (label, path, script, key) in enumerate(
            (
                ("POST /v2/enqueue", "/v2/enqueue", "ingest_pagerduty.lua", pd_key),
                (
                    "Alertmanager webhook",
                    f"/integrations/alertmanager/{am_key}",
                    "ingest_alertmanager.lua",
                    am_key,
                ),
            )
        ):
            # Warm-up, not reported, until all 1,000 keys have their alert.
            for _ in range(10):
                wrk(base + path, script, key, 3, connections)
                if alert_rows(url) >= 1000 * (done + 1):
                    break
            settled = wait_settled(url)
            before = stored_events(url)
            pids = server_pids(process) + [other.pid for other in others]
            backends = backend_pids(url)
            cpu_before = cpu_ticks(pids), cpu_ticks(backends)
            figures = wrk(base + path, script, key, seconds, connections)
            cpu_after = cpu_ticks(pids), cpu_ticks(backends)
            time.sleep(1)  # let requests still in flight when wrk stopped finish
            figures["stored"] = stored_events(url) - before
            answered = max(1, figures["ok"] + figures["5xx"] + figures["other"])
            figures["server_us"] = cpu_used(cpu_before[0], cpu_after[0]) * 1e6 / answered
            figures["db_us"] = cpu_used(cpu_before[1], cpu_after[1]) * 1e6 / answered
            figures["settled_s"] = settled
            layout = f"{workers} + worker" if separate_worker else str(workers)
            results.append({"database": kind, "endpoint": label, "workers": layout, **figures})
    finally:
        for running in (process, *others):
            stop(running)
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
        pids = server_pids(process)
        cpu_before = cpu_ticks(pids)
        figures = wrk(base + "/v2/enqueue", "ingest_pagerduty.lua", "x" * 32, seconds, connections)
        answered = max(1, figures["ok"] + figures["5xx"] + figures["other"])
        figures["server_us"] = cpu_used(cpu_before, cpu_ticks(pids)) * 1e6 / answered
        figures["db_us"] = 0.0
        figures["settled_s"] = 0.0
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
    parser.add_argument(
        "--separate-worker",
        action="store_true",
        help="PostgreSQL also in the production layout: serve --no-engine beside a worker",
    )
    args = parser.parse_args()
    rows = [run_noop(args.seconds, args.connections)]
    for kind in ("sqlite", "postgresql"):
        if args.only in (None, kind):
            rows += run_database(kind, args.seconds, args.connections)
    if args.separate_worker and args.only in (None, "postgresql"):
        rows += run_database("postgresql", args.seconds, args.connections, separate_worker=True)
    ceiling = rows[0]["rps"]
    print(f"\nwrk -t2 -c{args.connections} -d{args.seconds}s, 1,000 dedup keys cycling\n")
    print(
        "| database | endpoint | workers | events/s | of no-op | p50 ms | p99 ms | 2xx | stored "
        "| 5xx | other | socket errors | server CPU µs/event | DB CPU µs/event "
        "| engine settled after |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        stored = r["stored"] if isinstance(r["stored"], str) else f"{r['stored']:,}"
        print(
            f"| {r['database']} | {r['endpoint']} | {r['workers']} | {r['rps']:,.0f} "
            f"| {r['rps'] / ceiling:.2f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['ok']:,} "
            f"| {stored} | {r['5xx']} | {r['other']} | {r['socket_errors']} "
            f"| {r['server_us']:.0f} | {r['db_us']:.0f} | {r['settled_s']:.1f} s |"
        )


if __name__ == "__main__":
    main()
