"""Bulk work (eventsys/services/jobs.py): chunks, resuming after a crash, the sweep,
cancelling, and progress read from the outbox. Driven here through invitation lists, the
simplest kind of job."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from eventsys.extensions import db
from eventsys.models import Invitation, Job, OutboxMessage, utcnow
from eventsys.services import invitations, jobs, messaging
from eventsys.services.errors import Conflict, NotFound
from tests.conftest import delivered


def count(model, **where) -> int:
    query = select(func.count()).select_from(model)
    for key, value in where.items():
        query = query.where(getattr(model, key) == value)
    return db.session.scalar(query)


def outbox(job: Job) -> dict[str, int]:
    return dict(db.session.execute(
        select(OutboxMessage.status, func.count()).where(OutboxMessage.job_id == job.id)
        .group_by(OutboxMessage.status)).all())


def reload(job: Job) -> Job:
    return db.session.scalars(select(Job).where(Job.id == job.id)
                              .execution_options(populate_existing=True)).one()


def csv_list(numbers) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["Name", "Email"])
    writer.writerows((f"Person {n}", f"p{n}@example.org") for n in numbers)
    return out.getvalue().encode()


def confirmed_list(event, numbers) -> Job:
    job = invitations.start_import(event, "list.csv", csv_list(numbers), actor=None)
    return invitations.confirm_import(event, job.id, actor=None)


def expire_lease(job: Job, **values) -> None:
    db.session.execute(update(Job).where(Job.id == job.id).values(
        lease_until=utcnow() - timedelta(seconds=1), **values))
    db.session.commit()


@pytest.fixture
def forum(make_event):
    return make_event("forum")


@pytest.fixture
def workers_down(app):
    """Announcements go nowhere (a broker nobody reads): jobs and mail wait for a sweep or
    for the test to run them. ``workers_down.up()`` brings in-process workers back."""
    celery = app.extensions["celery"]

    class Switch:
        @staticmethod
        def up():
            celery.conf.task_always_eager = True

    celery.conf.task_always_eager, celery.conf.broker_url = False, "memory://"
    yield Switch
    celery.conf.task_always_eager = True


def test_sweep_runs_a_job_whose_announcement_was_lost(app, forum):
    celery = app.extensions["celery"]
    celery.conf.task_always_eager = False
    celery.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens there
    try:
        job = confirmed_list(forum, range(3))
    finally:
        celery.conf.task_always_eager = True
    assert (job.status, count(Invitation)) == ("queued", 0)  # stored, not lost

    assert jobs.sweep() == 1
    job = reload(job)
    assert (job.status, job.done, job.queued, job.lease_until) == ("done", 3, 3, None)
    assert len(delivered()) == 3
    assert jobs.progress(job).finished
    assert jobs.sweep() == 0


def test_a_list_larger_than_a_chunk_goes_in_chunks_to_the_end(forum, monkeypatch):
    monkeypatch.setattr(jobs, "CHUNK", 4)
    chunks, work = [], jobs._HANDLERS["invitations"]

    def watched(job, start, stop):
        chunks.append((start, stop, job.done))
        return work(job, start, stop)

    monkeypatch.setitem(jobs._HANDLERS, "invitations", watched)
    job = confirmed_list(forum, range(10))
    assert chunks == [(0, 4, 0), (4, 8, 4), (8, 10, 8)]
    progress = jobs.progress(job)
    assert (progress.status, progress.total, progress.done, progress.queued, progress.sent,
            progress.waiting, progress.percent, progress.finished) == (
        "done", 10, 10, 10, 10, 0, 100, True)
    assert progress.as_dict()["left"] == 0
    assert count(Invitation) == 10 and len(delivered()) == 10


def test_a_worker_that_dies_mid_job_is_followed_by_one_that_resumes(forum, workers_down,
                                                                     monkeypatch):
    assert jobs.CHUNK < 1200
    work, crashes = jobs._HANDLERS["invitations"], []

    def dies_once_in_the_second_chunk(job, start, stop):
        ids = work(job, start, stop)  # its rows are written, then the worker dies
        if start == jobs.CHUNK and not crashes:
            crashes.append(start)
            raise RuntimeError("worker lost")
        return ids

    monkeypatch.setitem(jobs._HANDLERS, "invitations", dies_once_in_the_second_chunk)
    job = confirmed_list(forum, range(1200))
    assert job.status == "queued"
    with pytest.raises(RuntimeError):
        jobs.run(job.id)
    job = reload(job)
    assert (job.status, job.done, count(Invitation)) == ("running", jobs.CHUNK, jobs.CHUNK)
    assert "worker lost" in job.error
    assert outbox(job) == {"pending": jobs.CHUNK}  # the dead chunk's mail went with it

    assert jobs.run(job.id) == {"skipped": True}  # its lease still holds
    assert jobs.sweep() == 0
    expire_lease(job)
    assert jobs.sweep() == 1
    job = reload(job)
    assert (job.status, job.done, job.queued, job.skipped, job.error) == (
        "done", 1200, 1200, 0, None)
    assert count(Invitation) == 1200 and outbox(job) == {"pending": 1200}

    # A chunk done twice (its commit seen late, a lease run out): nothing twice.
    expire_lease(job, status="running", done=jobs.CHUNK)
    assert jobs.sweep() == 1
    assert jobs.run(job.id) == {"skipped": True}
    assert count(Invitation) == 1200 and outbox(job) == {"pending": 1200}
    assert db.session.scalar(select(func.count(func.distinct(OutboxMessage.to_email)))) == 1200
    assert reload(job).status == "done"


def test_a_failing_job_does_not_hold_up_the_others(forum, workers_down, monkeypatch):
    broken = confirmed_list(forum, [1])
    fine = confirmed_list(forum, [2])

    def fails(job, start, stop):
        raise ValueError("bad row")

    handler = jobs._HANDLERS["invitations"]
    monkeypatch.setitem(jobs._HANDLERS, "invitations",
                        lambda job, start, stop: (fails if job.id == broken.id else handler)(
                            job, start, stop))
    assert jobs.sweep() == 2
    assert (reload(broken).status, reload(fine).status) == ("running", "done")
    assert "bad row" in reload(broken).error
    assert count(Invitation) == 1


def test_cancel_withdraws_what_waits_and_nothing_is_sent_after(forum, workers_down):
    job = confirmed_list(forum, range(3))
    jobs.run(job.id)
    job = reload(job)
    assert job.status == "done" and outbox(job) == {"pending": 3}
    assert not jobs.progress(job).finished and jobs.progress(job).cancellable

    assert jobs.cancel(job, actor=None) == 3
    assert job.status == "cancelled"
    assert outbox(job) == {"cancelled": 3}
    assert [m.context for m in db.session.scalars(select(OutboxMessage))] == [None] * 3
    workers_down.up()
    db.session.commit()  # as a worker runs: no transaction of ours open
    assert messaging.sweep().claimed == 0
    assert delivered() == []
    progress = jobs.progress(job)
    assert (progress.cancelled, progress.waiting, progress.finished, progress.percent,
            progress.cancellable) == (3, 0, True, 100, False)
    with pytest.raises(Conflict):
        jobs.cancel(job, actor=None)


def test_cancel_before_the_worker_starts_queues_nothing(forum, workers_down):
    job = confirmed_list(forum, range(3))
    assert jobs.cancel(job, actor=None) == 0
    assert jobs.run(job.id) == {"skipped": True}
    assert jobs.sweep() == 0
    assert (count(Invitation), count(OutboxMessage)) == (0, 0)


def test_cancel_of_a_finished_job_is_refused(forum, app):
    job = confirmed_list(forum, range(2))
    assert jobs.progress(job).finished and not jobs.progress(job).as_dict()["cancellable"]
    with pytest.raises(Conflict, match="finished already"):
        jobs.cancel(job, actor=None)
    preview = invitations.start_import(forum, "list.csv", csv_list([5]), actor=None)
    with pytest.raises(Conflict):
        jobs.cancel(preview, actor=None)
    assert reload(job).status == "done"


def test_progress_counts_what_the_outbox_did(app, forum, workers_down):
    job = confirmed_list(forum, range(4))
    jobs.run(job.id)
    ids = sorted(db.session.scalars(select(OutboxMessage.id)))
    progress = jobs.progress(job)
    assert (progress.queued, progress.waiting, progress.sent, progress.percent) == (
        4, 4, 0, 0)

    db.session.commit()
    assert messaging.deliver(ids[:2]).sent == 2
    app.config.update(SMTP_URL="smtp://127.0.0.1:1", OUTBOX_MAX_ATTEMPTS=1)
    db.session.commit()
    assert messaging.deliver(ids[2:3]).failed == 1
    progress = jobs.progress(job)
    assert outbox(job) == {"sent": 2, "failed": 1, "pending": 1}
    assert (progress.sent, progress.failed, progress.waiting, progress.finished,
            progress.percent, progress.as_dict()["left"]) == (2, 1, 1, False, 75, 1)
    assert [r.state for r in reversed(invitations.listing(forum))] == [
        "no_answer", "no_answer", "failed", "queued"]

    app.config["SMTP_URL"] = None
    db.session.commit()
    messaging.deliver(ids[3:])
    progress = jobs.progress(job)
    assert (progress.sent, progress.failed, progress.finished, progress.percent) == (
        3, 1, True, 100)


def test_jobs_belong_to_their_event(forum, make_event):
    other = make_event("other")
    job = confirmed_list(forum, [1])
    assert jobs.job_of(forum, job.id).id == job.id
    with pytest.raises(NotFound):
        jobs.job_of(other, job.id)
    with pytest.raises(NotFound):
        jobs.job_of(forum, 10_000)
    assert [j.id for j in jobs.jobs_of(forum)] == [job.id]
    assert jobs.jobs_of(other) == [] and jobs.jobs_of(forum, "mailing") == []
