"""Attendance: who was in the room and who watched, session by session, and what counts.

Presence comes from four places: a ticket scanned or typed at the door (``check_in``), a
tick on a session's attendance sheet (``mark``), the participant's tracked joining link
(``join``), and a meeting platform's report (``record_online``, used by
``attendance_report``). All of them write the same ``Attendance`` rows, one per
registration, place (a session, or the whole event on a day) and mode; the table's unique
indexes, not a SELECT first, decide who was first, so two staff scanning one ticket at
once, or a phone replaying the scans it kept offline, count once.

What counts is a rule per event (``Rules``): in the room, checked in (and out again where
the session needs it); online, joined, and where the organiser sets a minimum, present at
least that many minutes or that share of the session according to a platform report. A
participant's rate is the share of the sessions that count for attendance that they
attended by that rule.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import struct
from base64 import urlsafe_b64decode, urlsafe_b64encode
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, bindparam, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from eventsys.extensions import db
from eventsys.models import (
    AgendaSession,
    Attendance,
    AttendanceNote,
    Event,
    Person,
    Registration,
    User,
    utcnow,
)
from eventsys.services import agenda, audit, messaging
from eventsys.services.errors import NotFound, ServiceError
from eventsys.services.tickets import normalise_ticket_code
from eventsys.services.validation import clean_text

# What a scan can answer, each with the one line the check-in page shows in large type.
OUTCOMES = ("checked_in", "already", "checked_out", "not_checked_in", "not_confirmed",
            "cancelled", "wrong_event", "unknown", "invalid")
OUTCOME_LABELS = {
    "checked_in": _l("Checked in"),
    "already": _l("Already checked in"),
    "checked_out": _l("Checked out"),
    "not_checked_in": _l("Not checked in: cannot check out"),
    "not_confirmed": _l("Not confirmed"),
    "cancelled": _l("Cancelled"),
    "wrong_event": _l("Ticket for another event"),
    "unknown": _l("Unknown ticket"),
    "invalid": _l("Not a ticket code"),
}
# Outcomes after which the person may go in.
ADMITTED = ("checked_in", "already", "checked_out")
# A scan kept offline may be sent this long after it was made; older ones take the time
# they arrive (a phone's clock that is days off is not evidence).
OFFLINE_GRACE = timedelta(hours=24)
# A joining link without a session is counted for the session under way, or about to
# begin this soon.
JOIN_EARLY = timedelta(minutes=15)
NOTE_LIMIT = 200


# Places -----------------------------------------------------------------------------------

def zone_of(event: Event) -> ZoneInfo:
    return ZoneInfo(event.timezone)


def local_day(event: Event, moment: datetime) -> date:
    return moment.astimezone(zone_of(event)).date()


def session_of(event: Event, session_id: int | None) -> AgendaSession | None:
    """The event's session, or None for the whole event."""
    return None if session_id is None else agenda.session_of(event, session_id)


def counting_sessions(event: Event) -> list[AgendaSession]:
    """The sessions a participant's rate is the share of, in time order."""
    return list(db.session.scalars(
        select(AgendaSession).where(AgendaSession.event_id == event.id,
                                    AgendaSession.counts_for_attendance.is_(True))
        .order_by(AgendaSession.starts_at, AgendaSession.position, AgendaSession.id)))


def _insert_once():
    """``INSERT .. ON CONFLICT DO NOTHING RETURNING id`` with no conflict target, so any of
    the table's unique indexes (the partial ones included) turns a second insert into
    nothing rather than an error."""
    connection = db.session.connection()
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    return connection, insert(Attendance.__table__).on_conflict_do_nothing().returning(
        Attendance.__table__.c.id)


def _place(session: AgendaSession | None):
    table = Attendance.__table__.c
    if session is None:
        return table.session_id.is_(None)
    return table.session_id == session.id


# Check-in at the door ---------------------------------------------------------------------

@dataclass(frozen=True)
class Holder:
    """The ticket's holder, as the check-in page shows them."""

    registration_id: int
    name: str
    name_native: str | None
    organisation: str | None
    country: str | None
    mode: str
    photo: str | None = None  # a speaker's profile photo (stored name), matched by address


