"""Searching the postmortem blog: two-word queries over thousands of published postmortems.

For each database it migrates a fresh one, makes an admin, a responder and a service through
the services, then bulk-inserts N resolved incidents, their published postmortems (one
revision each, its document ~W words of text drawn from a fixed vocabulary with Zipf-like
frequencies, fixed seed) and indexes each through `search.index`, the function the service
calls when it publishes. It then times, one session per query as a request has:

- "search": `search.matching`, the index lookup alone (every matching id);
- "list": `service.list_postmortems(q=...)`, what `GET /api/v1/postmortems?q=` runs: the
  lookup, then the visible published postmortems among the ids, newest first, limit 50;

for several two-word queries (both words common, one common and one rare, both rare),
each repeated, as the responder (restricted incidents filtered out). Reports p50/p99.

    .venv/bin/python bench/postmortems.py [--count 5000] [--words 2000] [--queries 300]
                                          [--only sqlite|postgresql] [--seed 11]
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import create_engine, insert, text, update

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import PG_ADMIN  # noqa: E402
from tocsin import migrations  # noqa: E402
from tocsin.auth import service as auth  # noqa: E402
from tocsin.auth.models import Role, User  # noqa: E402
from tocsin.auth.schemas import UserCreate  # noqa: E402
from tocsin.catalogue import service as catalogue  # noqa: E402
from tocsin.catalogue.schemas import ServiceCreate  # noqa: E402
from tocsin.db import Database  # noqa: E402
from tocsin.incidents.models import Counter, Incident  # noqa: E402
from tocsin.incidents.service import SUBJECT  # noqa: E402
from tocsin.postmortems import search  # noqa: E402
from tocsin.postmortems import service as postmortems  # noqa: E402
from tocsin.postmortems.models import Postmortem, PostmortemRevision  # noqa: E402
from tocsin.postmortems.schemas import PostmortemFilters  # noqa: E402
from tocsin.postmortems.template import TEXT_SECTIONS  # noqa: E402

# Words of incident writing, then filler syllable words to make a 5,000-word vocabulary.
CORE = [
    "database",
    "replica",
    "failover",
    "latency",
    "timeout",
    "checkout",
    "payment",
    "queue",
    "worker",
    "deploy",
    "rollback",
    "config",
    "certificate",
    "expired",
    "dns",
    "cache",
    "eviction",
    "memory",
    "leak",
    "disk",
    "full",
    "network",
    "partition",
    "load",
    "balancer",
    "kubernetes",
    "node",
    "drain",
    "pod",
    "restart",
    "cron",
    "job",
    "migration",
    "lock",
    "contention",
    "index",
    "scan",
    "slow",
    "query",
    "connection",
    "pool",
    "exhausted",
    "retry",
    "storm",
    "thundering",
    "herd",
    "alert",
    "page",
    "customer",
    "impact",
    "degraded",
    "outage",
    "error",
    "rate",
    "spike",
    "region",
    "zone",
    "upstream",
    "dependency",
    "vendor",
    "api",
    "gateway",
    "rate",
    "limit",
    "token",
    "auth",
    "login",
    "session",
    "cookie",
    "storage",
    "bucket",
    "backup",
    "restore",
    "replication",
    "lag",
    "primary",
    "secondary",
    "cluster",
    "quorum",
    "leader",
    "election",
    "consensus",
    "heartbeat",
]
SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pa"]


def vocabulary(size: int = 5000) -> list[str]:
    words = list(dict.fromkeys(CORE))
    for a in SYLLABLES:
        for b in SYLLABLES:
            for c in SYLLABLES:
                for d in SYLLABLES:
                    if len(words) >= size:
                        return words
                    words.append(a + b + c + d + "x")
    return words


QUERIES = {  # rank in the Zipf vocabulary decides how many postmortems hold each word
    "common + common": ("database", "replica"),
    "common + mid": ("database", "kasalozex"),
    "mid + mid": ("kamilozex", "kapalozex"),
    "common + rare": ("database", "rurururux"),
    "rare + rare": ("rurururux", "nenenenex"),
    "absent word": ("database", "flibbertigibbet"),
}


def document(rng: random.Random, vocab: list[str], weights: list[float], words: int) -> dict:
    sections = [name for name in TEXT_SECTIONS]
    per = max(1, words // len(sections))
    doc: dict = {name: "" for name in TEXT_SECTIONS}
    for name in sections:
        doc[name] = " ".join(rng.choices(vocab, cum_weights=weights, k=per)) + "."
    doc["timeline"] = []
    doc["five_whys"] = []
    doc["root_cause_category"] = "Bug"
    return doc


def seed(db: Database, count: int, words: int, rng: random.Random) -> tuple[object, float]:
    began = time.perf_counter()
    vocab = vocabulary()
    weights = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(vocab))))
    with db.begin() as session:
        admin, _ = auth.create_user(
            session,
            None,
            UserCreate(email="bench@example.com", name="Bench", role=Role.ADMIN, password="x" * 12),
        )
        reader, _ = auth.create_user(
            session, admin, UserCreate(email="reader@example.com", name="Reader")
        )
        service = catalogue.create_service(session, admin, ServiceCreate(name="Checkout"))
        session.commit()
        admin_id, reader_id, service_id = admin.id, reader.id, service.id
        session.expunge_all()
    start = datetime.now(UTC) - timedelta(days=count)
    chunk = 250
    for first in range(1, count + 1, chunk):
        numbers = range(first, min(count, first + chunk - 1) + 1)
        with db.begin() as session:
            incidents, pms, revisions, docs = [], [], [], []
            for n in numbers:
                at = start + timedelta(days=n)
                summary = f"{rng.choice(CORE)} {rng.choice(CORE)} incident {n}"
                incidents.append(
                    {
                        "id": n,
                        "number": n,
                        "summary": summary,
                        "description": "",
                        "severity": "SEV2",
                        "status": "closed",
                        "restricted": n % 10 == 0,  # the reader may not see these
                        "service_id": service_id,
                        "incident_manager_id": admin_id,
                        "reporter_id": admin_id,
                        "impact_started_at": at,
                        "detected_at": at,
                        "declared_at": at,
                        "resolved_at": at + timedelta(hours=2),
                        "closed_at": at + timedelta(days=1),
                        "updated_at": at + timedelta(days=1),
                    }
                )
                pms.append(
                    {
                        "id": n,
                        "incident_id": n,
                        "owner_id": reader_id,
                        "status": "published",
                        "version": 1,
                        "published_version": 1,
                        "category": "Bug",
                        "due_at": at + timedelta(days=7),
                        "approved_by_id": admin_id,
                        "approved_at": at + timedelta(days=3),
                        "published_at": at + timedelta(days=4),
                        "created_at": at + timedelta(days=1),
                        "updated_at": at + timedelta(days=4),
                    }
                )
                doc = document(rng, vocab, weights, words)
                docs.append((n, summary, doc))
                revisions.append(
                    {
                        "postmortem_id": n,
                        "version": 1,
                        "document": doc,
                        "changed": [],
                        "saved_by_id": reader_id,
                        "saved_at": at + timedelta(days=2),
                    }
                )
            session.execute(insert(Incident), incidents)
            session.execute(insert(Postmortem), pms)
            session.execute(insert(PostmortemRevision), revisions)
            for n, summary, doc in docs:  # what the service's publish does, row by row
                incident = SimpleNamespace(key=f"INC-{n}", summary=summary)
                search.index(session, SimpleNamespace(id=n, incident=incident), doc)  # type: ignore[arg-type]
            session.commit()
        print(
            f"  {numbers[-1]:,} / {count:,} loaded, {time.perf_counter() - began:.0f} s", flush=True
        )
    with db.engine.begin() as connection:
        connection.execute(update(Counter).where(Counter.name == SUBJECT).values(value=count))
        if not db.is_sqlite:
            for table in ("incidents", "postmortems", "postmortem_revisions"):
                connection.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {count})")
                )
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        # What the engine's housekeeping / autovacuum would have done long before.
        connection.execute(text("ANALYZE" if db.is_sqlite else "VACUUM ANALYZE"))
    return reader_id, time.perf_counter() - began


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def measure(db: Database, reader_id: int, queries: int) -> list[dict]:
    rows = []
    per_query = max(1, queries // len(QUERIES))
    for label, words in QUERIES.items():
        q = " ".join(words)
        timing: dict[str, list[float]] = {"search": [], "list": []}
        hits = shown = 0
        for _ in range(per_query):
            with db.session(write=False) as session:
                started = time.perf_counter()
                hits = len(search.matching(session, q))
                timing["search"].append((time.perf_counter() - started) * 1000)
            with db.session(write=False) as session:
                reader = session.get(User, reader_id)
                started = time.perf_counter()
                shown = len(postmortems.list_postmortems(session, reader, PostmortemFilters(q=q)))
                timing["list"].append((time.perf_counter() - started) * 1000)
        rows.append(
            {
                "query": f"{label}: {q}",
                "hits": hits,
                "shown": shown,
                **{f"{k}_p50": percentile(v, 0.5) for k, v in timing.items()},
                **{f"{k}_p99": percentile(v, 0.99) for k, v in timing.items()},
                "n": per_query,
            }
        )
    return rows


def run(kind: str, args: argparse.Namespace) -> tuple[float, list[dict]]:
    workdir = Path(tempfile.mkdtemp(prefix="tocsin-bench-"))
    name = f"tocsin_bench_{uuid.uuid4().hex[:8]}"
    if kind == "sqlite":
        url = f"sqlite:///{workdir / 'tocsin.db'}"
    else:
        admin_engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin_engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin_engine.dispose()
        url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    try:
        migrations.upgrade(url)
        db = Database(url)
        try:
            print(
                f"{kind}: loading {args.count:,} postmortems of ~{args.words:,} words", flush=True
            )
            reader_id, seconds = seed(db, args.count, args.words, random.Random(args.seed))
            measure(db, reader_id, len(QUERIES))  # warm the caches once
            return seconds, measure(db, reader_id, args.queries)
        finally:
            db.dispose()
    finally:
        if kind == "postgresql":
            admin_engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            with admin_engine.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin_engine.dispose()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--words", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=300, help="in all, split over the queries")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    revision = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    print(f"tocsin: {revision}  {platform.node()}  {os.cpu_count()} CPUs  load {os.getloadavg()}")
    for kind in ("sqlite", "postgresql"):
        if args.only not in (None, kind):
            continue
        seconds, rows = run(kind, args)
        print(
            f"\n{kind}: {args.count:,} published postmortems of ~{args.words:,} words, "
            f"loaded in {seconds:.0f} s; as a responder (1 in 10 restricted)\n"
        )
        print("| query | matching | listed | n | search p50 | search p99 | list p50 | list p99 |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            print(
                f"| {r['query']} | {r['hits']:,} | {r['shown']} | {r['n']} "
                f"| {r['search_p50']:.1f} | {r['search_p99']:.1f} "
                f"| {r['list_p50']:.1f} | {r['list_p99']:.1f} |"
            )
    print(f"\nload at end {os.getloadavg()}")


if __name__ == "__main__":
    main()
