from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from eventsys.extensions import db
from eventsys.models.base import UTCDateTime, utcnow

ATTENDANCE_MODES = ("in_person", "online")
REGISTRATION_STATUSES = ("pending", "confirmed", "waitlisted", "declined", "cancelled")
# Statuses that hold or wait for a place; the others are over.
ACTIVE_STATUSES = ("pending", "confirmed", "waitlisted")
APPROVAL_MODES = ("open", "application")
QUESTION_KINDS = (
    "short_text", "long_text", "single_choice", "multiple_choice", "checkbox", "country",
    "organisation",
)
INVITATION_STATUSES = ("open", "accepted", "declined", "revoked")


class ModeCapacity(db.Model):
    """Places for one attendance mode of one event: the single row every registration in
    that mode updates, so "is there a place left?" and "take it" are one atomic statement.
    ``capacity`` None means unlimited; ``confirmed`` counts the places taken."""

    __tablename__ = "mode_capacity"

    event_id: Mapped[int] = mapped_column(
        ForeignKey("event.id", ondelete="CASCADE"), primary_key=True
    )
    mode: Mapped[str] = mapped_column(String(20), primary_key=True)
    capacity: Mapped[int | None] = mapped_column(Integer)
    confirmed: Mapped[int] = mapped_column(Integer, default=0)


class RegistrationQuestion(db.Model):
    __tablename__ = "registration_question"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(300))
    help_text: Mapped[str | None] = mapped_column(String(500))
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    choices: Mapped[list | None] = mapped_column(JSON)


class Registration(db.Model):
    __tablename__ = "registration"
    __table_args__ = (
        UniqueConstraint("event_id", "email", name="uq_registration_event_email"),
        Index("ix_registration_event_status_mode", "event_id", "status", "mode", "id"),
        Index("ix_registration_event_country", "event_id", "country"),
        Index("ix_registration_waitlist", "event_id", "mode", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), index=True
    )
    invitation_id: Mapped[int | None] = mapped_column(
        ForeignKey("invitation.id", ondelete="SET NULL")
    )
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200))
    # As the participant writes it in their own script, for the certificate.
    name_native: Mapped[str | None] = mapped_column(String(200))
    organisation_name: Mapped[str | None] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(2))
    job_title: Mapped[str | None] = mapped_column(String(200))
    locale: Mapped[str | None] = mapped_column(String(10))
    mode: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    answers: Mapped[dict | None] = mapped_column(JSON)
    # Short code printed on the ticket and in its QR; check-in staff can type it.
    ticket_code: Mapped[str] = mapped_column(String(16), unique=True)
    decision_reason: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    event = relationship("Event")
    user = relationship("User")


class RegistrationToken(db.Model):
    """Access to a registration's page without a password. Only hashes are kept; each
    email that carries a link mints its own token, all valid while the registration is."""

    __tablename__ = "registration_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(
        ForeignKey("registration.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    registration: Mapped[Registration] = relationship()


class Invitation(db.Model):
    """A personal invitation to an event; its link is the only way into an
    invitation-only event."""

    __tablename__ = "invitation"
    __table_args__ = (UniqueConstraint("event_id", "email", name="uq_invitation_event_email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str | None] = mapped_column(String(200))
    organisation_name: Mapped[str | None] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(2))
    role: Mapped[str] = mapped_column(String(20), default="participant")
    locale: Mapped[str | None] = mapped_column(String(10))
    skip_approval: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(20), default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A speaker's invitation names their profile: accepting confirms them on their sessions.
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("job.id", ondelete="SET NULL"),
                                               index=True)  # the import it came from
    # The latest mail (invitation or reminder): its outbox row says queued/sent/failed.
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbox_message.id", ondelete="SET NULL"))
    reminders: Mapped[int] = mapped_column(Integer, default=0)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    event = relationship("Event")
