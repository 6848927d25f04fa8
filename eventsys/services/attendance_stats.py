"""Attendance in numbers, and the sheets staff tick in the room.

What the organiser reads: per event, per day and per session, who was in the room and who
watched online (and how many of those count by the event's rule); the same by country and
by organisation; each participant's attendance rate, with its CSV and Excel export. What
staff use: a session's sheet (tick, check out, note) and a day's grid of sessions.

Every figure is about participants, that is confirmed registrations. Each page's numbers
come from a fixed handful of grouped queries, however many people and sessions there are
(the forum: 439 people; a three-week workshop: 150 sessions). The rule itself, what counts
as attending, is ``attendance.Rules`` and ``attendance.counts``; nothing here restates it.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime

from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from sqlalchemy import case, distinct, func, or_, select

from eventsys.extensions import db
from eventsys.i18n import country_name
from eventsys.models import (
    ATTENDANCE_MODES,
    AgendaSession,
    Attendance,
    AttendanceNote,
    Event,
    Registration,
    User,
    utcnow,
)
from eventsys.services import attendance
from eventsys.services.attendance import NOTE_LIMIT, ParticipantRate, Rules
from eventsys.services.errors import NotFound, ServiceError
from eventsys.services.roster import inert
from eventsys.services.validation import clean_text

RATES_PAGE_SIZE = 100
RATE_SORTS = ("name", "rate", "-rate")

_a = Attendance.__table__.c
_r = Registration.__table__.c
_participants = Attendance.__table__.join(
    Registration.__table__, (_r.id == _a.registration_id) & (_r.status == "confirmed"))


# Places and times ---------------------------------------------------------------------------

event_days = attendance.event_days


def today(event: Event, now: datetime | None = None) -> date:
    return attendance.local_day(event, now or utcnow())


@dataclass(frozen=True)
class Place:
    """A session with its times on the event's clock."""

    session: AgendaSession
    starts: datetime
    ends: datetime

    @property
    def day(self) -> date:
        return self.starts.date()


def _place(event: Event, session: AgendaSession) -> Place:
    zone = attendance.zone_of(event)
    return Place(session, session.starts_at.astimezone(zone), session.ends_at.astimezone(zone))


def _sessions(event: Event) -> list[AgendaSession]:
    return list(db.session.scalars(
        select(AgendaSession).where(AgendaSession.event_id == event.id)
        .order_by(AgendaSession.starts_at, AgendaSession.position, AgendaSession.id)))


# The overview ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Totals:
    """Distinct participants, whatever the place (the door or a session)."""

    in_room: int
    online: int
    attended: int  # either way
    expected_in_person: int  # confirmed, registered to attend in the room
    expected_online: int
    in_room_today: int | None = None  # None: today is not a day of the event
    online_today: int | None = None

    @property
    def expected(self) -> int:
        return self.expected_in_person + self.expected_online


@dataclass
class SessionCount:
    place: Place
    needed_minutes: int  # online, by the rule (0: joining is enough)
    expected: int
    in_room: int = 0  # checked in
    in_room_counted: int = 0  # ... and out again where the session needs it
    online_joined: int = 0
    online_counted: int = 0

    @property
    def session(self) -> AgendaSession:
        return self.place.session


@dataclass(frozen=True)
class DayCount:
    day: date
    in_room: int  # distinct, at the door or any session that day
    online: int
    sessions: int  # sessions that count for attendance that day


@dataclass
class GroupCount:
    key: str | None  # a country code, or an organisation as most often written
    registered: int = 0
    in_room: int = 0
    online: int = 0


@dataclass(frozen=True)
class ByRule:
    """Participants who attended something by the rule (a session or day that counts)."""

    attended: int
    in_room: int  # of those, at least once in the room
    online: int  # ... at least once online (and not in the room for it)
    everything: int  # attended all there was (100 %)
    units: int  # sessions (or days) there are to attend


