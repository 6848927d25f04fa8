"""Attendance (eventsys/services/attendance.py): check-in once, whatever the races and the
replays; sheets; tracked joining links; online minutes; the rules and the rates."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from eventsys.extensions import db
from eventsys.models import Attendance, AttendanceNote, Event, Registration, User
from eventsys.services import agenda, attendance, mailings
from eventsys.services import registration as reg
from eventsys.services.agenda import SessionData
from eventsys.services.errors import NotFound, ServiceError
from eventsys.services.registration import RegistrationInput
from tests.conftest import base_config, last_text, tampered

# Helpers ---------------------------------------------------------------------------------


def rows(**where) -> int:
    query = select(func.count()).select_from(Attendance)
    for key, value in where.items():
        query = query.where(getattr(Attendance, key) == value)
    return db.session.scalar(query)


def person(event, n: int, mode: str = "in_person", **kw) -> Registration:
    out = reg.register(event, RegistrationInput(f"p{n}@example.org", f"Person {n}", mode, **kw))
    return db.session.get(Registration, out.registration_id)


def session_at(event, hour: int, minutes: int = 60, day: int = 0, **kw):
    start = datetime.combine(event.start_date + timedelta(days=day),
                             datetime.min.time()).replace(hour=hour)
    return agenda.create_session(event, SessionData(
        kw.pop("title", f"Lecture {day}/{hour}"), kw.pop("kind", "lecture"), start,
        start + timedelta(minutes=minutes), **kw), actor=None)


def on_the_day(event, hour: int = 1) -> datetime:
    return datetime.combine(event.start_date, datetime.min.time()).replace(hour=hour,
                                                                           tzinfo=UTC)


@pytest.fixture
def forum(make_event):
    event = make_event("forum")
    reg.set_capacities(event, {"in_person": None, "online": None}, actor=None)
    return event


@pytest.fixture
def staff(make_user):
    return make_user("staff@example.org", "Zhao Lei")


# Check-in ---------------------------------------------------------------------------------

def test_check_in_answers_each_case_and_counts_once(forum, staff, make_event):
    ana = person(forum, 1)
    result = attendance.check_in(forum, " " + ana.ticket_code.lower().replace("-", " "),
                                 session=None, staff=staff, typed=True)
    assert (result.outcome, result.holder.name, result.by, result.count) == (
        "checked_in", "Person 1", "Zhao Lei", 1)
    again = attendance.check_in(forum, ana.ticket_code, session=None, staff=None)
    assert (again.outcome, again.by, again.at, again.count) == (
        "already", "Zhao Lei", result.at, 1)
    assert rows(registration_id=ana.id) == 1
    assert attendance.check_in(forum, "not a code", session=None, staff=staff).outcome \
        == "invalid"
    assert attendance.check_in(forum, "2345-6789-ABCD", session=None, staff=staff).outcome \
        == "unknown"
    other = make_event("other-forum")
    reg.set_capacities(other, {"in_person": None}, actor=None)
    stranger = person(other, 9)
    assert attendance.check_in(forum, stranger.ticket_code, session=None, staff=staff).outcome \
        == "wrong_event"
    cancelled = person(forum, 2)
    reg.cancel(cancelled.id, actor=None, by_participant=True)
    assert attendance.check_in(forum, cancelled.ticket_code, session=None,
                               staff=staff).outcome == "cancelled"
    assert rows(event_id=forum.id) == 1


def test_not_confirmed_and_online_registrants(make_event, staff):
    event = make_event("apply")
    reg.set_capacities(event, {"in_person": None, "online": None}, actor=None)
    event.approval = "application"
    db.session.commit()
    pending = person(event, 1)
    assert attendance.check_in(event, pending.ticket_code, session=None, staff=staff).outcome \
        == "not_confirmed"
    assert rows() == 0


def test_online_registrant_in_the_room_is_let_in_with_a_warning(forum, staff):
    online = person(forum, 1, mode="online")
    result = attendance.check_in(forum, online.ticket_code, session=None, staff=staff)
    assert result.outcome == "checked_in" and "online" in result.warning


def test_a_replayed_offline_scan_answers_as_the_first_time_and_keeps_its_time(forum, staff):
    ana = person(forum, 1)
    # Midday where the event is: 40 minutes earlier is the same day there (whole-event
    # check-in is per local day; at 00:05 the replayed scan of 23:25 was yesterday's).
    now = datetime.combine(datetime.now(UTC).date(), time(12),
                           ZoneInfo(forum.timezone)).astimezone(UTC)
    made = now - timedelta(minutes=40)
    first = attendance.check_in(forum, ana.ticket_code, session=None, staff=staff,
                                scan_id="scan-1", scanned_at=made, now=now)
    assert first.outcome == "checked_in" and first.at == made
    for _ in range(3):
        replay = attendance.check_in(forum, ana.ticket_code, session=None, staff=staff,
                                     scan_id="scan-1", scanned_at=made, now=now)
        assert (replay.outcome, replay.replayed, replay.count) == ("checked_in", True, 1)
    other_scan = attendance.check_in(forum, ana.ticket_code, session=None, staff=staff,
                                     scan_id="scan-2", now=now)
    assert other_scan.outcome == "already"
    assert rows() == 1


def test_an_implausible_scan_time_is_not_believed(forum, staff):
    ana, ben = person(forum, 1), person(forum, 2)
    now = datetime.now(UTC)
    future = attendance.check_in(forum, ana.ticket_code, session=None, staff=staff,
                                 scanned_at=now + timedelta(days=1), now=now)
    ancient = attendance.check_in(forum, ben.ticket_code, session=None, staff=staff,
                                  scanned_at=now - timedelta(days=30), now=now)
    assert future.at == now and ancient.at == now


def test_whole_event_check_in_is_per_day_and_per_session(make_event, staff):
    event = make_event("workshop", kind="workshop", days=2)
    reg.set_capacities(event, {"in_person": None}, actor=None)
    ana = person(event, 1)
    lecture = session_at(event, 9)
    day1 = datetime.combine(event.start_date, datetime.min.time()).replace(
        hour=2, tzinfo=UTC)
    day2 = day1 + timedelta(days=1)
    assert attendance.check_in(event, ana.ticket_code, session=None, staff=staff,
                               now=day1).outcome == "checked_in"
    assert attendance.check_in(event, ana.ticket_code, session=None, staff=staff,
                               now=day2).outcome == "checked_in"
    assert attendance.check_in(event, ana.ticket_code, session=lecture, staff=staff,
                               now=day1).outcome == "checked_in"
    assert attendance.check_in(event, ana.ticket_code, session=lecture, staff=staff,
                               now=day2).outcome == "already"
    assert rows(registration_id=ana.id) == 3


def test_check_out(make_event, staff):
    event = make_event("trip", kind="workshop")
    reg.set_capacities(event, {"in_person": None}, actor=None)
    ana = person(event, 1)
    trip = session_at(event, 9, kind="field_trip", minutes=240, needs_checkout=True)
    lecture = session_at(event, 14)
    for nowhere in (None, lecture):  # nobody checks out there
        with pytest.raises(ServiceError, match="Nobody checks out here"):
            attendance.check_out(event, ana.ticket_code, session=nowhere, staff=staff)
    assert attendance.check_out(event, ana.ticket_code, session=trip, staff=staff).outcome \
        == "not_checked_in"
    attendance.check_in(event, ana.ticket_code, session=trip, staff=staff)
    out = attendance.check_out(event, ana.ticket_code, session=trip, staff=staff)
    assert out.outcome == "checked_out" and out.at is not None
    later = attendance.check_out(event, ana.ticket_code, session=trip, staff=staff,
                                 now=out.at + timedelta(hours=1))
    assert later.at == out.at  # the first time stays


def test_session_of_another_event_is_not_found(forum, make_event):
    other = make_event("other-forum")
    theirs = session_at(other, 9)
    with pytest.raises(NotFound):
        attendance.session_of(forum, theirs.id)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(code=st.text(max_size=300), scan_id=st.none() | st.text(max_size=100))
def test_any_text_at_the_door_is_an_answer(forum, staff, code, scan_id):
    result = attendance.check_in(forum, code, session=None, staff=staff,
                                 scan_id=scan_id.replace("\x00", "") if scan_id else None)
    assert result.outcome in attendance.OUTCOMES
    assert result.outcome in ("invalid", "unknown")


def _scan_at_once(url, tmp_path, event_id, code, n, staff_ids, session_id=None):
    """n staff scanning one ticket in the same instant, each on their own connection."""
    from eventsys import create_app

    app = create_app(base_config(tmp_path / "door", url, SQLALCHEMY_ENGINE_OPTIONS={
        "pool_size": n, "max_overflow": 0, "pool_timeout": 60}))
    barrier = threading.Barrier(n, timeout=60)
    outcomes: list[str] = []
    errors: list[Exception] = []

    def one(i):
        with app.app_context():
            try:
                event = db.session.get(Event, event_id)
                user = db.session.get(User, staff_ids[i % len(staff_ids)])
                session = attendance.session_of(event, session_id)
                barrier.wait()
                outcomes.append(attendance.check_in(event, code, session=session,
                                                    staff=user, scan_id=f"s{i}").outcome)
            except Exception as exc:  # anything else is a failure of the test
                errors.append(exc)
                barrier.abort()
            finally:
                db.session.remove()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with app.app_context():
        db.engine.dispose()
    return outcomes, errors


@pytest.mark.parametrize("with_session", [False, True])
def test_the_same_ticket_scanned_by_staff_at_once_counts_once(
        forum, staff, make_user, database_url, tmp_path, with_session):
    """Two desks (and then eight) scan one ticket in the same instant: one "checked in",
    the rest "already", one row."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: there is no race to lose")
    other = make_user("desk2@example.org", "Desk Two")
    ana = person(forum, 1)
    lecture = session_at(forum, 9) if with_session else None
    ids = (forum.id, ana.ticket_code, [staff.id, other.id], lecture.id if lecture else None)
    db.session.commit()
    for n in (2, 8):
        db.session.execute(Attendance.__table__.delete())
        db.session.commit()
        outcomes, errors = _scan_at_once(database_url, tmp_path, ids[0], ids[1], n, ids[2],
                                         ids[3])
        assert errors == []
        assert sorted(outcomes) == ["already"] * (n - 1) + ["checked_in"]
        db.session.rollback()
        assert rows(registration_id=ana.id) == 1


