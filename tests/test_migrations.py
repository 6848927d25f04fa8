"""The schema exists only through migrations: they must build exactly what the models say,
on SQLite and PostgreSQL, and step down and up again cleanly."""

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from eventsys import create_app
from eventsys.extensions import db
from tests.conftest import WORKER, base_config, require_postgres


def test_migrated_schema_matches_the_models(app):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == []


@pytest.fixture(params=["sqlite", "postgresql"])
def scratch_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'scratch.sqlite'}"
        return
    base = require_postgres().replace("+psycopg", "")
    admin_url = base.rsplit("/", 1)[0] + "/postgres"
    scratch = f"eventsys_migrations_scratch{'_' + WORKER if WORKER else ''}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {scratch}")
        conn.execute(f"CREATE DATABASE {scratch}")
    yield base.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") \
        + f"/{scratch}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {scratch} WITH (FORCE)")


def test_upgrade_downgrade_upgrade(scratch_url, tmp_path):
    app = create_app(base_config(tmp_path / "instance", scratch_url))
    with app.app_context():
        upgrade()
        tables = set(inspect(db.engine).get_table_names())
        assert {"event", "user_account", "outbox_message", "audit_log"} <= tables
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        assert set(inspect(db.engine).get_table_names()) == tables
        db.engine.dispose()
