"""Fixtures: real databases (SQLite always, PostgreSQL when reachable), real apps, and
objects built through the services.

With ``CI=true`` a missing PostgreSQL, Redis or Chromium fails the run instead of skipping.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from pathlib import Path

import jinja2
import jinja2.bccache
import psycopg
import pytest
import redis as redis_lib
from flask import Flask, g, has_app_context
from flask.testing import FlaskClient
from flask_migrate import upgrade
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event as sa_event
from sqlalchemy import text
from werkzeug.routing import Rule

from eventsys import create_app
from eventsys.extensions import db

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# Under pytest-xdist each worker process ("gw0", "gw1", ...) gets a PostgreSQL database and
# a Redis database of its own, named after the ones given; alone, those are used as given.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
WORKER_NUMBER = int(WORKER[2:]) if WORKER.startswith("gw") else 0
BASE_PG_URL = os.environ.get("TEST_DATABASE_URL",
                             "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _worker_database(url: str) -> str:
    if not WORKER:
        return url
    head, _, name = url.rpartition("/")
    name, mark, query = name.partition("?")
    return f"{head}/{name}_{WORKER}{mark}{query}"


def _worker_redis(url: str) -> str:
    """Counting down from the given database number (never into another's db 0 by
    wrapping upwards from 15)."""
    head, _, number = url.rpartition("/")
    if not WORKER or not number.isdigit():
        return url
    return f"{head}/{(int(number) - WORKER_NUMBER) % 16}"


PG_URL = _worker_database(BASE_PG_URL)
REDIS_URL = _worker_redis(os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))


def _missing(what: str, why: str):
    if IN_CI:
        pytest.fail(f"{what} is required in CI and is not available: {why}", pytrace=False)
    pytest.skip(f"{what} not available: {why}")


def _pg_reachable() -> str | None:
    try:
        if PG_URL != BASE_PG_URL:
            _create_worker_database()
        with psycopg.connect(PG_URL.replace("+psycopg", ""), connect_timeout=3):
            return None
    except Exception as exc:
        return str(exc)


def _create_worker_database() -> None:
    name = PG_URL.rpartition("/")[2].partition("?")[0]
    with psycopg.connect(BASE_PG_URL.replace("+psycopg", ""), connect_timeout=3,
                         autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return
        with contextlib.suppress(psycopg.errors.DuplicateDatabase):  # the other worker's
            conn.execute(f'CREATE DATABASE "{name}"')


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


# Each test gets a new app, so that no state leaks between tests; what a new app costs
# (107 URL rules compiled to Python, every template parsed again) is shared instead.
class _SharedBytecode(jinja2.BytecodeCache):
    """Templates compile once per test session, not once per test's app (Jinja checks the
    source's checksum, so an edited template still compiles afresh)."""

    def __init__(self) -> None:
        self.store: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if bucket.key in self.store:
            bucket.bytecode_from_string(self.store[bucket.key])

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.store[bucket.key] = bucket.bytecode_to_string()


TEMPLATE_BYTECODE = _SharedBytecode()
_compile_builder = Rule._compile_builder
_builders: dict = {}


def _shared_builder(rule: Rule, append_unknown: bool = True):
    """Werkzeug turns each URL rule into a Python function by compiling an AST; the function
    depends only on the rule's parts and defaults, so one compile serves every app."""
    try:
        key = (rule.rule, rule.subdomain, rule.host, tuple(rule._trace),
               tuple(sorted((rule.defaults or {}).items())), append_unknown)
        hash(key)
    except TypeError:
        return _compile_builder(rule, append_unknown)
    if key not in _builders:
        _builders[key] = _compile_builder(rule, append_unknown)
    return _builders[key]


Rule._compile_builder = _shared_builder


_make_engine = SQLAlchemy._make_engine
_engines: dict = {}


def _shared_engine(self, bind_key, options: dict, app: Flask):
    """One engine per database and options for the test session: SQLAlchemy keeps its
    compiled statements on the engine, and a new one per test compiled every query again.
    Tests still dispose of it (its connections) when they end."""
    key = (bind_key, repr(sorted(options.items(), key=lambda item: item[0])))
    if key not in _engines:
        _engines[key] = _make_engine(self, bind_key, options, app)
    return _engines[key]


SQLAlchemy._make_engine = _shared_engine


def new_app(config: dict) -> Flask:
    """``create_app`` with the test session's shared template bytecode."""
    app = create_app(config)
    app.jinja_env.bytecode_cache = TEMPLATE_BYTECODE
    return app


@pytest.fixture
def app(database_url, tmp_path):
    app = new_app(base_config(tmp_path / "instance", database_url))
    app.test_client_class = FreshRequestClient
    with app.app_context():
        yield app
        db.session.remove()
        clean_tables()
        db.engine.dispose()


def clean_tables() -> None:
    """Empty every table and start ids from 1 again. DELETE, children first: a test leaves
    a few rows, and PostgreSQL's TRUNCATE of 31 tables (new files for each table and index)
    took 110 ms a test where DELETE takes 10."""
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        for table in tables:
            conn.execute(text(f"DELETE FROM {table}"))
        if conn.dialect.name == "postgresql":
            conn.execute(text(
                "SELECT setval(c.oid, 1, false) FROM pg_class c JOIN pg_namespace n "
                "ON n.oid = c.relnamespace WHERE c.relkind = 'S' AND n.nspname = 'public'"))


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
