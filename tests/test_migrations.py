"""The schema comes only from migrations, and readiness tells when they are pending."""

from __future__ import annotations

from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.conftest import assert_error
from tests.statuspage_world import build_page, publish
from tocsin import migrations
from tocsin.app import create_app
from tocsin.auth import service as auth
from tocsin.auth.models import Role
from tocsin.auth.schemas import UserCreate
from tocsin.config import Settings
from tocsin.db import Database


def test_models_and_migrations_agree(database_url):
    """`alembic check` fails when a model changed without a migration."""
    command.check(migrations.alembic_config(database_url))


def test_health_and_readiness_need_no_login(client, database_url):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready"
    assert ready["revision"] == migrations.head_revision()


def test_readiness_fails_until_the_schema_is_upgraded(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    database = Database(url)
    settings = Settings(database_url=url, run_engine=False)
    with TestClient(create_app(settings, database)) as client:
        error = assert_error(client.get("/readyz"), 503, code="migrations_pending")
        assert "tocsin db upgrade" in error["message"]
        migrations.upgrade(url)
        assert client.get("/readyz").status_code == 200
    database.dispose()


def test_migrations_go_down_and_up_again(tmp_path):
    url = f"sqlite:///{tmp_path / 'roundtrip.db'}"
    migrations.upgrade(url)
    command.downgrade(migrations.alembic_config(url), "base")
    migrations.upgrade(url)
    database = Database(url)
    assert migrations.current_revision(database.engine) == migrations.head_revision()
    database.dispose()


def test_going_down_from_the_subscriber_fanout_keeps_every_status_update(tmp_path):
    """On SQLite a rebuilt table would cascade its deletion to the rows that point at it."""
    url = f"sqlite:///{tmp_path / 'keep.db'}"
    migrations.upgrade(url)
    database = Database(url)
    with database.begin() as session:
        admin, _ = auth.create_user(
            session, None, UserCreate(email="a@example.com", name="Ada", role=Role.ADMIN)
        )
    world = build_page(database, admin)
    publish(database, admin, world, "API errors", {world.api: "major_outage"})

    def rows() -> tuple[int, int]:
        with database.engine.connect() as connection:
            return (
                connection.scalar(text("SELECT count(*) FROM status_incident_updates")),
                connection.scalar(text("SELECT count(*) FROM status_update_components")),
            )

    before = rows()
    assert before == (1, 1)
    command.downgrade(migrations.alembic_config(url), "0010")
    assert rows() == before
    migrations.upgrade(url)
    assert rows() == before
    database.dispose()


def test_rules_written_before_the_default_fallback_keep_their_meaning(tmp_path):
    """A severity no rule named used to be logged; on upgrade it stays so, explicitly."""
    from tocsin.alerts import service as alerts
    from tocsin.alerts.schemas import RuleIn
    from tocsin.catalogue import service as catalogue
    from tocsin.catalogue.schemas import ServiceCreate

    url = f"sqlite:///{tmp_path / 'rules.db'}"
    command.upgrade(migrations.alembic_config(url), "0013")
    database = Database(url)
    with database.begin() as session:
        admin, _ = auth.create_user(
            session, None, UserCreate(email="a@example.com", name="Ada", role=Role.ADMIN)
        )
        quiet = catalogue.create_service(session, admin, ServiceCreate(name="quiet")).id
        catch_all = catalogue.create_service(session, admin, ServiceCreate(name="all")).id
        catalogue.create_service(session, admin, ServiceCreate(name="default"))
        alerts.replace_rules(
            session, admin, quiet, [RuleIn(severity="critical", action="incident")]
        )
        alerts.replace_rules(session, admin, catch_all, [RuleIn(action="page")])
        session.commit()
    migrations.upgrade(url)

    def rules(service_id: int) -> list[tuple[str | None, str]]:
        with database.begin() as session:
            return [(r.severity, r.action) for r in alerts.rules_of(session, service_id)]

    assert rules(quiet) == [("critical", "incident"), (None, "log")]
    assert rules(catch_all) == [(None, "page")]  # already said what every severity does
    assert rules(catch_all + 1) == []  # no rules: the default, as before
    database.dispose()