@dataclass(frozen=True)
class ScanResult:
    outcome: str
    holder: Holder | None = None
    at: datetime | None = None  # when they were checked in (for "already": the first time)
    by: str | None = None  # who checked them in
    count: int | None = None  # checked in at this place so far
    replayed: bool = False  # a scan sent again (kept offline): the first answer stands
    warning: str | None = None  # e.g. registered to attend online

    @property
    def admitted(self) -> bool:
        return self.outcome in ADMITTED

    @property
    def label(self) -> str:
        return str(OUTCOME_LABELS[self.outcome])


def _holder_row(code: str):
    r = Registration.__table__.c
    return db.session.execute(
        select(r.id, r.event_id, r.status, r.mode, r.name, r.name_native,
               r.organisation_name, r.country, r.email).where(r.ticket_code == code)
    ).first()


def _photo(email: str) -> str | None:
    """A speaker's profile photo, by their address (registrations carry none)."""
    return db.session.scalar(select(Person.photo).where(func.lower(Person.email) == email,
                                                        Person.photo.is_not(None)).limit(1))


def _scan_time(scanned_at: datetime | None, now: datetime) -> datetime:
    if scanned_at is None or scanned_at.tzinfo is None:
        return now
    if scanned_at > now + timedelta(minutes=5) or scanned_at < now - OFFLINE_GRACE:
        return now
    return scanned_at


def count_present(event: Event, session: AgendaSession | None, day: date | None = None,
                  mode: str = "in_person") -> int:
    """Present at a session, or (``session`` None) at the event on ``day``."""
    if session is None and day is None:
        raise TypeError("count_present: the whole event needs a day")
    table = Attendance.__table__.c
    query = select(func.count()).select_from(Attendance.__table__).where(
        table.event_id == event.id, _place(session), table.mode == mode)
    if session is None:
        query = query.where(table.day == day)
    return db.session.execute(query).scalar_one()


def check_in(event: Event, code: str, *, session: AgendaSession | None, staff: User | None,
             scan_id: str | None = None, scanned_at: datetime | None = None,
             typed: bool = False, now: datetime | None = None) -> ScanResult:
    """Record that a ticket's holder came in, once; what to tell the person at the door.

    ``session`` None checks in to the whole event for the day. ``scan_id`` is the browser's
    id of one scan, so a scan kept offline and sent again (perhaps twice) answers the same
    "checked in" as the first time rather than "already"; ``scanned_at`` is when it was
    made. Bad codes are answers, not errors: the page shows them like any other."""
    now = now or utcnow()
    normalised = normalise_ticket_code(code or "")
    if not normalised:
        return ScanResult("invalid")
    row = _holder_row(normalised)
    if row is None:
        return ScanResult("unknown")
    if row.event_id != event.id:
        return ScanResult("wrong_event")
    holder = Holder(row.id, row.name, row.name_native, row.organisation_name, row.country,
                    row.mode)
    if row.status in ("cancelled", "declined"):
        return ScanResult("cancelled", holder)
    if row.status != "confirmed":
        return ScanResult("not_confirmed", holder)
    if scan_id is not None:
        scan_id = scan_id.strip()[:40] or None
    at = _scan_time(scanned_at, now)
    day = local_day(event, session.starts_at if session else at)
    connection, statement = _insert_once()
    new_id = connection.execute(statement, {
        "event_id": event.id, "registration_id": row.id,
        "session_id": session.id if session else None, "day": day, "mode": "in_person",
        "source": "code" if typed else "scan", "arrived_at": at, "joins": 1,
        "by_user_id": staff.id if staff else None, "scan_id": scan_id, "created_at": now,
    }).scalar()
    warning = (_("Registered to attend online.") if row.mode == "online" else None)
    holder = Holder(**{**holder.__dict__, "photo": _photo(row.email)})
    by = staff.name if staff else None  # read now: after the commit it would be reloaded
    if new_id is not None:
        count = count_present(event, session, day)
        db.session.commit()
        return ScanResult("checked_in", holder, at=at, by=by, count=count, warning=warning)
    existing = _existing(event, row.id, session, day)
    if existing is None:
        db.session.rollback()
        # The scan id was used for another ticket: a confused client, not this ticket.
        raise ServiceError(_("This scan was already recorded for another ticket."))
    count = count_present(event, session, day)
    db.session.commit()
    if scan_id is not None and existing.scan_id == scan_id:
        return ScanResult("checked_in", holder, at=existing.arrived_at, by=existing.by,
                          count=count, replayed=True, warning=warning)
    return ScanResult("already", holder, at=existing.arrived_at, by=existing.by, count=count,
                      warning=warning)


