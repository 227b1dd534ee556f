"""Status page read throughput: `wrk` drives summary.json and the HTML page during an outage.

On a fresh PostgreSQL database it builds a status page with 50 components (in 10
groups), 200 past incidents over 90 days (each with its updates and component
changes, posted through the services with the clock moved back) and one active
incident, then starts `tocsin serve --workers 2` (the engine runs in each worker, as
in production) and measures with wrk, after a warm-up:

- `summary.json` as widgets fetch it, and with `If-None-Match` (the 304 path);
- the HTML page as a browser fetches it (`Accept-Encoding: gzip`), and uncompressed;
- a no-op FastAPI GET and the ingest benchmark's no-op POST under uvicorn with 2
  workers, in the same run, as the machine's ceiling;
- summary.json again with `tocsin serve --workers 2 --no-engine` (the engine in
  separate `tocsin worker`s), to show what the in-process engine costs the readers.

It also counts PostgreSQL transactions during each run (from pg_stat_database): the
page must not cost the database anything per request. Last, it posts incident
updates through the API while wrk keeps summary.json busy and polls summary.json on
fresh connections (spread over both workers) until every answer shows the update:
the time from the update's commit to the last stale answer.

    .venv/bin/python bench/statuspage.py [--seconds 20] [--connections 32]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tocsin import migrations  # noqa: E402
from tocsin.auth import service as auth  # noqa: E402
from tocsin.auth.models import Role  # noqa: E402
from tocsin.auth.schemas import UserCreate  # noqa: E402
from tocsin.db import Database, set_clock  # noqa: E402
from tocsin.statuspage import service as statuspage  # noqa: E402
from tocsin.statuspage.schemas import (  # noqa: E402
    ComponentCreate,
    ComponentStatusChoice,
    GroupCreate,
    PageCreate,
    PublicIncidentCreate,
    UpdatePost,
)

PG_ADMIN = os.environ.get(
    "TOCSIN_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
BIN = ROOT / ".venv" / "bin"
HERE = Path(__file__).resolve().parent
PORT = 18510  # benchmarks use 18500-18599; the tests 18200-18299
NOOP_PORT = 18511
SLUG = "acme"
GROUPS = 10
PER_GROUP = 5
PAST_INCIDENTS = 200
STATUSES = ["degraded_performance", "partial_outage", "major_outage"]


# ---------------------------------------------------------------- the data


def seed(url: str) -> str:
    """The page, its history and an active incident; returns an admin's API token."""
    migrations.upgrade(url)
    database = Database(url)
    rng = random.Random(5)
    now = datetime.now(UTC)
    clock = [now - timedelta(days=95)]
    set_clock(lambda: clock[0])
    try:
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
            _, token = auth.create_token(session, admin, "bench")
            page = statuspage.create_page(
                session, admin, PageCreate(slug=SLUG, name="Acme Cloud", time_zone="Europe/Berlin")
            )
            components = []
            for g in range(GROUPS):
                group = statuspage.create_group(
                    session, admin, page.id, GroupCreate(name=f"Region {g + 1}")
                )
                for c in range(PER_GROUP):
                    components.append(
                        statuspage.create_component(
                            session,
                            admin,
                            page.id,
                            ComponentCreate(
                                name=f"Service {g + 1}.{c + 1}",
                                description="Something customers use",
                                group_id=group.id,
                            ),
                        ).id
                    )
            starts = sorted(rng.uniform(1, 90 * 24) for _ in range(PAST_INCIDENTS))
            for n, hours_ago in enumerate(reversed(starts)):
                clock[0] = now - timedelta(hours=hours_ago)
                chosen = rng.sample(components, rng.randint(1, 3))
                incident = statuspage.create_incident(
                    session,
                    admin,
                    page.id,
                    PublicIncidentCreate(
                        name=f"Past incident {n + 1}",
                        body="We are investigating reports of errors.",
                        components=[
                            ComponentStatusChoice(component_id=c, status=rng.choice(STATUSES))
                            for c in chosen
                        ],
                    ),
                )
                for step in ("identified", "monitoring"):
                    clock[0] += timedelta(minutes=rng.randint(5, 40))
                    statuspage.post_update(
                        session,
                        admin,
                        page.id,
                        incident.id,
                        UpdatePost(status=step, body=f"Update: {step}."),
                    )
                clock[0] += timedelta(minutes=rng.randint(5, 40))
                statuspage.resolve_incident(session, admin, page.id, incident.id)
            clock[0] = now - timedelta(minutes=20)
            statuspage.create_incident(
                session,
                admin,
                page.id,
                PublicIncidentCreate(
                    name="Card payments fail for some customers",
                    body="Some card payments fail with an error. We are investigating.",
                    components=[
                        ComponentStatusChoice(component_id=components[0], status="partial_outage")
                    ],
                ),
            )
    finally:
        set_clock(None)
        database.dispose()
    return token