# Sheets -------------------------------------------------------------------------------------

def test_sheet_ticks_untick_and_notes(forum, staff, make_event):
    people = [person(forum, n) for n in range(1, 5)]
    lecture = session_at(forum, 9)
    ids = [p.id for p in people]
    assert attendance.mark(forum, lecture, ids, present=True, staff=staff) == 4
    assert attendance.mark(forum, lecture, ids, present=True, staff=staff) == 0
    assert attendance.mark(forum, lecture, ids[:1], present=False, staff=staff) == 1
    assert rows(session_id=lecture.id) == 3
    other = make_event("other-forum")
    reg.set_capacities(other, {"in_person": None}, actor=None)
    stranger = person(other, 9)
    with pytest.raises(ServiceError):
        attendance.mark(forum, lecture, [ids[1], stranger.id], present=False, staff=staff)
    assert rows(session_id=lecture.id) == 3  # nothing half-done
    with pytest.raises(ServiceError):
        attendance.set_note(forum, lecture, ids[0], "excused \x07", staff=staff)
    attendance.set_note(forum, lecture, ids[0], "  excused \t (visa) ", staff=staff)
    note = db.session.scalar(select(AttendanceNote))
    assert note.note == "excused (visa)"
    attendance.set_note(forum, lecture, ids[0], "late", staff=staff)
    assert db.session.scalar(select(AttendanceNote.note)) == "late"
    attendance.set_note(forum, lecture, ids[0], "   ", staff=staff)
    assert db.session.scalar(select(func.count()).select_from(AttendanceNote)) == 0


