"""Fixtures: real databases (SQLite always, PostgreSQL when reachable), real apps, and
objects built through the services.

With ``CI=true`` a missing PostgreSQL, Redis or Chromium fails the run instead of skipping.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import psycopg
import pytest
import redis as redis_lib
from flask import g, has_app_context
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import event as sa_event
from sqlalchemy import text

from eventsys import create_app
from eventsys.extensions import db

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PG_URL = os.environ.get("TEST_DATABASE_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _missing(what: str, why: str):
    if IN_CI:
        pytest.fail(f"{what} is required in CI and is not available: {why}", pytrace=False)
    pytest.skip(f"{what} not available: {why}")


def _pg_reachable() -> str | None:
    try:
        with psycopg.connect(PG_URL.replace("+psycopg", ""), connect_timeout=3):
            return None
    except Exception as exc:
        return str(exc)


def require_postgres() -> str:
    problem = _pg_reachable()
    if problem:
        _missing("PostgreSQL", problem)
    return PG_URL


def require_redis() -> str:
    try:
        redis_lib.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:
        _missing("Redis", str(exc))
    return REDIS_URL


def require_chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        _missing("Chromium", "no chromium on PATH (apt-get install chromium)")
    return path


def base_config(instance: Path, database_url: str, **extra) -> dict:
    config = {
        "TESTING": True,
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "BASE_URL": "http://eventsys.test",
        "OUTBOX_RETRY_BASE_SECONDS": 60,
        # One announcement per commit, at once (tests/workers covers the coalescing thread).
        "ANNOUNCE_DELAY_SECONDS": 0,
        # Every request renders the form (tests/web/test_registration_cache.py: the cache).
        "REGISTRATION_FORM_CACHE_SECONDS": 0,
        # Delivery runs synchronously right after the commit: the same task, no broker.
        "CELERY": {"task_always_eager": True},
    }
    config.update(extra)
    return config


def reset_schema(url: str) -> None:
    """Start each test session from an empty database; the schema comes from migrations."""
    if url.startswith("postgresql"):
        with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
            conn.execute("CREATE SCHEMA public")


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request, tmp_path_factory):
    if request.param == "postgresql":
        url = require_postgres()
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite'}"
    reset_schema(url)
    app = create_app(base_config(tmp_path_factory.mktemp("migrate"), url))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return url


class FreshRequestClient(FlaskClient):
    """Tests keep an app context open to use the database; Flask then reuses it for the
    client's requests, and with it ``g``, where Flask-Login caches the user and Flask-WTF the
    CSRF token. A browser's
    requests never share that, so neither do ours."""

    def open(self, *args, **kwargs):
        if has_app_context():
            for cached in ("_login_user", "csrf_token", "csrf_valid"):
                g.pop(cached, None)
        return super().open(*args, **kwargs)


@pytest.fixture
def app(database_url, tmp_path):
    app = create_app(base_config(tmp_path / "instance", database_url))
    app.test_client_class = FreshRequestClient
    with app.app_context():
        yield app
        db.session.remove()
        clean_tables()
        db.engine.dispose()


def clean_tables() -> None:
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
def client(app):
    return app.test_client()


# Helpers that act as a browser would ----------------------------------------------------

_CSRF = re.compile(r'name="([\w-]*csrf_token)" type="hidden" value="([^"]+)"|'
                   r'type="hidden" name="([\w-]*csrf_token)" value="([^"]+)"')


def csrf_from(html: str, field: str = "csrf_token") -> str:
    for match in _CSRF.finditer(html):
        name = match.group(1) or match.group(3)
        if name == field:
            return match.group(2) or match.group(4)
    raise AssertionError(f"no {field} in page")


def submit(client, url: str, data: dict, *, page: str | None = None,
           field: str = "csrf_token", **kwargs):
    """GET the page with the form (or ``page``), take its CSRF token, POST the form."""
    html = client.get(page or url).get_data(as_text=True)
    return client.post(url, data={**data, field: csrf_from(html, field)}, **kwargs)


def tampered(token: str, n: int = 1) -> str:
    """``token`` with its last ``n`` characters changed, each to a letter it was not: a
    fixed replacement such as ``+ "A"`` is the token itself once in 64 runs."""
    return token[:-n] + "".join("B" if c == "A" else "A" for c in token[-n:])


# Mail as its recipient reads it ------------------------------------------------------------

def delivered(to: str | None = None) -> list:
    """Messages delivered to files so far (the embedded default's mail sink), oldest first.
    The outbox keeps no live links once a message is sent; the delivered copy does."""
    from email import policy
    from email.parser import BytesParser

    from flask import current_app

    found = []
    for path in sorted(Path(current_app.config["MAIL_DIR"]).glob("*.eml")):
        with path.open("rb") as handle:
            message = BytesParser(policy=policy.default).parse(handle)
        if to is None or to in message["To"]:
            found.append(message)
    return found


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def last_text(to: str | None = None, containing: str = "") -> str:
    texts = [text_of(m) for m in delivered(to) if containing in text_of(m)]
    assert texts, f"no delivered mail to {to} containing {containing!r}"
    return texts[-1]


# Objects built through the services -------------------------------------------------------

PASSWORD = "correct horse battery"


@pytest.fixture
def count_queries(app):
    """SQL statements sent while the test runs: ``["n"]`` counts them (tests reset it to 0
    around the request they measure), ``["statements"]`` keeps their text."""
    counter: dict = {"n": 0, "statements": []}

    def before(conn, cursor, statement, *args):
        counter["n"] += 1
        counter["statements"].append(statement)

    sa_event.listen(db.engine, "before_cursor_execute", before)
    yield counter
    sa_event.remove(db.engine, "before_cursor_execute", before)


@pytest.fixture
def make_user(app):
    from eventsys.services import accounts

    def make(email="someone@example.org", name="Some One", password=PASSWORD, **kw):
        user = accounts.create_user(email, name, password, **kw)
        db.session.commit()
        return user

    return make


@pytest.fixture
def make_event(app):
    from datetime import date, timedelta

    from eventsys.services import events
    from eventsys.services.events import EventData, HostData, VenueData

    def make(slug="test-forum", creator=None, status="published", days_ahead=30, **kw):
        start = date.today() + timedelta(days=days_ahead)
        data = EventData(
            slug=slug, kind=kw.pop("kind", "forum"), title=kw.pop("title", "Test Forum"),
            start_date=start, end_date=start + timedelta(days=kw.pop("days", 0)),
            timezone=kw.pop("timezone", "Asia/Shanghai"), mode=kw.pop("mode", "hybrid"),
            status=status,
            venues=kw.pop("venues", [VenueData("Hall 1", "Beijing", "CN")]),
            hosts=kw.pop("hosts", [HostData("Great Wall Enterprise Institute", "CN")]),
            **kw,
        )
        return events.create_event(data, creator=creator)

    return make


def login(client, email: str, password: str = PASSWORD):
    return submit(client, "/login", {"email": email, "password": password})