@dataclass
class Overview:
    rules: Rules
    today: date
    totals: Totals
    days: list[DayCount]
    sessions: list[SessionCount]
    countries: list[GroupCount]
    organisations: list[GroupCount]
    rates: list[ParticipantRate]  # every participant's, in name order
    by_rule: ByRule

    @property
    def counting(self) -> int:
        """Sessions that count for attendance (0: the event as a whole is the one)."""
        return sum(1 for c in self.sessions if c.session.counts_for_attendance)

    @property
    def by_day(self) -> bool:
        return self.rules.unit == "day"


def session_counts(event: Event, sessions: list[AgendaSession] | None = None,
                   expected: int | None = None) -> list[SessionCount]:
    """Each session's numbers, in programme order: one query (two without ``sessions``,
    three without ``expected``)."""
    rules = Rules.of(event)
    sessions = _sessions(event) if sessions is None else sessions
    if expected is None:
        expected = db.session.scalar(select(func.count()).select_from(Registration).where(
            Registration.event_id == event.id, Registration.status == "confirmed")) or 0
    found = {s.id: SessionCount(_place(event, s), rules.needed_minutes(s), expected)
             for s in sessions}
    # Grouped by what the rule looks at, so the rows are few (a minute count is shared by
    # many people) and the rule is applied once per group, in Python, as everywhere.
    checked_out = _a.left_at.is_not(None)
    rows = db.session.execute(
        select(_a.session_id, _a.mode, checked_out.label("out"), _a.minutes,
               func.count().label("n"))
        .select_from(_participants)
        .where(_a.event_id == event.id, _a.session_id.is_not(None))
        .group_by(_a.session_id, _a.mode, checked_out, _a.minutes))
    for row in rows:
        count = found.get(row.session_id)
        if count is None:
            continue
        # The rule asks only whether there is a check-out time, not which.
        counted = attendance.counts(rules, count.session, mode=row.mode,
                                    left_at=utcnow() if row.out else None, minutes=row.minutes)
        if row.mode == "in_person":
            count.in_room += row.n
            count.in_room_counted += row.n if counted else 0
        else:
            count.online_joined += row.n
            count.online_counted += row.n if counted else 0
    return list(found.values())


def _organisation_key(name: str | None) -> str:
    return " ".join((name or "").split()).casefold()


def _groups(event: Event) -> tuple[list[GroupCount], list[GroupCount], Counter]:
    """By country and by organisation (spelt alike whatever the case and spacing), with
    the confirmed per mode: one query."""
    flags = (select(_a.registration_id.label("rid"),
                    func.max(case((_a.mode == "in_person", 1), else_=0)).label("room"),
                    func.max(case((_a.mode == "online", 1), else_=0)).label("online"))
             .where(_a.event_id == event.id).group_by(_a.registration_id).subquery())
    rows = db.session.execute(
        select(_r.country, _r.organisation_name, _r.mode, func.count().label("registered"),
               func.coalesce(func.sum(flags.c.room), 0).label("room"),
               func.coalesce(func.sum(flags.c.online), 0).label("online"))
        .select_from(Registration.__table__.outerjoin(flags, flags.c.rid == _r.id))
        .where(_r.event_id == event.id, _r.status == "confirmed")
        .group_by(_r.country, _r.organisation_name, _r.mode))
    countries: dict[str | None, GroupCount] = {}
    organisations: dict[str, GroupCount] = {}
    spellings: dict[str, Counter] = defaultdict(Counter)
    modes: Counter = Counter()
    for row in rows:
        modes[row.mode] += row.registered
        org = _organisation_key(row.organisation_name)
        if org:
            spellings[org][" ".join(row.organisation_name.split())] += row.registered
        for group in (countries.setdefault(row.country, GroupCount(row.country)),
                      organisations.setdefault(org, GroupCount(None))):
            group.registered += row.registered
            group.in_room += int(row.room)
            group.online += int(row.online)
    for key, group in organisations.items():
        group.key = spellings[key].most_common(1)[0][0] if key else None

    def order(group: GroupCount):
        return (group.key is None, -(group.in_room + group.online), -group.registered,
                (group.key or "").casefold())

    return sorted(countries.values(), key=order), sorted(organisations.values(), key=order), \
        modes