# Joining links ------------------------------------------------------------------------------

def test_joining_link_is_unguessable_counts_once_and_redirects(forum, client):
    forum.online_url = "https://meeting.example.org/j/123"
    lecture = session_at(forum, 9, stream_url="https://stream.example.org/lecture")
    db.session.commit()
    ana = person(forum, 1, mode="online")
    token = attendance.join_token(ana.id)
    assert len(token) >= 22 and str(ana.id) not in token[-20:]
    checked = client.head(f"/join/{token}/{lecture.id}")  # a mail system's link checker
    assert checked.status_code == 303 and rows(registration_id=ana.id) == 0
    response = client.get(f"/join/{token}/{lecture.id}")
    assert response.status_code == 303
    assert response.headers["Location"] == "https://stream.example.org/lecture"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    client.get(f"/join/{token}/{lecture.id}")
    row = db.session.scalars(select(Attendance)).one()
    assert (row.mode, row.source, row.session_id, row.joins) == (
        "online", "join_link", lecture.id, 2)
    # Outside any session: the event, today, and the event's link.
    response = client.get(f"/join/{token}")
    assert response.headers["Location"] == "https://meeting.example.org/j/123"
    assert rows(registration_id=ana.id) == 2
    for forged in (tampered(token, 2), "x" * 23, token + "A", "", "%00", "a" * 5000):
        assert client.get(f"/join/{forged}").status_code in (404, 405)
    assert client.get(f"/join/{token}/999999").status_code == 404


