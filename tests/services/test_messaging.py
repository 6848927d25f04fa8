import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from eventsys.extensions import db
from eventsys.models import OutboxMessage, utcnow
from eventsys.services import messaging
from tests.smtp import SMTPServer


def _queue(key="k1", to="ana@example.org", name="Ana", commit=True):
    new_id = messaging.queue_mail(
        kind="password_reset", dedupe_key=key, to_email=to, to_name=name,
        template="password_reset",
        context={"user_name": name, "reset_url": "http://x/reset/abc", "hours": 2},
    )
    if commit:
        db.session.commit()
    return new_id


def deliver(ids):
    """As a worker calls it: with no transaction of the caller open (on SQLite an open one
    holds the write lock that delivery, on its own connection, needs)."""
    db.session.commit()
    return messaging.deliver(ids)


def sweep():
    db.session.commit()
    return messaging.sweep()


def _count(**where) -> int:
    query = select(func.count()).select_from(OutboxMessage)
    for key, value in where.items():
        query = query.where(getattr(OutboxMessage, key) == value)
    return db.session.scalar(query)


@pytest.fixture
def smtp(app):
    with SMTPServer() as server:
        app.config["SMTP_URL"] = server.url
        yield server


@pytest.fixture
def no_autodeliver(app):
    """Queue without the after-commit announcement, to drive delivery by hand."""
    app.extensions["celery"].conf.task_always_eager = False
    app.extensions["celery"].conf.broker_url = "memory://"
    yield
    app.extensions["celery"].conf.task_always_eager = True


def test_mail_is_delivered_after_commit_to_files_by_default(app):
    _queue()
    message = db.session.scalar(select(OutboxMessage))
    db.session.refresh(message)
    assert message.status == "sent" and message.attempts == 1
    raw = (Path(app.config["MAIL_DIR"]) / messaging.mail_file_name(message)).read_bytes()
    assert message.message_id.encode() in raw and b"Subject: Choose a new password" in raw


def test_rolled_back_transaction_mails_nobody(app):
    _queue(commit=False)
    db.session.rollback()
    assert _count() == 0
    db.session.commit()  # a later, unrelated commit does not announce the dead message
    assert _count() == 0


def test_queueing_is_idempotent_by_dedupe_key(app, no_autodeliver):
    first = _queue("same")
    second = _queue("same")
    assert first is not None and second is None
    assert _count() == 1


def test_smtp_delivery_over_one_connection_and_never_twice(app, smtp, no_autodeliver):
    ids = [_queue(f"k{n}", to=f"p{n}@example.org") for n in range(5)]
    report = deliver(ids)
    assert report.sent == 5
    assert smtp.handler.connections == 1  # one SMTP session for the whole batch
    again = deliver(ids)  # a task delivered twice
    assert again.claimed == 0
    assert sweep().claimed == 0  # and the sweep finds nothing left
    received = smtp.handler.message_ids()
    assert len(received) == 5 == len(set(received))
    stored = set(db.session.scalars(select(OutboxMessage.message_id)))
    assert set(received) == stored


def test_concurrent_deliveries_claim_each_message_once(app, smtp, no_autodeliver):
    ids = [_queue(f"c{n}", to=f"c{n}@example.org") for n in range(30)]
    db.session.remove()
    barrier = threading.Barrier(3)
    flask_app = app._get_current_object() if hasattr(app, "_get_current_object") else app

    def run():
        with flask_app.app_context():
            barrier.wait()
            deliver(ids)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    received = smtp.handler.message_ids()
    assert len(received) == 30 == len(set(received))
    assert _count(status="sent") == 30


def test_temporary_failure_retries_later_then_sends_once(app, smtp, no_autodeliver):
    smtp.handler.busy_replies = 1
    new_id = _queue()
    report = deliver([new_id])
    assert report.retrying == 1 and smtp.handler.message_ids() == []
    message = db.session.get(OutboxMessage, new_id)
    assert message.status == "pending" and "421" in message.last_error
    assert message.next_attempt_at > utcnow() + timedelta(seconds=20)
    assert sweep().claimed == 0  # not due yet
    db.session.execute(OutboxMessage.__table__.update().values(next_attempt_at=utcnow()))
    db.session.commit()
    assert sweep().sent == 1
    assert len(smtp.handler.message_ids()) == 1


def test_permanent_failure_is_recorded_and_the_rest_go(app, smtp, no_autodeliver):
    smtp.handler.reject["bad@example.org"] = "550 5.1.1 No such user"
    ids = [_queue("a", to="good1@example.org"), _queue("b", to="bad@example.org"),
           _queue("c", to="good2@example.org")]
    report = deliver(ids)
    assert (report.sent, report.failed) == (2, 1)
    failed = db.session.get(OutboxMessage, ids[1])
    assert failed.status == "failed" and "550" in failed.last_error
    messaging.retry_now(failed.id)
    assert db.session.get(OutboxMessage, ids[1]).status == "pending"


def test_unreachable_server_keeps_messages_for_later(app, no_autodeliver):
    app.config["SMTP_URL"] = "smtp://127.0.0.1:1"
    new_id = _queue()
    assert deliver([new_id]).retrying == 1
    assert db.session.get(OutboxMessage, new_id).status == "pending"


def test_gives_up_after_max_attempts(app, no_autodeliver):
    app.config["SMTP_URL"] = "smtp://127.0.0.1:1"
    app.config["OUTBOX_MAX_ATTEMPTS"] = 2
    new_id = _queue()
    deliver([new_id])
    db.session.execute(OutboxMessage.__table__.update().values(next_attempt_at=utcnow()))
    db.session.commit()
    assert deliver([new_id]).failed == 1
    assert "gave up" in db.session.get(OutboxMessage, new_id).last_error


def test_worker_that_died_holding_a_message_is_covered_by_the_lease(app, smtp, no_autodeliver):
    _queue()
    db.session.execute(OutboxMessage.__table__.update().values(
        status="sending", lease_until=utcnow() - timedelta(seconds=1), attempts=1))
    db.session.commit()
    assert sweep().sent == 1
    assert len(smtp.handler.message_ids()) == 1


def test_header_injection_in_name_and_subject_is_neutralised(app, smtp, no_autodeliver):
    new_id = _queue(name="Eve\r\nBcc: victim@example.org\nX-Evil: 1")
    deliver([new_id])
    [received] = smtp.handler.messages
    assert received["Bcc"] is None and received["X-Evil"] is None
    assert "Eve" in received["To"]
