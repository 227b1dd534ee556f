"""The schema comes only from migrations, and readiness tells when they are pending."""

from __future__ import annotations

from alembic import command
from fastapi.testclient import TestClient

from tests.conftest import assert_error
from tocsin import migrations
from tocsin.app import create_app
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