def _existing(event: Event, registration_id: int, session: AgendaSession | None, day: date,
              mode: str = "in_person"):
    table = Attendance.__table__.c
    query = (select(table.id, table.arrived_at, table.left_at, table.scan_id,
                    User.name.label("by"))
             .select_from(Attendance.__table__.outerjoin(User, User.id == table.by_user_id))
             .where(table.registration_id == registration_id, _place(session),
                    table.mode == mode))
    if session is None:
        query = query.where(table.day == day)
    return db.session.execute(query).first()


def check_out(event: Event, code: str, *, session: AgendaSession | None,
              staff: User | None, now: datetime | None = None) -> ScanResult:
    """Record that the holder left (for sessions that need a check-out); leaving twice
    keeps the first time. Refused where nobody checks out (the whole event, or a session
    without ``needs_checkout``): a left time there would be a stray record that no sheet
    shows and no rule reads."""
    if session is None or not session.needs_checkout:
        raise ServiceError(_("Nobody checks out here: choose a session that needs a "
                             "check-out."))
    now = now or utcnow()
    normalised = normalise_ticket_code(code or "")
    if not normalised:
        return ScanResult("invalid")
    row = _holder_row(normalised)
    if row is None:
        return ScanResult("unknown")
    if row.event_id != event.id:
        return ScanResult("wrong_event")
    holder = Holder(row.id, row.name, row.name_native, row.organisation_name, row.country,
                    row.mode)
    day = local_day(event, session.starts_at if session else now)
    existing = _existing(event, row.id, session, day)
    if existing is None:
        return ScanResult("not_checked_in", holder)
    table = Attendance.__table__.c
    db.session.execute(update(Attendance.__table__)
                       .where(table.id == existing.id, table.left_at.is_(None))
                       .values(left_at=now))
    # Read before the commit, which would make the event, session and user reload.
    by = staff.name if staff else None
    count = count_present(event, session, day)
    left = db.session.execute(select(table.left_at).where(table.id == existing.id)).scalar()
    db.session.commit()
    return ScanResult("checked_out", holder, at=left, by=by, count=count)


# Attendance sheets ------------------------------------------------------------------------

def confirmed_ids(event: Event, registration_ids: Iterable[int], *,
                  refusal: str | None = None) -> list[int]:
    """The ids, sorted, once each, after checking in one query that every one is a
    confirmed registration of ``event``; ServiceError (``refusal``, or a general message)
    otherwise, so that a sheet or a list from a form is taken whole or not at all."""
    wanted = sorted(set(registration_ids))
    if not wanted:
        return []
    found = list(db.session.scalars(select(Registration.id).where(
        Registration.event_id == event.id, Registration.status == "confirmed",
        Registration.id.in_(wanted))))
    if len(found) != len(wanted):
        raise ServiceError(refusal or _("Some of the chosen people are not confirmed "
                                        "participants of this event."))
    return sorted(found)


def mark(event: Event, session: AgendaSession, registration_ids: list[int], *,
         present: bool, staff: User | None, now: datetime | None = None,
         commit: bool = True) -> int:
    """Tick (or untick) people on a session's sheet, in the room. Ticking someone already
    there changes nothing (their first time stays); unticking removes the in-room presence.
    How many changed. ``commit=False`` leaves the transaction to the caller, so a sheet's
    ticks, check-outs and notes are saved together or not at all."""
    now = now or utcnow()
    ids = confirmed_ids(event, registration_ids)
    if not ids:
        return 0
    table = Attendance.__table__.c
    if present:
        day = local_day(event, session.starts_at)
        connection, statement = _insert_once()
        rows = [{"event_id": event.id, "registration_id": rid, "session_id": session.id,
                 "day": day, "mode": "in_person", "source": "manual",
                 "arrived_at": min(now, session.starts_at), "joins": 1,
                 "by_user_id": staff.id if staff else None, "scan_id": None,
                 "created_at": now} for rid in ids]
        changed = len(connection.execute(statement, rows).all())
    else:
        changed = db.session.execute(delete(Attendance.__table__).where(
            table.session_id == session.id, table.mode == "in_person",
            table.registration_id.in_(ids))).rowcount
    audit.record("attendance.mark", actor=staff, event_id=event.id,
                 session=session.id, present=present, changed=changed)
    if commit:
        db.session.commit()
    return changed


