"""A year of on-call shifts for 100 schedules of 3 layers each: how long it takes.

Two measurements of the same 100 schedules (random but fixed by --seed):

- pure: `tocsin.oncall.rotation.shifts(schedule, start, start + 365 days)` on plain
  values, for each schedule;
- service: `tocsin.oncall.service.shifts_between(session, schedule_id, start, end)`
  on a migrated database (a fresh SQLite file; a fresh PostgreSQL database), each
  run in a new session, so loading the layers, participants, overrides and people
  is included.

Each schedule has a weekly rotation of 4-8 people at a 09:00 handoff, a weekday
09:00-17:00 daytime layer of daily shifts, and a top layer of 12-hour shifts on
weekend days only, in one of five time zones (four with daylight-saving changes),
and 24 overrides spread over the year. The service's shifts are checked against the
pure function's: a difference fails the run.

    .venv/bin/python bench/oncall_shifts.py                  # both databases, 5 runs
    .venv/bin/python bench/oncall_shifts.py --only sqlite --runs 3
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tocsin import migrations
from tocsin.auth import service as auth
from tocsin.auth.models import Role, User
from tocsin.auth.schemas import TeamCreate
from tocsin.db import Database, set_clock
from tocsin.oncall import rotation
from tocsin.oncall import service as oncall
from tocsin.oncall.schemas import (
    LayerIn,
    OverrideCreate,
    RestrictionIn,
    ScheduleCreate,
)

SCHEDULES = 100
PEOPLE = 60
ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "Europe/London"]
START = datetime(2026, 1, 1, tzinfo=UTC)
END = START + timedelta(days=365)


def layers_for(rng: random.Random, people: list[int]) -> list[LayerIn]:
    weekly = rng.sample(people, rng.randint(4, 8))
    daytime = rng.sample(people, rng.randint(2, 5))
    weekend = rng.sample(people, rng.randint(2, 4))
    first = date(2025, 12, rng.randint(1, 28))
    return [
        LayerIn(
            name="Weekly",
            participant_ids=weekly,
            shift_unit="weeks",
            shift_length=1,
            handoff_time=clock_time(9),
            start=first,
        ),
        LayerIn(
            name="Daytime",
            participant_ids=daytime,
            shift_unit="days",
            shift_length=1,
            handoff_time=clock_time(9),
            start=first,
            restrictions=[
                RestrictionIn(
                    days=["mon", "tue", "wed", "thu", "fri"],
                    start=clock_time(9),
                    end=clock_time(17),
                )
            ],
        ),
        LayerIn(
            name="Weekend",
            participant_ids=weekend,
            shift_unit="hours",
            shift_length=12,
            handoff_time=clock_time(8),
            start=first,
            restrictions=[
                RestrictionIn(days=["sat", "sun"], start=clock_time(0), end=clock_time(0))
            ],
        ),
    ]


def overrides_for(rng: random.Random, people: list[int]) -> list[OverrideCreate]:
    found = []
    for _ in range(24):
        starts = START + timedelta(hours=rng.randint(0, 364 * 24))
        found.append(
            OverrideCreate(
                user_id=rng.choice(people),
                starts_at=starts,
                ends_at=starts + timedelta(hours=rng.randint(2, 72)),
            )
        )
    return found


def seed(database: Database, seed_value: int) -> list[int]:
    """People, a team, and the 100 schedules with their overrides, through the services."""
    rng = random.Random(seed_value)
    with database.begin() as session:
        admin = User(email="admin@bench.example", name="Admin", role=Role.ADMIN.value)
        session.add(admin)
        people = [
            User(email=f"p{n}@bench.example", name=f"Person {n}", role=Role.RESPONDER.value)
            for n in range(PEOPLE)
        ]
        session.add_all(people)
        session.commit()
        ids = [p.id for p in people]
        team = auth.create_team(session, admin, TeamCreate(name="Ops", member_ids=ids))
        schedule_ids = []
        for n in range(SCHEDULES):
            body = ScheduleCreate(
                name=f"Schedule {n}",
                time_zone=rng.choice(ZONES),
                team_id=team.id,
                layers=layers_for(rng, ids),
            )
            schedule = oncall.create_schedule(session, admin, body)
            for override in overrides_for(rng, ids):
                oncall.create_override(session, admin, schedule.id, override)
            schedule_ids.append(schedule.id)
    return schedule_ids


def plans(database: Database, schedule_ids: list[int]) -> list[rotation.Schedule]:
    """The schedules as plain values, for the pure measurement."""
    with database.begin() as session:
        return [
            oncall.plan_of(session, oncall.get_schedule(session, sid), START, END).rules
            for sid in schedule_ids
        ]


def time_pure(rules: list[rotation.Schedule], runs: int) -> tuple[list[float], int]:
    totals, count = [], 0
    for _ in range(runs):
        began = time.perf_counter()
        count = sum(len(rotation.shifts(r, START, END)) for r in rules)
        totals.append(time.perf_counter() - began)
    return totals, count


def time_service(
    database: Database, schedule_ids: list[int], rules: list[rotation.Schedule], runs: int
) -> list[float]:
    totals = []
    for n in range(runs):
        began = time.perf_counter()
        found = []
        with database.begin() as session:
            for sid in schedule_ids:
                found.append(oncall.shifts_between(session, sid, START, END))
        totals.append(time.perf_counter() - began)
        if n == 0:
            for shifts, pure in zip(found, rules, strict=True):
                expected = [(s.user_id, s.start, s.end) for s in rotation.shifts(pure, START, END)]
                got = [(s.user.id, s.start, s.end) for s in shifts]
                if got != expected:
                    raise SystemExit("the service's shifts differ from the pure function's")
    return totals


def describe(label: str, totals: list[float], shifts: int) -> str:
    median = statistics.median(totals)
    return (
        f"{label:<22} median {median * 1000:8.1f} ms for 100 schedules "
        f"({median * 10:6.2f} ms each; min {min(totals) * 1000:.1f}, "
        f"max {max(totals) * 1000:.1f} ms; {shifts:,} shifts)"
    )


def machine() -> str:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs ({model}), "
        f"Python {platform.python_version()}, load {os.getloadavg()[0]:.2f}"
    )


def postgres_database(admin_url: str):
    url = make_url(admin_url).set(drivername="postgresql+psycopg")
    name = f"tocsin_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    return admin, name, url.set(database=name).render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", choices=["sqlite", "postgresql"], action="append")
    parser.add_argument(
        "--postgres-admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    args = parser.parse_args()
    kinds = args.only or ["sqlite", "postgresql"]
    # Overrides must end in the future when they are made: the clock stands before the year.
    set_clock(lambda: START - timedelta(days=1))
    print(f"machine: {machine()}")
    print(
        f"a year ({START:%Y-%m-%d} to {END:%Y-%m-%d}) of shifts, {args.runs} runs, seed {args.seed}"
    )
    pure_done = False
    for kind in kinds:
        cleanup = None
        if kind == "sqlite":
            folder = tempfile.mkdtemp(prefix="tocsin-bench-")
            url = f"sqlite:///{folder}/oncall.db"
        else:
            admin, name, url = postgres_database(args.postgres_admin_url)

            def cleanup(admin=admin, name=name) -> None:
                with admin.connect() as connection:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()

        try:
            migrations.upgrade(url)
            database = Database(url)
            began = time.perf_counter()
            schedule_ids = seed(database, args.seed)
            print(f"{kind}: seeded 100 schedules in {time.perf_counter() - began:.1f} s")
            rules = plans(database, schedule_ids)
            if not pure_done:
                totals, count = time_pure(rules, args.runs)
                print(describe("pure rotation.shifts", totals, count))
                pure_done = True
            totals = time_service(database, schedule_ids, rules, args.runs)
            print(describe(f"service on {kind}", totals, count))
            database.dispose()
        finally:
            if cleanup:
                cleanup()


if __name__ == "__main__":
    main()
