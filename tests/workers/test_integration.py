"""The production shape: PostgreSQL, a Redis broker, separate ``celery -A workers worker``
processes (with beat), and a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis as redis_lib
from sqlalchemy import func, select

from eventsys import create_app
from eventsys.extensions import db
from eventsys.models import OutboxMessage
from eventsys.services import accounts
from tests.conftest import (
    PASSWORD,
    base_config,
    clean_tables,
    require_postgres,
    require_redis,
    submit,
)
from tests.smtp import SMTPServer

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def _wait_for(predicate, seconds=30.0, every=0.1):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False


@pytest.fixture(scope="module")
def running_stack(database_url, tmp_path_factory):
    """The app in this process plus two worker processes (one running beat), all on Redis."""
    tmp_path = tmp_path_factory.mktemp("stack")
    require_postgres()
    redis_url = require_redis()
    redis_lib.Redis.from_url(redis_url).flushdb()
    with SMTPServer() as smtp:
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "SMTP_URL": smtp.url,
            "EVENTSYS_INSTANCE": str(tmp_path / "worker-instance"),
            "SECRET_KEY": "worker-secret-key-that-is-long-enough-0123",
            "BASE_URL": "http://eventsys.test",
            "OUTBOX_RETRY_BASE_SECONDS": "0.5",
            "OUTBOX_SWEEP_SECONDS": "1",
        }
        celery = str(Path(sys.executable).with_name("celery"))
        log = (tmp_path / "worker.log").open("wb")
        workers = [
            subprocess.Popen([celery, "-A", "workers", "worker", "--pool", "solo",
                              "--loglevel", "INFO", "-n", f"w{n}@%h", *extra],
                             cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            for n, extra in enumerate((["--beat", "-s", str(tmp_path / "beat")], []))
        ]
        def make_app(broker: str = redis_url):
            return create_app(base_config(tmp_path / "instance", database_url, REDIS_URL=broker,
                                          SMTP_URL=smtp.url, CELERY={"task_always_eager": False},
                                          # as in production: coalesced, from a thread
                                          ANNOUNCE_DELAY_SECONDS=0.05))

        app = make_app()
        app.make_app = make_app
        celery_app = app.extensions["celery"]
        try:
            assert _wait_for(lambda: len(celery_app.control.ping(timeout=0.5) or []) == 2,
                             seconds=40), (tmp_path / "worker.log").read_text()
            yield app, smtp
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                try:
                    worker.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    worker.kill()
            log.close()
            with app.app_context():
                db.engine.dispose()


@pytest.fixture
def stack(running_stack):
    app, smtp = running_stack
    with app.app_context():
        yield app, smtp
        db.session.remove()
        clean_tables()
    smtp.handler.messages.clear()
    smtp.handler.reject.clear()
    smtp.handler.busy_replies = 0


def _statuses() -> dict[str, int]:
    db.session.expire_all()
    return dict(db.session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())


def test_reset_mail_goes_through_redis_worker_and_smtp(stack):
    app, smtp = stack
    accounts.create_user("nino@example.org", "Nino", PASSWORD)
    db.session.commit()
    client = app.test_client()
    response = submit(client, "/password/forgot", {"email": "nino@example.org"})
    assert response.status_code == 200
    assert _wait_for(lambda: len(smtp.handler.messages) == 1)
    [received] = smtp.handler.messages
    assert received["To"] == "Nino <nino@example.org>"
    link = re.search(r"http://eventsys\.test/password/reset/\S+", received.get_body(
        ("plain",)).get_content())
    assert link is not None
    assert _wait_for(lambda: _statuses() == {"sent": 1})
    stored = db.session.scalar(select(OutboxMessage.message_id))
    assert received["Message-ID"] == stored


def test_task_delivered_twice_sends_once(stack):
    """Two announcements of the same batch plus beat's sweep: three deliverers, one send."""
    app, smtp = stack
    # Queue through an app whose announcements go nowhere, then announce by hand, twice.
    with app.make_app(broker="memory://").app_context():
        for n in range(20):
            accounts.create_user(f"p{n}@example.org", f"P {n}", PASSWORD)
            db.session.commit()
            accounts.request_password_reset(f"p{n}@example.org")
        ids = list(db.session.scalars(select(OutboxMessage.id)))
        db.session.remove()
    task = app.extensions["celery"].tasks["eventsys.deliver_outbox"]
    for _ in range(2):
        task.apply_async(args=[ids])
    assert _wait_for(lambda: _statuses() == {"sent": 20})
    time.sleep(2)  # give a duplicate every chance to show up
    received = smtp.handler.message_ids()
    assert len(received) == 20 == len(set(received))


def test_broker_down_at_queue_time_loses_nothing(stack):
    """The announcement fails (no broker); the row is committed, and beat's sweep sends it."""
    app, smtp = stack
    with app.make_app(broker="redis://127.0.0.1:1/0").app_context():
        accounts.create_user("nino@example.org", "Nino", PASSWORD)
        db.session.commit()
        started = time.monotonic()
        accounts.request_password_reset("nino@example.org")
        # The request is not held hostage by the broker.
        assert time.monotonic() - started < 10
        db.session.remove()
    assert _wait_for(lambda: len(smtp.handler.messages) == 1)
    assert _wait_for(lambda: _statuses() == {"sent": 1})


def test_smtp_busy_then_back_each_message_once_and_550_recorded(stack):
    _app, smtp = stack
    smtp.handler.busy_replies = 3
    smtp.handler.reject["gone@example.org"] = "550 5.1.1 No such user here"
    for email in ("a@example.org", "b@example.org", "gone@example.org", "c@example.org"):
        accounts.create_user(email, email.split("@")[0], PASSWORD)
        db.session.commit()
        accounts.request_password_reset(email)
    assert _wait_for(lambda: _statuses() == {"sent": 3, "failed": 1}, seconds=45)
    received = smtp.handler.message_ids()
    assert len(received) == 3 == len(set(received))
    failed = db.session.scalar(select(OutboxMessage).where(OutboxMessage.status == "failed"))
    assert failed.to_email == "gone@example.org" and "550" in failed.last_error
