"""Telling a big status page's subscribers: how long posting an update takes, and how long
until the engine has queued every subscriber's mail.

For each database it migrates a fresh one, makes a public page with one component and N
confirmed email subscribers (half follow the whole page, half the component), then
publishes an incident and posts two updates through the service, as the comms manager's
request does. "post" is that call with its commit; "queued" is the engine's
SubscriberUpdates pass that queues every subscriber's notification (one transaction per
update). It checks that each update reached every subscriber exactly once.

    .venv/bin/python bench/subscribers.py [--subscribers 5000] [--only sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, func, insert, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import PG_ADMIN  # noqa: E402
from tocsin import migrations  # noqa: E402
from tocsin.auth import service as auth  # noqa: E402
from tocsin.auth.models import Role  # noqa: E402
from tocsin.auth.schemas import UserCreate  # noqa: E402
from tocsin.db import Database, now  # noqa: E402
from tocsin.engine.subscriber_updates import SubscriberUpdates  # noqa: E402
from tocsin.paging.models import Notification  # noqa: E402
from tocsin.statuspage import service as statuspage  # noqa: E402
from tocsin.statuspage.models import Subscriber, SubscriberComponent  # noqa: E402
from tocsin.statuspage.schemas import (  # noqa: E402
    ComponentCreate,
    ComponentStatusChoice,
    PageCreate,
    PublicIncidentCreate,
    UpdatePost,
)


def seed(db: Database, subscribers: int) -> tuple[object, int, int]:
    with db.begin() as session:
        admin, _ = auth.create_user(
            session,
            None,
            UserCreate(email="bench@example.com", name="Bench", role=Role.ADMIN, password="x" * 12),
        )
        page = statuspage.create_page(session, admin, PageCreate(slug="acme", name="Acme"))
        api = statuspage.create_component(session, admin, page.id, ComponentCreate(name="API"))
        rows = [
            {
                "page_id": page.id,
                "kind": "email",
                "address": f"reader{n}@customer.example",
                "confirmed_at": now(),
                "created_at": now(),
            }
            for n in range(subscribers)
        ]
        ids = session.scalars(insert(Subscriber).returning(Subscriber.id), rows).all()
        followers = [{"subscriber_id": i, "component_id": api.id} for i in ids[::2]]
        session.execute(insert(SubscriberComponent), followers)
        session.commit()
        return admin, page.id, api.id


def run(kind: str, subscribers: int) -> list[dict[str, object]]:
    workdir = Path(tempfile.mkdtemp(prefix="tocsin-bench-"))
    name = "tocsin_bench_subscribers"
    if kind == "sqlite":
        url = f"sqlite:///{workdir / 'tocsin.db'}"
    else:
        admin_engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin_engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin_engine.dispose()
        url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    migrations.upgrade(url)
    db = Database(url)
    results = []
    try:
        admin, page_id, api = seed(db, subscribers)
        outage = [ComponentStatusChoice(component_id=api, status="major_outage")]
        incident_id = None
        for step in ("published", "identified", "resolved"):
            started = time.perf_counter()
            with db.begin() as session:
                actor = session.merge(admin)
                if incident_id is None:
                    incident_id = statuspage.create_incident(
                        session,
                        actor,
                        page_id,
                        PublicIncidentCreate(name="API errors", body="Looking.", components=outage),
                    ).id
                else:
                    statuspage.post_update(
                        session,
                        actor,
                        page_id,
                        incident_id,
                        UpdatePost(status=step, body=f"Now {step}."),
                    )
            posted = time.perf_counter()
            told = SubscriberUpdates().run_due(db, now())
            queued = time.perf_counter()
            assert told == 1, told
            results.append(
                {
                    "database": kind,
                    "step": step,
                    "post_ms": (posted - started) * 1000,
                    "queue_s": queued - posted,
                }
            )
        with db.begin() as session:
            per_address = (
                session.execute(
                    select(func.count()).select_from(Notification).group_by(Notification.address)
                )
                .scalars()
                .all()
            )
        assert len(per_address) == subscribers and set(per_address) == {3}, "not exactly once"
    finally:
        db.dispose()
        if kind == "postgresql":
            admin_engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            with admin_engine.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin_engine.dispose()
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=5000)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    rows = []
    for kind in ("sqlite", "postgresql"):
        if args.only in (None, kind):
            rows += run(kind, args.subscribers)
    print(f"\n{args.subscribers:,} confirmed email subscribers, each told of every update once\n")
    print("| database | update | post (request) ms | engine queues every mail s | mails/s |")
    print("|---|---|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['database']} | {r['step']} | {r['post_ms']:.0f} | {r['queue_s']:.2f} "
            f"| {args.subscribers / r['queue_s']:,.0f} |"
        )
    for kind in ("sqlite", "postgresql"):
        posts = [r["post_ms"] for r in rows if r["database"] == kind]
        if posts:
            print(f"\n{kind}: median post {statistics.median(posts):.0f} ms")


if __name__ == "__main__":
    main()