# ---------------------------------------------------------------- servers and wrk


def wait_for(url: str, deadline: float = 60) -> None:
    give_up = time.monotonic() + deadline
    while time.monotonic() < give_up:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer")


def start(command: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def wrk(url: str, seconds: int, connections: int, *headers: str, script: str = "") -> dict:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s"]
    command += ["-s", str(HERE / (script or "statuspage_get.lua")), url]
    if headers or not script:
        command += ["--", *headers]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    statuses = {int(c): int(n) for c, n in re.findall(r"STATUS (\d+) (\d+)", out)}
    errors = re.search(r"Socket errors: (.*)", out)
    transfer = re.search(r"Transfer/sec:\s+(\S+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": int(re.search(r"P50_US (\d+)", out).group(1)) / 1000,
        "p99_ms": int(re.search(r"P99_US (\d+)", out).group(1)) / 1000,
        "statuses": statuses,
        "socket_errors": errors.group(1).strip() if errors else "none",
        "transfer": transfer.group(1) if transfer else "?",
    }


def transactions(url: str) -> int:
    engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = url.rsplit("/", 1)[1]
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_stat_clear_snapshot()"))
        value = connection.execute(
            text("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = :n"),
            {"n": name},
        ).scalar_one()
    engine.dispose()
    return int(value)


def measure(
    label: str,
    url: str,
    seconds: int,
    connections: int,
    database_url: str | None,
    *headers: str,
    script: str = "",
) -> dict:
    wrk(url, 3, connections, *headers, script=script)  # warm-up, not reported
    before = transactions(database_url) if database_url else None
    figures = wrk(url, seconds, connections, *headers, script=script)
    if database_url:
        figures["db_xacts_per_s"] = (transactions(database_url) - before) / seconds
    print(f"  {label}: {figures['rps']:,.0f} req/s, p99 {figures['p99_ms']:.1f} ms", flush=True)
    return {"label": label, **figures}


# ---------------------------------------------------------------- freshness under load


def fetch(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"Connection": "close"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.read()


def post_through_the_api(base: str, token: str, page_id: int, incident_id: int, body: str) -> None:
    """As the communications manager does: one worker commits it and knows at once."""
    request = urllib.request.Request(
        f"{base}/api/v1/status-pages/{page_id}/incidents/{incident_id}/updates",
        data=json.dumps({"status": "identified", "body": body}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201


def post_from_another_process(
    database: Database, page_id: int, incident_id: int, body: str
) -> None:
    """As another replica or a `tocsin worker` would: both workers learn it from the version."""
    with database.begin() as session:
        actor = auth.user_by_email(session, "bench@example.com")
        statuspage.post_update(
            session, actor, page_id, incident_id, UpdatePost(status="identified", body=body)
        )


def freshness(
    base: str,
    database: Database,
    token: str,
    page_id: int,
    incident_id: int,
    connections: int,
    rounds: int,
) -> list[dict]:
    """Posts updates while wrk keeps summary.json busy, alternately through the API and from
    this (another) process, and polls summary.json on new connections (so both workers
    answer). Per update: when, after the commit, the first answer showing it was requested,
    and the last answer that did not show it yet."""
    summary = f"{base}/status/{SLUG}/api/v2/summary.json"
    load = subprocess.Popen(
        ["wrk", "-t2", f"-c{connections}", f"-d{rounds * 5 + 4}s", summary],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    results = []
    try:
        time.sleep(2)  # wrk is up to speed
        for n in range(rounds):
            body = f"Update {n + 1} at {time.time():.3f}: still working on it."
            via = "API (one worker)" if n % 2 == 0 else "another process"
            if n % 2 == 0:
                post_through_the_api(base, token, page_id, incident_id, body)
            else:
                post_from_another_process(database, page_id, incident_id, body)
            committed = time.monotonic()
            first_fresh = last_stale = None
            answers = fresh_in_a_row = 0
            while fresh_in_a_row < 40 and time.monotonic() - committed < 5:
                sent = (time.monotonic() - committed) * 1000
                seen = body.encode() in fetch(summary)
                answers += 1
                if seen:
                    fresh_in_a_row += 1
                    first_fresh = first_fresh if first_fresh is not None else sent
                else:
                    fresh_in_a_row = 0
                    last_stale = sent
            results.append(
                {
                    "via": via,
                    "answers": answers,
                    "first_fresh_ms": first_fresh,
                    "last_stale_ms": last_stale,
                }
            )
            time.sleep(1.5)
    finally:
        os.killpg(load.pid, signal.SIGTERM)
        load.wait(10)
    return results


# ---------------------------------------------------------------- the run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=6, help="updates posted under load")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}", flush=True)
    name = f"tocsin_bench_status_{os.getpid()}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    rows: list[dict] = []
    base = f"http://127.0.0.1:{PORT}"
    try:
        seeded = time.monotonic()
        token = seed(url)
        print(f"seeded in {time.monotonic() - seeded:.1f} s", flush=True)
        database = Database(url)
        with database.begin() as session:
            page = statuspage.page_by_slug(session, SLUG)
            [active] = statuspage.list_incidents(session, page.id, unresolved_only=True)
            page_id, active_id = page.id, active.id
        database.dispose()

        noop = start(
            [
                str(BIN / "uvicorn"),
                "bench.noop_app:app",
                "--port",
                str(NOOP_PORT),
                "--workers",
                "2",
                "--log-level",
                "warning",
                "--no-access-log",
            ]
        )
        try:
            wait_for(f"http://127.0.0.1:{NOOP_PORT}/noop.json")
            rows.append(
                measure(
                    "no-op FastAPI GET /noop.json",
                    f"http://127.0.0.1:{NOOP_PORT}/noop.json",
                    args.seconds,
                    args.connections,
                    None,
                )
            )
            rows.append(
                measure(
                    "no-op FastAPI POST /v2/enqueue (ingest's ceiling)",
                    f"http://127.0.0.1:{NOOP_PORT}/v2/enqueue",
                    args.seconds,
                    args.connections,
                    None,
                    "x" * 32,
                    script="ingest_pagerduty.lua",
                )
            )
        finally:
            stop(noop)

        env = {
            **os.environ,
            "TOCSIN_DATABASE_URL": url,
            "TOCSIN_BASE_URL": base,
            "TOCSIN_ADMIN_EMAIL": "bench@example.com",
        }
        server = start(
            [str(BIN / "tocsin"), "serve", "--port", str(PORT), "--workers", "2"], env=env
        )
        try:
            wait_for(f"{base}/healthz")
            summary_url = f"{base}/status/{SLUG}/api/v2/summary.json"
            page_url = f"{base}/status/{SLUG}"
            etag = urllib.request.urlopen(summary_url).headers["etag"]
            sizes = {
                "summary.json": len(fetch(summary_url)),
                "page (identity)": len(fetch(page_url)),
            }
            rows.append(
                measure("GET summary.json", summary_url, args.seconds, args.connections, url)
            )
            rows.append(
                measure(
                    "GET summary.json, If-None-Match (304)",
                    summary_url,
                    args.seconds,
                    args.connections,
                    url,
                    f"If-None-Match={etag}",
                )
            )
            rows.append(
                measure(
                    "GET /status/acme (HTML, gzip)",
                    page_url,
                    args.seconds,
                    args.connections,
                    url,
                    "Accept-Encoding=gzip",
                )
            )
            rows.append(
                measure(
                    "GET /status/acme (HTML, uncompressed)",
                    page_url,
                    args.seconds,
                    args.connections,
                    url,
                )
            )
            database = Database(url)
            try:
                fresh = freshness(
                    base, database, token, page_id, active_id, args.connections, args.rounds
                )
            finally:
                database.dispose()
        finally:
            stop(server)
        # The same, with the engine in `tocsin worker`s instead (journey 8's layout).
        server = start(
            [str(BIN / "tocsin"), "serve", "--port", str(PORT), "--workers", "2", "--no-engine"],
            env=env,
        )
        try:
            wait_for(f"{base}/healthz")
            rows.append(
                measure(
                    "GET summary.json, `serve --no-engine`",
                    summary_url,
                    args.seconds,
                    args.connections,
                    url,
                )
            )
        finally:
            stop(server)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")
    print(f"python {platform.python_version()}, wrk -t2 -c{args.connections} -d{args.seconds}s")
    print(f"body sizes: {sizes}\n")
    print("| endpoint | req/s | p50 ms | p99 ms | answers | socket errors | DB transactions/s |")
    print("|---|---:|---:|---:|---|---|---:|")
    for r in rows:
        answers = ", ".join(f"{n:,} x {c}" for c, n in sorted(r["statuses"].items()))
        xacts = f"{r['db_xacts_per_s']:.1f}" if "db_xacts_per_s" in r else "-"
        print(
            f"| {r['label']} | {r['rps']:,.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {answers} "
            f"| {r['socket_errors']} | {xacts} |"
        )
    print("\nAn update under load (ms after its commit; requests sent on new connections):")
    for n, f in enumerate(fresh, 1):
        stale = "none" if f["last_stale_ms"] is None else f"sent at {f['last_stale_ms']:.0f}"
        print(
            f"  update {n} via {f['via']}: last stale answer {stale}; first fresh answer sent "
            f"at {f['first_fresh_ms']:.0f}; {f['answers']} answers polled"
        )


if __name__ == "__main__":
    main()
