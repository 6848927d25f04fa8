"""The attendance pages (eventsys/web/manage_attendance.py): who may open them, the rule's
form, the exports, the session and day sheets as a browser sends them (CSRF, bulk buttons,
notes, check-out, bad input refused whole), the session form's check-out box, and the
queries the pages cost."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlalchemy import func, select

from eventsys.extensions import db
from eventsys.models import AgendaSession, Attendance, AttendanceNote, Event, Registration
from eventsys.services import accounts, agenda, attendance
from eventsys.services import registration as reg
from eventsys.services.agenda import SessionData
from eventsys.services.errors import ServiceError
from eventsys.services.registration import RegistrationInput
from eventsys.services.validation import clean_text
from tests.conftest import csrf_from, login, submit

SLUG = "spw"
BASE = f"/manage/events/{SLUG}/attendance"


# Helpers ---------------------------------------------------------------------------------

def person(event, n: int, mode: str = "in_person", **kw) -> Registration:
    out = reg.register(event, RegistrationInput(f"p{n}@example.org", kw.pop("name", f"Person {n}"),
                                                mode, **kw))
    return db.session.get(Registration, out.registration_id)


def session_at(event, hour: int, minutes: int = 60, day: int = 0, **kw) -> AgendaSession:
    start = datetime.combine(event.start_date + timedelta(days=day),
                             datetime.min.time()).replace(hour=hour)
    return agenda.create_session(event, SessionData(
        kw.pop("title", f"Lecture {day}/{hour}"), kw.pop("kind", "lecture"), start,
        start + timedelta(minutes=minutes), **kw), actor=None)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def page(response) -> str:
    return response.get_data(as_text=True)


def post_sheet(client, url: str, data: dict, *, page_url: str | None = None):
    """POST a sheet as its page would: the page's CSRF token, ``listed`` and ``was`` as
    drawn unless given."""
    html = client.get(page_url or url).get_data(as_text=True)
    drawn = {name: re.search(rf'name="{name}" value="([^"]*)"', html).group(1)
             for name in ("listed", "was")}
    return client.post(url, data={**drawn, **data, "csrf_token": csrf_from(html)})


@pytest.fixture
def manager(make_user):
    return make_user("manager@example.org", "Mei Manager")


@pytest.fixture
def workshop(make_event, manager, make_user):
    event = make_event(SLUG, creator=manager, kind="workshop", days=2, mode="hybrid")
    reg.set_capacities(event, {"in_person": None, "online": None}, actor=None)
    make_user("staff@example.org", "Zhao Lei")
    accounts.grant_event_role(event, "staff@example.org", "checkin", actor=manager)
    make_user("stranger@example.org", "Stranger")
    return event


@pytest.fixture
def lecture(workshop) -> AgendaSession:
    return session_at(workshop, 9)


@pytest.fixture
def trip(workshop) -> AgendaSession:
    return session_at(workshop, 13, minutes=240, kind="field_trip", needs_checkout=True)


@pytest.fixture
def people(workshop) -> list[Registration]:
    return [person(workshop, 1, name="Ayesha Siddiqui", organisation_name="NSTP",
                   country="PK"),
            person(workshop, 2, name="Budi Santoso", organisation_name="Bandung Techno Park",
                   country="ID"),
            person(workshop, 3, name="Chen Li", mode="online", country="CN")]


def in_room(session) -> set[int]:
    return set(db.session.scalars(select(Attendance.registration_id).where(
        Attendance.session_id == session.id, Attendance.mode == "in_person")))


# Who may open what -------------------------------------------------------------------------

def test_managers_staff_and_strangers(client, workshop, lecture, people):
    day = workshop.start_date.isoformat()
    sheets = [f"{BASE}/sessions/{lecture.id}", f"{BASE}/days/{day}"]
    managers_only = [BASE, f"{BASE}/export?format=csv", f"{BASE}/export?format=xlsx"]
    assert client.get(BASE).status_code == 302  # to the login page

    login(client, "stranger@example.org")
    for url in sheets + managers_only:
        assert client.get(url).status_code == 403, url
    assert client.post(f"{BASE}/rules", data={"min_minutes": "5"}).status_code in (400, 403)
    client.post("/logout", data={"csrf_token": csrf_from(page(client.get("/")))})

    login(client, "staff@example.org")
    for url in sheets:
        response = client.get(url)
        assert response.status_code == 200, url
        assert "Ayesha Siddiqui" in page(response)
        assert f'href="{BASE}"' not in page(response)  # no way to the managers' page
    for url in managers_only:
        assert client.get(url).status_code == 403, url
    html = page(client.get(sheets[0]))
    response = client.post(f"{BASE}/rules", data={"min_minutes": "5",
                                                  "csrf_token": csrf_from(html)})
    assert response.status_code == 403 and workshop.attendance_min_minutes is None
    response = post_sheet(client, sheets[0], {"present": str(people[0].id)})
    assert response.status_code == 302 and in_room(lecture) == {people[0].id}
    client.post("/logout", data={"csrf_token": csrf_from(page(client.get("/")))})

    login(client, "manager@example.org")
    for url in sheets + managers_only:
        assert client.get(url).status_code == 200, url


def test_the_event_page_links_to_check_in_and_attendance(client, workshop):
    login(client, "manager@example.org")
    html = page(client.get(f"/manage/events/{SLUG}/"))
    assert f'href="{BASE}"' in html
    assert (f'href="/manage/events/{SLUG}/checkin"' in html) == (
        "manage.event_checkin" in client.application.view_functions)


# The overview and the rule -------------------------------------------------------------------

def test_the_overview_shows_the_numbers_and_the_rates(client, workshop, lecture, trip, people):
    attendance.mark(workshop, lecture, [people[0].id, people[1].id], present=True, staff=None)
    attendance.mark(workshop, trip, [people[0].id], present=True, staff=None)
    attendance.record_online(workshop, {(people[2].id, lecture.id): (45, lecture.starts_at)})
    db.session.commit()
    login(client, "manager@example.org")
    html = page(client.get(BASE))
    assert "Attended: checked in (and out, where the session needs it)" in html
    assert "Pakistan" in html and "Bandung Techno Park" in html
    assert f"{BASE}/sessions/{trip.id}" in html and "needs check-out" in html
    assert f"{BASE}/days/{workshop.start_date.isoformat()}" in html
    # Ayesha's trip does not count until she is checked out: 1 of 2 sessions.
    row = html[html.index("Ayesha Siddiqui"):][:1500]
    assert "1 of 2 sessions" in row and "<strong>50</strong>" in row
    below = page(client.get(BASE + "?below=60&sort=rate"))
    rates = below[below.index('id="rates"'):]
    assert "Ayesha Siddiqui" in rates and "Chen Li" in rates
    assert page(client.get(BASE + "?below=40")).count("0 of 2 sessions") == 0
    assert "Chen Li" not in page(client.get(BASE + "?mode=in_person")).split('id="rates"')[1]
    # Junk in the filters is ignored.
    assert client.get(BASE + "?below=abc&mode=x&sort=y&page=-4&q=%00").status_code == 200


@pytest.mark.parametrize("form, message", [
    ({"min_minutes": "abc"}, "Enter the minutes as a whole number"),
    ({"min_minutes": "1_0"}, "Enter the minutes as a whole number"),
    ({"min_minutes": "+5"}, "Enter the minutes as a whole number"),
    ({"min_minutes": "\u0663\u00b2"}, "Enter the minutes as a whole number"),  # ٣²
    ({"min_minutes": "0"}, "between 1 and 1440"),
    ({"min_minutes": "1441"}, "between 1 and 1440"),
    ({"min_minutes": "9" * 5000}, "Enter the minutes as a whole number"),
    ({"min_percent": "101"}, "between 1 and 100"),
    ({"min_percent": "-5"}, "whole number of per cent"),
    ({"unit": "week"}, "Not a valid choice"),
])
def test_the_rule_form_explains_what_is_wrong(client, workshop, form, message):
    login(client, "manager@example.org")
    data = {"unit": "session", "min_minutes": "", "min_percent": "", **form}
    response = submit(client, f"{BASE}/rules", data, page=BASE)
    html = page(response)
    assert response.status_code == 400 and message in html
    assert "between" not in html or "whole number" not in html  # one message, not two
    db.session.refresh(workshop)
    assert (workshop.attendance_min_minutes, workshop.attendance_min_percent) == (None, None)


def test_the_rule_form_saves(client, workshop):
    login(client, "manager@example.org")
    response = submit(client, f"{BASE}/rules", {"unit": "day", "min_minutes": " 30 ",
                                                "min_percent": "50"}, page=BASE)
    assert response.status_code == 302
    db.session.refresh(workshop)
    assert (workshop.attendance_min_minutes, workshop.attendance_min_percent,
            workshop.attendance_unit) == (30, 50, "day")
    html = page(client.get(BASE))
    assert "at least 30 minutes or 50% of the session" in html and 'value="30"' in html
    submit(client, f"{BASE}/rules", {"unit": "session", "min_minutes": "",
                                     "min_percent": ""}, page=BASE)
    db.session.refresh(workshop)
    assert (workshop.attendance_min_minutes, workshop.attendance_min_percent) == (None, None)
    assert "online, having joined" in page(client.get(BASE))
    # Digits as a Chinese, Arabic or Hindi keyboard gives them are the same numbers.
    submit(client, f"{BASE}/rules", {"unit": "session", "min_minutes": "\uff13\uff10",
                                     "min_percent": "\u0665\u0660"}, page=BASE)
    db.session.refresh(workshop)
    assert (workshop.attendance_min_minutes, workshop.attendance_min_percent) == (30, 50)
    submit(client, f"{BASE}/rules", {"unit": "session", "min_minutes": "\u0968\u0966",
                                     "min_percent": ""}, page=BASE)
    db.session.refresh(workshop)
    assert (workshop.attendance_min_minutes, workshop.attendance_min_percent) == (20, None)
    response = client.post(f"{BASE}/rules", data={"min_minutes": "30"})  # no CSRF token
    assert response.status_code == 400


# Exports -------------------------------------------------------------------------------------

def test_exports(client, workshop, lecture, people):
    nasty = person(workshop, 9, name="=cmd|' /C calc'!A0", organisation_name="-2+3")
    attendance.mark(workshop, lecture, [people[0].id, nasty.id], present=True, staff=None)
    login(client, "manager@example.org")
    response = client.get(f"{BASE}/export?format=csv&below=100")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert f'filename="{SLUG}-attendance.csv"' in response.headers["Content-Disposition"]
    table = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    names = {line[1] for line in table[1:]}
    assert names == {"Budi Santoso", "Chen Li"}  # the filter applies
    table = list(csv.reader(io.StringIO(
        client.get(f"{BASE}/export?format=csv").get_data().decode("utf-8-sig"))))
    line = next(line for line in table if line[0] == str(nasty.id))
    assert line[1] == "'=cmd|' /C calc'!A0" and line[3] == "'-2+3"
    response = client.get(f"{BASE}/export?format=xlsx")
    book = load_workbook(io.BytesIO(response.get_data()))
    cells = {row[0].value: row for row in book["Attendance"].iter_rows(min_row=2)}
    assert cells[nasty.id][1].value == "=cmd|' /C calc'!A0"
    assert cells[nasty.id][1].data_type == "s"
    assert client.get(f"{BASE}/export?format=pdf").status_code == 400


# The session sheet ---------------------------------------------------------------------------

def test_the_session_sheet_ticks_notes_and_checks_out(client, workshop, trip, people):
    url = f"{BASE}/sessions/{trip.id}"
    ana, budi, chen = people
    login(client, "staff@example.org")
    html = page(client.get(url))
    assert "0 of 3 attended by the rule" in html and 'list="note-choices"' in html
    assert "excused" in html and "late" in html

    response = post_sheet(client, url, {"present": [str(ana.id), str(budi.id)],
                                        f"note-{chen.id}": "  excused   (visa) "})
    assert response.status_code == 302
    assert in_room(trip) == {ana.id, budi.id}
    assert db.session.scalar(select(AttendanceNote.note)) == "excused (visa)"
    html = page(client.get(response.location))
    assert "Saved: 2 marked present, 1 note saved." in html
    assert 'big-number">2</span> in the room' in html
    assert "0 of 3 attended by the rule" in html

    # Untick Budi, check Ayesha out; the note is kept as it was.
    response = post_sheet(client, url, {"present": [str(ana.id)], "out": [str(ana.id)],
                                        f"note-{chen.id}": "excused (visa)",
                                        f"note_was-{chen.id}": "excused (visa)"})
    assert response.status_code == 302 and in_room(trip) == {ana.id}
    html = page(client.get(url))
    assert "1 of 3 attended by the rule" in html and "out at" in html
    assert count(AttendanceNote) == 1

    response = post_sheet(client, url, {"action": "all_present",
                                        "present": [str(ana.id)]})
    assert response.status_code == 302 and in_room(trip) == {ana.id, budi.id, chen.id}
    response = post_sheet(client, url, {"action": "all_out", "present": [
        str(ana.id), str(budi.id), str(chen.id)]})
    assert "3 of 3 attended by the rule" in page(client.get(url))
    # Only those registered online, and back.
    html = page(client.get(url + "?mode=online"))
    assert "Chen Li" in html and "Budi Santoso" not in html


def test_the_session_sheet_refuses_bad_input_whole(client, workshop, lecture, people,
                                                   make_event, manager):
    other = make_event("other", creator=manager)
    reg.set_capacities(other, {"in_person": None}, actor=None)
    stranger = person(other, 8)
    pending = people[2]
    pending.status = "pending"
    db.session.commit()
    url = f"{BASE}/sessions/{lecture.id}"
    ana = people[0]
    login(client, "manager@example.org")
    bad = [
        {"present": [str(ana.id), "abc"]},
        {"present": [str(ana.id), "1e3"]},
        {"present": [str(ana.id), "99999999999999"]},
        {"present": str(ana.id), "listed": f"{ana.id},{stranger.id}"},
        {"present": [str(ana.id), str(stranger.id)], "listed": f"{ana.id},{stranger.id}"},
        {"present": [str(ana.id), str(pending.id)], "listed": f"{ana.id},{pending.id}"},
        {"present": [str(ana.id), str(stranger.id)]},  # not on the page
        {"present": str(ana.id), f"note-{ana.id}": "x" * 201},
        {"present": str(ana.id), f"note-{ana.id}": "late\x07"},
        {"present": str(ana.id), "out": str(ana.id)},  # no check-out for a lecture
        {"present": str(ana.id), "action": "explode"},
    ]
    for data in bad:
        response = post_sheet(client, url, data)
        assert 400 <= response.status_code < 500, data
        assert "flash-error" in page(response), data
        assert count(Attendance) == 0 and count(AttendanceNote) == 0, data
    response = client.post(url, data={"present": str(ana.id), "listed": str(ana.id)})
    assert response.status_code == 400 and count(Attendance) == 0  # no CSRF token
    # A session of another event is not on this event's pages.
    elsewhere = session_at(other, 9)
    assert client.get(f"{BASE}/sessions/{elsewhere.id}").status_code == 404
    assert client.get(f"{BASE}/sessions/0").status_code == 404


def test_two_people_at_one_sheet_do_not_undo_each_other(client, workshop, lecture, people):
    """The sheet was drawn before the door scanned Ana; saving it leaves her in."""
    url = f"{BASE}/sessions/{lecture.id}"
    login(client, "manager@example.org")
    html = page(client.get(url))
    attendance.check_in(workshop, people[0].ticket_code, session=lecture, staff=None)
    listed = re.search(r'name="listed" value="([^"]*)"', html).group(1)
    response = client.post(url, data={"listed": listed, "was": "",
                                      "present": str(people[1].id),
                                      "csrf_token": csrf_from(html)})
    assert response.status_code == 302
    assert in_room(lecture) == {people[0].id, people[1].id}


def test_everyone_present_means_those_a_name_search_left_shown(client, workshop, lecture,
                                                               trip, people):
    """The sheet's script sends ``shown`` while a name is being found: the bulk buttons act
    on those rows only, never on people the organiser could not see."""
    ana, budi, chen = people
    url = f"{BASE}/sessions/{lecture.id}"
    login(client, "manager@example.org")
    assert 'name="shown" value="" disabled' in page(client.get(url))
    response = post_sheet(client, url, {"action": "all_present", "shown": str(budi.id)})
    assert response.status_code == 302 and in_room(lecture) == {budi.id}
    response = post_sheet(client, url, {"action": "all_present", "shown": "",
                                        "present": str(budi.id)})
    assert response.status_code == 302 and in_room(lecture) == {budi.id}  # nobody matched
    day_url = f"{BASE}/days/{workshop.start_date.isoformat()}"
    response = post_sheet(client, day_url, {"action": f"session-{trip.id}",
                                            "shown": f"{ana.id},{chen.id}"},
                          page_url=day_url)
    assert response.status_code == 302 and in_room(trip) == {ana.id, chen.id}


NOTE_TEXT = st.one_of(
    st.text(max_size=250),
    st.sampled_from(["excused", "late", "  late  ", "<script>x</script>", "{{7*7}}",
                     "\u202eexcused", "迟到", "نوٹ", "\x00", "\r\n", "x" * 200, "x" * 201]))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(note=NOTE_TEXT)
def test_any_note_is_stored_cleaned_or_refused(app, workshop, lecture, people, note):
    client = app.test_client()
    login(client, "staff@example.org")
    # Looked up afresh: each example ends with a new database session.
    url = f"{BASE}/sessions/{db.session.scalar(select(AgendaSession.id))}"
    rid = db.session.scalar(select(func.min(Registration.id)))
    db.session.execute(AttendanceNote.__table__.delete())
    db.session.commit()
    response = post_sheet(client, url, {f"note-{rid}": note})
    assert response.status_code < 500
    try:
        expected = clean_text(note, attendance.NOTE_LIMIT)
    except ServiceError:
        assert response.status_code == 400 and count(AttendanceNote) == 0
    else:
        assert response.status_code == 302
        assert db.session.scalar(select(AttendanceNote.note)) == expected
        assert "<script>x</script>" not in page(client.get(url))
    db.session.remove()


# The day sheet -------------------------------------------------------------------------------

def test_the_day_sheet(client, workshop, lecture, trip, people):
    session_at(workshop, 9, day=1, title="Next day")
    session_at(workshop, 12, kind="break", counts_for_attendance=False, title="Lunch")
    day = workshop.start_date.isoformat()
    url = f"{BASE}/days/{day}"
    ana, budi, chen = people
    login(client, "staff@example.org")
    html = page(client.get(url))
    assert lecture.title in html and trip.title in html
    assert "Next day" not in html and "Lunch" not in html
    response = post_sheet(client, url, {"present": [f"{lecture.id}-{ana.id}"],
                                        "action": f"day-{budi.id}"})
    assert response.status_code == 302
    assert (in_room(lecture), in_room(trip)) == ({ana.id, budi.id}, {budi.id})
    response = post_sheet(client, url, {"present": [f"{lecture.id}-{ana.id}",
                                                    f"{trip.id}-{budi.id}"],
                                        "action": f"session-{trip.id}"})
    assert (in_room(lecture), in_room(trip)) == ({ana.id}, {ana.id, budi.id, chen.id})
    for bad in ({"present": "abc"}, {"present": f"{lecture.id}"},
                {"present": f"999999-{ana.id}"}, {"action": "day-999999"},
                {"action": "week-1"}):
        response = post_sheet(client, url, bad)
        assert 400 <= response.status_code < 500, bad
    assert (in_room(lecture), in_room(trip)) == ({ana.id}, {ana.id, budi.id, chen.id})
    for wrong in ((workshop.end_date + timedelta(days=1)).isoformat(),
                  (workshop.start_date - timedelta(days=1)).isoformat(),
                  "2031-13-45", "yesterday", "2031-1-1",
                  "\u0662\u0660\u0663\u0661-\u0660\u0661-\u0660\u0661"):  # Arabic-Indic digits
        assert client.get(f"{BASE}/days/{wrong}").status_code == 404, wrong


# The session form's check-out box ------------------------------------------------------------

def test_the_session_form_sets_needs_checkout(client, workshop, lecture):
    login(client, "manager@example.org")
    edit = f"/manage/events/{SLUG}/agenda/{lecture.id}/edit"
    html = page(client.get(edit))
    assert 'name="needs_checkout"' in html
    form = {"title": lecture.title, "kind": "lecture", "starts": f"{workshop.start_date}T09:00",
            "ends": f"{workshop.start_date}T10:00", "mode": "in_person",
            "counts_for_attendance": "y", "needs_checkout": "y"}
    assert submit(client, edit, form).status_code == 302
    db.session.refresh(lecture)
    assert lecture.needs_checkout
    form.pop("needs_checkout")
    assert submit(client, edit, form).status_code == 302
    db.session.refresh(lecture)
    assert not lecture.needs_checkout


# Queries -------------------------------------------------------------------------------------

def test_pages_take_the_same_queries_for_5_and_50(client, make_event, manager, count_queries):
    def build(slug, n):
        event = make_event(slug, creator=manager, kind="workshop", days=7)
        reg.set_capacities(event, {"in_person": None, "online": None}, actor=None)
        sessions = [session_at(event, 8 + i % 8, day=i // 8) for i in range(n)]
        people = [person(event, 1000 * len(slug) + i, mode=("online" if i % 3 else "in_person"),
                         country=("CN", "PK", "TH")[i % 3], organisation_name=f"Park {i % 4}")
                  for i in range(n)]
        for s in sessions:
            attendance.mark(event, s, [p.id for p in people[::2]], present=True, staff=None)
        attendance.record_online(event, {(p.id, s.id): (30, s.starts_at)
                                         for p in people[1::3] for s in sessions})
        db.session.commit()
        base = f"/manage/events/{slug}/attendance"
        return [base, f"{base}/sessions/{sessions[0].id}",
                f"{base}/days/{event.start_date.isoformat()}", f"{base}/export?format=csv"]

    def queries(urls):
        found = []
        for url in urls:
            db.session.remove()
            count_queries["n"] = 0
            assert client.get(url).status_code == 200, url
            found.append(count_queries["n"])
        return found

    few_urls, many_urls = build("few", 5), build("many-more", 50)
    login(client, "manager@example.org")
    few, many = queries(few_urls), queries(many_urls)
    assert few == many, (few, many)


def test_an_event_of_nobody_has_calm_pages(client, workshop):
    login(client, "manager@example.org")
    assert "No participants yet." in page(client.get(BASE))
    assert db.session.scalar(select(Event.id)) is not None
