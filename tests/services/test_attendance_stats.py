"""Attendance in numbers and on sheets (eventsys/services/attendance_stats.py): the event's,
days' and sessions' counts under each rule, by country and organisation, the rates and
their exports, and the sheets' saving (differences only, all checked first)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from eventsys.extensions import db
from eventsys.models import Attendance, AttendanceNote, Registration
from eventsys.services import agenda, attendance, attendance_stats
from eventsys.services import registration as reg
from eventsys.services.agenda import SessionData
from eventsys.services.attendance_stats import DayChanges, RateFilter, SheetChanges
from eventsys.services.errors import NotFound, ServiceError
from eventsys.services.registration import RegistrationInput

# Helpers ---------------------------------------------------------------------------------


def person(event, n: int, mode: str = "in_person", **kw) -> Registration:
    out = reg.register(event, RegistrationInput(f"p{n}@example.org", kw.pop("name", f"Person {n}"),
                                                mode, **kw))
    return db.session.get(Registration, out.registration_id)


def session_at(event, hour: int, minutes: int = 60, day: int = 0, **kw):
    start = datetime.combine(event.start_date + timedelta(days=day),
                             datetime.min.time()).replace(hour=hour, minute=kw.pop("minute", 0))
    return agenda.create_session(event, SessionData(
        kw.pop("title", f"Lecture {day}/{hour}"), kw.pop("kind", "lecture"), start,
        start + timedelta(minutes=minutes), **kw), actor=None)


def rows() -> int:
    return db.session.scalar(select(func.count()).select_from(Attendance))


def during(event, day: int = 0, hour: int = 10):
    """A moment of the event (in its zone, Asia/Shanghai)."""
    local = datetime.combine(event.start_date + timedelta(days=day), datetime.min.time())
    return local.replace(hour=hour, tzinfo=attendance.zone_of(event)).astimezone(UTC)


@pytest.fixture
def staff(make_user):
    return make_user("staff@example.org", "Zhao Lei")


@pytest.fixture
def forum(make_event):
    event = make_event("forum")
    reg.set_capacities(event, {"in_person": None, "online": None}, actor=None)
    return event


@pytest.fixture
def workshop(make_event):
    event = make_event("workshop", kind="workshop", days=2)
    reg.set_capacities(event, {"in_person": None, "online": None}, actor=None)
    return event


# The overview --------------------------------------------------------------------------------

def test_event_numbers_count_people_in_the_room_and_online(forum, staff):
    """The forum: some at the door, some watching; each person once however often."""
    room = [person(forum, n, organisation_name="Tsinghua Science Park", country="CN")
            for n in range(1, 4)]
    absent = person(forum, 4, country="PK")
    screen = [person(forum, n, mode="online", country="PK",
                     organisation_name=" tsinghua  science park") for n in (5, 6)]
    keynote = session_at(forum, 9)
    for r in room[:2]:
        attendance.check_in(forum, r.ticket_code, session=None, staff=staff,
                            now=during(forum))
    attendance.mark(forum, keynote, [room[0].id, room[2].id], present=True, staff=staff)
    attendance.record_online(forum, {(screen[0].id, keynote.id): (50, keynote.starts_at),
                                     (screen[0].id, None): (80, keynote.starts_at)})
    db.session.commit()

    numbers = attendance_stats.overview(forum, now=during(forum, hour=18))
    t = numbers.totals
    assert (t.in_room, t.online, t.attended) == (3, 1, 4)
    assert (t.expected_in_person, t.expected_online, t.expected) == (4, 2, 6)
    assert (t.in_room_today, t.online_today) == (3, 1)
    assert [(d.day, d.in_room, d.online, d.sessions) for d in numbers.days] == [
        (forum.start_date, 3, 1, 1)]
    assert attendance_stats.overview(forum, now=during(forum, day=-3)).totals.in_room_today \
        is None  # not a day of the event
    countries = {c.key: (c.registered, c.in_room, c.online) for c in numbers.countries}
    assert countries == {"CN": (3, 3, 0), "PK": (3, 0, 1)}
    # Spelt alike whatever the case and spaces, written as most of them wrote it.
    organisations = [(o.key, o.registered, o.in_room, o.online) for o in numbers.organisations]
    assert organisations == [("Tsinghua Science Park", 5, 3, 1), (None, 1, 0, 0)]
    assert absent.id in {p.registration_id for p in numbers.rates}


def test_session_numbers_apply_the_rule(workshop, staff):
    lecture = session_at(workshop, 9)  # an hour
    trip = session_at(workshop, 13, minutes=240, kind="field_trip", needs_checkout=True)
    assert trip.needs_checkout
    ana, ben, cao = person(workshop, 1), person(workshop, 2), person(workshop, 3)
    dai, eli = person(workshop, 4, mode="online"), person(workshop, 5, mode="online")
    attendance.mark(workshop, trip, [ana.id, ben.id], present=True, staff=staff)
    attendance.mark_out(workshop, trip, [ana.id], staff=staff)
    attendance.record_online(workshop, {(dai.id, lecture.id): (40, lecture.starts_at),
                                        (eli.id, lecture.id): (10, lecture.starts_at)})
    attendance.mark(workshop, lecture, [cao.id], present=True, staff=staff)
    db.session.commit()

    def numbers():
        return {c.session.id: (c.in_room, c.in_room_counted, c.online_joined,
                               c.online_counted, c.expected, c.needed_minutes)
                for c in attendance_stats.session_counts(workshop)}

    assert numbers() == {lecture.id: (1, 1, 2, 2, 5, 0), trip.id: (2, 1, 0, 0, 5, 0)}
    attendance.update_rules(workshop, 30, None, actor=None)
    assert numbers()[lecture.id] == (1, 1, 2, 1, 5, 30)
    attendance.update_rules(workshop, None, 10, actor=None)  # 10 % of an hour: 6 minutes
    assert numbers()[lecture.id] == (1, 1, 2, 2, 5, 6)
    attendance.update_rules(workshop, 45, 50, actor=None)  # either: 30 minutes suffice
    assert numbers()[lecture.id] == (1, 1, 2, 1, 5, 30)
    sheet = attendance_stats.session_sheet(workshop, trip)
    assert (sheet.in_room, sheet.in_room_counted, sheet.checked_out, sheet.attended) == (
        2, 1, 1, 1)
    by_id = {r.registration_id: r for r in sheet.rows}
    assert by_id[ana.id].attended and not by_id[ben.id].attended
    assert by_id[ben.id].in_room.left_at is None and by_id[ana.id].in_room.left_at


def test_only_participants_are_counted(forum, staff):
    """A registration cancelled after it was checked in is no longer a participant."""
    ana, ben = person(forum, 1), person(forum, 2)
    for r in (ana, ben):
        attendance.check_in(forum, r.ticket_code, session=None, staff=staff)
    reg.cancel(ben.id, actor=None, by_participant=True)
    numbers = attendance_stats.overview(forum)
    assert (numbers.totals.in_room, numbers.totals.expected) == (1, 1)
    assert [p.registration_id for p in numbers.rates] == [ana.id]


def test_rates_by_session_and_without_counting_sessions(workshop, staff):
    ana, ben = person(workshop, 1), person(workshop, 2)
    session_at(workshop, 12, kind="break", counts_for_attendance=False)
    # No session counts: having been there at all is the one thing.
    attendance.check_in(workshop, ana.ticket_code, session=None, staff=staff,
                        now=during(workshop))
    numbers = attendance_stats.overview(workshop)
    assert numbers.counting == 0 and not numbers.by_day
    assert {p.registration_id: p.percent for p in numbers.rates} == {ana.id: 100, ben.id: 0}
    assert numbers.by_rule.attended == 1 and numbers.by_rule.everything == 1
    lectures = [session_at(workshop, h) for h in (9, 14)]
    attendance.mark(workshop, lectures[0], [ana.id, ben.id], present=True, staff=staff)
    numbers = attendance_stats.overview(workshop)
    assert numbers.counting == 2
    assert {p.registration_id: (p.attended, p.total) for p in numbers.rates} == {
        ana.id: (1, 2), ben.id: (1, 2)}


def test_rate_filters(workshop, staff):
    lectures = [session_at(workshop, h) for h in (9, 11, 14, 16)]
    people = [person(workshop, 1, name="Ayesha Siddiqui", organisation_name="NSTP"),
              person(workshop, 2, name="Budi Santoso", organisation_name="Bandung Techno"),
              person(workshop, 3, name="Chen Li", mode="online"),
              person(workshop, 4, name="Dewi Lestari")]
    for n, lecture in enumerate(lectures):
        attendance.mark(workshop, lecture, [p.id for p in people[: 4 - n]], present=True,
                        staff=staff)

    def names(**kw):
        return [p.name for p in attendance_stats.filtered_rates(workshop, RateFilter(**kw))]

    assert names() == ["Ayesha Siddiqui", "Budi Santoso", "Chen Li", "Dewi Lestari"]
    assert names(below=75) == ["Chen Li", "Dewi Lestari"]  # 50 % and 25 %
    assert names(below=100, sort="rate") == ["Dewi Lestari", "Chen Li", "Budi Santoso"]
    assert names(sort="-rate")[0] == "Ayesha Siddiqui"
    assert names(mode="online") == ["Chen Li"]
    assert names(q="  bandung ") == ["Budi Santoso"]
    # Nonsense is ignored, not an error.
    assert len(names(below=0, mode="by pigeon", sort="'; drop", q="\x00")) == 4
    page = attendance_stats.rates_page(workshop, RateFilter(), page=99)
    assert (page.page, page.pages, page.total) == (1, 1, 4)


def test_numbers_take_the_same_queries_for_5_and_50(make_event, staff, count_queries):
    def build(slug, n):
        event = make_event(slug, kind="workshop", days=7)
        reg.set_capacities(event, {"in_person": None, "online": None}, actor=None)
        sessions = [session_at(event, 8 + i % 8, day=i // 8) for i in range(n)]
        people = [person(event, 1000 * len(slug) + i, mode=("online" if i % 3 else "in_person"),
                         country=("CN", "PK", "TH")[i % 3], organisation_name=f"Park {i % 4}")
                  for i in range(n)]
        for s in sessions:
            attendance.mark(event, s, [p.id for p in people[::2]], present=True, staff=staff)
        attendance.record_online(event, {(p.id, s.id): (30, s.starts_at)
                                         for p in people[1::3] for s in sessions})
        db.session.commit()
        return event, sessions[0]

    def queries(event, first) -> list[int]:
        found = []
        for call in (lambda: attendance_stats.overview(event),
                     lambda: attendance_stats.session_sheet(event, first),
                     lambda: attendance_stats.day_sheet(event, event.start_date),
                     lambda: attendance_stats.export_xlsx(event, RateFilter())):
            db.session.expire_all()
            count_queries["n"] = 0
            call()
            found.append(count_queries["n"])
        return found

    few = queries(*build("few", 5))
    many = queries(*build("many-more", 50))
    assert few == many, (few, many)
    # Besides reloading the event (and SQLite's BEGIN): 8, 3 and 3 queries.
    assert few[0] <= 10 and few[1] <= 5 and few[2] <= 5


# Exports -------------------------------------------------------------------------------------

def test_exports_open_and_are_formula_safe(workshop, staff):
    lectures = [session_at(workshop, 9, title="=Opening"), session_at(workshop, 11)]
    ana = person(workshop, 1, name="=HYPERLINK(\"http://evil\")", organisation_name="+Park",
                 country="PK")
    ben = person(workshop, 2, name="王明阳", organisation_name="@Tsinghua")
    attendance.mark(workshop, lectures[0], [ana.id, ben.id], present=True, staff=staff)
    attendance.mark(workshop, lectures[1], [ben.id], present=True, staff=staff)

    body = attendance_stats.export_csv(workshop, RateFilter())
    assert body.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    header, lines = table[0], {line[0]: line for line in table[1:]}
    assert header[:3] == ["Id", "Name", "Email"] and header[-2].endswith(" =Opening")
    assert lines[str(ana.id)][1:4] == ["'=HYPERLINK(\"http://evil\")", "p1@example.org",
                                       "'+Park"]
    assert lines[str(ana.id)][7:12] == ["1", "2", "50", "1", "0"]
    assert lines[str(ana.id)][-2:] == ["1", ""]
    assert lines[str(ben.id)][1] == "王明阳" and lines[str(ben.id)][3] == "'@Tsinghua"
    below = attendance_stats.export_csv(workshop, RateFilter(below=100))
    assert len(list(csv.reader(io.StringIO(below.decode("utf-8-sig"))))) == 2

    book = load_workbook(io.BytesIO(attendance_stats.export_xlsx(workshop, RateFilter())))
    assert book.sheetnames == ["Attendance", "Sessions"]
    sheet = book["Attendance"]
    values = {row[0].value: row for row in sheet.iter_rows(min_row=2)}
    cell = values[ana.id][1]
    assert cell.value == "=HYPERLINK(\"http://evil\")" and cell.data_type == "s"
    assert values[ana.id][9].value == 50 and values[ben.id][9].value == 100
    sessions = list(book["Sessions"].iter_rows(values_only=True))
    assert sessions[1][0] == "=Opening" and sessions[1][7] == 2


def test_exports_by_day_have_a_column_per_day(forum, staff):
    ana = person(forum, 1)
    attendance.check_in(forum, ana.ticket_code, session=None, staff=staff, now=during(forum))
    table = list(csv.reader(io.StringIO(
        attendance_stats.export_csv(forum, RateFilter()).decode("utf-8-sig"))))
    assert table[0][7:9] == ["Days attended", "Days of the event"]
    assert table[0][-1] == forum.start_date.isoformat() and table[1][-1] == "1"


# Sheets --------------------------------------------------------------------------------------

def test_a_session_sheet_ticks_unticks_notes_and_checks_out(workshop, staff):
    trip = session_at(workshop, 13, minutes=240, kind="field_trip", needs_checkout=True)
    ana, ben, cao = person(workshop, 1), person(workshop, 2), person(workshop, 3)
    everyone = {ana.id, ben.id, cao.id}
    saved = attendance_stats.save_session_sheet(workshop, trip, SheetChanges(
        listed=everyone, present={ana.id, ben.id}, notes={cao.id: " excused  (visa) "}),
        staff=staff)
    assert (saved.present, saved.absent, saved.notes) == (2, 0, 1)
    assert db.session.scalar(select(AttendanceNote.note)) == "excused (visa)"
    saved = attendance_stats.save_session_sheet(workshop, trip, SheetChanges(
        listed=everyone, absent={ben.id}, out={ana.id}), staff=staff)
    assert (saved.absent, saved.out) == (1, 1)
    sheet = attendance_stats.session_sheet(workshop, trip)
    assert (sheet.in_room, sheet.checked_out, sheet.attended) == (1, 1, 1)
    saved = attendance_stats.save_session_sheet(workshop, trip, SheetChanges(
        listed=everyone, all_present=True, notes={cao.id: ""}), staff=staff)
    assert (saved.present, saved.notes) == (2, 1)
    assert db.session.scalar(select(func.count()).select_from(AttendanceNote)) == 0
    attendance_stats.save_session_sheet(workshop, trip, SheetChanges(
        listed=everyone, all_out=True), staff=staff)
    assert attendance_stats.session_sheet(workshop, trip).attended == 3


def test_a_sheet_is_all_checked_before_anything_is_written(workshop, make_event, staff):
    lecture = session_at(workshop, 9)
    ana = person(workshop, 1)
    other = make_event("other")
    reg.set_capacities(other, {"in_person": None}, actor=None)
    stranger = person(other, 9)
    cancelled = person(workshop, 3)
    reg.cancel(cancelled.id, actor=None, by_participant=True)
    bad = [
        SheetChanges(listed={ana.id, stranger.id}, present={ana.id, stranger.id}),
        SheetChanges(listed={ana.id, cancelled.id}, present={ana.id, cancelled.id}),
        SheetChanges(listed={ana.id}, present={ana.id, 999999}),  # not on the page
        SheetChanges(listed={ana.id}, present={ana.id}, notes={ana.id: "x" * 201}),
        SheetChanges(listed={ana.id}, present={ana.id}, notes={ana.id: "late\x00"}),
        SheetChanges(listed={ana.id}, out={ana.id}),  # the lecture needs no check-out
    ]
    for changes in bad:
        with pytest.raises(ServiceError):
            attendance_stats.save_session_sheet(workshop, lecture, changes, staff=staff)
        db.session.rollback()
        assert rows() == 0
        assert db.session.scalar(select(func.count()).select_from(AttendanceNote)) == 0


def test_a_sheet_only_applies_what_changed_on_the_page(workshop, staff):
    """Staff B opened the sheet before the door scanned Ana: B's save does not untick her."""
    lecture = session_at(workshop, 9)
    ana, ben = person(workshop, 1), person(workshop, 2)
    attendance.check_in(workshop, ana.ticket_code, session=lecture, staff=staff)
    attendance_stats.save_session_sheet(workshop, lecture, SheetChanges(
        listed={ana.id, ben.id}, present={ben.id}), staff=staff)
    assert attendance_stats.session_sheet(workshop, lecture).in_room == 2


