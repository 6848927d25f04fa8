"""The agenda service: time zones, people, sessions, the checks before publishing,
publishing with change mails, reading the published agenda, marks, and the demo programmes.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func, select

from eventsys.extensions import db
from eventsys.models import (
    AgendaMark,
    AgendaPublication,
    AgendaSession,
    AuditLog,
    Event,
    OutboxMessage,
    Person,
    SessionPerson,
)
from eventsys.services import agenda, events
from eventsys.services import registration as reg
from eventsys.services.agenda import NeedsConfirmation, PersonData, SessionData
from eventsys.services.errors import NotFound, ServiceError
from eventsys.services.events import EventData, HostData, VenueData
from eventsys.services.registration import RegistrationInput
from tests.conftest import delivered, last_text

UTC = ZoneInfo("UTC")


# Helpers ---------------------------------------------------------------------------------

def count(model, **where) -> int:
    query = select(func.count()).select_from(model)
    for key, value in where.items():
        query = query.where(getattr(model, key) == value)
    return db.session.scalar(query)


def written() -> dict[str, int]:
    return {model.__name__: count(model) for model in (
        Person, AgendaSession, SessionPerson, AgendaPublication, AuditLog, OutboxMessage)}


def agenda_mails() -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.kind == "agenda_changed").order_by(OutboxMessage.id)))


def recipients() -> list[str]:
    return sorted(m.to_email for m in agenda_mails())


def speaker(name: str = "Zhao Hui", *, email: str | None = None, profile: bool = True,
            **kw) -> Person:
    return agenda.create_person(PersonData(
        name=name, email=email, job_title="Professor of Innovation" if profile else None,
        **kw), actor=None)


def local(event: Event, day: int, hhmm: str) -> datetime:
    return datetime.combine(event.start_date + timedelta(days=day), time.fromisoformat(hhmm))


def item(event: Event, title: str = "A talk", *, kind: str = "talk", day: int = 0,
         start: str = "09:00", minutes: int = 60, people=(), venue: int | None = None,
         **kw) -> SessionData:
    begins = local(event, day, start)
    return SessionData(title=title, kind=kind, starts_local=begins,
                       ends_local=begins + timedelta(minutes=minutes), venue_id=venue,
                       people=list(people), **kw)


def add(event: Event, title: str = "A talk", **kw) -> AgendaSession:
    return agenda.create_session(event, item(event, title, **kw), actor=None)


def edit(event: Event, session: AgendaSession, **changes) -> AgendaSession:
    """Save a session with some fields changed, the others as they are (as the form does)."""
    tz = event.timezone
    values = {
        "title": session.title, "kind": session.kind,
        "starts_local": agenda.to_local(session.starts_at, tz).replace(tzinfo=None),
        "ends_local": agenda.to_local(session.ends_at, tz).replace(tzinfo=None),
        "venue_id": session.venue_id, "room": session.room, "mode": session.mode,
        "stream_url": session.stream_url, "track": session.track,
        "description": session.description,
        "counts_for_attendance": session.counts_for_attendance,
        "people": [(sp.person_id, sp.role) for sp in session.people],
    }
    values.update(changes)
    return agenda.update_session(event, session.id, SessionData(**values), actor=None)


@contextmanager
def counting_queries():
    """The SQL statements run inside the block (SQLite's BEGIN IMMEDIATE not counted)."""
    seen: list[str] = []

    def listener(_conn, _cursor, statement, *_args):
        if not statement.startswith("BEGIN"):
            seen.append(statement)

    sa_event.listen(db.engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", listener)


def codes(event: Event) -> list[str]:
    return sorted(w.code for w in agenda.check(event))


def venue(event: Event, city: str) -> int:
    return next(v.id for v in event.venues if v.city == city)


def participant(event: Event, n: int, **kw):
    return reg.register(event, RegistrationInput(
        email=f"p{n}@example.org", name=f"Participant {n}", mode="in_person", **kw)).registration


@pytest.fixture(autouse=True)
def pdf_jobs(monkeypatch) -> list[tuple]:
    """The printable PDF a publication asks for is recorded here, not rendered: making it
    is tests/services/test_agenda_pdf.py's business, and a WeasyPrint run per publish
    would make these tests slow for nothing they check."""
    jobs: list[tuple] = []
    monkeypatch.setattr(agenda, "enqueue", lambda name, *args: jobs.append((name, *args)))
    return jobs


@pytest.fixture
def forum(make_event):
    """Three days in Shanghai's time, in Beijing and Nanning."""
    return make_event("forum", days=2, venues=[VenueData("Hall 1", "Beijing", "CN"),
                                               VenueData("ASEAN Center", "Nanning", "CN")])


@pytest.fixture
def other_event(make_event):
    return make_event("other-forum", venues=[VenueData("Elsewhere", "Shenzhen", "CN")])


# Time zones ------------------------------------------------------------------------------

def test_to_utc_in_zones_without_daylight_saving():
    assert agenda.to_utc(datetime(2024, 5, 1, 9, 0), "Asia/Shanghai") == \
        datetime(2024, 5, 1, 1, 0, tzinfo=UTC)
    assert agenda.to_utc(datetime(2024, 5, 1, 9, 0), "Asia/Karachi") == \
        datetime(2024, 5, 1, 4, 0, tzinfo=UTC)
    # Early morning in Shanghai is the day before in UTC.
    assert agenda.to_utc(datetime(2024, 5, 1, 7, 30), "Asia/Shanghai") == \
        datetime(2024, 4, 30, 23, 30, tzinfo=UTC)
    moment = agenda.to_utc(datetime(2024, 5, 1, 9, 0), "Asia/Shanghai")
    assert agenda.to_local(moment, "Asia/Karachi").replace(tzinfo=None) == \
        datetime(2024, 5, 1, 6, 0)


def test_to_utc_follows_daylight_saving():
    assert agenda.to_utc(datetime(2024, 1, 15, 9, 0), "Europe/Lisbon") == \
        datetime(2024, 1, 15, 9, 0, tzinfo=UTC)
    assert agenda.to_utc(datetime(2024, 7, 15, 9, 0), "Europe/Lisbon") == \
        datetime(2024, 7, 15, 8, 0, tzinfo=UTC)
    # Brazil kept summer time until 2019, and the zone database remembers.
    assert agenda.to_utc(datetime(2018, 12, 1, 9, 0), "America/Sao_Paulo") == \
        datetime(2018, 12, 1, 11, 0, tzinfo=UTC)
    assert agenda.to_utc(datetime(2019, 12, 1, 9, 0), "America/Sao_Paulo") == \
        datetime(2019, 12, 1, 12, 0, tzinfo=UTC)


def test_an_ambiguous_wall_clock_time_is_the_first_of_the_two():
    """In the hour the clocks repeat, the time typed is the first one (still summer time).
    Lisbon repeated 01:00-02:00 on 27 October 2024; Sao Paulo 23:00-24:00 on 16 Feb 2019."""
    assert agenda.to_utc(datetime(2024, 10, 27, 1, 30), "Europe/Lisbon") == \
        datetime(2024, 10, 27, 0, 30, tzinfo=UTC)
    assert agenda.to_utc(datetime(2019, 2, 16, 23, 30), "America/Sao_Paulo") == \
        datetime(2019, 2, 17, 1, 30, tzinfo=UTC)


def test_a_session_typed_across_the_skipped_hour(app):
    """Consequence of the above for an organiser in Lisbon on the night the clocks go
    forward: 01:30 does not exist there that night and is refused as such (Python alone
    would move it to 02:30); 00:30-03:00 lasts an hour and a half, as it really does."""
    lisbon = events.create_event(EventData(
        slug="lisbon", kind="forum", title="Lisbon", start_date=date(2030, 3, 30),
        end_date=date(2030, 3, 31), timezone="Europe/Lisbon", mode="in_person",
        status="published", venues=[VenueData("Taguspark", "Oeiras", "PT")]), creator=None)
    night = date(2030, 3, 31)
    with pytest.raises(ServiceError, match="01:30 does not exist in Europe/Lisbon"):
        agenda.create_session(lisbon, SessionData(
            title="Night session", kind="other", starts_local=datetime.combine(night, time(1, 30)),
            ends_local=datetime.combine(night, time(2, 30))), actor=None)
    session = agenda.create_session(lisbon, SessionData(
        title="Night session", kind="other", starts_local=datetime.combine(night, time(0, 30)),
        ends_local=datetime.combine(night, time(3, 0))), actor=None)
    assert session.ends_at - session.starts_at == timedelta(minutes=90)
    assert (session.starts_at, session.ends_at) == (datetime(2030, 3, 31, 0, 30, tzinfo=UTC),
                                                    datetime(2030, 3, 31, 2, 0, tzinfo=UTC))


@pytest.mark.parametrize(("local", "zone"), [
    (datetime(2024, 3, 31, 1, 0), "Europe/Lisbon"), (datetime(2024, 3, 31, 1, 59), "Europe/Lisbon"),
    (datetime(2024, 3, 10, 2, 30), "America/New_York"), (datetime(2018, 11, 4, 0, 0),
                                                         "America/Sao_Paulo")])
def test_a_wall_time_the_clocks_skip_is_refused(local, zone):
    with pytest.raises(ServiceError, match="does not exist"):
        agenda.to_utc(local, zone)


def test_wall_times_either_side_of_the_skipped_hour_are_kept():
    assert agenda.to_utc(datetime(2024, 3, 31, 0, 59), "Europe/Lisbon") == \
        datetime(2024, 3, 31, 0, 59, tzinfo=UTC)
    assert agenda.to_utc(datetime(2024, 3, 31, 2, 0), "Europe/Lisbon") == \
        datetime(2024, 3, 31, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize("moment", [datetime(1999, 12, 31, 23, 59), datetime(2201, 1, 1),
                                    datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59)])
def test_years_out_of_range_are_refused(moment):
    with pytest.raises(ServiceError, match="out of range"):
        agenda.to_utc(moment, "Asia/Shanghai")


def test_years_at_the_edges_of_the_range_are_accepted():
    assert agenda.to_utc(datetime(2000, 1, 1, 12), "Asia/Shanghai").year == 2000
    assert agenda.to_utc(datetime(2200, 12, 31, 12), "Asia/Shanghai").year == 2200


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "", None, "asia/shanghai", "UTC+8",
                                  "../../etc/passwd", "Asia/Shanghai\x00", "x" * 500])
