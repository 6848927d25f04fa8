"""Who was there: presence in the room and online, per session or per day of the event,
the organisers' notes on it, and the meeting platforms' attendance reports.

One row per registration, place (a session, or the whole event on one day) and mode. The
unique indexes are what make a scan "exactly once": two staff scanning the same ticket at
the same instant, or a phone replaying a scan it kept while offline, both reach the same
``INSERT .. ON CONFLICT DO NOTHING``, and only one row can exist.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from eventsys.extensions import db
from eventsys.models.base import UTCDateTime, utcnow

# How a presence was learnt: a camera scan or a typed ticket code at the door, a tick on
# an attendance sheet, the participant's tracked joining link, a meeting platform's report.
ATTENDANCE_SOURCES = ("scan", "code", "manual", "join_link", "report")
REPORT_STATUSES = ("preview", "applied", "discarded")


class Attendance(db.Model):
    __tablename__ = "attendance"
    __table_args__ = (
        # A session: once per registration and mode.
        Index("uq_attendance_session", "registration_id", "session_id", "mode", unique=True,
              sqlite_where=text("session_id IS NOT NULL"),
              postgresql_where=text("session_id IS NOT NULL")),
        # The whole event: once per registration, mode and day (a workshop's door is passed
        # every morning; "already checked in" means today).
        Index("uq_attendance_day", "registration_id", "day", "mode", unique=True,
              sqlite_where=text("session_id IS NULL"),
              postgresql_where=text("session_id IS NULL")),
        # A scan the browser kept while offline and sends again is recognised as itself.
        UniqueConstraint("event_id", "scan_id", name="uq_attendance_scan"),
        Index("ix_attendance_event_session", "event_id", "session_id", "mode"),
        Index("ix_attendance_event_day", "event_id", "day", "mode"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    registration_id: Mapped[int] = mapped_column(
        ForeignKey("registration.id", ondelete="CASCADE"), index=True)
    # None: the whole event, on ``day``.
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("agenda_session.id", ondelete="CASCADE"), index=True)
    day: Mapped[date] = mapped_column(Date)  # in the event's time zone
    mode: Mapped[str] = mapped_column(String(20))  # in_person / online
    source: Mapped[str] = mapped_column(String(20))
    # When they came in (the scan's own time when it was kept offline), or first joined.
    arrived_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # checked out
    # Online: minutes present, from platform reports (the longest report wins, never a sum
    # of two reports of one meeting). None where only the joining link is known.
    minutes: Mapped[int | None] = mapped_column(Integer)
    joins: Mapped[int] = mapped_column(Integer, default=1)  # clicks on the joining link
    by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))
    scan_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    registration = relationship("Registration")
    by_user = relationship("User")


class AttendanceNote(db.Model):
    """An organiser's word on one participant at one session: excused, late..."""

    __tablename__ = "attendance_note"
    __table_args__ = (
        UniqueConstraint("registration_id", "session_id", name="uq_attendance_note"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"),
                                          index=True)
    registration_id: Mapped[int] = mapped_column(
        ForeignKey("registration.id", ondelete="CASCADE"))
    session_id: Mapped[int] = mapped_column(
        ForeignKey("agenda_session.id", ondelete="CASCADE"), index=True)
    note: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class AttendanceReport(db.Model):
    """A meeting platform's attendance export, as uploaded: checked into a preview, applied
    when the organiser confirms. Its rows stay, so unmatched people can be matched later."""

    __tablename__ = "attendance_report"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"),
                                          index=True)
    # The session the meeting was; None: split among the sessions by the rows' times. A
    # report goes with its session (as the presences it gave do), rather than silently
    # becoming a split-by-times report.
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("agenda_session.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(200))
    platform: Mapped[str | None] = mapped_column(String(40))  # as recognised from headers
    timezone: Mapped[str] = mapped_column(String(64))  # of the times in the file
    status: Mapped[str] = mapped_column(String(20), default="preview")
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    rows: Mapped[list[AttendanceReportRow]] = relationship(
        back_populates="report", cascade="all, delete-orphan",
        order_by="AttendanceReportRow.line")


class AttendanceReportRow(db.Model):
    __tablename__ = "attendance_report_row"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(
        ForeignKey("attendance_report.id", ondelete="CASCADE"), index=True)
    line: Mapped[int] = mapped_column(Integer)
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    minutes: Mapped[int | None] = mapped_column(Integer)
    registration_id: Mapped[int | None] = mapped_column(
        ForeignKey("registration.id", ondelete="SET NULL"), index=True)
    matched_by: Mapped[str | None] = mapped_column(String(10))  # email / name / manual
    problem: Mapped[str | None] = mapped_column(String(300))  # why the row cannot count

    report: Mapped[AttendanceReport] = relationship(back_populates="rows")
