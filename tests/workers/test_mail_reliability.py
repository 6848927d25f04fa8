"""Invitation batches that are never lost and never doubled, with real parts that fail: a
Redis broker that is down, tasks delivered twice, a worker killed mid-batch, an SMTP server
that is busy or refuses an address, and a rate limit shared by two worker processes
(``celery -A workers worker`` processes on Redis, PostgreSQL, aiosmtpd: conftest.py)."""

from __future__ import annotations

import csv
import io
import time
from collections import Counter
from datetime import date, timedelta
from itertools import pairwise

import pytest
from sqlalchemy import func, select

from eventsys.extensions import db
from eventsys.models import Event, Job, OutboxMessage
from eventsys.services import accounts, events, invitations, jobs
from eventsys.services.events import EventData, HostData, VenueData
from tests.conftest import PASSWORD
from tests.workers.conftest import DEFAULT_WORKERS, wait_for

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
DEAD_BROKER = "redis://127.0.0.1:1/0"


def _event(slug: str = "forum") -> Event:
    start = date.today() + timedelta(days=30)
    return events.create_event(EventData(
        slug=slug, kind="forum", title="Science Park Forum", start_date=start,
        end_date=start + timedelta(days=1), timezone="Asia/Shanghai", mode="in_person",
        status="published", venues=[VenueData("Hall 1", "Nanning", "CN")],
        hosts=[HostData("Great Wall Enterprise Institute", "CN")]), creator=None)


def _invite(event, n: int, prefix: str = "p", extra: tuple[str, ...] = ()) -> int:
    """Check and confirm a list of ``n`` invitees (plus ``extra`` addresses): the job's id."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["name", "email"])
    for i in range(n):
        writer.writerow([f"Invitee {i}", f"{prefix}{i}@example.org"])
    for email in extra:
        writer.writerow(["Extra", email])
    job = invitations.start_import(event, "list.csv", out.getvalue().encode(), actor=None)
    assert job.total == n + len(extra)
    job_id = job.id
    invitations.confirm_import(event, job_id, actor=None)
    return job_id


def _statuses(job_id: int | None = None) -> dict[str, int]:
    db.session.rollback()
    query = select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    if job_id is not None:
        query = query.where(OutboxMessage.job_id == job_id)
    return dict(db.session.execute(query).all())


def _stored_ids(job_id: int | None = None) -> set[str]:
    db.session.rollback()
    query = select(OutboxMessage.message_id)
    if job_id is not None:
        query = query.where(OutboxMessage.job_id == job_id)
    return set(db.session.scalars(query))


def _copies(received: list[str]) -> int:
    """Messages that arrived more than once (same Message-ID), counting each extra copy."""
    return sum(n - 1 for n in Counter(received).values())


def test_batch_created_while_the_broker_is_down_goes_out_once_it_is_back(stack):
    """The web app cannot reach Redis when the organiser confirms a list (nor when a reset
    mail is queued): everything is stored, and beat's sweep, on a worker that reaches
    Redis, runs the job and sends its mail. Nothing lost, nothing twice."""
    smtp = stack.smtp
    with stack.make_app(broker=DEAD_BROKER).app_context():
        accounts.create_user("nino@example.org", "Nino", PASSWORD)
        db.session.commit()
        event = _event()
        started = time.monotonic()
        job_id = _invite(event, 150)
        accounts.request_password_reset("nino@example.org")
        assert time.monotonic() - started < 10  # nobody waits on the broker
        event_id = event.id
        db.session.remove()
    assert wait_for(lambda: _statuses() == {"sent": 151}, seconds=60), _statuses()
    time.sleep(1)  # give a copy every chance to show up
    received = smtp.handler.message_ids()
    assert len(received) == 151 and set(received) == _stored_ids()
    assert db.session.get(Job, job_id).status == "done"
    counts = invitations.counts(db.session.get(Event, event_id))
    assert counts["no_answer"] == counts["total"] == 150


def test_tasks_delivered_twice_send_each_invitation_once(stack):
    """The same delivery task twice, the same import job twice, and beat's sweep beside
    them: each invitation is sent once."""
    smtp = stack.smtp
    with stack.make_app(broker="memory://").app_context():  # queued, announced to nobody
        event = _event()
        delivered_job = _invite(event, 100, prefix="a")
        jobs.run(delivered_job)  # its 100 messages wait in the outbox
        imported_job = _invite(event, 100, prefix="b")
        ids = sorted(db.session.scalars(select(OutboxMessage.id)))
        db.session.remove()
    celery_app = stack.app.extensions["celery"]
    for _ in range(2):
        celery_app.send_task("eventsys.deliver_outbox", args=[ids])
        celery_app.send_task("eventsys.run_job", args=[[imported_job]])
    assert wait_for(lambda: _statuses() == {"sent": 200}, seconds=60), _statuses()
    time.sleep(1.5)
    received = smtp.handler.message_ids()
    assert len(received) == 200 and set(received) == _stored_ids()
    # Once more, long after: nothing is left to send.
    celery_app.send_task("eventsys.deliver_outbox", args=[ids])
    celery_app.send_task("eventsys.run_job", args=[[delivered_job, imported_job]])
    time.sleep(1.5)
    assert len(smtp.handler.message_ids()) == 200


def test_busy_server_delays_the_batch_and_a_refused_address_is_failed_with_reason(stack):
    """421 for a while: the batch waits (backoff) and arrives later, each message once. A 550
    for one invitee: that one is failed, with the server's words, and the rest go."""
    smtp = stack.smtp
    smtp.handler.busy_replies = 3
    smtp.handler.reject["gone@example.org"] = "550 5.1.1 No such user here"
    event = _event()
    job_id = _invite(event, 40, extra=("gone@example.org",))
    assert wait_for(lambda: _statuses(job_id) == {"sent": 40, "failed": 1},
                    seconds=60), _statuses(job_id)
    time.sleep(1)
    received = smtp.handler.message_ids()
    assert len(received) == 40 == len(set(received))
    assert smtp.handler.busy_replies == 0  # the server did turn them away first
    retried = db.session.scalar(select(func.count()).where(OutboxMessage.attempts > 1))
    assert retried >= 1
    [failed] = invitations.listing(event, state="failed")
    assert failed.email == "gone@example.org" and "550 5.1.1 No such user here" in failed.error
    assert invitations.counts(event)["no_answer"] == 40