def test_unknown_time_zones_are_refused(name):
    with pytest.raises(ServiceError, match="Unknown time zone"):
        agenda.to_utc(datetime(2024, 5, 1, 9), name)
    with pytest.raises(ServiceError):
        agenda.zone(name)


# People ----------------------------------------------------------------------------------

def test_a_person_is_stored_cleaned(app):
    person = agenda.create_person(PersonData(
        name="  Zhao   Hui ", honorific="Prof.", name_native="赵辉", country="cn",
        email=" Zhao.Hui@Example.ORG ", bio="First paragraph.\n\nSecond paragraph.  ",
        organisation_name="CASTIP"), actor=None)
    db.session.expire_all()
    person = db.session.get(Person, person.id)
    assert (person.name, person.country, person.email) == ("Zhao Hui", "CN",
                                                            "zhao.hui@example.org")
    assert person.bio == "First paragraph.\n\nSecond paragraph."
    assert person.display_name == "Prof. Zhao Hui"
    assert count(AuditLog, action="person.created") == 1
    assert [p.id for p in agenda.people("castip")] == [person.id]
    assert [p.id for p in agenda.people("赵")] == [person.id]
    assert agenda.people("nobody") == []


BAD_PEOPLE = {
    "empty name": PersonData(name=""),
    "blank name": PersonData(name="   \t "),
    "name too long": PersonData(name="x" * 201),
    "NUL in name": PersonData(name="Zhao\x00Hui"),
    "bell in name": PersonData(name="Zhao\x07Hui"),
    "escape in job title": PersonData(name="Zhao Hui", job_title="Prof\x1b[31m"),
    "bio too long": PersonData(name="Zhao Hui", bio="x" * 4001),
    "unknown country": PersonData(name="Zhao Hui", country="XX"),
    "country as a name": PersonData(name="Zhao Hui", country="China"),
    "email without @": PersonData(name="Zhao Hui", email="zhao.example.org"),
    "email with a space": PersonData(name="Zhao Hui", email="zhao hui@example.org"),
    "email too long": PersonData(name="Zhao Hui", email="z" * 250 + "@example.org"),
}


@pytest.mark.parametrize("data", BAD_PEOPLE.values(), ids=BAD_PEOPLE.keys())
def test_bad_person_is_refused_and_nothing_written(app, data):
    before = written()
    with pytest.raises(ServiceError):
        agenda.create_person(data, actor=None)
    assert written() == before


def test_bad_update_of_a_person_changes_nothing(app):
    person = speaker(email="zhao@example.org")
    with pytest.raises(ServiceError):
        agenda.update_person(person, PersonData(name="Zhao Renamed", email="not an address"),
                             actor=None)
    db.session.commit()  # whatever the failed call left in the session would be kept now
    db.session.expire_all()
    assert (person.name, person.email) == ("Zhao Hui", "zhao@example.org")
    with pytest.raises(NotFound):
        agenda.person_by_id(person.id + 1000)