def mark_out(event: Event, session: AgendaSession, registration_ids: list[int], *,
             staff: User | None, now: datetime | None = None, commit: bool = True) -> int:
    """Check out from a sheet those checked in and not yet out."""
    now = now or utcnow()
    ids = confirmed_ids(event, registration_ids)
    table = Attendance.__table__.c
    changed = db.session.execute(update(Attendance.__table__).where(
        table.session_id == session.id, table.mode == "in_person", table.left_at.is_(None),
        table.registration_id.in_(ids)).values(left_at=now)).rowcount if ids else 0
    audit.record("attendance.check_out", actor=staff, event_id=event.id,
                 session=session.id, changed=changed)
    if commit:
        db.session.commit()
    return changed


def set_note(event: Event, session: AgendaSession, registration_id: int, note: str, *,
             staff: User | None, commit: bool = True) -> None:
    """An organiser's note on one participant at one session; empty removes it."""
    confirmed_ids(event, [registration_id])
    text = clean_text(note, NOTE_LIMIT) or ""
    existing = db.session.scalar(select(AttendanceNote).where(
        AttendanceNote.registration_id == registration_id,
        AttendanceNote.session_id == session.id))
    if not text:
        if existing is not None:
            db.session.delete(existing)
    elif existing is None:
        db.session.add(AttendanceNote(event_id=event.id, registration_id=registration_id,
                                      session_id=session.id, note=text))
    else:
        existing.note = text
    if commit:
        db.session.commit()


# Joining online ---------------------------------------------------------------------------

def _join_key() -> bytes:
    secret = current_app.config["SECRET_KEY"]
    return hashlib.sha256(b"eventsys join link\0" + str(secret).encode()).digest()


def join_token(registration_id: int) -> str:
    """The registration's joining link token: its id and a 128-bit HMAC of it. Nothing is
    stored, so the link can be put in every mail and on the registration page without a
    row per copy; it opens only the stream and counts its holder as joined (the page with
    the registration's details needs the other, stored, token)."""
    packed = struct.pack(">Q", registration_id)
    mac = hmac.new(_join_key(), b"join:" + packed, hashlib.sha256).digest()[:16]
    return urlsafe_b64encode(packed.lstrip(b"\0") + mac).decode().rstrip("=")


def registration_of_join_token(token: str | None) -> int | None:
    if not token or len(token) > 40 or not token.isascii():
        return None
    try:
        raw = urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except ValueError:
        return None
    if not 17 <= len(raw) <= 24:
        return None
    packed, mac = raw[:-16].rjust(8, b"\0"), raw[-16:]
    expected = hmac.new(_join_key(), b"join:" + packed, hashlib.sha256).digest()[:16]
    if not hmac.compare_digest(mac, expected):
        return None
    return struct.unpack(">Q", packed)[0]


def join_url(registration_id: int, session_id: int | None = None) -> str:
    if session_id is None:
        return messaging.external_url("join.join", token=join_token(registration_id))
    return messaging.external_url("join.join_session", token=join_token(registration_id),
                        session_id=session_id)


@dataclass(frozen=True)
class Joined:
    url: str | None  # where to send them; None: no stream link yet
    event: Event
    session: AgendaSession | None


def _session_now(event: Event, now: datetime) -> AgendaSession | None:
    return db.session.scalars(
        select(AgendaSession).where(
            AgendaSession.event_id == event.id,
            AgendaSession.counts_for_attendance.is_(True),
            AgendaSession.starts_at <= now + JOIN_EARLY, AgendaSession.ends_at > now)
        .order_by(AgendaSession.starts_at, AgendaSession.position).limit(1)).first()


