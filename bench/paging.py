"""Paging latency: from an accepted alert (its 202) to the page email arriving at an SMTP server.

Each alert has its own dedup key, so each one is routed, starts an escalation, fires its
first level and is delivered. Alerts are sent at a steady rate; an aiosmtpd server in this
process notes when each page arrives. SQLite: `tocsin serve` with the engine inside;
PostgreSQL: `tocsin serve --no-engine` and a separate `tocsin worker`.

    .venv/bin/python bench/paging.py [--alerts 500] [--rate 20] [--only sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx2
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import PG_ADMIN, free_port_from, stop, wait_healthy  # noqa: E402
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
from tocsin.oncall import service as oncall  # noqa: E402
from tocsin.oncall.schemas import LevelIn, PolicyCreate, ServicePolicySet, TargetIn  # noqa: E402
from tocsin.paging.models import Notification, Page  # noqa: E402

BIN = ROOT / ".venv" / "bin"


class Arrivals:
    """The SMTP server's handler: when each page's subject arrived."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd hook
        moment = time.perf_counter()
        for line in envelope.content.decode(errors="replace").splitlines():
            if line.startswith("Subject:") and "bench-" in line:
                key = line.split("bench-", 1)[1].split()[0]
                with self.lock:
                    self.at.setdefault(key, moment)
                break
        return "250 OK"


def seed(url: str) -> str:
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
        oncall_person, _ = auth.create_user(
            session,
            None,
            UserCreate(email="oncall@example.com", name="On Call", role=Role.RESPONDER),
        )
        service = catalogue.create_service(session, admin, ServiceCreate(name="checkout"))
        policy = oncall.create_policy(
            session,
            admin,
            PolicyCreate(
                name="checkout",
                levels=[
                    LevelIn(delay_minutes=5, targets=[TargetIn(type="user", id=oncall_person.id)])
                ],
            ),
        )
        oncall.set_service_policy(
            session, admin, service.id, ServicePolicySet(escalation_policy_id=policy.id)
        )
        _, key = alerts.create_integration(
            session,
            admin,
            IntegrationCreate(
                service_id=service.id, name="pd", kind="pagerduty", rate_limit_per_minute=1_000_000
            ),
        )
    database.dispose()
    return key


def stages(url: str) -> dict[str, float]:
    """Median ms from an alert's arrival to each step, from the times the steps stored."""
    database = Database(url)
    with database.begin() as session:
        rows = session.execute(
            select(
                Alert.first_seen_at,
                Alert.routed_at,
                Page.created_at,
                Notification.created_at,
                Notification.sent_at,
            )
            .join(Page, (Page.subject_type == "alert") & (Page.subject_id == Alert.id))
            .join(Notification, Notification.page_id == Page.id)
        ).all()
    database.dispose()
    names = ("routed", "page started", "notification queued", "sent")
    found: dict[str, float] = {}
    for index, name in enumerate(names, start=1):
        spans = [(row[index] - row[0]).total_seconds() * 1000 for row in rows if row[index]]
        if spans:
            found[name] = statistics.median(spans)
    return found


def run(kind: str, count: int, rate: float) -> dict[str, object]:
    arrivals = Arrivals()
    smtp = Controller(arrivals, hostname="127.0.0.1", port=free_port_from(18560))
    smtp.start()
    workdir = Path(tempfile.mkdtemp(prefix="tocsin-paging-"))
    name = f"tocsin_bench_paging_{os.getpid()}"
    if kind == "sqlite":
        url = f"sqlite:///{workdir / 'tocsin.db'}"
    else:
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    key = seed(url)
    port = free_port_from(18570)
    env = {
        **os.environ,
        "TOCSIN_DATABASE_URL": url,
        "TOCSIN_ADMIN_EMAIL": "bench@example.com",
        "TOCSIN_SMTP_URL": f"smtp://127.0.0.1:{smtp.port}",
        "TOCSIN_BASE_URL": f"http://127.0.0.1:{port}",
    }
    processes = []
    serve = [str(BIN / "tocsin"), "serve", "--port", str(port)]
    if kind == "postgresql":
        serve.append("--no-engine")
        processes.append(
            subprocess.Popen(
                [str(BIN / "tocsin"), "worker"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
    processes.append(
        subprocess.Popen(
            serve,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    )
    accepted: dict[str, float] = {}
    try:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base)
        with httpx2.Client(base_url=base) as client:
            interval = 1.0 / rate
            started = time.perf_counter()
            for n in range(count):
                dedup = f"{n:05d}"
                body = {
                    "routing_key": key,
                    "event_action": "trigger",
                    "dedup_key": dedup,
                    "payload": {
                        "summary": f"bench-{dedup} latency",
                        "source": "bench",
                        "severity": "critical",
                    },
                }
                answer = client.post("/v2/enqueue", json=body)
                assert answer.status_code == 202, answer.text
                accepted[dedup] = time.perf_counter()
                pause = started + (n + 1) * interval - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
        give_up = time.monotonic() + 60
        while len(arrivals.at) < count and time.monotonic() < give_up:
            time.sleep(0.1)
    finally:
        for process in processes:
            stop(process)
        smtp.stop()
        steps = stages(url)
        if kind == "postgresql":
            admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    latencies = sorted((arrivals.at[k] - accepted[k]) * 1000 for k in accepted if k in arrivals.at)
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)] if latencies else float("nan")
    return {
        "database": kind,
        "setup": "serve + engine" if kind == "sqlite" else "serve + worker",
        "alerts": count,
        "paged": len(latencies),
        "p50_ms": statistics.median(latencies) if latencies else float("nan"),
        "p99_ms": p99,
        "max_ms": latencies[-1] if latencies else float("nan"),
        "stages": steps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=500)
    parser.add_argument("--rate", type=float, default=20.0, help="alerts per second")
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    rows = [
        run(kind, args.alerts, args.rate)
        for kind in ("sqlite", "postgresql")
        if args.only in (None, kind)
    ]
    print(f"\n{args.alerts} alerts at {args.rate:g}/s, each its own dedup key\n")
    print("| database | setup | alerts | pages arrived | p50 ms | p99 ms | max ms |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['database']} | {r['setup']} | {r['alerts']} | {r['paged']} | {r['p50_ms']:.0f} "
            f"| {r['p99_ms']:.0f} | {r['max_ms']:.0f} |"
        )
    print("\nWhere the time goes: median ms from the alert's arrival, as the database stored it\n")
    for r in rows:
        steps = ", ".join(f"{name} {ms:.0f}" for name, ms in r["stages"].items())
        print(f"- {r['database']}: {steps}")


if __name__ == "__main__":
    main()