def overview(event: Event, now: datetime | None = None) -> Overview:
    """The numbers of the attendance page, the participants' rates among them: eight
    queries."""
    rules = Rules.of(event)
    current = today(event, now)
    sessions = _sessions(event)
    countries, organisations, expected = _groups(event)

    room = case((_a.mode == "in_person", _a.registration_id))
    online = case((_a.mode == "online", _a.registration_id))
    overall = db.session.execute(
        select(func.count(distinct(room)), func.count(distinct(online)),
               func.count(distinct(_a.registration_id)))
        .select_from(_participants).where(_a.event_id == event.id)).one()
    per_day: dict[date, dict[str, int]] = defaultdict(dict)
    for row in db.session.execute(
            select(_a.day, _a.mode, func.count(distinct(_a.registration_id)).label("n"))
            .select_from(_participants).where(_a.event_id == event.id)
            .group_by(_a.day, _a.mode)):
        per_day[row.day][row.mode] = row.n

    counting = Counter(_place(event, s).day for s in sessions if s.counts_for_attendance)
    days = sorted(set(event_days(event)) | set(per_day))
    in_event = current in set(event_days(event))
    totals = Totals(
        overall[0], overall[1], overall[2], expected["in_person"], expected["online"],
        in_room_today=per_day[current].get("in_person", 0) if in_event else None,
        online_today=per_day[current].get("online", 0) if in_event else None)
    rates = attendance.rates(event)
    return Overview(
        rules=rules, today=current, totals=totals,
        days=[DayCount(d, per_day[d].get("in_person", 0), per_day[d].get("online", 0),
                       counting[d]) for d in days],
        sessions=session_counts(event, sessions, totals.expected),
        countries=countries, organisations=organisations, rates=rates,
        by_rule=ByRule(sum(1 for p in rates if p.attended),
                       sum(1 for p in rates if p.in_person),
                       sum(1 for p in rates if p.online),
                       sum(1 for p in rates if p.total and p.attended == p.total),
                       rates[0].total if rates else 0))


# Attendance rates -----------------------------------------------------------------------------

@dataclass(frozen=True)
class RateFilter:
    below: int | None = None  # only those under this percentage
    mode: str | None = None  # as registered
    q: str | None = None  # in the name or organisation
    sort: str = "name"

    def clean(self) -> RateFilter:
        """Unknown values are ignored rather than an error, as on the registrations list."""
        below = self.below if isinstance(self.below, int) and 1 <= self.below <= 100 \
            else None
        q = "".join(ch for ch in (self.q or "")[:200] if ch.isprintable())
        return RateFilter(below=below,
                          mode=self.mode if self.mode in ATTENDANCE_MODES else None,
                          q=" ".join(q.split())[:100] or None,
                          sort=self.sort if self.sort in RATE_SORTS else "name")


@dataclass
class RatesPage:
    rates: list[ParticipantRate]  # this page's
    total: int  # matching the filter
    page: int
    pages: int


def filtered_rates(event: Event, f: RateFilter,
                   rates: list[ParticipantRate] | None = None) -> list[ParticipantRate]:
    """The participants' rates (``rates`` when already computed), filtered and ordered."""
    f = f.clean()
    found = attendance.rates(event) if rates is None else list(rates)
    if f.below is not None:
        found = [p for p in found if p.percent < f.below]
    if f.mode:
        found = [p for p in found if p.mode == f.mode]
    if f.q:
        needle = f.q.casefold()
        found = [p for p in found if needle in p.name.casefold()
                 or needle in (p.organisation or "").casefold()]
    if f.sort == "rate":
        found.sort(key=lambda p: (p.rate, p.name.casefold()))
    elif f.sort == "-rate":
        found.sort(key=lambda p: (-p.rate, p.name.casefold()))
    return found


