"""The engine moves automatic maintenance at its start and end: exactly once, by the clock.

Driven by the test clock (`run_once(at)`), never by sleeping. On PostgreSQL several
runners race for the same due rows; each maintenance still moves exactly once.
"""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import func, select

from tests.conftest import postgres_only
from tests.statuspage_world import build_page, statuses
from tocsin.config import Settings
from tocsin.engine.maintenance import MaintenanceTransitions
from tocsin.engine.modules import all_modules
from tocsin.engine.runner import EngineRunner
from tocsin.statuspage import service as statuspage
from tocsin.statuspage.models import ComponentChange, Maintenance, MaintenanceUpdate
from tocsin.statuspage.schemas import ComponentUpdate, MaintenanceCreate, MaintenanceUpdatePost
from tocsin.statuspage.workflow import ComponentStatus

MODULE = "maintenance_transitions"


def schedule(db, actor, world, start, *, hours=2, components=None, automatic=True, name="Upgrade"):
    with db.begin() as session:
        return statuspage.create_maintenance(
            session,
            actor,
            world.page_id,
            MaintenanceCreate(
                name=name,
                scheduled_for=start,
                scheduled_until=start + timedelta(hours=hours),
                component_ids=components if components is not None else [world.api],
                body="Planned work.",
                automatic=automatic,
            ),
        ).id


def history(db, maintenance_id) -> tuple[str, list[tuple[str, str, bool]]]:
    """The maintenance's status and its updates, oldest first: (status, body, automatic)."""
    with db.begin() as session:
        maintenance = session.get(Maintenance, maintenance_id)
        updates = [(u.status, u.body, u.author_id is None) for u in reversed(maintenance.updates)]
        return maintenance.status, updates


def engine(db) -> EngineRunner:
    return EngineRunner(db, [MaintenanceTransitions()])


def test_the_engine_module_is_in_every_pass(db):
    names = [m.name for m in all_modules(Settings(database_url=db.url))]
    assert MODULE in names


def test_an_automatic_maintenance_starts_and_ends_on_time_exactly_once(db, admin, clock):
    world = build_page(db, admin)
    with db.begin() as session:
        statuspage.update_component(
            session,
            admin,
            world.page_id,
            world.web,
            ComponentUpdate(status=ComponentStatus.DEGRADED_PERFORMANCE),
        )
    start = clock.current + timedelta(hours=1)
    maintenance_id = schedule(db, admin, world, start, components=[world.api, world.web])
    runner = engine(db)

    assert runner.run_once(start - timedelta(seconds=1)) == {MODULE: 0}
    assert history(db, maintenance_id)[0] == "scheduled"

    clock.current = start
    assert runner.run_once(start) == {MODULE: 1}
    assert runner.run_once(start + timedelta(seconds=30)) == {MODULE: 0}
    status, updates = history(db, maintenance_id)
    assert status == "in_progress"
    assert updates[-1][0] == "in_progress" and updates[-1][2] is True
    assert statuses(db, world)["API"] == "under_maintenance"
    assert statuses(db, world)["Website"] == "under_maintenance"

    end = start + timedelta(hours=2)
    assert runner.run_once(end - timedelta(seconds=1)) == {MODULE: 0}
    clock.current = end
    assert runner.run_once(end) == {MODULE: 1}
    assert runner.run_once(end + timedelta(minutes=5)) == {MODULE: 0}
    status, updates = history(db, maintenance_id)
    assert status == "completed"
    assert [u[0] for u in updates] == ["scheduled", "in_progress", "completed"]
    assert updates[-1][1] == "The scheduled maintenance has been completed."
    assert statuses(db, world)["API"] == "operational"
    assert statuses(db, world)["Website"] == "degraded_performance"  # as before the window
    with db.begin() as session:
        maintenance = session.get(Maintenance, maintenance_id)
        assert (maintenance.started_at, maintenance.completed_at) == (start, end)


def test_a_maintenance_moved_by_hand_is_left_alone(db, admin, clock):
    world = build_page(db, admin)
    manual = schedule(db, admin, world, clock.current, automatic=False, name="Manual")
    assert engine(db).run_once(clock.current + timedelta(hours=3)) == {MODULE: 0}
    assert history(db, manual)[0] == "scheduled"
    assert statuses(db, world)["API"] == "operational"