def join(token: str, session_id: int | None = None, *, now: datetime | None = None,
         record: bool = True) -> Joined:
    """Count the link's holder as joined (the session given, else the one under way, else
    the event that day) and say where the stream is. Joining again counts once and adds
    to ``joins``. ``record=False`` only says where the link leads: a HEAD request is a
    mail system's link checker, not a person joining."""
    now = now or utcnow()
    registration_id = registration_of_join_token(token)
    registration = db.session.get(Registration, registration_id) if registration_id else None
    if registration is None:
        raise NotFound(_("This joining link is not valid. Use the link in your latest "
                         "email from the organisers."))
    event = registration.event
    if registration.status != "confirmed":
        raise ServiceError(_("Your registration is not confirmed, so there is nothing to "
                             "join yet."))
    session = session_of(event, session_id) if session_id is not None \
        else _session_now(event, now)
    url = (session.stream_url if session is not None and session.stream_url else None) \
        or event.online_url
    if not record:
        return Joined(url, event, session)
    day = local_day(event, session.starts_at if session else now)
    connection, statement = _insert_once()
    new_id = connection.execute(statement, {
        "event_id": event.id, "registration_id": registration.id,
        "session_id": session.id if session else None, "day": day, "mode": "online",
        "source": "join_link", "arrived_at": now, "joins": 1, "by_user_id": None,
        "scan_id": None, "created_at": now}).scalar()
    if new_id is None:
        table = Attendance.__table__.c
        query = update(Attendance.__table__).where(
            table.registration_id == registration.id, _place(session), table.mode == "online")
        if session is None:
            query = query.where(table.day == day)
        db.session.execute(query.values(joins=table.joins + 1))
    db.session.commit()
    return Joined(url, event, session)


def record_online(event: Event,
                  minutes: dict[tuple[int, int | date | None], tuple[int, datetime]]) -> int:
    """Store the minutes a platform report gives, per (registration id, place) with the
    time they first joined; the place is a session id, or the whole event on a day (a
    date; None: the day they first joined). A new presence for those not yet seen online
    there, and for those seen, the larger of the minutes known and these (two reports of
    one meeting are not added up; importing a report twice changes nothing). Does not
    commit: the caller's transaction holds the report's state too. How many rows changed."""
    if not minutes:
        return 0
    table = Attendance.__table__.c
    now = utcnow()
    sessions = {s.id: s for s in db.session.scalars(select(AgendaSession).where(
        AgendaSession.event_id == event.id,
        AgendaSession.id.in_({p for _, p in minutes if isinstance(p, int)})))}
    connection = db.session.connection()
    rows = []
    for (rid, place), (mins, first) in minutes.items():
        sid = place if isinstance(place, int) else None
        if sid is not None and sid not in sessions:
            raise NotFound(_("This session is not in the event's programme."))
        day = local_day(event, sessions[sid].starts_at) if sid is not None \
            else place or local_day(event, first)
        rows.append({"event_id": event.id, "registration_id": rid, "session_id": sid,
                     "day": day, "mode": "online", "source": "report", "arrived_at": first,
                     "minutes": mins, "joins": 1, "by_user_id": None, "scan_id": None,
                     "created_at": now})
    # Executed for many rows at once and without RETURNING, so that psycopg pipelines one
    # short statement per row: with RETURNING, SQLAlchemy sends batches of 1,000 rows as
    # one statement each, which psycopg parses in Python (1.5 s for the 16,000 presences
    # of a 5,000-row report split over 6 sessions; bench/attendance_report.py).
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    changed = connection.execute(
        insert(Attendance.__table__).on_conflict_do_nothing()
        .execution_options(preserve_rowcount=True), rows).rowcount
    # Those present already: raise their minutes where this report saw more (those just
    # inserted have as many already). One statement per kind of place, for all the rows.
    raise_minutes = update(Attendance.__table__).where(
        table.registration_id == bindparam("b_registration"), table.mode == "online",
        (table.minutes.is_(None)) | (table.minutes < bindparam("b_minutes"))
    ).values(minutes=bindparam("b_minutes"))
    for in_session, place in (
            (True, table.session_id == bindparam("b_session")),
            (False, and_(table.session_id.is_(None), table.day == bindparam("b_day")))):
        params = [{"b_registration": row["registration_id"], "b_minutes": row["minutes"],
                   "b_session": row["session_id"], "b_day": row["day"]}
                  for row in rows if (row["session_id"] is not None) == in_session]
        if params:
            changed += connection.execute(raise_minutes.where(place), params).rowcount
    return changed


