"""The programme: people (speaker profiles, shared by all events), the sessions of an event
with the people in them, their materials, and the published versions of the agenda.

Organisers edit the sessions freely (the draft); publishing freezes them into an
``AgendaPublication`` snapshot, which is all the public pages and exports read. So what
the public sees changes only when the organiser says so, a page is one query however long
the programme, and two publications can be compared to tell people what changed.
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
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from eventsys.extensions import db
from eventsys.models.base import UTCDateTime, utcnow

SESSION_KINDS = (
    "opening", "keynote", "talk", "presentation", "panel", "roundtable", "lecture",
    "field_trip", "break", "ceremony", "other",
)
# Kinds that are someone speaking: a session of these kinds with nobody in it is flagged.
KINDS_WITH_SPEAKERS = ("keynote", "talk", "presentation", "panel", "roundtable", "lecture")
SESSION_MODES = ("in_person", "online", "hybrid")
SESSION_ROLES = ("speaker", "moderator", "panellist", "discussant")


class Person(db.Model):
    """A speaker profile, reused across sessions and events."""

    __tablename__ = "person"
    __table_args__ = (Index("ix_person_name", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    honorific: Mapped[str | None] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    name_native: Mapped[str | None] = mapped_column(String(200))
    job_title: Mapped[str | None] = mapped_column(String(200))
    organisation_name: Mapped[str | None] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(2))
    bio: Mapped[str | None] = mapped_column(Text)
    # Where programme changes are mailed; never shown publicly.
    email: Mapped[str | None] = mapped_column(String(254))
    # A re-encoded JPEG under FILES_DIR/photos, named by its content's hash.
    photo: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def display_name(self) -> str:
        return f"{self.honorific} {self.name}" if self.honorific else self.name

    def __repr__(self) -> str:
        return f"<Person {self.name}>"


class AgendaSession(db.Model):
    """One item of an event's programme, as the organiser is editing it."""

    __tablename__ = "agenda_session"
    __table_args__ = (Index("ix_agenda_session_event_start", "event_id", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    # Stable for the life of the session: calendar UIDs and frab guids are made from it, so
    # an updated calendar replaces the entry instead of adding a second one.
    guid: Mapped[str] = mapped_column(String(36), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(20))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    venue_id: Mapped[int | None] = mapped_column(ForeignKey("venue.id", ondelete="SET NULL"))
    room: Mapped[str | None] = mapped_column(String(120))
    mode: Mapped[str] = mapped_column(String(20), default="in_person")
    stream_url: Mapped[str | None] = mapped_column(String(500))
    track: Mapped[str | None] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(Text)
    counts_for_attendance: Mapped[bool] = mapped_column(Boolean, default=True,
                                                        server_default=true())
    # In the room, attended means checked in and out again (a field trip, an exam).
    needs_checkout: Mapped[bool] = mapped_column(Boolean, default=False,
                                                 server_default=false())
    # Order among sessions that start together (parallel tracks, a list the organiser sorted).
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    venue = relationship("Venue")
    people: Mapped[list[SessionPerson]] = relationship(
        back_populates="session", cascade="all, delete-orphan",
        order_by="SessionPerson.position")
    materials: Mapped[list[SessionMaterial]] = relationship(
        back_populates="session", cascade="all, delete-orphan",
        order_by="SessionMaterial.id")

    def __repr__(self) -> str:
        return f"<AgendaSession {self.title!r}>"


class SessionPerson(db.Model):
    """A person in a session, in a role; one role per person per session."""

    __tablename__ = "session_person"
    __table_args__ = (UniqueConstraint("session_id", "person_id", name="uq_session_person"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("agenda_session.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"),
                                           index=True)
    role: Mapped[str] = mapped_column(String(20), default="speaker")
    position: Mapped[int] = mapped_column(Integer, default=0)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # accepted invitation

    session: Mapped[AgendaSession] = relationship(back_populates="people")
    person: Mapped[Person] = relationship()


class SessionMaterial(db.Model):
    """A file attached to a session (slides, a report), stored under FILES_DIR/materials."""

    __tablename__ = "session_material"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("agenda_session.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(200))  # as uploaded, cleaned
    stored_name: Mapped[str] = mapped_column(String(100), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    session: Mapped[AgendaSession] = relationship(back_populates="materials")


class AgendaPublication(db.Model):
    """The agenda as published, version by version: a JSON snapshot of every session with
    its people, venue and materials (see ``services/agenda.py`` for its shape)."""

    __tablename__ = "agenda_publication"
    __table_args__ = (UniqueConstraint("event_id", "version", name="uq_agenda_publication"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))
    snapshot: Mapped[dict] = mapped_column(JSON)
    # Stored name of the printable PDF under FILES_DIR/agenda, once a worker has made it.
    pdf: Mapped[str | None] = mapped_column(String(100))


class AgendaMark(db.Model):
    """A session a participant marked for their personal calendar (by the session's guid,
    which survives republishing)."""

    __tablename__ = "agenda_mark"
    __table_args__ = (UniqueConstraint("registration_id", "session_guid", name="uq_agenda_mark"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(
        ForeignKey("registration.id", ondelete="CASCADE"), index=True)
    session_guid: Mapped[str] = mapped_column(String(36), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
