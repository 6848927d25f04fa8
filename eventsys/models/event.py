from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, false, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from eventsys.extensions import db
from eventsys.models.base import UTCDateTime, utcnow
from eventsys.models.organisation import Organisation

EVENT_KINDS = ("forum", "workshop")
EVENT_MODES = ("in_person", "online", "hybrid")
EVENT_STATUSES = ("draft", "published", "archived")
HOST_ROLES = ("host", "co_host")


class Event(db.Model):
    __tablename__ = "event"
    __table_args__ = (Index("ix_event_status_start", "status", "start_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    theme: Mapped[str | None] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    # Calendar dates in the event's own time zone: "7 December" in Beijing stays that date
    # for a reader in Lisbon.
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    timezone: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="draft")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    # Registration settings. No window set means open now and until the event ends.
    registration_opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    registration_closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approval: Mapped[str] = mapped_column(String(20), default="open", server_default="open")
    invitation_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    waitlist_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Where online participants are sent (through their tracked joining link).
    online_url: Mapped[str | None] = mapped_column(String(500))
    # What counts as attended online (services/attendance.py): at least these minutes, or
    # this share of the session; neither set, joining is enough.
    attendance_min_minutes: Mapped[int | None] = mapped_column(Integer)
    attendance_min_percent: Mapped[int | None] = mapped_column(Integer)
    # What a participant's attendance rate is the share of: the sessions that count (a
    # workshop's register at every lecture) or the days (a forum's door).
    attendance_unit: Mapped[str] = mapped_column(String(10), default="session",
                                                 server_default="session")

    venues: Mapped[list[Venue]] = relationship(
        back_populates="event", cascade="all, delete-orphan", order_by="Venue.position"
    )
    hosts: Mapped[list[EventHost]] = relationship(
        back_populates="event", cascade="all, delete-orphan", order_by="EventHost.position"
    )
    roles = relationship("EventRole", back_populates="event", cascade="all, delete-orphan")
    capacities = relationship("ModeCapacity", cascade="all, delete-orphan",
                              order_by="ModeCapacity.mode")
    questions = relationship("RegistrationQuestion", cascade="all, delete-orphan",
                             order_by="RegistrationQuestion.position")

    @property
    def modes(self) -> tuple[str, ...]:
        """The attendance modes a participant can choose."""
        return ("in_person", "online") if self.mode == "hybrid" else (self.mode,)

    @property
    def cities(self) -> list[str]:
        seen: list[str] = []
        for venue in self.venues:
            if venue.city and venue.city not in seen:
                seen.append(venue.city)
        return seen

    def __repr__(self) -> str:
        return f"<Event {self.slug}>"


class Venue(db.Model):
    __tablename__ = "venue"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100))
    country: Mapped[str | None] = mapped_column(String(2))
    address: Mapped[str | None] = mapped_column(String(300))
    position: Mapped[int] = mapped_column(Integer, default=0)

    event: Mapped[Event] = relationship(back_populates="venues")


class EventHost(db.Model):
    """An organisation hosting or co-hosting an event, in the order the event names them."""

    __tablename__ = "event_host"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    role: Mapped[str] = mapped_column(String(20), default="host")
    position: Mapped[int] = mapped_column(Integer, default=0)

    event: Mapped[Event] = relationship(back_populates="hosts")
    organisation: Mapped[Organisation] = relationship()