# Rules ------------------------------------------------------------------------------------

UNITS = ("session", "day")
UNIT_LABELS = {"session": _l("Sessions that count for attendance"),
               "day": _l("Days of the event")}


@dataclass(frozen=True)
class Rules:
    """What counts as attended. In the room, being checked in (and out again where the
    session needs a check-out); online, having joined, and where the organiser sets a
    minimum, at least that many minutes or that share of the session by a platform
    report. ``unit`` says what a rate is the share of: the sessions that count (the
    workshop), or the event's days (the forum, whose door is its register)."""

    min_minutes: int | None = None
    min_percent: int | None = None
    unit: str = "session"

    @classmethod
    def of(cls, event: Event) -> Rules:
        return cls(event.attendance_min_minutes, event.attendance_min_percent,
                   event.attendance_unit or "session")

    def needed_minutes(self, session: AgendaSession | None) -> int:
        """Minutes online that count for ``session`` (0: having joined is enough). With both
        set, either suffices, so the smaller. The whole event on a day has no length to
        take a share of: the minutes alone apply."""
        options = []
        if self.min_minutes:
            options.append(self.min_minutes)
        if self.min_percent and session is not None:
            length = (session.ends_at - session.starts_at).total_seconds() / 60
            options.append(math.ceil(length * self.min_percent / 100))
        return min(options) if options else 0

    def needed_on_day(self, sessions: list[AgendaSession]) -> int:
        """Minutes online in all that count for a day (by days): the minimum, or the share
        of that day's sessions that count, whichever is smaller (0: joining is enough)."""
        options = []
        if self.min_minutes:
            options.append(self.min_minutes)
        length = sum((s.ends_at - s.starts_at).total_seconds() / 60 for s in sessions)
        if self.min_percent and length:
            options.append(math.ceil(length * self.min_percent / 100))
        return min(options) if options else 0

    def describe(self) -> str:
        if self.min_minutes and self.min_percent:
            online = _("online, at least %(m)d minutes or %(p)d%% of the session",
                       m=self.min_minutes, p=self.min_percent)
        elif self.min_minutes:
            online = _("online, at least %(m)d minutes", m=self.min_minutes)
        elif self.min_percent:
            online = _("online, at least %(p)d%% of the session", p=self.min_percent)
        else:
            online = _("online, having joined")
        if self.unit == "day":
            if self.min_minutes or self.min_percent:
                return _("Attended: checked in at the door or in a session, or %(online)s "
                         "(minutes online add up over the day). The rate is the share of "
                         "the event's days attended.", online=online)
            return _("Attended: checked in at the door or in a session, or %(online)s. "
                     "The rate is the share of the event's days attended.", online=online)
        return _("Attended: checked in (and out, where the session needs it), or "
                 "%(online)s. The rate is the share of the sessions that count for "
                 "attendance.", online=online)


def update_rules(event: Event, min_minutes: int | None, min_percent: int | None, *,
                 actor: User | None, unit: str | None = None) -> None:
    if min_minutes is not None and not 1 <= min_minutes <= 24 * 60:
        raise ServiceError(_("Minutes online must be between 1 and 1440."))
    if min_percent is not None and not 1 <= min_percent <= 100:
        raise ServiceError(_("The share of the session must be between 1 and 100 %."))
    if unit is not None and unit not in UNITS:
        raise ServiceError(_("Choose sessions or days."))
    event.attendance_min_minutes = min_minutes
    event.attendance_min_percent = min_percent
    if unit is not None:
        event.attendance_unit = unit
    audit.record("attendance.rules", actor=actor, event_id=event.id,
                 min_minutes=min_minutes, min_percent=min_percent, unit=unit)
    db.session.commit()


def counts(rules: Rules, session: AgendaSession | None, *, mode: str,
           left_at: datetime | None, minutes: int | None) -> bool:
    """Whether one presence counts as attending ``session`` (None: the event that day)."""
    if mode == "in_person":
        return not (session is not None and session.needs_checkout and left_at is None)
    needed = rules.needed_minutes(session)
    return needed == 0 or (minutes is not None and minutes >= needed)