def test_worker_killed_mid_batch_every_invitation_arrives_at_most_one_twice(stack):
    """SIGKILL to a worker while it sends: once its lease runs out the sweep sends what it
    held, and a new worker joins. All 1,000 Message-IDs arrive; the only copy there can be
    is the message the killed worker had handed to the server and not yet recorded (one
    connection per worker, an outcome committed per message: at most one per killed
    worker), and a copy carries the same Message-ID."""
    smtp = stack.smtp
    smtp.handler.delay = 0.015  # a slow server: each batch of 100 takes a while
    event = _event()
    job_id = _invite(event, 1000)

    def sending_well_under_way() -> bool:
        db.session.rollback()
        return (db.session.get(Job, job_id).status == "done"
                and len(smtp.handler.messages) >= 250)

    assert wait_for(sending_well_under_way, seconds=60), _statuses(job_id)
    stack.kill("w1")
    assert len(smtp.handler.messages) < 1000, "the kill came too late to land mid-batch"
    stack.start("w1b")
    assert wait_for(lambda: _statuses(job_id) == {"sent": 1000}, seconds=120), \
        _statuses(job_id)
    time.sleep(1)
    received = smtp.handler.message_ids()
    assert set(received) == _stored_ids(job_id) and len(set(received)) == 1000
    assert _copies(received) <= 1
    # The kill landed mid-batch: messages the dead worker had claimed were claimed again.
    reclaimed = db.session.scalar(select(func.count()).where(
        OutboxMessage.job_id == job_id, OutboxMessage.attempts > 1))
    assert reclaimed >= 1


def test_rate_limit_holds_across_two_workers(stack):
    """SMTP_MAX_PER_SECOND=20 with two workers sending at once (batches of 10): 100
    messages take at least 99/20 s, and no second of the server's clock sees more than 20."""
    smtp = stack.smtp
    stack.replace_all({name: {} for name in DEFAULT_WORKERS},
                      SMTP_MAX_PER_SECOND="20", OUTBOX_BATCH_SIZE="10")
    event = _event()
    job_id = _invite(event, 100)
    assert wait_for(lambda: _statuses(job_id) == {"sent": 100}, seconds=60), \
        _statuses(job_id)
    times = sorted(at for at, _peer in smtp.handler.received)
    assert len(times) == 100
    assert times[-1] - times[0] >= 4.5
    assert max(Counter(int(at) for at in times).values()) <= 21
    # Both workers were sending at the same time: their connections overlap.
    spans: dict = {}
    for at, peer in smtp.handler.received:
        first, last = spans.get(peer, (at, at))
        spans[peer] = (min(first, at), max(last, at))
    ordered = sorted(spans.values())
    assert any(later[0] < earlier[1] for earlier, later in pairwise(ordered))