def test_joining_link_of_an_unconfirmed_registration_is_refused(forum, client):
    ana = person(forum, 1, mode="online")
    reg.cancel(ana.id, actor=None, by_participant=True)
    response = client.get(f"/join/{attendance.join_token(ana.id)}")
    assert response.status_code == 400 and rows() == 0


def test_joining_without_a_stream_link_says_so(forum, client):
    ana = person(forum, 1, mode="online")
    response = client.get(f"/join/{attendance.join_token(ana.id)}")
    assert response.status_code == 200 and b"counted as joined" in response.data
    assert rows() == 1


def test_confirmation_mail_and_page_carry_the_tracked_link(forum, client):
    forum.online_url = "https://meeting.example.org/j/123"
    db.session.commit()
    ana = person(forum, 1, mode="online")
    token = attendance.join_token(ana.id)
    text = last_text("p1@example.org")
    assert f"/join/{token}" in text and "meeting.example.org" not in text
    page_link = text.split("/r/")[1].split()[0]
    page = client.get(f"/r/{page_link}").get_data(as_text=True)
    assert f"/join/{token}" in page and "meeting.example.org" not in page


def test_mailing_joining_link_is_personal(forum):
    forum.online_url = "https://meeting.example.org/j/123"
    db.session.commit()
    ana, ben = person(forum, 1, mode="online"), person(forum, 2, mode="online")
    draft = mailings.Draft(mailings.Audience("registrants", ["confirmed"], ["online"]),
                           "Join us", "Hello {name}: {joining_link}")
    assert mailings.check(forum, draft) == []
    first, second = mailings.preview(forum, draft, 0), mailings.preview(forum, draft, 1)
    assert f"/join/{attendance.join_token(ana.id)}" in first.body
    assert f"/join/{attendance.join_token(ben.id)}" in second.body


def test_mailing_to_those_who_attended_or_not(forum, staff):
    ana, ben, cao = (person(forum, n) for n in (1, 2, 3))
    attendance.check_in(forum, ana.ticket_code, session=None, staff=staff, now=on_the_day(forum))
    came = mailings.Audience("registrants", ["confirmed"], attendance=["attended"])
    missed = mailings.Audience("registrants", ["confirmed"], attendance=["not_attended"])
    both = mailings.Audience("registrants", ["confirmed"],
                             attendance=["attended", "not_attended"])
    assert [r.id for r in mailings.recipients(forum, came)] == [ana.id]
    assert [r.id for r in mailings.recipients(forum, missed)] == [ben.id, cao.id]
    assert (mailings.count(forum, came), mailings.count(forum, missed),
            mailings.count(forum, both)) == (1, 2, 3)
    assert not mailings.Audience("registrants", attendance=["maybe"]).known()
    twice = mailings.Audience("registrants", ["confirmed"], attendance=["attended"] * 2)
    assert [r.id for r in mailings.recipients(forum, twice)] == [ana.id]  # a form sent twice


# Online minutes -------------------------------------------------------------------------------