# Sessions --------------------------------------------------------------------------------

def test_a_session_with_people_in_roles(forum):
    host, guest, other = speaker("Zhang Jizhe"), speaker("Song Qi"), speaker("Kanchana")
    session = add(forum, "Online roundtable", kind="roundtable", start="14:00", minutes=75,
                  venue=venue(forum, "Beijing"), room="Room A", track="Cooperation",
                  people=[(host.id, "moderator"), (guest.id, "panellist"),
                          (other.id, "discussant")])
    db.session.expire_all()
    session = db.session.get(AgendaSession, session.id)
    # 14:00 in Shanghai (UTC+8).
    assert session.starts_at == datetime.combine(forum.start_date, time(6, 0), tzinfo=UTC)
    assert session.ends_at - session.starts_at == timedelta(minutes=75)
    assert [(sp.person.name, sp.role, sp.position) for sp in session.people] == [
        ("Zhang Jizhe", "moderator", 0), ("Song Qi", "panellist", 1),
        ("Kanchana", "discussant", 2)]
    assert (session.venue.city, session.room, session.track) == ("Beijing", "Room A",
                                                                  "Cooperation")
    assert len(session.guid) == 36
    assert count(AuditLog, action="session.created") == 1


def test_updating_a_session_changes_time_place_and_people(forum):
    a, b, c, d = speaker("A"), speaker("B"), speaker("C"), speaker("D")
    session = add(forum, "Talk", people=[(a.id, "speaker"), (b.id, "speaker")])
    guid = session.guid
    agenda.update_session(forum, session.id, item(
        forum, "Talk, revised", day=1, start="10:00", minutes=90,
        venue=venue(forum, "Nanning"), people=[(c.id, "speaker"), (d.id, "discussant")]),
        actor=None)
    db.session.expire_all()
    session = db.session.get(AgendaSession, session.id)
    assert session.guid == guid
    assert session.title == "Talk, revised"
    assert agenda.to_local(session.starts_at, forum.timezone).replace(tzinfo=None) == \
        local(forum, 1, "10:00")
    assert session.venue.city == "Nanning"
    assert [(sp.person.name, sp.role) for sp in session.people] == [("C", "speaker"),
                                                                  ("D", "discussant")]
    assert count(SessionPerson) == 2
    assert count(AuditLog, action="session.updated") == 1


def test_updating_a_session_that_keeps_its_people(forum):
    """The unit of work inserts before it deletes: a person who stays must keep their row,
    or the new one collides with the old on uq_session_person."""
    a, b = speaker("A"), speaker("B")
    session = add(forum, "Talk", people=[(a.id, "speaker"), (b.id, "moderator")])
    data = item(forum, "Talk with a better title",
                people=[(b.id, "speaker"), (a.id, "moderator")])  # roles swapped
    agenda.update_session(forum, session.id, data, actor=None)
    db.session.expire_all()
    assert [(sp.person.name, sp.role) for sp in
            db.session.get(AgendaSession, session.id).people] == [("B", "speaker"),
                                                                  ("A", "moderator")]


def test_a_session_may_last_up_to_fourteen_days(forum):
    trip = add(forum, "Expedition", kind="field_trip", minutes=14 * 24 * 60)
    assert trip.ends_at - trip.starts_at == timedelta(days=14)


def _bad_sessions(forum, other_event, person_id):
    start = local(forum, 0, "09:00")
    return {
        "ends before it starts": item(forum, people=[(person_id, "speaker")],
                                      minutes=-30),
        "ends as it starts": item(forum, minutes=0),
        "longer than 14 days": item(forum, minutes=14 * 24 * 60 + 1),
        "unknown kind": item(forum, kind="concert"),
        "unknown mode": item(forum, mode="telepathy"),
        "venue of another event": item(forum, venue=other_event.venues[0].id),
        "nonexistent venue": item(forum, venue=987654),
        "empty title": item(forum, "   "),
        "title too long": item(forum, "x" * 301),
        "NUL in title": item(forum, "Opening\x00"),
        "stream link not a web address": item(forum, mode="online",
                                              stream_url="javascript:alert(1)"),
        "year out of range": SessionData(title="Talk", kind="talk",
                                         starts_local=start.replace(year=1999),
                                         ends_local=start),
    }


BAD_SESSION_CASES = [
    "ends before it starts", "ends as it starts", "longer than 14 days", "unknown kind",
    "unknown mode", "venue of another event", "nonexistent venue", "empty title",
    "title too long", "NUL in title", "stream link not a web address", "year out of range",
]


@pytest.mark.parametrize("case", BAD_SESSION_CASES)
def test_bad_session_is_refused_and_nothing_written(forum, other_event, case):
    person = speaker()
    data = _bad_sessions(forum, other_event, person.id)[case]
    before = written()
    with pytest.raises(ServiceError):
        agenda.create_session(forum, data, actor=None)
    assert written() == before
    assert agenda.sessions_of(forum) == []


BAD_PEOPLE_IN_SESSION = {
    "unknown role": lambda p: [(p, "chair")],
    "nonexistent person": lambda p: [(p, "speaker"), (p + 1000, "speaker")],
    "same person twice": lambda p: [(p, "speaker"), (p, "moderator")],
}


@pytest.mark.parametrize("case", BAD_PEOPLE_IN_SESSION, ids=BAD_PEOPLE_IN_SESSION.keys())
def test_bad_people_in_a_new_session_write_nothing(forum, case):
    """Nothing left pending either: the organiser's page re-rendered after the error lists
    no half-made session, and the next commit in the same request does not keep one."""
    person = speaker()
    before = written()
    with pytest.raises(ServiceError):
        add(forum, "Talk", people=BAD_PEOPLE_IN_SESSION[case](person.id))
    assert agenda.sessions_of(forum) == []
    add(forum, "The next session the organiser adds")
    assert count(AgendaSession) == before["AgendaSession"] + 1


def test_bad_people_in_an_update_change_nothing(forum):
    """The new title must not stay behind in the session after the refusal."""
    person = speaker()
    session = add(forum, "Talk", people=[(person.id, "speaker")])
    with pytest.raises(ServiceError):
        edit(forum, session, title="Renamed", people=[(person.id, "chair")])
    add(forum, "The next session the organiser adds")
    db.session.expire_all()
    assert db.session.get(AgendaSession, session.id).title == "Talk"


def test_bad_update_is_refused_and_the_session_unchanged(forum, other_event):
    person = speaker()
    session = add(forum, "Talk", people=[(person.id, "speaker")])
    for bad in ({"kind": "concert"}, {"venue_id": other_event.venues[0].id},
                {"ends_local": local(forum, 0, "08:00")},
                {"ends_local": local(forum, 20, "09:00")}):
        with pytest.raises(ServiceError):
            edit(forum, session, title="Renamed", **bad)
    db.session.commit()
    db.session.expire_all()
    session = db.session.get(AgendaSession, session.id)
    assert (session.title, session.kind, session.venue_id) == ("Talk", "talk", None)
    with pytest.raises(NotFound):  # a session is edited only through its own event
        edit(other_event, session, title="Hijacked")


