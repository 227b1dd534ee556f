"""Lists 10,000 incidents through the API, page by page, and reports the time per page.

For each database (a fresh SQLite file, a fresh PostgreSQL database) it migrates
with tocsin.migrations.upgrade, seeds the incidents, starts the real server
(`tocsin serve --no-engine`: one uvicorn process, the engine off so nothing but
the benchmark touches the database) on a port in 18300-18399, and walks every
page of GET /api/v1/incidents with several filter sets at limit=50, as a
non-admin responder (the restricted-visibility predicate is in every query) and
as an admin. One persistent HTTP client sends the requests one after another;
the time per page is from sending the request to having read the whole body.

Seeding writes rows in bulk through SQLAlchemy Core for speed, but the rows are
the ones the incident services write: an INC number from the counter, the
reporter as first incident manager and participant, a 'declared' timeline event,
status changes with their workflow timestamps (computed by tocsin's own workflow
module), handovers, roles, notes, participants of restricted incidents. People,
teams, services, products and tokens are made by the services themselves, and
the last incident is declared through `declare_incident`, which proves the
counter and id sequences are where the services expect them.

Every walk is checked: each incident exactly once, newest first, and exactly the
set the filter and the reader's visibility should give.

    .venv/bin/python bench/incidents_list.py            # the full run (10,000 incidents)
    .venv/bin/python bench/incidents_list.py --quick    # a smoke run (500 incidents)
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx
from sqlalchemy import create_engine, insert, make_url, text, update

from tocsin import migrations
from tocsin.auth import service as auth
from tocsin.auth.models import Role, User
from tocsin.auth.schemas import TeamCreate, UserCreate
from tocsin.catalogue import service as catalogue
from tocsin.catalogue.schemas import ProductCreate, ServiceCreate
from tocsin.db import Database
from tocsin.incidents import service as incidents
from tocsin.incidents import workflow
from tocsin.incidents.models import (
    Counter,
    Incident,
    IncidentParticipant,
    IncidentProduct,
    IncidentTechLead,
)
from tocsin.incidents.schemas import IncidentCreate
from tocsin.incidents.workflow import IncidentClock, Severity, Status
from tocsin.timeline.models import TimelineEvent

PORTS = range(18300, 18400)
POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
START_DEADLINE = 30.0
QUERY_TEXT = "replica"  # in about one summary in ten

TEAMS = ["Platform", "Payments", "Growth"]
SERVICES = [
    ("checkout-api", 0.22),
    ("identity", 0.18),
    ("search", 0.16),
    ("payments-gateway", 0.14),
    ("notifications", 0.12),
    ("reporting", 0.08),
]  # and "unknown" (no service) for the rest
PRODUCTS = ["Web shop", "Mobile app", "Partner API", "Back office", "Email", "Status page"]
PEOPLE = [
    "Rita Bench",  # the non-admin reader; also reports and manages incidents
    "Omar Okafor",
    "Mei Tanaka",
    "Lars Nilsen",
    "Priya Raman",
    "Tom Becker",
    "Ana Souza",
    "Jon Baker",
]
COMPONENTS = [
    "Checkout",
    "Login",
    "Search",
    "Payments API",
    "Image uploads",
    "Email delivery",
    "Mobile app sync",
    "Reporting",
    "Webhooks",
    "Billing export",
    "Partner API",
]
PROBLEMS = [
    "errors spiking",
    "latency above SLO",
    "unavailable for some customers",
    "down for all customers",
    "timeouts from the database replica",
    "serving stale data",
    "certificate expired",
    "queue backlog growing",
    "5xx after deploy",
    "degraded in eu-west",
]
IMPACTS = [
    "customers cannot complete a purchase",
    "some customers see errors on login",
    "searches return no results for a subset of customers",
    "emails are delayed by up to an hour",
    "the mobile app shows an error banner",
    "partners receive 503s",
]
# The final status of an incident and the moves that led there (most end closed).
PATHS: list[tuple[tuple[Status, ...], float]] = [
    ((), 0.10),
    ((Status.FIXING,), 0.08),
    ((Status.FIXING, Status.RESOLVED), 0.10),
    ((Status.FIXING, Status.RESOLVED, Status.CLOSED), 0.55),
    ((Status.FIXING, Status.RESOLVED, Status.FIXING, Status.RESOLVED, Status.CLOSED), 0.04),
    ((Status.CANCELLED,), 0.08),
    ((Status.FIXING, Status.CANCELLED), 0.05),
]
SEVERITIES = [(Severity.SEV1, 0.08), (Severity.SEV2, 0.27), (Severity.SEV3, 0.65)]


# ---------------------------------------------------------------- what is seeded


@dataclass
class Cast:
    """The people, services and products the incidents refer to."""

    admin: User
    responders: list[User]
    reader: User  # the non-admin who lists incidents
    service_ids: list[int]
    service_names: dict[int, str]
    product_ids: list[int]
    admin_token: str = ""
    reader_token: str = ""


@dataclass
class Seeded:
    """What the benchmark expects of one incident when it lists."""

    number: int
    severity: str
    status: str
    service_id: int | None
    incident_manager_id: int
    restricted: bool
    participants: set[int]
    text: str


@dataclass
class Plan:
    incidents: list[dict[str, Any]] = field(default_factory=list)
    products: list[dict[str, Any]] = field(default_factory=list)
    tech_leads: list[dict[str, Any]] = field(default_factory=list)
    participants: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    expected: list[Seeded] = field(default_factory=list)


def _pick(rng: random.Random, weighted: list[tuple[Any, float]]) -> Any:
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights)[0]


def plan_incidents(rng: random.Random, cast: Cast, count: int, end: datetime) -> Plan:
    """Rows for incidents 1..count as the incident services would have written them."""
    plan = Plan()
    step = timedelta(minutes=45)  # 10,000 incidents over about ten months
    start = end - step * (count + 1)
    people = cast.responders
    service_weights = [(sid, w) for sid, (_, w) in zip(cast.service_ids, SERVICES, strict=True)]
    service_weights.append((None, 1 - sum(w for _, w in SERVICES)))
    for number in range(1, count + 1):
        plan_one(rng, cast, plan, number, start + step * number, people, service_weights)
    return plan


def plan_one(
    rng: random.Random,
    cast: Cast,
    plan: Plan,
    number: int,
    declared_at: datetime,
    people: list[User],
    service_weights: list[tuple[int | None, float]],
) -> None:
    incident_id = number  # a fresh database: ids follow numbers
    reporter = rng.choice(people)
    manager = reporter
    severity = _pick(rng, SEVERITIES)
    service_id = _pick(rng, service_weights)
    products = rng.sample(cast.product_ids, rng.choice([0, 1, 1, 2, 3]))
    restricted = rng.random() < 0.04
    component, problem = rng.choice(COMPONENTS), rng.choice(PROBLEMS)
    summary = f"{component} {problem}"
    description = (
        f"Customer impact: {rng.choice(IMPACTS)}. Reported by {reporter.name} <{reporter.email}>."
    )
    detected_at = declared_at - timedelta(minutes=rng.randint(0, 30))
    impact_started_at = detected_at - timedelta(minutes=rng.randint(0, 90))
    participants: dict[int, datetime] = {}
    last_change = declared_at

    def join(user: User, at: datetime) -> None:
        participants.setdefault(user.id, at)

    def event(at: datetime, actor: User, kind: str, message: str, data: dict | None = None):
        plan.events.append(
            {
                "subject_type": incidents.SUBJECT,
                "subject_id": incident_id,
                "at": at,
                "actor_id": actor.id,
                "kind": kind,
                "message": message,
                "data": data or {},
                "starred": False,
            }
        )
        return plan.events[-1]

    # declare_incident
    join(reporter, declared_at)
    service_name = cast.service_names[service_id] if service_id else None
    event(
        declared_at,
        reporter,
        "declared",
        f"{reporter.name} declared INC-{number} ({severity.value}): {summary}",
        {"severity": severity.value, "service": service_name},
    )
    at = declared_at
    others = [p for p in people if p.id != reporter.id]

    # set_roles: tech leads and a communications manager, by the incident manager
    tech_leads: list[User] = []
    communications_manager: User | None = None
    if rng.random() < 0.25:
        at += timedelta(minutes=rng.randint(1, 10))
        tech_leads = sorted(rng.sample(others, rng.choice([1, 1, 2])), key=lambda u: u.name)
        for lead in tech_leads:
            join(lead, at)
        names = [u.name for u in tech_leads]
        event(
            at,
            manager,
            "role_changed",
            f"Tech leads: {', '.join(names)}",
            {"tech_leads": [[], names]},
        )
        if rng.random() < 0.5:
            communications_manager = rng.choice([p for p in others if p not in tech_leads])
            join(communications_manager, at)
            last_change = at
            event(
                at,
                manager,
                "role_changed",
                f"{communications_manager.name} is now the communications manager",
                {"communications_manager": [None, communications_manager.name]},
            )

    # request_handover + accept_handover
    if rng.random() < 0.15:
        target = rng.choice(others)
        at += timedelta(minutes=rng.randint(5, 30))
        join(target, at)
        event(
            at,
            manager,
            "handover_requested",
            f"{manager.name} asked {target.name} to take over as incident manager",
            {"to": target.name, "from": manager.name},
        )
        at += timedelta(minutes=rng.randint(1, 15))
        event(
            at,
            target,
            "handover_accepted",
            f"{target.name} is now the incident manager, taking over from {manager.name}",
            {"incident_manager": [manager.name, target.name]},
        )
        manager, last_change = target, at

    # add_participant: restricted incidents let some people in, now and then the reader
    if restricted and rng.random() < 0.35 and cast.reader.id not in participants:
        at += timedelta(minutes=rng.randint(1, 20))
        join(cast.reader, at)
        event(at, manager, "participant_added", f"{manager.name} added {cast.reader.name}")

    # add_note, now and then starred
    if rng.random() < 0.3:
        at += timedelta(minutes=rng.randint(1, 30))
        note = event(at, manager, "note", "Rolled back the last deploy; watching error rates.")
        note["starred"] = rng.random() < 0.3

    # change_status, through the workflow's own rules
    path = _pick(rng, PATHS)
    clock = IncidentClock(declared_at=declared_at)
    current = Status.OPEN
    resolution_summary = cancel_reason = ""
    for target in path:
        at += timedelta(minutes=rng.randint(2, 240))
        explanation = ""
        if target is Status.RESOLVED:
            explanation = "Failed over to the standby and confirmed recovery."
        elif target is Status.CANCELLED:
            explanation = "Monitoring misfired; no customer impact."
        clock = workflow.transition(current, clock, target, at, explanation)
        join(manager, at)
        message = f"Status changed from {current.value} to {target.value}"
        if target is Status.RESOLVED:
            resolution_summary = explanation
            message += f": {resolution_summary}"
        elif target is Status.CANCELLED:
            cancel_reason = explanation
            message += f" (false alarm): {cancel_reason}"
        elif current is Status.RESOLVED and target is Status.FIXING:
            message = "Reopened: status changed from resolved to fixing"
        event(at, manager, "status_changed", message, {"status": [current.value, target.value]})
        current, last_change = target, at

    plan.incidents.append(
        {
            "id": incident_id,
            "number": number,
            "summary": summary,
            "description": description,
            "severity": severity.value,
            "status": current.value,
            "restricted": restricted,
            "service_id": service_id,
            "incident_manager_id": manager.id,
            "communications_manager_id": communications_manager.id
            if communications_manager
            else None,
            "reporter_id": reporter.id,
            "handover_to_id": None,
            "handover_note": "",
            "handover_requested_at": None,
            "resolution_summary": resolution_summary,
            "cancel_reason": cancel_reason,
            "impact_started_at": impact_started_at,
            "detected_at": detected_at,
            "declared_at": declared_at,
            "acknowledged_at": clock.acknowledged_at,
            "resolved_at": clock.resolved_at,
            "closed_at": clock.closed_at,
            "cancelled_at": clock.cancelled_at,
            "updated_at": last_change,
        }
    )
    plan.products += [{"incident_id": incident_id, "product_id": p} for p in products]
    plan.tech_leads += [{"incident_id": incident_id, "user_id": u.id} for u in tech_leads]
    plan.participants += [
        {"incident_id": incident_id, "user_id": uid, "added_at": when}
        for uid, when in participants.items()
    ]
    plan.expected.append(
        Seeded(
            number=number,
            severity=severity.value,
            status=current.value,
            service_id=service_id,
            incident_manager_id=manager.id,
            restricted=restricted,
            participants=set(participants),
            text=f"{summary}\n{description}".lower(),
        )
    )


# ---------------------------------------------------------------- seeding a database


def make_cast(database: Database) -> Cast:
    """People, teams, services, products and API tokens, each made by its service."""
    with database.begin() as session:
        admin, _ = auth.create_user(
            session,
            None,
            UserCreate(email="bench-admin@example.com", name="Bench Admin", role=Role.ADMIN),
        )
        responders = []
        for name in PEOPLE:
            email = name.lower().replace(" ", ".") + "@example.com"
            user, _ = auth.create_user(session, admin, UserCreate(email=email, name=name))
            responders.append(user)
        teams = [auth.create_team(session, admin, TeamCreate(name=name)) for name in TEAMS]
        services = [
            catalogue.create_service(
                session, admin, ServiceCreate(name=name, team_id=teams[i % len(teams)].id)
            )
            for i, (name, _) in enumerate(SERVICES)
        ]
        products = [
            catalogue.create_product(session, admin, ProductCreate(name=name)) for name in PRODUCTS
        ]
        cast = Cast(
            admin=admin,
            responders=responders,
            reader=responders[0],
            service_ids=[s.id for s in services],
            service_names={s.id: s.name for s in services},
            product_ids=[p.id for p in products],
        )
        _, cast.admin_token = auth.create_token(session, admin, "bench")
        _, cast.reader_token = auth.create_token(session, cast.reader, "bench")
        session.expunge_all()
    return cast


def _chunks(rows: list[dict[str, Any]], size: int = 2000) -> Iterator[list[dict[str, Any]]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


def seed(
    url: str,
    count: int,
    rng: random.Random,
    sqlite_analyze: bool = False,
) -> tuple[Cast, list[Seeded], float]:
    """Migrates and fills the database; returns the cast, the expectations and the seconds."""
    began = time.perf_counter()
    migrations.upgrade(url)
    database = Database(url)
    try:
        cast = make_cast(database)
        plan = plan_incidents(rng, cast, count - 1, datetime.now(UTC) - timedelta(hours=1))
        plan.events.sort(key=lambda e: e["at"])  # ids in the order things happened
        with database.engine.begin() as connection:
            for table, rows in (
                (Incident.__table__, plan.incidents),
                (IncidentProduct.__table__, plan.products),
                (IncidentTechLead.__table__, plan.tech_leads),
                (IncidentParticipant.__table__, plan.participants),
                (TimelineEvent.__table__, plan.events),
            ):
                for chunk in _chunks(rows):
                    connection.execute(insert(table), chunk)
            connection.execute(
                update(Counter).where(Counter.name == incidents.SUBJECT).values(value=count - 1)
            )
            if not database.is_sqlite:
                connection.execute(
                    text(
                        "SELECT setval(pg_get_serial_sequence('incidents', 'id'), "
                        "(SELECT max(id) FROM incidents))"
                    )
                )
        plan.expected.append(declare_last(database, cast, rng, count))
        if database.is_sqlite and sqlite_analyze:
            with database.engine.begin() as connection:
                connection.execute(text("ANALYZE"))
        if not database.is_sqlite:
            # What autovacuum would have done long before anyone listed 10,000 incidents.
            with database.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT"
            ) as connection:
                connection.execute(text("VACUUM ANALYZE"))
    finally:
        database.dispose()
    return cast, plan.expected, time.perf_counter() - began


def declare_last(database: Database, cast: Cast, rng: random.Random, number: int) -> Seeded:
    """The newest incident goes through declare_incident itself."""
    with database.begin() as session:
        reporter = session.get(User, cast.responders[1].id)
        service_id = cast.service_ids[0]
        data = IncidentCreate(
            summary="Checkout timeouts from the database replica",
            severity=Severity.SEV2,
            description="Customer impact: some checkouts fail.",
            service_id=service_id,
            product_ids=rng.sample(cast.product_ids, 2),
        )
        incident = incidents.declare_incident(session, reporter, data)
        if incident.number != number:
            raise RuntimeError(f"declared INC-{incident.number}, expected INC-{number}")
        return Seeded(
            number=number,
            severity=incident.severity,
            status=incident.status,
            service_id=service_id,
            incident_manager_id=reporter.id,
            restricted=False,
            participants={reporter.id},
            text=f"{data.summary}\n{data.description}".lower(),
        )


# ---------------------------------------------------------------- the server


def free_port() -> int:
    for port in PORTS:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


class Server:
    """`tocsin serve --no-engine` in a child process, stopped by its own pid."""

    def __init__(self, url: str, workdir: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"server-{self.port}.log"
        tocsin = Path(sys.executable).parent / "tocsin"
        env = dict(os.environ, TOCSIN_DATABASE_URL=url, TOCSIN_RUN_ENGINE="false")
        command = [str(tocsin), "serve", "--no-engine", "--host", "127.0.0.1"]
        command += ["--port", str(self.port)]
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(
            command, env=env, cwd=workdir, stdout=self.log, stderr=subprocess.STDOUT
        )

    def wait_ready(self) -> None:
        give_up = time.monotonic() + START_DEADLINE
        while time.monotonic() < give_up:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited; see {self.log_path}")
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)  # a poll interval while the server starts
        raise TimeoutError(f"{self.base_url}/readyz did not answer within {START_DEADLINE}s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.log.close()


# ---------------------------------------------------------------- walking the list


@dataclass
class FilterSet:
    name: str
    params: list[tuple[str, str]]

    def matches(self, incident: Seeded) -> bool:
        for key, value in self.params:
            if key == "status" and incident.status != value:
                return False
            if key == "service_id" and incident.service_id != int(value):
                return False
            if key == "incident_manager_id" and incident.incident_manager_id != int(value):
                return False
            if key == "q" and value.lower() not in incident.text:
                return False
        severities = {v for k, v in self.params if k == "severity"}
        return not severities or incident.severity in severities


def filter_sets(cast: Cast) -> list[FilterSet]:
    manager = cast.responders[2]  # not the reader: their restricted incidents are hidden
    return [
        FilterSet("none", []),
        FilterSet("status=open", [("status", "open")]),
        FilterSet("severity=SEV1&severity=SEV2", [("severity", "SEV1"), ("severity", "SEV2")]),
        FilterSet(f"service_id ({SERVICES[0][0]})", [("service_id", str(cast.service_ids[0]))]),
        FilterSet(f"q={QUERY_TEXT}", [("q", QUERY_TEXT)]),
        FilterSet(
            f"incident_manager_id ({manager.name})", [("incident_manager_id", str(manager.id))]
        ),
    ]


def walk(
    client: httpx.Client, params: list[tuple[str, str]], limit: int
) -> tuple[list[float], list[int]]:
    """Every page of one filter set: seconds per page, and the numbers listed in order."""
    seconds: list[float] = []
    numbers: list[int] = []
    cursor: str | None = None
    while True:
        query = [*params, ("limit", str(limit))]
        if cursor:
            query.append(("cursor", cursor))
        began = time.perf_counter()
        response = client.get("/api/v1/incidents", params=query)
        seconds.append(time.perf_counter() - began)
        if response.status_code != 200:
            raise RuntimeError(f"{response.status_code} for {query}: {response.text[:300]}")
        page = response.json()
        numbers += [item["number"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seconds, numbers


def check_walk(numbers: list[int], expected: list[Seeded], label: str) -> None:
    if any(a <= b for a, b in itertools.pairwise(numbers)):
        raise AssertionError(f"{label}: not strictly newest first (a repeat or a skip back)")
    wanted = {i.number for i in expected}
    if set(numbers) != wanted:
        missing, extra = sorted(wanted - set(numbers)), sorted(set(numbers) - wanted)
        raise AssertionError(f"{label}: missing {missing[:10]}, unexpected {extra[:10]}")


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


@dataclass
class Figures:
    database: str
    reader: str
    filter: str
    pages: int  # per walk
    items: int  # per walk
    samples: list[float] = field(default_factory=list)
    shallow: list[float] = field(default_factory=list)  # first quarter of each walk's pages
    deep: list[float] = field(default_factory=list)  # last quarter
    server_cpu: float = 0.0  # seconds of CPU the server process used over all walks
    database_cpu: float | None = None  # and the PostgreSQL backends serving it

    def summary(self) -> dict[str, Any]:
        ms = [s * 1000 for s in self.samples]
        per_page = 1000 / len(ms)
        return {
            "database": self.database,
            "as": self.reader,
            "filter": self.filter,
            "pages": self.pages,
            "items": self.items,
            "samples": len(ms),
            "median_ms": statistics.median(ms),
            "p99_ms": percentile(ms, 0.99),
            "max_ms": max(ms),
            "deep_over_shallow": statistics.median(self.deep) / statistics.median(self.shallow),
            "server_cpu_ms_per_page": self.server_cpu * per_page,
            "database_cpu_ms_per_page": None
            if self.database_cpu is None
            else self.database_cpu * per_page,
        }


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU used by the server process and, on PostgreSQL, by the backends of its database.

    Unlike wall time, this hardly moves when other work shares the machine.
    """

    def __init__(self, server_pid: int, backend_pids: Callable[[], list[int]] | None) -> None:
        self.server_pid = server_pid
        self.backend_pids = backend_pids

    def read(self) -> tuple[float, dict[int, float] | None]:
        backends = None
        if self.backend_pids is not None:
            backends = {pid: cpu_seconds(pid) for pid in self.backend_pids()}
        return cpu_seconds(self.server_pid), backends

    def used(self, before: tuple[float, dict[int, float] | None]) -> tuple[float, float | None]:
        server, backends = self.read()
        if backends is None or before[1] is None:
            return server - before[0], None
        # A backend that started during the walk counts in full; one that ended is lost
        # (the pool keeps its connections, so that does not happen mid-walk).
        return server - before[0], sum(
            cpu - before[1].get(pid, 0.0) for pid, cpu in backends.items()
        )