def test_report_minutes_take_the_longest_never_a_sum(forum):
    ana = person(forum, 1, mode="online")
    lecture = session_at(forum, 9)
    first = lecture.starts_at
    assert attendance.record_online(forum, {(ana.id, lecture.id): (30, first)}) == 1
    attendance.record_online(forum, {(ana.id, lecture.id): (30, first)})  # the same again
    attendance.record_online(forum, {(ana.id, lecture.id): (20, first)})  # a shorter one
    db.session.commit()
    assert db.session.scalars(select(Attendance.minutes)).one() == 30
    attendance.record_online(forum, {(ana.id, lecture.id): (45, first)})
    db.session.commit()
    assert db.session.scalars(select(Attendance.minutes)).one() == 45 and rows() == 1


# Rules and rates ------------------------------------------------------------------------------

def test_rules_in_the_room_online_and_check_out(make_event, staff):
    event = make_event("workshop", kind="workshop", days=1)
    reg.set_capacities(event, {"in_person": None, "online": None}, actor=None)
    lectures = [session_at(event, h) for h in (9, 11)]  # one hour each
    trip = session_at(event, 9, day=1, minutes=240, kind="field_trip")
    trip.needs_checkout = True
    session_at(event, 13, kind="break", counts_for_attendance=False)
    db.session.commit()
    room, screen, absent = person(event, 1), person(event, 2, mode="online"), person(event, 3)
    attendance.mark(event, lectures[0], [room.id], present=True, staff=staff)
    attendance.mark(event, trip, [room.id], present=True, staff=staff)  # not out again
    attendance.record_online(event, {(screen.id, lectures[0].id): (50, lectures[0].starts_at),
                                     (screen.id, lectures[1].id): (20, lectures[1].starts_at)})
    db.session.commit()

    def rate_table():
        return {p.registration_id: (p.attended, p.total) for p in attendance.rates(event)}

    # No minimum: joining is enough.
    assert rate_table() == {room.id: (1, 3), screen.id: (2, 3), absent.id: (0, 3)}
    attendance.mark_out(event, trip, [room.id], staff=staff)
    attendance.update_rules(event, 30, None, actor=None)
    assert rate_table() == {room.id: (2, 3), screen.id: (1, 3), absent.id: (0, 3)}
    attendance.update_rules(event, None, 20, actor=None)  # 20 % of an hour: 12 minutes
    assert rate_table()[screen.id] == (2, 3)
    attendance.update_rules(event, 60, 30, actor=None)  # either: 18 minutes suffice
    assert rate_table()[screen.id] == (2, 3)
    attendance.update_rules(event, 60, 90, actor=None)
    assert rate_table()[screen.id] == (0, 3)
    rate = attendance.rate_of(event, room.id)
    assert (rate.percent, rate.in_person, rate.online, rate.sessions) == (
        66, 2, 0, {lectures[0].id, trip.id})
    for bad in ((0, None), (1441, None), (None, 0), (None, 101)):
        with pytest.raises(ServiceError):
            attendance.update_rules(event, *bad, actor=None)
    assert "60 minutes" in attendance.Rules.of(event).describe()
    assert "sessions" in attendance.Rules.of(event).describe()


def test_in_the_room_beats_online_for_the_same_session(forum, staff):
    ana = person(forum, 1)
    lecture = session_at(forum, 9)
    attendance.mark(forum, lecture, [ana.id], present=True, staff=staff)
    attendance.record_online(forum, {(ana.id, lecture.id): (5, lecture.starts_at)})
    db.session.commit()
    rate = attendance.rate_of(forum, ana.id)
    assert (rate.attended, rate.in_person, rate.online) == (1, 1, 0)


def test_an_event_without_counting_sessions_is_one_presence(forum, staff):
    ana, ben = person(forum, 1), person(forum, 2)
    session_at(forum, 12, kind="break", counts_for_attendance=False)
    attendance.check_in(forum, ana.ticket_code, session=None, staff=staff,
                        now=on_the_day(forum))
    ben_early = attendance.check_in(forum, ben.ticket_code, session=None, staff=staff)
    assert ben_early.outcome == "checked_in"  # a month early: shown, but not a day of it
    assert {p.registration_id: p.percent for p in attendance.rates(forum)} == {
        ana.id: 100, ben.id: 0}