def test_duplicate_gets_a_new_guid_and_the_same_people(forum):
    a, b = speaker("A"), speaker("B")
    original = add(forum, "Lecture", kind="lecture", venue=venue(forum, "Beijing"),
                   room="101", people=[(a.id, "speaker"), (b.id, "discussant")])
    copy = agenda.duplicate_session(forum, original.id, actor=None)
    db.session.expire_all()
    original = db.session.get(AgendaSession, original.id)
    copy = db.session.get(AgendaSession, copy.id)
    assert copy.guid != original.guid and copy.id != original.id
    assert copy.title == "Lecture (copy)"
    assert (copy.starts_at, copy.ends_at, copy.venue_id, copy.room, copy.kind) == (
        original.starts_at, original.ends_at, original.venue_id, original.room, original.kind)
    assert [(sp.person_id, sp.role) for sp in copy.people] == [(a.id, "speaker"),
                                                               (b.id, "discussant")]
    assert [s.id for s in agenda.sessions_of(forum)] == [original.id, copy.id]
    assert len(original.people) == 2  # the original keeps its people


def test_a_session_with_a_long_title_can_be_duplicated(forum):
    original = add(forum, "x" * 300)
    copy = agenda.duplicate_session(forum, original.id, actor=None)
    assert len(copy.title) == 300 and copy.title.endswith(" (copy)")


def test_a_duplicate_comes_right_after_its_original_among_parallel_sessions(forum):
    a = add(forum, "Track A")
    add(forum, "Track B")
    add(forum, "Track C")
    agenda.duplicate_session(forum, a.id, actor=None)
    db.session.expire_all()
    assert [s.title for s in agenda.sessions_of(forum)] == [
        "Track A", "Track A (copy)", "Track B", "Track C"]


def test_delete_removes_the_session_and_its_people_not_the_people(forum, other_event):
    a = speaker("A")
    session = add(forum, "Talk", people=[(a.id, "speaker")])
    keep = add(forum, "Other talk", people=[(a.id, "speaker")], start="11:00")
    with pytest.raises(NotFound):
        agenda.delete_session(other_event, session.id, actor=None)
    agenda.delete_session(forum, session.id, actor=None)
    assert [s.id for s in agenda.sessions_of(forum)] == [keep.id]
    assert count(SessionPerson) == 1 and count(Person) == 1
    assert count(AuditLog, action="session.deleted") == 1
    with pytest.raises(NotFound):
        agenda.delete_session(forum, session.id, actor=None)


def test_move_swaps_only_among_sessions_that_start_together(forum):
    early = add(forum, "Early", start="08:00")
    a = add(forum, "Track A", start="09:00")
    b = add(forum, "Track B", start="09:00")
    c = add(forum, "Track C", start="09:00")
    late = add(forum, "Late", start="10:00")

    def order():
        db.session.expire_all()
        return [s.title for s in agenda.sessions_of(forum)]

    assert order() == ["Early", "Track A", "Track B", "Track C", "Late"]
    agenda.move_session(forum, c.id, -1, actor=None)
    assert order() == ["Early", "Track A", "Track C", "Track B", "Late"]
    agenda.move_session(forum, c.id, -1, actor=None)
    assert order() == ["Early", "Track C", "Track A", "Track B", "Late"]
    agenda.move_session(forum, c.id, -1, actor=None)  # first already: nothing happens
    agenda.move_session(forum, early.id, +1, actor=None)  # alone at its time
    agenda.move_session(forum, late.id, -1, actor=None)
    assert order() == ["Early", "Track C", "Track A", "Track B", "Late"]
    agenda.move_session(forum, a.id, +1, actor=None)
    assert order() == ["Early", "Track C", "Track B", "Track A", "Late"]
    assert count(AuditLog, action="session.moved") == 3
    assert b.position == 1


def test_sessions_of_reads_the_programme_in_a_fixed_number_of_queries(forum):
    people = [speaker(f"Person {n}") for n in range(6)]

    def queries_for_listing() -> int:
        db.session.expire_all()
        db.session.get(Event, forum.id)  # the page has the event already
        with counting_queries() as seen:
            for s in agenda.sessions_of(forum):
                assert all(sp.person.name for sp in s.people)
                assert s.venue is None or s.venue.name
                assert list(s.materials) == []
        return len(seen)

    add(forum, "One", people=[(people[0].id, "speaker")], venue=venue(forum, "Beijing"))
    few = queries_for_listing()
    for n in range(12):
        add(forum, f"Session {n}", start=f"{8 + n % 10:02d}:00", day=n % 3,
            venue=venue(forum, "Nanning" if n % 2 else "Beijing"),
            people=[(people[n % 6].id, "speaker"), (people[(n + 1) % 6].id, "moderator")])
    # The sessions, then their people, the people's profiles, materials and venues.
    assert queries_for_listing() == few == 5


# Checks ----------------------------------------------------------------------------------

def test_a_clean_programme_has_no_warnings(forum):
    a = speaker("A")
    add(forum, "Keynote", kind="keynote", people=[(a.id, "speaker")],
        venue=venue(forum, "Beijing"))
    add(forum, "Tea break", kind="break", start="10:00", minutes=15,
        venue=venue(forum, "Beijing"))
    assert agenda.check(forum) == []


def test_person_in_two_sessions_at_once(forum):
    a, b = speaker("Amer Hashmi"), speaker("B")
    first = add(forum, "Keynote", kind="keynote", people=[(a.id, "speaker")],
                venue=venue(forum, "Beijing"))
    second = add(forum, "Panel", kind="panel", start="09:30", people=[
        (b.id, "moderator"), (a.id, "panellist")], venue=venue(forum, "Nanning"))
    [warning] = agenda.check(forum)
    assert warning.code == "person_double_booked"
    assert warning.session_ids == [first.id, second.id]
    assert "Amer Hashmi" in warning.message and "Keynote" in warning.message
    assert "09:30" in warning.message  # in the event's time, not UTC
    # Back to back is fine: the first ends as the second starts.
    edit(forum, second, starts_local=local(forum, 0, "10:00"),
         ends_local=local(forum, 0, "11:00"))
    assert agenda.check(forum) == []