def test_started_early_by_hand_it_still_ends_on_time(db, admin, responder, clock):
    world = build_page(db, admin)
    start = clock.current + timedelta(hours=1)
    maintenance_id = schedule(db, admin, world, start)
    with db.begin() as session:
        statuspage.post_maintenance_update(
            session,
            responder,
            world.page_id,
            maintenance_id,
            MaintenanceUpdatePost(status="in_progress", body="Starting early."),
        )
    runner = engine(db)
    assert runner.run_once(start) == {MODULE: 0}
    assert runner.run_once(start + timedelta(hours=2)) == {MODULE: 1}
    status, updates = history(db, maintenance_id)
    assert status == "completed"
    assert [u[0] for u in updates] == ["scheduled", "in_progress", "completed"]
    assert statuses(db, world)["API"] == "operational"


def test_a_window_that_passed_unseen_completes_without_flapping(db, admin, clock):
    """The engine was down for the whole window: the components never go under maintenance."""
    world = build_page(db, admin)
    maintenance_id = schedule(db, admin, world, clock.current + timedelta(hours=1))
    assert engine(db).run_once(clock.current + timedelta(hours=5)) == {MODULE: 1}
    status, updates = history(db, maintenance_id)
    assert status == "completed" and [u[0] for u in updates] == ["scheduled", "completed"]
    with db.begin() as session:
        under = session.scalar(
            select(func.count())
            .select_from(ComponentChange)
            .where(ComponentChange.status == "under_maintenance")
        )
    assert under == 0


def test_the_public_json_shows_the_start_at_once(client, db, admin, clock):
    world = build_page(db, admin)
    start = clock.current + timedelta(minutes=10)
    schedule(db, admin, world, start)
    path = f"/status/{world.slug}/api/v2/scheduled-maintenances/active.json"
    assert client.get(path).json()["scheduled_maintenances"] == []
    clock.current = start
    engine(db).run_once(start)
    [active] = client.get(path).json()["scheduled_maintenances"]
    assert active["status"] == "in_progress"
    summary = client.get(f"/status/{world.slug}/api/v2/summary.json").json()
    assert summary["status"]["description"] == "Service Under Maintenance"


def test_racing_runners_move_each_maintenance_exactly_once(db, admin, clock):
    """Two engine runners (as in two `tocsin worker`s) claim the same due rows at once."""
    postgres_only(db)
    world = build_page(db, admin)
    start = clock.current + timedelta(minutes=1)
    ids = [
        schedule(db, admin, world, start, components=[world.api, world.web], name=f"Work {n}")
        for n in range(40)
    ]
    one_at_a_time = MaintenanceTransitions()
    one_at_a_time.batch = 1  # many small claims: the runners interleave
    runners = [EngineRunner(db, [one_at_a_time]), EngineRunner(db, [MaintenanceTransitions()])]
    ready = threading.Barrier(len(runners))
    handled: list[int] = []
    failures: list[BaseException] = []

    def run(runner: EngineRunner) -> None:
        try:
            ready.wait(timeout=10)
            handled.append(runner.run_once(start)[MODULE])
        except BaseException as failure:  # reported below, with the thread's result
            failures.append(failure)

    threads = [threading.Thread(target=run, args=(r,)) for r in runners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures and all(not t.is_alive() for t in threads)
    assert sum(handled) == len(ids)
    with db.begin() as session:
        started = session.execute(
            select(MaintenanceUpdate.maintenance_id, func.count())
            .where(MaintenanceUpdate.status == "in_progress")
            .group_by(MaintenanceUpdate.maintenance_id)
        ).all()
        assert sorted(started) == [(i, 1) for i in sorted(ids)]
        assert set(session.scalars(select(Maintenance.status))) == {"in_progress"}
    # Every maintenance saved the components' real status, not "under maintenance".
    with db.begin() as session:
        for maintenance in session.scalars(select(Maintenance)):
            assert {link.status_before for link in maintenance.components} == {"operational"}
    assert engine(db).run_once(start + timedelta(hours=2)) == {MODULE: len(ids)}
    assert statuses(db, world)["API"] == "operational"
