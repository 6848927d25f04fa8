"""Bulk work with progress: an organiser's request stores a job and returns; a worker turns
it into outbox messages in chunks; the organiser's page reads the progress.

Why this shape:
- The browser never waits on thousands of rows: the request writes one row.
- A broker that is down when the job is stored delays it, never loses it: the periodic
  sweep runs every job that is queued, or running with an expired lease.
- Each chunk is one transaction that also moves ``done`` forward, so a worker that dies
  is followed by one that resumes where the last commit left off; the outbox's dedupe
  keys make a chunk that is done twice queue nothing twice.
- Progress of the sending is counted from the outbox rows that carry the job's id, so it
  cannot drift from what really happened; so is a certificates job's, from the
  certificates that carry its id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import and_, func, or_, select, update

from eventsys.extensions import db
from eventsys.models import Certificate, Event, Job, OutboxMessage, User, utcnow
from eventsys.services import audit
from eventsys.services.errors import Conflict, NotFound
from eventsys.tasks import announce

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
CHUNK = 500

# kind -> handler(job, start, stop): go through items [start, stop) of the job, queueing
# mail in the current transaction; returns (outbox ids queued, items skipped).
Handler = Callable[[Job, int, int], tuple[list[int], int]]
_HANDLERS: dict[str, Handler] = {}
# kind -> the items one transaction takes, where CHUNK would hold it too long.
_CHUNKS: dict[str, Callable[[Job], int]] = {}


def handler(kind: str, *, chunk: Callable[[Job], int] | None = None
            ) -> Callable[[Handler], Handler]:
    """Register how a kind of job does a chunk of its work (invitations, mailings).
    ``chunk`` says how many items a transaction takes, when CHUNK is too many: 500
    messages queue in a second, 500 certificates take the best part of a minute to render,
    and on SQLite a transaction that has written holds every other writer off."""

    def register(function: Handler) -> Handler:
        _HANDLERS[kind] = function
        if chunk is not None:
            _CHUNKS[kind] = chunk
        return function

    return register


def create(event: Event, kind: str, *, payload: dict, total: int, actor: User | None,
           status: str = "queued") -> Job:
    """A new job in the current transaction; queued ones are announced to the workers
    after commit (see ``start``)."""
    job = Job(event_id=event.id, kind=kind, status=status, payload=payload, total=total,
              created_by_id=actor.id if actor else None)
    db.session.add(job)
    db.session.flush()
    return job


def start(job: Job) -> None:
    """Commit and ask a worker to run the job. If the broker is down, the sweep will."""
    job_id = job.id  # read before the commit expires it: a read after would begin a
    db.session.commit()  # transaction that an in-process worker (SQLite) would wait on
    announce("eventsys.run_job", [job_id])


def job_of(event: Event, job_id: int) -> Job:
    job = db.session.get(Job, job_id)
    if job is None or job.event_id != event.id:
        raise NotFound(_("There is no such job."))
    return job


def _claim(job_id: int) -> bool:
    now = utcnow()
    claimed = db.session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status.in_(("queued", "running")),
               or_(Job.lease_until.is_(None), Job.lease_until < now))
        .values(status="running", lease_until=now + LEASE,
                started_at=func.coalesce(Job.started_at, now))
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return bool(claimed)


def run(job_id: int) -> dict:
    """Do the job's remaining chunks; idempotent (a second delivery of the task, or a
    sweep beside it, finds the job leased or done and returns)."""
    if not _claim(job_id):
        return {"skipped": True}
    job = db.session.get(Job, job_id)
    work = _HANDLERS[job.kind]
    chunk = _CHUNKS.get(job.kind, lambda _job: CHUNK)
    queued = 0
    try:
        while True:
            db.session.refresh(job, with_for_update=True)  # see a cancel; one runner at a time
            if job.status != "running" or job.done >= job.total:
                break
            stop = min(job.done + max(1, chunk(job)), job.total)
            ids, skipped = work(job, job.done, stop)  # its mail is announced after the commit
            job.done, job.queued = stop, job.queued + len(ids)
            job.skipped = job.skipped + skipped
            job.lease_until = utcnow() + LEASE
            db.session.commit()
            queued += len(ids)
    except Exception as exc:
        # The chunk is rolled back whole and the lease left to run out, so the sweep tries
        # again from the last commit; the error says why on the organiser's page meanwhile.
        db.session.rollback()
        db.session.execute(update(Job).where(Job.id == job_id)
                           .values(error=f"{type(exc).__name__}: {exc}"[:2000])
                           .execution_options(synchronize_session=False))
        db.session.commit()
        raise
    if job.status == "running":
        job.status, job.finished_at, job.lease_until = "done", utcnow(), None
        job.error = None
    db.session.commit()
    return {"job": job_id, "queued": queued, "status": job.status}


def sweep() -> int:
    """Run every job a lost announcement or a dead worker left behind. A job that fails
    is logged and left for the next sweep: it must not hold up the others (nor the mail
    sweep that follows in the same task)."""
    now = utcnow()
    ids = db.session.scalars(select(Job.id).where(
        Job.status.in_(("queued", "running")),
        or_(Job.lease_until.is_(None), Job.lease_until < now)).order_by(Job.id)).all()
    db.session.commit()
    for job_id in ids:
        try:
            run(job_id)
        except Exception:
            db.session.rollback()
            log.exception("job %s failed; the sweep will try it again", job_id)
    return len(ids)


def cancel(job: Job, *, actor: User | None) -> int:
    """Stop a job: nothing more is queued, and its messages not yet sent are withdrawn
    (a message a worker is sending at this moment still goes). A job that has queued all
    its messages can be stopped as long as some still wait: for a mailing that is most of
    the time it takes. The number withdrawn.

    A certificates job is different: stopping it makes no more certificates, but those made
    are valid and their holders get their mail (withdrawn, it could never be queued again:
    its dedupe key is taken). So it is stopped only while certificates are being made, and
    nothing is withdrawn."""
    waiting = select(OutboxMessage.id).where(OutboxMessage.job_id == job.id,
                                             OutboxMessage.status == "pending")
    mail_too = job.kind != "certificates"
    stoppable = Job.status.in_(("queued", "running"))
    if mail_too:
        stoppable = or_(stoppable, and_(Job.status == "done", waiting.exists()))
    stopped = db.session.execute(
        update(Job).where(Job.id == job.id, stoppable)
        .values(status="cancelled", finished_at=utcnow(), lease_until=None)
        .execution_options(synchronize_session=False)).rowcount
    if not stopped:
        db.session.rollback()
        raise Conflict(_("This is finished already."))
    withdrawn = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.job_id == job.id, OutboxMessage.status == "pending")
        .values(status="cancelled", context=None)
        .execution_options(synchronize_session=False)).rowcount if mail_too else 0
    audit.record("job.cancelled", actor=actor, event_id=job.event_id, target=job,
                 withdrawn=withdrawn)
    db.session.commit()
    db.session.refresh(job)
    return withdrawn


@dataclass(frozen=True)
class Progress:
    """What the organiser's progress bar shows."""

    job_id: int
    kind: str
    status: str
    total: int  # items to go through (invitees, recipients)
    done: int  # items gone through
    skipped: int
    queued: int  # messages made
    sent: int
    failed: int
    waiting: int  # queued or being sent
    cancelled: int
    finished: bool
    made: int = 0  # certificates made (a certificates job: what its items turn into)

    @property
    def certificates(self) -> bool:
        return self.kind == "certificates"

    @property
    def cancellable(self) -> bool:
        """Whether ``cancel`` can still stop something: work to do, or messages waiting."""
        return self.status in ("queued", "running") or (
            self.status == "done" and self.waiting > 0 and not self.certificates)

    @property
    def percent(self) -> int:
        """Items gone through and their messages settled (sent, failed or withdrawn)."""
        if self.status in ("done", "cancelled") and self.waiting == 0:
            return 100
        if not self.total:
            return 0
        if self.certificates:  # the certificates made; their mail follows on its own
            if self.status == "done":
                return 100
            return min(99, int(100 * (self.made + self.skipped) / self.total))
        settled = self.skipped + self.sent + self.failed + self.cancelled
        return min(99, int(100 * settled / self.total))

    @property
    def left(self) -> int:
        if self.certificates:
            return max(0, self.total - self.made - self.skipped)
        return max(0, self.total - self.skipped - self.sent - self.failed - self.cancelled)

    def as_dict(self) -> dict:
        return {"job": self.job_id, "kind": self.kind, "status": self.status,
                "total": self.total, "done": self.done, "skipped": self.skipped,
                "queued": self.queued, "sent": self.sent, "failed": self.failed,
                "waiting": self.waiting, "cancelled": self.cancelled, "made": self.made,
                "left": self.left, "percent": self.percent, "finished": self.finished,
                "cancellable": self.cancellable}