def test_two_sessions_in_one_room_at_once(forum):
    beijing, nanning = venue(forum, "Beijing"), venue(forum, "Nanning")
    a = add(forum, "First", kind="other", venue=beijing, room="Room A")
    b = add(forum, "Second", kind="other", venue=beijing, room=" room  a ", start="09:45")
    [warning] = agenda.check(forum)
    assert (warning.code, warning.session_ids) == ("room_double_booked", [a.id, b.id])
    assert "Hall 1, Room A" in warning.message

    edit(forum, b, room="Room B")  # another room of the same venue
    assert agenda.check(forum) == []
    edit(forum, b, room="Room A", venue_id=nanning)  # the same room name elsewhere
    assert agenda.check(forum) == []
    edit(forum, b, venue_id=beijing, mode="online", stream_url="https://live.example.org/x")
    assert agenda.check(forum) == []  # online sessions take no room
    edit(forum, b, mode="hybrid")  # hybrid ones do
    assert codes(forum) == ["room_double_booked"]
    edit(forum, b, mode="in_person", starts_local=local(forum, 0, "10:00"),
         ends_local=local(forum, 0, "10:30"))  # touching end to start
    assert agenda.check(forum) == []
    edit(forum, b, venue_id=None, room="Room A", starts_local=local(forum, 0, "09:00"))
    assert agenda.check(forum) == []  # no venue: no room to share


def test_outside_the_event_dates_in_the_event_time_zone(forum):
    # The forum runs three days in Shanghai (UTC+8).
    add(forum, "First morning", kind="other", start="07:00")  # 23:00 UTC the day before
    add(forum, "Last evening", kind="other", day=2, start="23:30", minutes=30)  # to midnight
    assert agenda.check(forum) == []
    before = add(forum, "The eve", kind="other", day=-1, start="20:00")
    after = add(forum, "The morning after", kind="other", day=3, start="09:00")
    late = add(forum, "Past midnight", kind="other", day=2, start="23:30", minutes=60)
    warnings = agenda.check(forum)
    assert [(w.code, w.session_ids) for w in warnings] == [
        ("outside_dates", [before.id]), ("outside_dates", [late.id]),
        ("outside_dates", [after.id])]
    assert "23:30" in warnings[1].message


def test_speaker_without_profile_is_flagged_once(forum):
    bare = speaker("Bare Name", profile=False)
    org_only = agenda.create_person(PersonData(name="Org Only", organisation_name="GEI"),
                                    actor=None)
    bio_only = agenda.create_person(PersonData(name="Bio Only", bio="Works on parks."),
                                    actor=None)
    first = add(forum, "Talk 1", people=[(bare.id, "speaker"), (org_only.id, "discussant")])
    add(forum, "Talk 2", start="11:00", people=[(bare.id, "speaker"),
                                                (bio_only.id, "speaker")])
    add(forum, "Talk 3", day=1, people=[(bare.id, "moderator")])
    [warning] = agenda.check(forum)
    assert (warning.code, warning.session_ids) == ("speaker_without_profile", [first.id])
    assert "Bare Name" in warning.message


@pytest.mark.parametrize("kind", ["keynote", "talk", "presentation", "panel", "roundtable",
                                  "lecture"])
def test_speaking_session_without_anybody_is_flagged(forum, kind):
    session = add(forum, "Who speaks?", kind=kind)
    [warning] = agenda.check(forum)
    assert (warning.code, warning.session_ids) == ("no_speaker", [session.id])


@pytest.mark.parametrize("kind", ["opening", "break", "field_trip", "ceremony", "other"])
def test_sessions_without_speakers_by_nature_are_fine(forum, kind):
    add(forum, "Nobody needs to speak", kind=kind)
    assert agenda.check(forum) == []


# Publishing ------------------------------------------------------------------------------

def test_warnings_need_confirmation_and_nothing_is_published_without(forum):
    add(forum, "Keynote", kind="keynote")
    before = written()
    with pytest.raises(NeedsConfirmation) as refused:
        agenda.publish(forum, actor=None)
    assert [w.code for w in refused.value.warnings] == ["no_speaker"]
    assert refused.value.status_code == 409
    assert written() == before
    assert agenda.public_agenda(forum) is None
    result = agenda.publish(forum, actor=None, confirm_warnings=True)
    assert (result.version, result.mailed) == (1, 0)
    assert [c.what for c in result.changes] == ["added"]
    audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "agenda.published"))
    assert audit.data["warnings"] == 1 and audit.data["version"] == 1


def test_versions_and_nothing_changed(forum, make_user):
    organiser = make_user("organiser@example.org", "Organiser")
    a = speaker("A")
    session = add(forum, "Talk", people=[(a.id, "speaker")])
    assert agenda.publish(forum, actor=organiser).version == 1
    with pytest.raises(ServiceError, match="Nothing has changed"):
        agenda.publish(forum, actor=organiser)
    assert count(AgendaPublication) == 1
    edit(forum, session, title="Talk, renamed")
    assert agenda.publish(forum, actor=organiser).version == 2
    add(forum, "Another", people=[(a.id, "speaker")], start="11:00")
    assert agenda.publish(forum, actor=None).version == 3
    latest = agenda.latest_publication(forum)
    assert (latest.version, latest.published_by_id) == (3, None)
    assert db.session.scalar(select(AgendaPublication.published_by_id).where(
        AgendaPublication.version == 2)) == organiser.id
    # Another event's versions are its own.
    other = events.create_event(EventData(
        slug="second", kind="forum", title="Second", start_date=forum.start_date,
        end_date=forum.end_date, timezone="Asia/Karachi", mode="online", status="published",
        hosts=[HostData("GEI", "CN")]), creator=None)
    add(other, "Talk", people=[(a.id, "speaker")])
    assert agenda.publish(other, actor=None).version == 1


def test_each_publication_asks_for_its_pdf(forum, pdf_jobs):
    a = speaker("A")
    session = add(forum, "Talk", people=[(a.id, "speaker")])
    agenda.publish(forum, actor=None)
    edit(forum, session, title="Talk, renamed")
    agenda.publish(forum, actor=None)
    assert pdf_jobs == [("eventsys.render_agenda_pdf", forum.id, 1),
                        ("eventsys.render_agenda_pdf", forum.id, 2)]


def test_publish_holds_no_transaction_while_it_enqueues_the_pdf(forum, monkeypatch):
    """Reading event.id after the commit would begin a transaction (on SQLite BEGIN
    IMMEDIATE, the write lock) that an eager PDF task would wait 30 s behind."""
    add(forum, "Opening", kind="opening")
    open_transactions = []
    monkeypatch.setattr(agenda, "enqueue", lambda name, *args: open_transactions.append(
        db.session().in_transaction()))
    agenda.publish(forum, actor=None)
    assert open_transactions == [False]