def test_a_day_sheet_is_the_days_sessions_on_the_events_clock(workshop, staff):
    late = session_at(workshop, 23, minute=30, minutes=30, title="Late")
    morning = session_at(workshop, 9, title="Morning")
    # 07:00 in Shanghai on the second day is 23:00 UTC the day before.
    early = session_at(workshop, 7, day=1, title="Early")
    session_at(workshop, 12, kind="break", counts_for_attendance=False)
    ana, ben = person(workshop, 1), person(workshop, 2, mode="online")
    sheet = attendance_stats.day_sheet(workshop, workshop.start_date)
    assert [p.session.title for p in sheet.places] == ["Morning", "Late"]
    assert {p.day for p in sheet.places} == {workshop.start_date}
    assert [p.session.title for p in attendance_stats.day_sheet(
        workshop, workshop.start_date + timedelta(days=1)).places] == ["Early"]
    assert [r.person.name for r in attendance_stats.day_sheet(
        workshop, workshop.start_date, mode="online").rows] == ["Person 2"]
    saved = attendance_stats.save_day_sheet(workshop, workshop.start_date, DayChanges(
        listed={ana.id, ben.id}, present={(morning.id, ana.id)}, whole_day={ben.id}),
        staff=staff)
    assert saved.present == 3
    sheet = attendance_stats.day_sheet(workshop, workshop.start_date)
    assert sheet.in_room == {morning.id: 2, late.id: 1}
    cells = {r.registration_id: r.attended for r in sheet.rows}
    assert cells == {ana.id: 1, ben.id: 2}
    saved = attendance_stats.save_day_sheet(workshop, workshop.start_date, DayChanges(
        listed={ana.id, ben.id}, absent={(morning.id, ben.id)}, whole_session={late.id}),
        staff=staff)
    assert (saved.present, saved.absent) == (1, 1)
    assert attendance_stats.day_sheet(workshop, workshop.start_date).in_room == {
        morning.id: 1, late.id: 2}
    with pytest.raises(NotFound):
        attendance_stats.day_sheet(workshop, workshop.end_date + timedelta(days=1))
    with pytest.raises(ServiceError):  # a session of another day
        attendance_stats.save_day_sheet(workshop, workshop.start_date, DayChanges(
            listed={ana.id}, present={(early.id, ana.id)}), staff=staff)
    with pytest.raises(ServiceError):  # someone not on the page
        attendance_stats.save_day_sheet(workshop, workshop.start_date, DayChanges(
            listed={ana.id}, whole_day={ben.id}), staff=staff)


def test_a_day_without_counting_sessions_shows_the_door(forum, staff):
    ana = person(forum, 1)
    attendance.check_in(forum, ana.ticket_code, session=None, staff=staff, now=during(forum))
    sheet = attendance_stats.day_sheet(forum, forum.start_date)
    assert sheet.places == [] and sheet.door == 1
    assert sheet.rows[0].door.arrived_at.hour == 10  # on the event's clock


def test_a_session_sheet_shows_who_came_through_the_door_that_day(forum, staff):
    keynote = session_at(forum, 9)
    ana, ben = person(forum, 1), person(forum, 2)
    attendance.check_in(forum, ana.ticket_code, session=None, staff=staff,
                        now=during(forum, hour=8))
    attendance.check_in(forum, ben.ticket_code, session=None, staff=staff,
                        now=during(forum, day=-1))  # the day before: not this day's door
    sheet = attendance_stats.session_sheet(forum, keynote)
    assert (sheet.door, sheet.in_room) == (1, 0)
    assert [r.registration_id for r in sheet.rows if r.door] == [ana.id]
