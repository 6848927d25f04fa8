"""eventsys: event and workshop management for forums and training programmes."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine

from config import PROJECT_ROOT, load_config
from eventsys.extensions import babel, csrf, db, login_manager, migrate

INSECURE_KEYS = {"", "dev", "change-me", "changeme", "secret", "default"}


class ConfigurationError(RuntimeError):
    pass


def create_app(test_config: dict | None = None) -> Flask:
    """Read config, bind extensions and blueprints; nothing else happens at import time."""
    instance_path = Path(
        (test_config or {}).get("INSTANCE_PATH")
        or os.environ.get("EVENTSYS_INSTANCE")
        or PROJECT_ROOT / "instance"
    ).resolve()
    app = Flask(
        __name__,
        instance_path=str(instance_path),
        template_folder=str(PROJECT_ROOT / "templates"),
    )
    app.config.update(load_config(instance_path, test_config))
    instance_path.mkdir(parents=True, exist_ok=True)
    _ensure_secret_key(app)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)

    from eventsys import i18n, web

    babel.init_app(app, locale_selector=web.select_locale, timezone_selector=web.select_timezone)
    i18n.init_app(app)

    import eventsys.models
    import eventsys.services.certificate_mail  # (registers its mail renderer)
    import eventsys.services.registration  # noqa: F401  (registers its mail context builders)
    from eventsys.services import messaging
    from eventsys.tasks import init_celery

    init_celery(app)
    messaging.init_app(app)
    web.init_web(app)
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    return app


def _ensure_secret_key(app: Flask) -> None:
    """Production refuses to start without a real key; a laptop gets one made and kept
    under ``instance/`` so that logins survive a restart."""
    key = app.config.get("SECRET_KEY") or ""
    if app.config["ENVIRONMENT"] == "production":
        if key.strip().lower() in INSECURE_KEYS or len(key) < 32:
            raise ConfigurationError(
                "SECRET_KEY must be set to a random value of at least 32 characters in "
                'production (python -c "import secrets; print(secrets.token_urlsafe(48))").'
            )
        return
    if key:
        return
    key_file = Path(app.instance_path) / "secret_key"
    if not key_file.exists():
        # Created 0600 from the first byte: never readable by others, even briefly.
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    app.config["SECRET_KEY"] = key_file.read_text().strip()


@sa_event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """WAL lets the web server read while the embedded worker writes; foreign keys are off
    in SQLite unless asked for; the busy timeout turns lock contention into a short wait.

    pysqlite's own transaction handling is switched off (``isolation_level = None``) so
    that ``_sqlite_begin`` below decides how each transaction begins."""
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


@sa_event.listens_for(Engine, "begin")
def _sqlite_begin(conn):
    """Every SQLite transaction begins IMMEDIATE, holding the write lock from its first
    statement. SQLite has one writer at a time anyway; what this buys is that writers
    queue (busy_timeout) instead of failing: a transaction that read first and writes
    later would otherwise fail at once ("database is locked") whenever another writer,
    such as the embedded worker, committed in between. The cost, that transactions run
    one after another, is fine on the laptop setup SQLite serves."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