def test_the_snapshot_keeps_no_email_address(forum):
    a = speaker("A", email="private@example.org")
    add(forum, "Talk", people=[(a.id, "speaker")])
    agenda.publish(forum, actor=None)
    snap = agenda.latest_publication(forum).snapshot
    assert "private@example.org" not in repr(snap)
    assert set(snap["people"][str(a.id)]) == {"id", "honorific", "name", "name_native",
                                              "job_title", "organisation", "country", "bio",
                                              "photo"}


def test_changes_between_publications(forum):
    a, b, c = speaker("A"), speaker("B"), speaker("C")
    beijing, nanning = venue(forum, "Beijing"), venue(forum, "Nanning")
    retitled = add(forum, "Old title", people=[(a.id, "speaker")], venue=beijing)
    moved = add(forum, "Moved in time", start="10:00", people=[(b.id, "speaker")],
                venue=beijing)
    relocated = add(forum, "Moved in space", start="11:00", people=[(c.id, "speaker")],
                    venue=beijing, room="101")
    recast = add(forum, "New speakers", day=1, people=[(a.id, "speaker")])
    removed = add(forum, "Cancelled", day=1, start="11:00", people=[(b.id, "speaker")])
    add(forum, "Untouched", day=2, people=[(c.id, "speaker")])
    first = agenda.publish(forum, actor=None)
    assert first.version == 1 and len(first.changes) == 6
    assert {c.what for c in first.changes} == {"added"}

    edit(forum, retitled, title="New title")
    edit(forum, moved, starts_local=local(forum, 0, "10:15"),
         ends_local=local(forum, 0, "11:15"))
    edit(forum, relocated, room="102", venue_id=nanning)
    edit(forum, recast, people=[(b.id, "speaker"), (a.id, "moderator")])
    agenda.delete_session(forum, removed.id, actor=None)
    added = add(forum, "Added", day=2, start="14:00", people=[(c.id, "speaker")])
    result = agenda.publish(forum, actor=None)
    got = {(c.guid, c.title, c.what, tuple(c.fields)) for c in result.changes}
    assert got == {
        (retitled.guid, "New title", "changed", ("title",)),
        (moved.guid, "Moved in time", "changed", ("time",)),
        (relocated.guid, "Moved in space", "changed", ("place",)),
        (recast.guid, "New speakers", "changed", ("people",)),
        (removed.guid, "Cancelled", "removed", ()),
        (added.guid, "Added", "added", ()),
    }
    old, new = (p.snapshot for p in db.session.scalars(
        select(AgendaPublication).order_by(AgendaPublication.version)))
    assert len(agenda.changes_between(old, new)) == 6
    assert agenda.changes_between(new, new) == []
    assert [c.what for c in agenda.changes_between(None, new)] == ["added"] * 6


def test_a_profile_change_is_published_but_mails_nobody(forum):
    a = speaker("A", email="a@example.org")
    session = add(forum, "Talk", people=[(a.id, "speaker")], track="Parks")
    registration = participant(forum, 1)
    agenda.publish(forum, actor=None)
    agenda.set_marks(registration, [session.guid], agenda.public_agenda(forum))
    agenda.update_person(a, PersonData(name="A", job_title="Dean", email="a@example.org"),
                         actor=None)
    result = agenda.publish(forum, actor=None, notify_participants=True)
    assert [(c.guid, c.what) for c in result.changes] == [(f"person:{a.id}", "profile")]
    assert (result.version, result.mailed, agenda_mails()) == (2, 0, [])
    assert agenda.public_agenda(forum).people[a.id].job_title == "Dean"
    edit(forum, session, track="Digital parks")  # a detail of the session: mailed
    result = agenda.publish(forum, actor=None)
    assert [(c.what, c.fields) for c in result.changes] == [("changed", ["details"])]
    assert recipients() == ["a@example.org", "p1@example.org"]


def _published_forum(forum):
    """A published programme, then a second version in which some sessions changed."""
    people = {
        "amer": speaker("Amer Hashmi", email="amer@example.org"),
        "balogh": speaker("Balogh András", email="balogh@example.org"),
        "yang": speaker("Yang Yi", email="yang@example.org"),
        "nomail": speaker("No Mail"),
        "steady": speaker("Steady Speaker", email="steady@example.org"),
    }
    sessions = {
        "keynote": add(forum, "Keynote on Special Technology Zones", kind="keynote",
                       people=[(people["amer"].id, "speaker"),
                               (people["nomail"].id, "discussant")]),
        "panel": add(forum, "Panel on the digital economy", kind="panel", start="10:00",
                     people=[(people["balogh"].id, "moderator"),
                             (people["amer"].id, "panellist")]),
        "unchanged": add(forum, "Steady talk", day=1,
                         people=[(people["steady"].id, "speaker")]),
        "cancelled": add(forum, "Talk that will be cancelled", day=1, start="11:00",
                         people=[(people["yang"].id, "speaker")]),
    }
    agenda.publish(forum, actor=None)
    return people, sessions


def _change_some(forum, sessions):
    edit(forum, sessions["keynote"], starts_local=local(forum, 0, "08:30"),
         ends_local=local(forum, 0, "09:30"))
    edit(forum, sessions["panel"], title="Panel on the digital economy (extended)",
         ends_local=local(forum, 0, "11:30"))
    agenda.delete_session(forum, sessions["cancelled"].id, actor=None)


def test_nobody_is_mailed_on_the_first_publication(forum):
    _people, sessions = _published_forum(forum)
    registration = participant(forum, 1)
    agenda.set_marks(registration, [s.guid for s in sessions.values()],
                     agenda.public_agenda(forum))
    assert agenda_mails() == []
    assert agenda.latest_publication(forum).version == 1


def test_speakers_of_changed_sessions_get_one_mail_each(forum):
    _people, sessions = _published_forum(forum)
    _change_some(forum, sessions)
    result = agenda.publish(forum, actor=None)
    # Amer is in two changed sessions: one mail. Yang's session was removed: he is told.
    # Steady's session did not change; No Mail has no address.
    assert recipients() == ["amer@example.org", "balogh@example.org", "yang@example.org"]
    assert result.mailed == 3
    assert {m.event_id for m in agenda_mails()} == {forum.id}
    for email in ("amer@example.org", "balogh@example.org", "yang@example.org"):
        assert len(delivered(email)) == 1
    assert delivered("steady@example.org") == []


def test_a_person_taken_out_of_a_changed_session_is_told(forum):
    people, sessions = _published_forum(forum)
    edit(forum, sessions["panel"], people=[(people["balogh"].id, "moderator"),
                                           (people["yang"].id, "panellist")])
    agenda.publish(forum, actor=None)
    assert recipients() == ["amer@example.org", "balogh@example.org", "yang@example.org"]


