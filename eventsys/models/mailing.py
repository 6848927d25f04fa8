"""Bulk mail an organiser starts and watches: jobs (with progress), mailings, and the
extra links of invitations (a reminder carries a fresh one; the first still works)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from eventsys.extensions import db
from eventsys.models.base import UTCDateTime, utcnow

JOB_KINDS = ("invitations", "reminders", "mailing", "certificates")
# preview: an import waiting for the organiser's confirmation (nothing imported yet);
# queued/running: a worker turns it into outbox messages, in chunks, resumably.
JOB_STATUSES = ("preview", "queued", "running", "done", "cancelled", "discarded")


class Job(db.Model):
    """A piece of bulk work: the request that starts it stores what to do and returns; a
    worker does it in chunks, each committed with the count of rows it has done, so a
    worker that dies is followed by one that resumes (``lease_until``) rather than repeats.
    Progress of the sending is read from the outbox rows that carry the job's id."""

    __tablename__ = "job"
    __table_args__ = (Index("ix_job_status_lease", "status", "lease_until"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"),
                                          index=True)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="queued")
    payload: Mapped[dict | None] = mapped_column(JSON)
    total: Mapped[int] = mapped_column(Integer, default=0)  # items to go through
    done: Mapped[int] = mapped_column(Integer, default=0)  # items gone through (resume here)
    queued: Mapped[int] = mapped_column(Integer, default=0)  # messages it put in the outbox
    skipped: Mapped[int] = mapped_column(Integer, default=0)  # e.g. invited already
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)

    event = relationship("Event")


class Mailing(db.Model):
    """A message an organiser wrote to an audience; each recipient gets their own copy,
    rendered with their placeholders, in their language where a version exists."""

    __tablename__ = "mailing"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"),
                                          index=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("job.id", ondelete="SET NULL"))
    audience: Mapped[dict] = mapped_column(JSON)
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    # {"zh": {"subject": ..., "body": ...}}: sent to recipients whose language it is.
    versions: Mapped[dict | None] = mapped_column(JSON)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    job = relationship("Job")


class InvitationToken(db.Model):
    """A link that opens an invitation (stored hashed). Each reminder mails a new one,
    since the old one is not kept in the clear; the first stays valid."""

    __tablename__ = "invitation_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(
        ForeignKey("invitation.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    invitation = relationship("Invitation")