@dataclass
class ParticipantRate:
    registration_id: int
    name: str
    organisation: str | None
    country: str | None
    mode: str
    attended: int  # sessions (or days) that count, attended by the rule
    total: int  # sessions (or days) that count
    in_person: int = 0  # of those attended, in the room
    online: int = 0  # ... online (and not in the room)
    sessions: set[int] = field(default_factory=set)  # ids of the sessions attended
    days: set[date] = field(default_factory=set)  # the days attended (unit "day")

    @property
    def rate(self) -> float:
        return self.attended / self.total if self.total else 0.0

    @property
    def percent(self) -> int:
        return math.floor(self.rate * 100 + 1e-9)


def event_days(event: Event) -> list[date]:
    return [event.start_date + timedelta(days=n)
            for n in range((event.end_date - event.start_date).days + 1)]


def rates(event: Event, registration_ids: list[int] | None = None) -> list[ParticipantRate]:
    """Each confirmed participant's attendance by the event's rule, in name order: three
    queries whatever the numbers. By sessions, an event with no session that counts has
    one "session": having been there at all."""
    rules = Rules.of(event)
    sessions = {s.id: s for s in counting_sessions(event)}
    by_day = rules.unit == "day"
    days = event_days(event)
    total = len(days) if by_day else (len(sessions) or 1)
    r = Registration.__table__.c
    query = select(r.id, r.name, r.organisation_name, r.country, r.mode).where(
        r.event_id == event.id, r.status == "confirmed")
    if registration_ids is not None:
        query = query.where(r.id.in_(registration_ids))
    people = {row.id: ParticipantRate(row.id, row.name, row.organisation_name, row.country,
                                      row.mode, 0, total)
              for row in db.session.execute(query.order_by(func.lower(r.name), r.id))}
    a = Attendance.__table__.c
    presence = select(a.registration_id, a.session_id, a.day, a.mode, a.left_at,
                      a.minutes).where(a.event_id == event.id)
    if registration_ids is not None:
        presence = presence.where(a.registration_id.in_(registration_ids))
    seen: dict[int, dict[object, str]] = defaultdict(dict)
    # By days, online minutes too short for any one session still add up over the day: a
    # forum's 20-minute talks make 80 minutes for someone who watched four. Per person and
    # day: the minutes in sessions, and the minutes the whole event's reports gave that day
    # (the same meeting, so the larger of the two is taken, never their sum).
    in_sessions: dict[tuple[int, date], int] = defaultdict(int)
    whole_day: dict[tuple[int, date], int] = defaultdict(int)
    for row in db.session.execute(presence):
        if row.registration_id not in people:
            continue
        if by_day:
            if row.day not in days:
                continue
            session = sessions.get(row.session_id)
            key: object = row.day
            if row.mode == "online" and row.minutes:
                if row.session_id is None:
                    whole_day[(row.registration_id, row.day)] = max(
                        whole_day[(row.registration_id, row.day)], row.minutes)
                elif session is not None:
                    in_sessions[(row.registration_id, row.day)] += row.minutes
        elif sessions:
            session = sessions.get(row.session_id)
            if session is None:
                continue
            key = row.session_id
        else:
            session, key = None, None
        if not counts(rules, session, mode=row.mode, left_at=row.left_at, minutes=row.minutes):
            continue
        if seen[row.registration_id].get(key) != "in_person":
            seen[row.registration_id][key] = row.mode
    if in_sessions or whole_day:
        on_day: dict[date, list[AgendaSession]] = defaultdict(list)
        for s in sessions.values():
            on_day[local_day(event, s.starts_at)].append(s)
        for rid, day in in_sessions.keys() | whole_day.keys():
            needed = rules.needed_on_day(on_day[day])
            if (day not in seen[rid] and needed
                    and max(in_sessions[(rid, day)], whole_day[(rid, day)]) >= needed):
                seen[rid][day] = "online"
    for rid, places in seen.items():
        person = people[rid]
        person.attended = len(places)
        person.in_person = sum(1 for m in places.values() if m == "in_person")
        person.online = person.attended - person.in_person
        if by_day:
            person.days = set(places)  # type: ignore[arg-type]
        else:
            person.sessions = {sid for sid in places if sid is not None}  # type: ignore[misc]
    return list(people.values())


def rate_of(event: Event, registration_id: int) -> ParticipantRate | None:
    found = rates(event, [registration_id])
    return found[0] if found else None