def test_participants_who_marked_a_changed_session_get_one_mail(forum):
    _people, sessions = _published_forum(forum)
    published = agenda.public_agenda(forum)
    both = participant(forum, 1)  # marked two changed sessions
    steady = participant(forum, 2)  # marked only the unchanged one
    participant(forum, 3)  # marked nothing
    cancelled = participant(forum, 4)  # marked a changed one, then cancelled
    agenda.set_marks(both, [sessions["keynote"].guid, sessions["panel"].guid],
                     published)
    agenda.set_marks(steady, [sessions["unchanged"].guid], published)
    agenda.set_marks(cancelled, [sessions["keynote"].guid], published)
    reg.cancel(cancelled.id, actor=None, by_participant=True)
    _change_some(forum, sessions)
    result = agenda.publish(forum, actor=None)
    assert recipients() == ["amer@example.org", "balogh@example.org", "p1@example.org",
                            "yang@example.org"]
    assert result.mailed == 4
    [mail] = [m for m in agenda_mails() if m.to_email == "p1@example.org"]
    assert mail.to_name == "Participant 1"


def test_notify_participants_mails_every_confirmed_participant_once(forum):
    people, sessions = _published_forum(forum)
    marked = participant(forum, 1)
    agenda.set_marks(marked, [sessions["keynote"].guid], agenda.public_agenda(forum))
    participant(forum, 2)
    participant(forum, 3)
    # A speaker who registered too gets one mail, not two.
    reg.register(forum, RegistrationInput(email="amer@example.org", name="Amer Hashmi",
                                          mode="online"))
    _change_some(forum, sessions)
    result = agenda.publish(forum, actor=None, notify_participants=True)
    assert recipients() == ["amer@example.org", "balogh@example.org", "p1@example.org",
                            "p2@example.org", "p3@example.org", "yang@example.org"]
    assert result.mailed == 6
    assert people["amer"].email == "amer@example.org"


def test_the_change_mail_lists_the_changes_and_links_the_agenda(forum):
    _people, sessions = _published_forum(forum)
    registration = participant(forum, 1)
    agenda.set_marks(registration, [sessions["panel"].guid], agenda.public_agenda(forum))
    _change_some(forum, sessions)
    agenda.publish(forum, actor=None)
    text = last_text("p1@example.org", "Panel on the digital economy")
    assert "Keynote on Special Technology Zones" in text
    assert "Panel on the digital economy (extended)" in text
    assert "Talk that will be cancelled" in text
    assert "Steady talk" not in text
    assert "http://eventsys.test/events/forum/agenda" in text
    [message] = [m for m in delivered("p1@example.org")
                 if "Test Forum" in m["Subject"] and "rogramme" in m["Subject"]]
    html = message.get_body(("html",)).get_content()
    assert "http://eventsys.test/events/forum/agenda" in html
    # The same mail never goes twice for a version (dedupe key per version and address).
    assert len([m for m in agenda_mails() if m.to_email == "p1@example.org"]) == 1


def test_html_in_a_session_title_is_escaped_in_the_mail(forum):
    a = speaker("A", email="a@example.org")
    session = add(forum, "Talk", people=[(a.id, "speaker")])
    agenda.publish(forum, actor=None)
    edit(forum, session, title='<img src=x onerror="alert(1)"> & <b>bold</b>')
    agenda.publish(forum, actor=None)
    [message] = delivered("a@example.org")
    html = message.get_body(("html",)).get_content()
    assert "<img" not in html and "<b>bold" not in html
    assert "&lt;img src=x onerror=" in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    assert '<img src=x onerror="alert(1)"> & <b>bold</b>' in \
        message.get_body(("plain",)).get_content()


# Reading the published agenda ------------------------------------------------------------

def test_the_published_agenda_in_the_reader_time_zone(forum):
    a, b = speaker("A"), speaker("B")
    opening = add(forum, "Opening", kind="opening", start="09:00", minutes=30)
    parallel_1 = add(forum, "Parallel 1", start="10:00", people=[(a.id, "speaker")])
    parallel_2 = add(forum, "Parallel 2", start="10:00", people=[(b.id, "speaker")])
    dawn = add(forum, "Dawn walk", kind="field_trip", day=1, start="04:30", minutes=90)
    evening = add(forum, "Evening", kind="other", day=1, start="21:00")
    agenda.move_session(forum, parallel_2.id, -1, actor=None)
    agenda.publish(forum, actor=None)

    read = agenda.public_agenda(forum, "Asia/Karachi")
    assert (read.version, read.timezone, read.reader_timezone) == (1, "Asia/Shanghai",
                                                                   "Asia/Karachi")
    # Grouped by the event's days (Shanghai), whatever the reader's clock says.
    assert [d.day for d in read.days] == [forum.start_date,
                                          forum.start_date + timedelta(days=1)]
    assert [[s.guid for s in d.sessions] for d in read.days] == [
        [opening.guid, parallel_2.guid, parallel_1.guid], [dawn.guid, evening.guid]]
    by_guid = {s.guid: s for s in read.sessions}
    first_day = forum.start_date
    # Karachi is three hours behind Shanghai.
    assert by_guid[opening.guid].local_start.replace(tzinfo=None) == local(forum, 0, "09:00")
    assert by_guid[opening.guid].reader_start.replace(tzinfo=None) == \
        datetime.combine(first_day, time(6, 0))
    assert by_guid[opening.guid].reader_end.replace(tzinfo=None) == \
        datetime.combine(first_day, time(6, 30))
    assert by_guid[opening.guid].starts_at == datetime.combine(first_day, time(1, 0),
                                                               tzinfo=UTC)
    # 04:30 on the second day in Shanghai is 01:30 in Karachi, the same day...
    assert by_guid[dawn.guid].reader_start.replace(tzinfo=None) == \
        datetime.combine(first_day + timedelta(days=1), time(1, 30))
    assert by_guid[dawn.guid].minutes == 90
    # ...and 21:00 is 18:00.
    assert by_guid[evening.guid].reader_start.hour == 18
    assert by_guid[parallel_1.guid].people[0][0] == "speaker"
    assert by_guid[parallel_1.guid].people[0][1].name == "A"

    in_event_time = agenda.public_agenda(forum)
    assert in_event_time.reader_timezone == "Asia/Shanghai"
    assert [s.reader_start for s in in_event_time.sessions] == \
        [s.local_start for s in in_event_time.sessions]
    with pytest.raises(ServiceError):
        agenda.public_agenda(forum, "Nowhere/Atlantis")