def progress(job: Job) -> Progress:
    """One grouped count over the job's messages (an index on job id and status)."""
    return progress_of([job])[job.id]


def progress_of(many: list[Job]) -> dict[int, Progress]:
    """Progress of several jobs in one query (a page listing past mailings), and one more
    when certificates jobs are among them."""
    found: dict[int, dict[str, int]] = {job.id: {} for job in many}
    if many:
        for job_id, status, n in db.session.execute(
                select(OutboxMessage.job_id, OutboxMessage.status, func.count())
                .where(OutboxMessage.job_id.in_(list(found)))
                .group_by(OutboxMessage.job_id, OutboxMessage.status)):
            found[job_id][status] = n
    made: dict[int, int] = {}
    issuing = [job.id for job in many if job.kind == "certificates"]
    if issuing:
        made = dict(db.session.execute(
            select(Certificate.job_id, func.count()).where(Certificate.job_id.in_(issuing))
            .group_by(Certificate.job_id)).all())
    return {job.id: _progress(job, found[job.id], made.get(job.id, 0)) for job in many}


def _progress(job: Job, counts: dict[str, int], made: int = 0) -> Progress:
    waiting = counts.get("pending", 0) + counts.get("sending", 0)
    return Progress(
        job_id=job.id, kind=job.kind, status=job.status, total=job.total, done=job.done,
        skipped=job.skipped, queued=job.queued, sent=counts.get("sent", 0),
        failed=counts.get("failed", 0), waiting=waiting, cancelled=counts.get("cancelled", 0),
        finished=job.status in ("done", "cancelled", "discarded") and waiting == 0, made=made)


def jobs_of(event: Event, kind: str | None = None, limit: int = 50) -> list[Job]:
    query = select(Job).where(Job.event_id == event.id, Job.status != "discarded")
    if kind:
        query = query.where(Job.kind == kind)
    return list(db.session.scalars(query.order_by(Job.id.desc()).limit(limit)))
