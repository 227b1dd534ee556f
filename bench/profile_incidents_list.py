"""Where the time of one incident-list page goes: SQL statements, their plans, and Python.

Seeds a database exactly as bench/incidents_list.py does, then serves pages
in-process (FastAPI's TestClient, no network) and, for each filter set,
prints the statements one page runs with their time, the PostgreSQL plan of
the list query (EXPLAIN ANALYZE, at the first and at a deep page), and the
split between time in the database and time in Python. With --cprofile it
also prints the hottest functions of a whole walk. (On SQLite a statement's time
runs to its first row; the rest is fetched later and counts as Python. Use
EXPLAIN QUERY PLAN on the logged statement to see a sort of every match.)

    .venv/bin/python bench/profile_incidents_list.py --db sqlite
    .venv/bin/python bench/profile_incidents_list.py --db postgresql --explain
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent))

import incidents_list as bench

from tocsin.app import create_app
from tocsin.config import Settings
from tocsin.db import Database


class StatementLog:
    """Every statement the engine runs, with its parameters and duration."""

    def __init__(self, database: Database) -> None:
        self.entries: list[tuple[str, Any, float]] = []
        self._started: list[float] = []
        event.listen(database.engine, "before_cursor_execute", self._before)
        event.listen(database.engine, "after_cursor_execute", self._after)

    def _before(self, _conn, _cursor, _statement, _parameters, _context, _many) -> None:
        self._started.append(time.perf_counter())

    def _after(self, _conn, _cursor, statement, parameters, _context, _many) -> None:
        self.entries.append((statement, parameters, time.perf_counter() - self._started.pop()))

    def clear(self) -> None:
        self.entries.clear()


def page_once(client: TestClient, params: list[tuple[str, str]], cursor: str | None):
    query = [*params, ("limit", "50")] + ([("cursor", cursor)] if cursor else [])
    began = time.perf_counter()
    response = client.get("/api/v1/incidents", params=query)
    took = time.perf_counter() - began
    response.raise_for_status()
    return response.json(), took


def deep_cursor(client: TestClient, params: list[tuple[str, str]]) -> str | None:
    """The cursor of the last page of a walk (the deepest page)."""
    cursor, last = None, None
    while True:
        page, _ = page_once(client, params, cursor)
        if page["next_cursor"] is None:
            return last
        last, cursor = cursor, page["next_cursor"]


def explain(database: Database, statement: str, parameters: Any) -> str:
    with database.engine.connect() as connection:
        cursor = connection.connection.cursor()
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
        return "\n".join(row[0] for row in cursor.fetchall())


def profile(url: str, kind: str, args: argparse.Namespace) -> None:
    cast, _expected, seconds = bench.seed(url, args.count, random.Random(args.seed))
    print(f"# {kind}: {args.count} incidents seeded in {seconds:.1f}s\n")
    database = Database(url)
    log = StatementLog(database)
    settings = Settings(database_url=url, run_engine=False, base_url="http://testserver")
    app = create_app(settings, database)
    with ExitStack() as stack:
        clients = {
            who: stack.enter_context(TestClient(app, headers={"Authorization": f"Bearer {token}"}))
            for who, token in (("responder", cast.reader_token), ("admin", cast.admin_token))
        }
        for filters in bench.filter_sets(cast):
            for who, client in clients.items():
                for depth, cursor in (
                    ("first", None),
                    ("deep", deep_cursor(client, filters.params)),
                ):
                    page_once(client, filters.params, cursor)  # warm
                    totals, sql = [], []
                    for _ in range(args.repeat):
                        log.clear()
                        _page, took = page_once(client, filters.params, cursor)
                        totals.append(took)
                        sql.append(sum(e[2] for e in log.entries))
                    print(
                        f"## {filters.name} as {who}, {depth} page: {len(log.entries)} statements, "
                        f"total {statistics.median(totals) * 1000:.1f} ms, "
                        f"of which SQL {statistics.median(sql) * 1000:.1f} ms (medians)"
                    )
                    if args.statements:
                        for statement, _params, took in log.entries:
                            head = " ".join(statement.split())[:160]
                            print(f"    {took * 1000:6.2f} ms  {head}")
                    if args.explain and kind == "postgresql":
                        statement, parameters, _ = max(
                            (e for e in log.entries if "FROM incidents" in e[0]),
                            key=lambda e: e[2],
                        )
                        print(
                            "    "
                            + explain(database, statement, parameters).replace("\n", "\n    ")
                        )
        if args.cprofile:
            profiler = cProfile.Profile()
            client, params = clients["responder"], []
            profiler.enable()
            cursor = None
            while True:
                page, _ = page_once(client, params, cursor)
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            profiler.disable()
            print("\n## cProfile of one unfiltered walk as responder")
            pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(40)
    database.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--statements", action="store_true", help="list each statement")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE (PostgreSQL)")
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument("--postgres-admin-url", default=bench.POSTGRES_ADMIN_URL)
    args = parser.parse_args()
    if args.db == "sqlite":
        with tempfile.TemporaryDirectory(prefix="tocsin-profile-") as scratch:
            profile(f"sqlite:///{Path(scratch) / 'profile.db'}", "sqlite", args)
        return 0
    with bench.PostgresDatabase(args.postgres_admin_url) as url:
        profile(url, "postgresql", args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