def test_a_reader_far_west_sees_the_times_of_the_day_before(forum):
    add(forum, "Opening", kind="opening", start="09:00")
    agenda.publish(forum, actor=None)
    [session] = agenda.public_agenda(forum, "America/Sao_Paulo").sessions
    # Sao Paulo (UTC-3, no summer time since 2019) is 11 hours behind Shanghai.
    assert session.reader_start.replace(tzinfo=None) == \
        datetime.combine(forum.start_date - timedelta(days=1), time(22, 0))
    assert session.local_start.date() == forum.start_date


def test_draft_edits_are_invisible_until_published(forum):
    a = speaker("A")
    session = add(forum, "Talk", people=[(a.id, "speaker")])
    assert agenda.public_agenda(forum) is None
    agenda.publish(forum, actor=None)
    edit(forum, session, title="Talk, renamed", starts_local=local(forum, 1, "09:00"),
         ends_local=local(forum, 1, "10:00"))
    add(forum, "Draft only", people=[(a.id, "speaker")], start="15:00")
    agenda.update_person(a, PersonData(name="A. Renamed", job_title="Dean"), actor=None)
    shown = agenda.public_agenda(forum)
    assert [s.title for s in shown.sessions] == ["Talk"]
    assert shown.sessions[0].local_start.date() == forum.start_date
    assert shown.people[a.id].name == "A"
    agenda.delete_session(forum, session.id, actor=None)
    assert [s.title for s in agenda.public_agenda(forum).sessions] == ["Talk"]
    agenda.publish(forum, actor=None)
    shown = agenda.public_agenda(forum)
    assert [s.title for s in shown.sessions] == ["Draft only"]
    assert shown.people[a.id].name == "A. Renamed" and shown.version == 2


def test_reading_the_published_agenda_is_one_query(forum):
    a = speaker("A")
    for n in range(10):
        add(forum, f"Talk {n}", day=n % 3, start=f"{9 + n % 5:02d}:00",
            people=[(a.id, "speaker")])
    agenda.publish(forum, actor=None)
    db.session.expire_all()
    event = db.session.get(Event, forum.id)  # the page has the event already
    with counting_queries() as seen:
        shown = agenda.public_agenda(event, "Asia/Karachi")
    assert len(shown.sessions) == 10 and len(seen) == 1


def test_sessions_of_a_person(forum):
    a, b = speaker("A"), speaker("B")
    keynote = add(forum, "Keynote", kind="keynote", people=[(a.id, "speaker")])
    panel = add(forum, "Panel", kind="panel", day=1, people=[(b.id, "moderator"),
                                                             (a.id, "panellist")])
    add(forum, "Other", people=[(b.id, "speaker")], start="11:00")
    agenda.publish(forum, actor=None)
    shown = agenda.public_agenda(forum)
    assert [(role, s.guid) for role, s in agenda.sessions_of_person(shown, a.id)] == [
        ("speaker", keynote.guid), ("panellist", panel.guid)]
    assert agenda.sessions_of_person(shown, 999999) == []
    assert agenda.role_label("panellist") == "Panellist"
    assert agenda.kind_label("field_trip") == "Field trip"


def test_marks_keep_only_sessions_of_the_published_agenda(forum):
    a = speaker("A")
    first = add(forum, "First", people=[(a.id, "speaker")])
    second = add(forum, "Second", people=[(a.id, "speaker")], start="11:00")
    agenda.publish(forum, actor=None)
    draft = add(forum, "Draft", people=[(a.id, "speaker")], start="14:00")
    registration = participant(forum, 1)
    shown = agenda.public_agenda(forum)
    agenda.set_marks(registration, [first.guid, draft.guid, "not-a-guid", first.guid],
                     shown)
    assert agenda.marked(registration) == {first.guid}
    agenda.set_marks(registration, [second.guid], shown)
    assert agenda.marked(registration) == {second.guid}
    agenda.set_marks(registration, [], shown)
    assert agenda.marked(registration) == set() and count(AgendaMark) == 0


def test_editing_the_event_keeps_the_sessions_venues(forum):
    """Saving the event form, even unchanged, must not replace the venue rows (sessions
    point at them, ON DELETE SET NULL)."""
    session = add(forum, "Talk", kind="other", venue=venue(forum, "Nanning"))
    events.update_event(forum, EventData(
        slug=forum.slug, kind=forum.kind, title="Test Forum, renamed",
        start_date=forum.start_date, end_date=forum.end_date, timezone=forum.timezone,
        mode=forum.mode, status=forum.status,
        venues=[VenueData(v.name, v.city, v.country, v.address) for v in forum.venues],
        hosts=[HostData(h.organisation.name, h.organisation.country, h.role)
               for h in forum.hosts]), actor=None)
    db.session.expire_all()
    assert db.session.get(AgendaSession, session.id).venue.city == "Nanning"


# The demo programmes ---------------------------------------------------------------------

def test_the_demo_programmes(app):
    from eventsys.services import demo

    demo.seed_demo(date.today())
    by_slug = {e.slug: e for e in db.session.scalars(select(Event))}

    forum = agenda.public_agenda(by_slug["demo-forum"])
    assert forum is not None and forum.version == 1
    kinds = {}
    for s in forum.sessions:
        kinds.setdefault(s.kind, []).append(s)
    [roundtable] = kinds["roundtable"]
    roles = [role for role, _person in roundtable.people]
    assert roles.count("moderator") == 1 and roles.count("panellist") == 4
    assert roundtable.mode == "online" and roundtable.venue is None
    assert len(kinds["keynote"]) == 3
    assert all(s.people and s.people[0][0] == "speaker" for s in kinds["keynote"])
    assert all(p.job_title for s in forum.sessions for _role, p in s.people)
    assert {s.local_start.date() for s in forum.sessions} == {by_slug["demo-forum"].start_date}

    workshop_event = by_slug["demo-workshop"]
    workshop = agenda.public_agenda(workshop_event)
    kinds = {}
    for s in workshop.sessions:
        kinds.setdefault(s.kind, []).append(s)
    assert len(kinds["lecture"]) >= 5 and len(kinds["field_trip"]) >= 2
    assert {s.venue["city"] for s in kinds["lecture"] + kinds["field_trip"]} == {
        "Beijing", "Nanning"}
    venue_ids = {v.city: v.id for v in workshop_event.venues}
    assert all(s.venue["id"] == venue_ids[s.venue["city"]] for s in workshop.sessions)
    assert all(s.people for s in kinds["lecture"])
    assert workshop.days[0].day == workshop_event.start_date
    assert workshop.days[-1].day <= workshop_event.end_date
    # The demo programme raises no warning an organiser would have to confirm.
    assert agenda.check(by_slug["demo-forum"]) == []
    assert agenda.check(workshop_event) == []

    before = (count(AgendaSession), count(AgendaPublication), count(Person))
    demo.seed_demo(date.today())
    assert (count(AgendaSession), count(AgendaPublication), count(Person)) == before
    assert agenda_mails() == []