def rates_page(event: Event, f: RateFilter, page: int = 1,
               rates: list[ParticipantRate] | None = None) -> RatesPage:
    """A page of the participants' rates: three queries, none with ``rates``."""
    found = filtered_rates(event, f, rates)
    pages = max(1, -(-len(found) // RATES_PAGE_SIZE))
    page = min(max(1, page), pages)
    return RatesPage(found[(page - 1) * RATES_PAGE_SIZE:page * RATES_PAGE_SIZE], len(found),
                     page, pages)


# Exports --------------------------------------------------------------------------------------

def _export_rows(event: Event, f: RateFilter) -> Iterator[list[object]]:
    """A row per participant; then a column per session that counts (or per day, when the
    rate is of days) with 1 where they attended, so a spreadsheet can add them up."""
    found = filtered_rates(event, f)
    emails = {row.id: row.email for row in db.session.execute(select(_r.id, _r.email).where(
        _r.event_id == event.id, _r.status == "confirmed"))}
    modes = {"in_person": _("In person"), "online": _("Online")}
    if Rules.of(event).unit == "day":
        places = [(d.isoformat(), d) for d in event_days(event)]
        attended, total = _("Days attended"), _("Days of the event")

        def done(p: ParticipantRate) -> set:
            return p.days
    else:
        sessions = [_place(event, s) for s in attendance.counting_sessions(event)]
        places = [(f"{p.starts:%Y-%m-%d %H:%M} {p.session.title}", p.session.id)
                  for p in sessions]
        attended, total = _("Sessions attended"), _("Sessions that count")

        def done(p: ParticipantRate) -> set:
            return p.sessions
    yield [_("Id"), _("Name"), _("Email"), _("Organisation"), _("Country code"),
           _("Country"), _("Attending"), attended, total, _("Attendance %"),
           _("In the room"), _("Online"), *(label for label, _key in places)]
    for p in found:
        yield [p.registration_id, p.name, emails.get(p.registration_id, ""),
               p.organisation or "", p.country or "", country_name(p.country),
               modes.get(p.mode, p.mode), p.attended, p.total, p.percent, p.in_person,
               p.online, *(1 if key in done(p) else None for _label, key in places)]


def _session_rows(event: Event) -> Iterator[list[object]]:
    yes, no = _("yes"), _("no")
    yield [_("Session"), _("Day"), _("Starts"), _("Ends"), _("Counts for attendance"),
           _("Needs check-out"), _("Expected"), _("In the room"),
           _("In the room, counted"), _("Online, joined"), _("Online, counted")]
    for c in session_counts(event):
        yield [c.session.title, c.place.day.isoformat(), f"{c.place.starts:%H:%M}",
               f"{c.place.ends:%H:%M}", yes if c.session.counts_for_attendance else no,
               yes if c.session.needs_checkout else no, c.expected, c.in_room,
               c.in_room_counted, c.online_joined, c.online_counted]


def export_csv(event: Event, f: RateFilter) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    for row in _export_rows(event, f):
        writer.writerow([inert(v) if isinstance(v, str) else ("" if v is None else v)
                         for v in row])
    # A BOM so that Excel opens UTF-8 (Chinese, Urdu, Thai names) as UTF-8.
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def export_xlsx(event: Event, f: RateFilter) -> bytes:
    """Two sheets: the participants' rates, and the sessions' numbers. Text cells are typed
    as text, so nothing a participant wrote is ever run as a formula."""
    workbook = Workbook(write_only=True)
    for title, rows in ((_("Attendance"), _export_rows(event, f)),
                        (_("Sessions"), _session_rows(event))):
        sheet = workbook.create_sheet(title)
        for row in rows:
            cells = []
            for value in row:
                cell = WriteOnlyCell(sheet, value=value)
                if isinstance(value, str):
                    cell.data_type = "s"
                cells.append(cell)
            sheet.append(cells)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


# Sheets ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Presence:
    arrived_at: datetime  # in the event's time zone
    left_at: datetime | None
    minutes: int | None
    joins: int
    source: str
    by: str | None


@dataclass(frozen=True)
class Participant:
    registration_id: int
    name: str
    name_native: str | None
    organisation: str | None
    country: str | None
    mode: str


@dataclass
class SheetRow:
    person: Participant
    in_room: Presence | None = None
    online: Presence | None = None
    note: str | None = None
    door: Presence | None = None  # checked in for the whole event that day
    in_room_counts: bool = False
    online_counts: bool = False

    @property
    def registration_id(self) -> int:
        return self.person.registration_id

    @property
    def attended(self) -> bool:
        return self.in_room_counts or self.online_counts


@dataclass
class SessionSheet:
    place: Place
    rules: Rules
    needed_minutes: int
    rows: list[SheetRow]  # those listed (all, or those registered in one mode)
    expected: int  # every participant
    in_room: int = 0
    in_room_counted: int = 0
    checked_out: int = 0
    online_joined: int = 0
    online_counted: int = 0
    attended: int = 0  # by the rule, either way
    door: int = 0  # checked in for the whole event that day

    @property
    def session(self) -> AgendaSession:
        return self.place.session


def _participants_of(event: Event, mode: str | None = None) -> list[Participant]:
    query = select(_r.id, _r.name, _r.name_native, _r.organisation_name, _r.country,
                   _r.mode).where(_r.event_id == event.id, _r.status == "confirmed")
    return [Participant(*row) for row in db.session.execute(
        query.order_by(func.lower(_r.name), _r.id))
        if mode is None or row.mode == mode]


def _presence(event: Event, row) -> Presence:
    """As the sheet shows it: times on the event's clock."""
    zone = attendance.zone_of(event)
    return Presence(row.arrived_at.astimezone(zone),
                    row.left_at.astimezone(zone) if row.left_at else None,
                    row.minutes, row.joins, row.source, row.by)


def _presence_rows(event: Event, where):
    return db.session.execute(
        select(_a.registration_id, _a.session_id, _a.mode, _a.arrived_at, _a.left_at,
               _a.minutes, _a.joins, _a.source, User.name.label("by"))
        .select_from(Attendance.__table__.outerjoin(User, User.id == _a.by_user_id))
        .where(_a.event_id == event.id, where))


def session_sheet(event: Event, session: AgendaSession, mode: str | None = None
                  ) -> SessionSheet:
    """A session's sheet: every participant (or those registered in ``mode``), with their
    presence in the room and online, whether they came through the door that day, and the
    organisers' note: three queries."""
    rules = Rules.of(event)
    mode = mode if mode in ATTENDANCE_MODES else None
    place = _place(event, session)
    people = _participants_of(event)
    rows = {p.registration_id: SheetRow(p) for p in people}
    door = _a.session_id.is_(None) & (_a.day == place.day) & (_a.mode == "in_person")
    for row in _presence_rows(event, or_(_a.session_id == session.id, door)):
        sheet_row = rows.get(row.registration_id)
        if sheet_row is None:
            continue  # no longer a participant
        if row.session_id is None:
            sheet_row.door = _presence(event, row)
            continue
        counted = attendance.counts(rules, session, mode=row.mode, left_at=row.left_at,
                                    minutes=row.minutes)
        if row.mode == "in_person":
            sheet_row.in_room, sheet_row.in_room_counts = _presence(event, row), counted
        else:
            sheet_row.online, sheet_row.online_counts = _presence(event, row), counted
    for rid, note in db.session.execute(
            select(AttendanceNote.registration_id, AttendanceNote.note)
            .where(AttendanceNote.session_id == session.id)):
        if rid in rows:
            rows[rid].note = note
    everyone = list(rows.values())
    return SessionSheet(
        place=place, rules=rules,
        needed_minutes=rules.needed_minutes(session),
        rows=[r for r in everyone if mode is None or r.person.mode == mode],
        expected=len(everyone),
        in_room=sum(1 for r in everyone if r.in_room),
        in_room_counted=sum(1 for r in everyone if r.in_room_counts),
        checked_out=sum(1 for r in everyone if r.in_room and r.in_room.left_at),
        online_joined=sum(1 for r in everyone if r.online),
        online_counted=sum(1 for r in everyone if r.online_counts),
        attended=sum(1 for r in everyone if r.attended),
        door=sum(1 for r in everyone if r.door))


@dataclass
class SheetChanges:
    """What a sheet's form asks for, as the difference from the page the person saw, so
    two people at one sheet (or a scan at the door meanwhile) do not undo each other."""

    listed: set[int] = field(default_factory=set)  # the people on the page
    present: set[int] = field(default_factory=set)  # ticked since
    absent: set[int] = field(default_factory=set)  # unticked since
    out: set[int] = field(default_factory=set)  # to check out
    notes: dict[int, str] = field(default_factory=dict)  # changed notes ("" removes)
    all_present: bool = False  # everyone listed
    all_out: bool = False  # everyone listed who is in the room
    # Whom "everyone" means: while a name is being found on the page, only the rows it
    # shows (None: all listed). A bulk button must never tick people the organiser cannot see.
    shown: set[int] | None = None

    @property
    def everyone(self) -> set[int]:
        return set(self.listed if self.shown is None else self.shown & self.listed)


@dataclass(frozen=True)
class SheetSaved:
    present: int
    absent: int
    out: int
    notes: int


def _check_participants(event: Event, ids: set[int]) -> None:
    attendance.confirmed_ids(event, ids, refusal=_(
        "Some of the people on this sheet are not confirmed participants of this event. "
        "Reload the page and try again."))


def save_session_sheet(event: Event, session: AgendaSession, changes: SheetChanges, *,
                       staff: User | None, now: datetime | None = None) -> SheetSaved:
    """Apply a session sheet: everything is checked before anything is written, so a bad
    sheet changes nothing."""
    if not changes.listed >= (changes.present | changes.absent | changes.out
                              | set(changes.notes)):
        raise ServiceError(_("The sheet refers to people it does not list. Reload the page "
                             "and try again."))
    if (changes.out or changes.all_out) and not session.needs_checkout:
        raise ServiceError(_("This session does not need a check-out."))
    _check_participants(event, changes.listed)
    notes = {rid: clean_text(text, NOTE_LIMIT) or "" for rid, text in changes.notes.items()}
    present = changes.everyone | changes.present if changes.all_present else changes.present
    absent = changes.absent - present
    out = set(changes.out)
    if changes.all_out:
        out |= changes.everyone
    # One transaction: a sheet is saved whole or not at all.
    for rid, text in sorted(notes.items()):
        attendance.set_note(event, session, rid, text, staff=staff, commit=False)
    removed = attendance.mark(event, session, sorted(absent), present=False, staff=staff,
                              now=now, commit=False) if absent else 0
    added = attendance.mark(event, session, sorted(present), present=True, staff=staff,
                            now=now, commit=False) if present else 0
    left = attendance.mark_out(event, session, sorted(out), staff=staff, now=now,
                               commit=False) if out else 0
    db.session.commit()
    return SheetSaved(added, removed, left, len(notes))


# The day's grid -------------------------------------------------------------------------------

@dataclass
class DayRow:
    person: Participant
    cells: dict[int, SheetRow] = field(default_factory=dict)  # by session id
    door: Presence | None = None  # checked in for the whole event that day

    @property
    def registration_id(self) -> int:
        return self.person.registration_id

    @property
    def attended(self) -> int:
        return sum(1 for c in self.cells.values() if c.attended)


@dataclass
class DaySheet:
    day: date
    days: list[date]  # of the event, for moving between them
    places: list[Place]  # the sessions that count that day
    rows: list[DayRow]
    in_room: dict[int, int]  # per session
    attended: dict[int, int]  # per session, by the rule
    door: int  # checked in for the whole event that day

    @property
    def previous(self) -> date | None:
        before = [d for d in self.days if d < self.day]
        return before[-1] if before else None

    @property
    def next(self) -> date | None:
        after = [d for d in self.days if d > self.day]
        return after[0] if after else None


def check_day(event: Event, day: date) -> None:
    if not event.start_date <= day <= event.end_date:
        raise NotFound(_("The event does not take place on that day."))


def day_places(event: Event, day: date) -> list[Place]:
    check_day(event, day)
    return [p for p in (_place(event, s) for s in attendance.counting_sessions(event))
            if p.day == day]


def day_sheet(event: Event, day: date, mode: str | None = None) -> DaySheet:
    """Participants by the sessions that count on ``day`` (the event's calendar): three
    queries."""
    rules = Rules.of(event)
    places = day_places(event, day)
    sessions = {p.session.id: p.session for p in places}
    mode = mode if mode in ATTENDANCE_MODES else None
    rows = {p.registration_id: DayRow(p, {sid: SheetRow(p) for sid in sessions})
            for p in _participants_of(event)}
    where = (_a.session_id.is_(None) & (_a.day == day) & (_a.mode == "in_person"))
    if sessions:
        where = or_(where, _a.session_id.in_(sorted(sessions)))
    for row in _presence_rows(event, where):
        day_row = rows.get(row.registration_id)
        if day_row is None:
            continue
        if row.session_id is None:
            day_row.door = _presence(event, row)
            continue
        cell = day_row.cells[row.session_id]
        counted = attendance.counts(rules, sessions[row.session_id], mode=row.mode,
                                    left_at=row.left_at, minutes=row.minutes)
        if row.mode == "in_person":
            cell.in_room, cell.in_room_counts = _presence(event, row), counted
        else:
            cell.online, cell.online_counts = _presence(event, row), counted
    everyone = list(rows.values())
    return DaySheet(
        day=day, days=event_days(event), places=places,
        rows=[r for r in everyone if mode is None or r.person.mode == mode],
        in_room={sid: sum(1 for r in everyone if r.cells[sid].in_room) for sid in sessions},
        attended={sid: sum(1 for r in everyone if r.cells[sid].attended) for sid in sessions},
        door=sum(1 for r in everyone if r.door))


@dataclass
class DayChanges:
    listed: set[int] = field(default_factory=set)  # people on the page
    present: set[tuple[int, int]] = field(default_factory=set)  # (session id, person) ticked
    absent: set[tuple[int, int]] = field(default_factory=set)  # ... unticked
    whole_day: set[int] = field(default_factory=set)  # people present at every session
    whole_session: set[int] = field(default_factory=set)  # sessions everyone listed attended
    shown: set[int] | None = None  # as SheetChanges.shown

    @property
    def everyone(self) -> set[int]:
        return set(self.listed if self.shown is None else self.shown & self.listed)


def save_day_sheet(event: Event, day: date, changes: DayChanges, *, staff: User | None,
                   now: datetime | None = None) -> SheetSaved:
    """Apply a day's grid, everything checked first; the "whole day" and "whole session"
    buttons come after the single ticks, so they win over an untick in the same send."""
    sessions = {p.session.id: p.session for p in day_places(event, day)}
    cells = changes.present | changes.absent
    if not {sid for sid, _ in cells} | changes.whole_session <= set(sessions):
        raise ServiceError(_("The sheet refers to a session that does not count on this "
                             "day. Reload the page and try again."))
    if not {rid for _, rid in cells} | changes.whole_day <= changes.listed:
        raise ServiceError(_("The sheet refers to people it does not list. Reload the page "
                             "and try again."))
    _check_participants(event, changes.listed)
    present: dict[int, set[int]] = defaultdict(set)
    absent: dict[int, set[int]] = defaultdict(set)
    for sid, rid in changes.present:
        present[sid].add(rid)
    for sid, rid in changes.absent:
        absent[sid].add(rid)
    for sid in sessions:
        present[sid] |= changes.whole_day
    for sid in changes.whole_session:
        present[sid] |= changes.everyone
    added = removed = 0
    for sid, session in sessions.items():
        gone = absent[sid] - present[sid]
        if gone:
            removed += attendance.mark(event, session, sorted(gone), present=False,
                                       staff=staff, now=now, commit=False)
        if present[sid]:
            added += attendance.mark(event, session, sorted(present[sid]), present=True,
                                     staff=staff, now=now, commit=False)
    db.session.commit()  # the whole grid in one transaction
    return SheetSaved(added, removed, 0, 0)