def test_rates_take_three_queries_whatever_the_numbers(make_event, staff, count_queries):
    workshop = make_event("workshop", kind="workshop")
    reg.set_capacities(workshop, {"in_person": None}, actor=None)
    lectures = [session_at(workshop, h) for h in (8, 10, 12, 14)]
    people = [person(workshop, n) for n in range(1, 31)]
    for lecture in lectures:
        attendance.mark(workshop, lecture, [p.id for p in people[::2]], present=True,
                        staff=staff)
    db.session.refresh(workshop)
    count_queries["n"] = 0
    result = attendance.rates(workshop)
    assert count_queries["n"] == 3, count_queries["statements"]
    assert sum(p.attended for p in result) == 4 * 15


def test_by_days_online_minutes_add_up_over_the_day(forum):
    """Four short talks watched for 15-25 minutes each: none reaches the rule's 30, the day
    (80 minutes) does. The whole event's report of the same meeting is not added on top."""
    talks = [session_at(forum, 9 + n, minutes=30) for n in range(4)]
    ana, ben, cao = (person(forum, n, mode="online") for n in (1, 2, 3))
    attendance.update_rules(forum, 30, None, actor=None)
    attendance.record_online(forum, {
        **{(ana.id, t.id): (m, t.starts_at) for t, m in zip(talks, (15, 20, 25, 20), strict=True)},
        (ben.id, talks[0].id): (20, talks[0].starts_at),
        (ben.id, forum.start_date): (20, talks[0].starts_at),  # the same 20 minutes
        (cao.id, forum.start_date): (45, talks[0].starts_at)})
    db.session.commit()
    table = {p.registration_id: (p.attended, p.online) for p in attendance.rates(forum)}
    assert table == {ana.id: (1, 1), ben.id: (0, 0), cao.id: (1, 1)}
    # A share alone: of a session (25 of 30 minutes is 83 %), or of the day's 120 minutes.
    attendance.update_rules(forum, None, 90, actor=None)
    assert attendance.rate_of(forum, ana.id).attended == 0
    attendance.update_rules(forum, None, 80, actor=None)
    assert attendance.rate_of(forum, ana.id).attended == 1


def test_a_forum_counts_days_a_workshop_sessions(make_event, forum, staff):
    """The forum's door is its register: checked in on the day is 100 %, whichever
    sessions they sat in; by sessions the same presence is none of them."""
    assert (forum.attendance_unit, make_event("ws", kind="workshop").attendance_unit) == (
        "day", "session")
    ana, ben, cao = person(forum, 1), person(forum, 2, mode="online"), person(forum, 3)
    keynote = session_at(forum, 9)
    session_at(forum, 11)
    attendance.check_in(forum, ana.ticket_code, session=None, staff=staff,
                        now=keynote.starts_at)
    attendance.record_online(forum, {(ben.id, keynote.id): (10, keynote.starts_at)})
    db.session.commit()
    table = {p.registration_id: (p.attended, p.total) for p in attendance.rates(forum)}
    assert table == {ana.id: (1, 1), ben.id: (1, 1), cao.id: (0, 1)}
    assert "days" in attendance.Rules.of(forum).describe()
    attendance.update_rules(forum, 30, None, actor=None)  # ben's 10 minutes are too few
    assert attendance.rate_of(forum, ben.id).attended == 0
    attendance.update_rules(forum, None, None, actor=None, unit="session")
    table = {p.registration_id: (p.attended, p.total) for p in attendance.rates(forum)}
    assert table == {ana.id: (0, 2), ben.id: (1, 2), cao.id: (0, 2)}
    with pytest.raises(ServiceError):
        attendance.update_rules(forum, None, None, actor=None, unit="week")


def test_the_registration_page_shows_attendance_once_the_event_has_begun(make_event, client,
                                                                         staff):
    workshop = make_event("now", kind="workshop", days_ahead=0, days=2)
    reg.set_capacities(workshop, {"in_person": None}, actor=None)
    ana = person(workshop, 1)
    lectures = [session_at(workshop, h) for h in (9, 11, 14)]
    attendance.mark(workshop, lectures[0], [ana.id], present=True, staff=staff)
    link = last_text("p1@example.org").split("/r/")[1].split()[0]
    page = client.get(f"/r/{link}").get_data(as_text=True)
    assert "Your attendance" in page and "1 of 3 (33%)" in page
