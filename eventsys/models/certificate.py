"""Certificates: the organiser's template and eligibility rule per event and kind, the
individual decisions that override the rule, and each certificate issued.

A certificate is a file that is never made again differently: its PDF is stored once with
its SHA-256, and a correction (a misspelt name) issues a new version and revokes the old.
The partial unique indexes allow one valid certificate per holder, event and kind, so a
worker that dies mid-run and a second that redoes its chunk cannot leave two.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from eventsys.extensions import db
from eventsys.models.base import UTCDateTime, utcnow

CERTIFICATE_KINDS = ("completion", "participation", "speaker", "organiser")
CERTIFICATE_STATUSES = ("valid", "revoked")
PAGE_SIZES = ("A4 landscape", "A4 portrait", "Letter landscape", "Letter portrait")


class CertificateTemplate(db.Model):
    """How one kind of certificate of one event looks, and who gets it."""

    __tablename__ = "certificate_template"
    __table_args__ = (UniqueConstraint("event_id", "kind", name="uq_certificate_template"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    page_size: Mapped[str] = mapped_column(String(20), default="A4 landscape")
    # The texts, with placeholders ({name}, {event}, ...) filled in by the service, never
    # by a template engine the organiser's text could reach into.
    heading: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    footer: Mapped[str | None] = mapped_column(Text)
    # Images stored under FILES_DIR/certificate-images by content hash (re-encoded).
    logos: Mapped[list | None] = mapped_column(JSON)  # [stored name, ...]
    background: Mapped[str | None] = mapped_column(String(100))
    # [{"name": ..., "title": ..., "signature": stored name or None}, ...]
    signatories: Mapped[list | None] = mapped_column(JSON)
    # Eligibility: {"confirmed": true, "min_rate": 80, "sessions": [ids], "spoke": false}
    rule: Mapped[dict | None] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))


class CertificateOverride(db.Model):
    """The organiser's word on one participant, over the rule: include or exclude, why."""

    __tablename__ = "certificate_override"
    __table_args__ = (
        UniqueConstraint("event_id", "kind", "registration_id", name="uq_certificate_override"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    registration_id: Mapped[int] = mapped_column(
        ForeignKey("registration.id", ondelete="CASCADE"), index=True)
    include: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(String(300))
    by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Certificate(db.Model):
    __tablename__ = "certificate"
    __table_args__ = (
        Index("uq_certificate_valid_registration", "event_id", "kind", "registration_id",
              unique=True,
              sqlite_where=text("status = 'valid' AND registration_id IS NOT NULL"),
              postgresql_where=text("status = 'valid' AND registration_id IS NOT NULL")),
        Index("uq_certificate_valid_person", "event_id", "kind", "person_id", unique=True,
              sqlite_where=text("status = 'valid' AND person_id IS NOT NULL"),
              postgresql_where=text("status = 'valid' AND person_id IS NOT NULL")),
        Index("ix_certificate_event_kind", "event_id", "kind", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    # The holder: a participant, or a person of the programme who did not register.
    registration_id: Mapped[int | None] = mapped_column(
        ForeignKey("registration.id", ondelete="SET NULL"), index=True)
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL"), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Shown on the verification page; >= 80 bits, no look-alike characters.
    code: Mapped[str] = mapped_column(String(32), unique=True)
    holder_name: Mapped[str] = mapped_column(String(200))
    holder_name_native: Mapped[str | None] = mapped_column(String(200))
    organisation: Mapped[str | None] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(2))
    data: Mapped[dict | None] = mapped_column(JSON)  # the values printed on it
    stored_name: Mapped[str] = mapped_column(String(100))  # under FILES_DIR/certificates
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="valid")
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(300))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("job.id", ondelete="SET NULL"),
                                               index=True)
    # The certificate mail, once queued (the outbox dedupes by certificate id).
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbox_message.id", ondelete="SET NULL"))

    event = relationship("Event")
    registration = relationship("Registration")