def measure(
    base_url: str,
    cast: Cast,
    expected: list[Seeded],
    database: str,
    limit: int,
    rounds: int,
    meter: CpuMeter,
) -> list[Figures]:
    readers = [
        (
            "responder",
            cast.reader_token,
            lambda i: not i.restricted or cast.reader.id in i.participants,
        ),
        ("admin", cast.admin_token, lambda i: True),
    ]
    figures: dict[tuple[str, str], Figures] = {}
    clients = {
        who: httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        for who, token, _ in readers
    }
    try:
        sets = filter_sets(cast)
        for who, _, _ in readers:  # warm up: connection, compiled-statement caches
            for filters in sets:
                clients[who].get(
                    "/api/v1/incidents", params=[*filters.params, ("limit", str(limit))]
                )
        for _ in range(rounds):
            for filters in sets:
                for who, _, visible in readers:
                    before = meter.read()
                    seconds, numbers = walk(clients[who], filters.params, limit)
                    server_cpu, database_cpu = meter.used(before)
                    wanted = [i for i in expected if visible(i) and filters.matches(i)]
                    check_walk(numbers, wanted, f"{database} as {who}, {filters.name}")
                    key = (who, filters.name)
                    entry = figures.setdefault(
                        key, Figures(database, who, filters.name, len(seconds), len(numbers))
                    )
                    quarter = max(1, len(seconds) // 4)
                    entry.samples += seconds
                    entry.shallow += seconds[:quarter]
                    entry.deep += seconds[-quarter:]
                    entry.server_cpu += server_cpu
                    if database_cpu is not None:
                        entry.database_cpu = (entry.database_cpu or 0.0) + database_cpu
    finally:
        for client in clients.values():
            client.close()
    return list(figures.values())


# ---------------------------------------------------------------- databases


class PostgresDatabase:
    """A database made for this run and dropped afterwards, whatever happens."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = make_url(admin_url)
        self.name = f"tocsin_bench_{uuid.uuid4().hex[:10]}"
        self.admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")

    def __enter__(self) -> str:
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{self.name}"'))
        return self.admin_url.set(database=self.name).render_as_string(hide_password=False)

    def __exit__(self, *_exc: object) -> None:
        with self.admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()

    def version(self) -> str:
        with self.admin.connect() as connection:
            return connection.execute(text("SHOW server_version")).scalar_one()

    def backend_pids(self) -> list[int]:
        """The server processes serving connections to this database."""
        query = text("SELECT pid FROM pg_stat_activity WHERE datname = :name")
        with self.admin.connect() as connection:
            return list(connection.execute(query, {"name": self.name}).scalars())


def run_database(kind: str, args: argparse.Namespace, workdir: Path) -> tuple[list[Figures], str]:
    rng = random.Random(args.seed)
    if kind == "sqlite":
        path = workdir / "bench.db"
        path.unlink(missing_ok=True)
        figures = run_on(f"sqlite:///{path}", kind, args, workdir, rng, None)
        return figures, f"file {path}"
    postgres = PostgresDatabase(args.postgres_admin_url)
    with postgres as url:
        figures = run_on(url, kind, args, workdir, rng, postgres.backend_pids)
        return figures, f"database {postgres.name} (dropped)"


def run_on(
    url: str,
    kind: str,
    args: argparse.Namespace,
    workdir: Path,
    rng: random.Random,
    backend_pids: Callable[[], list[int]] | None,
) -> list[Figures]:
    cast, expected, seconds = seed(url, args.count, rng, args.sqlite_analyze)
    print(f"[{kind}] seeded {len(expected)} incidents in {seconds:.1f}s", file=sys.stderr)
    server = Server(url, workdir)
    try:
        server.wait_ready()
        print(f"[{kind}] tocsin serve --no-engine on {server.base_url}", file=sys.stderr)
        began = time.perf_counter()
        meter = CpuMeter(server.process.pid, backend_pids)
        figures = measure(server.base_url, cast, expected, kind, args.limit, args.rounds, meter)
        pages = sum(len(f.samples) for f in figures)
        took = time.perf_counter() - began
        print(f"[{kind}] {pages} pages in {took:.1f}s, all walks checked", file=sys.stderr)
    finally:
        server.stop()
    return figures


# ---------------------------------------------------------------- the report


def code_under_test() -> str:
    """Which tocsin was measured: its folder, and the git commit (+dirty) when it is a checkout."""
    import tocsin

    root = Path(tocsin.__file__).resolve().parent.parent
    try:
        described = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        described = "not a git checkout"
    return f"{root} ({described})"


def machine(postgres_version: str | None) -> dict[str, str]:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in cpuinfo.splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    total_kb = next(
        (int(line.split()[1]) for line in meminfo.splitlines() if line.startswith("MemTotal")), 0
    )
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": str(os.cpu_count()),
        "cpu model": model,
        "ram": f"{total_kb / 1024 / 1024:.1f} GiB",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": postgres_version or "not run",
        "os": platform.platform(),
        "tocsin": code_under_test(),
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def table(figures: list[Figures]) -> str:
    lines = [
        "| database | as | filter | pages | items | median ms | p99 ms | max ms | deep/shallow "
        "| server CPU ms/page | PostgreSQL CPU ms/page |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for f in figures:
        s = f.summary()
        db_cpu = (
            "-" if s["database_cpu_ms_per_page"] is None else f"{s['database_cpu_ms_per_page']:.1f}"
        )
        lines.append(
            f"| {s['database']} | {s['as']} | {s['filter']} | {s['pages']} | {s['items']} "
            f"| {s['median_ms']:.1f} | {s['p99_ms']:.1f} | {s['max_ms']:.1f} "
            f"| {s['deep_over_shallow']:.2f} | {s['server_cpu_ms_per_page']:.1f} "
            f"| {db_cpu} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: 500 incidents, 1 round")
    parser.add_argument("--count", type=int, help="incidents to seed (default 10,000)")
    parser.add_argument("--rounds", type=int, help="walks of each filter set (default 3)")
    parser.add_argument("--limit", type=int, default=50, help="page size (default 50)")
    parser.add_argument(
        "--db", action="append", choices=["sqlite", "postgresql"], help="repeatable; default both"
    )
    parser.add_argument("--postgres-admin-url", default=POSTGRES_ADMIN_URL)
    parser.add_argument("--seed", type=int, default=42, help="random seed of the data")
    parser.add_argument("--json", type=Path, help="also write the figures here as JSON")
    parser.add_argument(
        "--sqlite-analyze",
        action="store_true",
        help="run ANALYZE on SQLite after seeding (Tocsin never does), to measure what "
        "table statistics change in SQLite's plans",
    )
    args = parser.parse_args(argv)
    args.count = args.count or (500 if args.quick else 10_000)
    args.rounds = args.rounds or (1 if args.quick else 3)
    kinds = args.db or ["sqlite", "postgresql"]

    postgres_version = None
    if "postgresql" in kinds:
        probe = PostgresDatabase(args.postgres_admin_url)
        postgres_version = probe.version()
        probe.admin.dispose()
    facts = machine(postgres_version)
    figures: list[Figures] = []
    with tempfile.TemporaryDirectory(prefix="tocsin-bench-") as scratch:
        for kind in kinds:
            got, where = run_database(kind, args, Path(scratch))
            figures += got
            print(f"[{kind}] {where}", file=sys.stderr)

    command = "bench/incidents_list.py " + " ".join(argv if argv is not None else sys.argv[1:])
    print(f"## GET /api/v1/incidents, {args.count} incidents, limit={args.limit}\n")
    print(f"Command: `.venv/bin/python {command.strip()}`\n")
    print(
        "Server: `tocsin serve --no-engine` (one uvicorn process); one client, keep-alive, "
        f"sequential requests; {args.rounds} walk(s) of every page per row.\n"
    )
    if args.sqlite_analyze:
        print("SQLite: ANALYZE run after seeding.\n")
    facts["load average at end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    for key, value in facts.items():
        print(f"- {key}: {value}")
    print()
    print(table(figures))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": facts,
                    "args": {k: str(v) for k, v in vars(args).items()},
                    "figures": [f.summary() for f in figures],
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
