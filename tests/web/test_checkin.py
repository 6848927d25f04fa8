"""The check-in page and its scan endpoint (eventsys/web/manage_checkin.py): who may use
them, each answer as the page receives it, replays, CSRF, any body at all answered in
JSON (never a 500), the queries a scan costs, and two desks scanning one ticket at once
on PostgreSQL."""

from __future__ import annotations

import io
import json
import re
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from sqlalchemy import func, select

from eventsys.extensions import db
from eventsys.models import Attendance, Registration
from eventsys.services import accounts, agenda, attendance
from eventsys.services import registration as reg
from eventsys.services.agenda import SessionData
from eventsys.services.registration import RegistrationInput
from tests.conftest import login, submit

SLUG = "door-forum"
SCAN = f"/manage/events/{SLUG}/checkin/scan"
PAGE = f"/manage/events/{SLUG}/checkin"
_PAGE_DATA = re.compile(r'<script type="application/json" id="checkin-page">(.*?)</script>',
                        re.S)


# Helpers ---------------------------------------------------------------------------------

def person(event, n: int, mode: str = "in_person", **kw) -> Registration:
    out = reg.register(event, RegistrationInput(f"p{n}@example.org", f"Person {n}", mode,
                                                **kw))
    return db.session.get(Registration, out.registration_id)


def rows(**where) -> int:
    query = select(func.count()).select_from(Attendance)
    for key, value in where.items():
        query = query.where(getattr(Attendance, key) == value)
    return db.session.scalar(query)


def page_data(client, url: str = PAGE) -> dict:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    found = _PAGE_DATA.search(response.get_data(as_text=True))
    assert found, "no page data"
    return json.loads(found.group(1))


class Door:
    """A logged-in check-in page: posts scans as its script does."""

    def __init__(self, client, url: str = PAGE):
        self.client = client
        self.data = page_data(client, url)

    def scan(self, code: str, *, session_id=None, action="in", scan_id=None, typed=False,
             scanned_at=None, **extra):
        body = {"code": code, "session_id": session_id, "action": action,
                "scan_id": scan_id or f"scan-{time.perf_counter_ns()}", "typed": typed,
                "scanned_at": scanned_at or datetime.now(UTC).isoformat(), **extra}
        return self.post(json=body)

    def post(self, **kwargs):
        headers = {"X-CSRFToken": self.data["csrfToken"], **kwargs.pop("headers", {})}
        return self.client.post(self.data["scanUrl"], headers=headers, **kwargs)


@pytest.fixture
def forum(make_event):
    # Yesterday to tomorrow, wherever the event's day and the machine's are.
    event = make_event(SLUG, days_ahead=-1, days=2)
    reg.set_capacities(event, {"in_person": None, "online": None}, actor=None)
    return event


@pytest.fixture
def staff(make_user, forum):
    user = make_user("staff@example.org", "Zhao Lei")
    accounts.grant_event_role(forum, "staff@example.org", "checkin", actor=None)
    return user


@pytest.fixture
def door(client, staff):
    login(client, "staff@example.org")
    return Door(client)


def session_today(event, *, starts_in: timedelta, minutes: int = 60, **kw):
    zone = attendance.zone_of(event)
    start = (datetime.now(UTC) + starts_in).astimezone(zone).replace(tzinfo=None,
                                                                     second=0, microsecond=0)
    return agenda.create_session(event, SessionData(
        kw.pop("title", "Lecture"), kw.pop("kind", "lecture"), start,
        start + timedelta(minutes=minutes), **kw), actor=None)


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(buffer, "JPEG")
    return buffer.getvalue()


# Who may open the door ----------------------------------------------------------------------

def test_staff_and_managers_may_check_in_others_may_not(client, make_user, forum, staff,
                                                        make_event):
    ana = person(forum, 1)
    organiser = make_user("org@example.org")
    accounts.grant_event_role(forum, "org@example.org", "manager", actor=None)
    make_user("member@example.org")
    other = make_event("other-forum")
    make_user("elsewhere@example.org")
    accounts.grant_event_role(other, "elsewhere@example.org", "checkin", actor=None)
    assert organiser

    response = client.get(PAGE)
    assert response.status_code == 302 and "/login" in response.location
    response = client.post(SCAN, json={"code": ana.ticket_code})
    assert response.status_code in (302, 400) and rows() == 0

    for email in ("member@example.org", "elsewhere@example.org"):
        login(client, email)
        assert client.get(PAGE).status_code == 403, email
        assert client.post(SCAN, json={"code": ana.ticket_code}).status_code in (400, 403)
        submit(client, "/logout", {}, page="/")
    assert rows() == 0

    for email in ("staff@example.org", "org@example.org"):
        login(client, email)
        door = Door(client)
        assert door.scan(ana.ticket_code).status_code == 200, email
        submit(client, "/logout", {}, page="/")
    assert rows(registration_id=ana.id) == 1


def test_check_in_staff_sees_the_door_not_the_rest(client, forum, staff):
    login(client, "staff@example.org")
    assert client.get(f"/manage/events/{SLUG}/registrations").status_code == 403
    html = client.get(PAGE).get_data(as_text=True)
    assert "Whole event (today" in html and "Back to the event" not in html
    assert "vendor/jsqr/jsQR.js" in html and "js/checkin.js" in html


# The page ------------------------------------------------------------------------------------

def test_page_preselects_the_session_under_way_and_takes_any_place(client, forum, door):
    past = session_today(forum, starts_in=timedelta(hours=-3), title="Gone")
    now = session_today(forum, starts_in=timedelta(minutes=-10), title="Keynote now",
                        minutes=120)
    assert page_data(door.client)["sessionId"] == now.id
    assert page_data(door.client, PAGE + "?session=event")["sessionId"] is None
    assert page_data(door.client, f"{PAGE}?session={past.id}")["sessionId"] == past.id
    for bad in ("99999", "abc", "1" * 5000, "9999999999", "2147483648", "0", "-1", "١٢"):
        assert door.client.get(f"{PAGE}?session={bad}").status_code == 404, bad
    html = door.client.get(f"{PAGE}?action=out").get_data(as_text=True)
    assert 'value="out" checked' in html


def test_the_page_shows_the_running_count(forum, door):
    ana, ben = person(forum, 1), person(forum, 2)
    door.scan(ana.ticket_code)
    door.scan(ben.ticket_code)
    html = door.client.get(PAGE + "?session=event").get_data(as_text=True)
    assert "2 checked in" in html


# Each answer ---------------------------------------------------------------------------------

def test_each_outcome_as_the_page_receives_it(forum, door, make_event):
    ana = person(forum, 1, organisation_name="NSTP", country="PK", name_native="انا")
    first = door.scan(ana.ticket_code.lower().replace("-", " "), typed=True)
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-store"
    got = first.get_json()
    assert (got["outcome"], got["tone"], got["label"], got["name"], got["name_native"],
            got["organisation"], got["country"], got["by"], got["count"], got["count_label"],
            got["replayed"], got["admitted"]) == (
        "checked_in", "ok", "Checked in", "Person 1", "انا", "NSTP", "PK", "Zhao Lei", 1,
        "1 checked in", False, True)
    assert got["at"] and got["at_local"].startswith("at ") and got["photo_url"] is None
    assert got["country_name"] == "Pakistan"
    assert rows(registration_id=ana.id, source="code") == 1

    again = door.scan(ana.ticket_code).get_json()
    assert (again["outcome"], again["tone"], again["label"], again["count"]) == (
        "already", "warn", "Already checked in", 1)
    assert again["at"] == got["at"] and "by Zhao Lei" in again["detail"]

    for mangled in ("hello world", "\x00", "ABCD-EFGH-JKM\x00", "٢٣٤٥-٦٧٨٩-ABCD"):
        assert door.scan(mangled).get_json()["outcome"] == "invalid", mangled
    assert door.scan("https://example.org/some/long/qr?x=1").get_json()["tone"] == "stop"
    assert door.scan("2345-6789-ABCD").get_json()["outcome"] == "unknown"
    other = make_event("other-forum")
    reg.set_capacities(other, {"in_person": None}, actor=None)
    stranger = person(other, 9)
    answer = door.scan(stranger.ticket_code).get_json()
    assert (answer["outcome"], answer["label"], answer["name"]) == (
        "wrong_event", "Ticket for another event", None)  # nobody else's details leak
    gone = person(forum, 2)
    reg.cancel(gone.id, actor=None, by_participant=True)
    assert door.scan(gone.ticket_code).get_json()["outcome"] == "cancelled"
    forum.approval = "application"
    db.session.commit()
    pending = person(forum, 3)
    answer = door.scan(pending.ticket_code).get_json()
    assert (answer["outcome"], answer["tone"], answer["name"]) == (
        "not_confirmed", "stop", "Person 3")
    online = person(forum, 4, mode="online")
    forum.approval = "open"
    db.session.commit()
    assert rows(event_id=forum.id) == 1
    assert online


def test_a_speakers_photo_is_shown(forum, door):
    agenda.create_person(agenda.PersonData(name="Dr Ana", email="p1@example.org"), actor=None,
                         photo=jpeg())
    ana = person(forum, 1)
    got = door.scan(ana.ticket_code).get_json()
    assert got["photo_url"] and got["photo_url"].startswith("/media/photos/")
    photo = door.client.get(got["photo_url"])
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg"


def test_an_online_registrant_comes_in_with_a_warning(forum, door):
    online = person(forum, 1, mode="online")
    got = door.scan(online.ticket_code).get_json()
    assert got["outcome"] == "checked_in" and "online" in got["warning"]


def test_sessions_and_check_out(forum, door):
    trip = session_today(forum, starts_in=timedelta(hours=1), title="Field trip",
                         kind="field_trip", needs_checkout=True)
    ana = person(forum, 1)
    out = door.scan(ana.ticket_code, session_id=trip.id, action="out").get_json()
    assert (out["outcome"], out["tone"]) == ("not_checked_in", "warn")
    came = door.scan(ana.ticket_code, session_id=str(trip.id)).get_json()
    assert (came["outcome"], came["count"], came["session_id"]) == ("checked_in", 1, trip.id)
    left = door.scan(ana.ticket_code, session_id=trip.id, action="out").get_json()
    assert (left["outcome"], left["tone"], left["count"]) == ("checked_out", "ok", 1)
    assert left["detail"].startswith("Left ")
    # The whole event is another place: not checked in there yet.
    assert door.scan(ana.ticket_code).get_json()["outcome"] == "checked_in"
    assert rows(registration_id=ana.id) == 2
    # Where nobody checks out, a check-out is refused (a clear 4xx, nothing written).
    talk = session_today(forum, starts_in=timedelta(hours=2), title="Talk")
    for session_id in (None, talk.id):
        refused = door.scan(ana.ticket_code, session_id=session_id, action="out")
        assert refused.status_code == 400 and "Nobody checks out here" in \
            refused.get_json()["message"]
    assert rows(registration_id=ana.id, left_at=None) == 1  # the whole event: still in


def test_a_replayed_scan_answers_checked_in_and_counts_once(forum, door):
    ana = person(forum, 1)
    made = (datetime.now(UTC) - timedelta(minutes=20)).isoformat()
    first = door.scan(ana.ticket_code, scan_id="3b1f7a0e-1111-4c8e-9a5e-000000000001",
                      scanned_at=made).get_json()
    for _ in range(2):
        replay = door.scan(ana.ticket_code, scan_id="3b1f7a0e-1111-4c8e-9a5e-000000000001",
                           scanned_at=made).get_json()
        assert (replay["outcome"], replay["replayed"], replay["count"], replay["at"]) == (
            "checked_in", True, 1, first["at"])
        assert "counted once" in replay["detail"]
    assert datetime.fromisoformat(first["at"]) == datetime.fromisoformat(made)
    assert rows(registration_id=ana.id) == 1


def test_a_scan_id_reused_for_another_ticket_is_refused_in_json(forum, door):
    ana, ben = person(forum, 1), person(forum, 2)
    door.scan(ana.ticket_code, scan_id="same-id")
    response = door.scan(ben.ticket_code, scan_id="same-id")
    assert response.status_code == 400
    assert response.get_json()["error"] == "refused" and "another ticket" in \
        response.get_json()["message"]
    assert rows() == 1


# CSRF ----------------------------------------------------------------------------------------

def test_csrf_is_required_and_a_stale_token_is_renewed_in_json(forum, door):
    ana = person(forum, 1)
    body = {"code": ana.ticket_code, "scan_id": "s-1"}
    for headers in ({}, {"X-CSRFToken": "forged"}):
        response = door.client.post(SCAN, json=body, headers=headers)
        assert response.status_code == 400
        got = response.get_json()
        assert got["error"] == "csrf" and got["csrf_token"] and got["message"]
    assert rows() == 0
    response = door.client.post(SCAN, json=body, headers={"X-CSRFToken": got["csrf_token"]})
    assert response.status_code == 200 and response.get_json()["outcome"] == "checked_in"


# Bad input -----------------------------------------------------------------------------------

BAD_BODIES = [
    ("not json at all", "text/plain"),
    ("{not json", "application/json"),
    ("[]", "application/json"),
    ("null", "application/json"),
    ('"ABCD-EFGH-JKMN"', "application/json"),
    ("{}", "application/json"),
    ('{"code": 12}', "application/json"),
    ('{"code": ""}', "application/json"),
    ('{"code": "   "}', "application/json"),
    ('{"code": ["x"]}', "application/json"),
    ('{"code": "X", "session_id": true}', "application/json"),
    ('{"code": "X", "session_id": 1.5}', "application/json"),
    ('{"code": "X", "session_id": -3}', "application/json"),
    ('{"code": "X", "session_id": 99999999999999999999}', "application/json"),
    ('{"code": "X", "session_id": "12abc"}', "application/json"),
    ('{"code": "X", "action": "sideways"}', "application/json"),
    ('{"code": "X", "action": null}', "application/json"),
    ('{"code": "X", "scan_id": "has spaces"}', "application/json"),
    ('{"code": "X", "scan_id": "' + "a" * 41 + '"}', "application/json"),
    ('{"code": "X", "scan_id": 5}', "application/json"),
    ('{"code": "X", "scanned_at": "yesterday"}', "application/json"),
    ('{"code": "X", "scanned_at": "9999-12-31T23:59:59-23:59"}', "application/json"),
    ('{"code": "X", "scanned_at": 1700000000}', "application/json"),
    ('{"code": "X", "typed": "yes"}', "application/json"),
    ('{"code": "' + "A" * 201 + '"}', "application/json"),
    ('{"code": "X", "session_id": 2147483647}', "application/json"),
]


@pytest.mark.parametrize(("body", "content_type"), BAD_BODIES)
def test_malformed_bodies_are_4xx_json_never_500(forum, door, body, content_type):
    response = door.post(data=body.encode(), content_type=content_type)
    assert 400 <= response.status_code < 500, (body, response.status_code)
    got = response.get_json()
    assert got and got["message"] and got["error"] in ("bad_request", "not_found"), body
    assert rows() == 0


def test_a_huge_body_and_a_session_of_another_event(forum, door, make_event):
    response = door.post(data=b'{"code": "' + b"A" * 100_000 + b'"}',
                         content_type="application/json")
    assert response.status_code == 413 and response.get_json()["error"] == "too_large"
    other = make_event("other-forum")
    theirs = agenda.create_session(other, SessionData(
        "Theirs", "lecture", datetime(2031, 1, 1, 9), datetime(2031, 1, 1, 10)), actor=None)
    ana = person(forum, 1)
    response = door.scan(ana.ticket_code, session_id=theirs.id)
    assert response.status_code == 404 and response.get_json()["error"] == "not_found"
    assert rows() == 0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=60),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=6)
scan_bodies = st.fixed_dictionaries({}, optional={
    "code": json_values | st.text(max_size=250) | st.just("2345-6789-ABCD"),
    "session_id": json_values | st.integers(min_value=-5, max_value=2**40),
    "action": json_values | st.sampled_from(["in", "out"]),
    "scan_id": json_values | st.uuids().map(str),
    "scanned_at": json_values | st.datetimes(timezones=st.timezones()).map(
        lambda d: d.isoformat()),
    "typed": json_values,
}) | json_values


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(body=scan_bodies)
def test_any_json_body_is_answered_in_json_never_500(forum, door, body):
    response = door.post(json=body)
    assert response.status_code in (200, 400, 404), (body, response.status_code)
    got = response.get_json()
    assert isinstance(got, dict)
    if response.status_code == 200:
        assert got["outcome"] in attendance.OUTCOMES
        assert got["outcome"] in ("invalid", "unknown")  # no ticket of this event exists
    else:
        assert got["message"]


# Cost ------------------------------------------------------------------------------------------

def test_a_scan_costs_a_few_queries_whatever_the_numbers(forum, door, count_queries):
    people = [person(forum, n) for n in range(6)]
    for who in people[:3]:
        door.scan(who.ticket_code)
    costs = {}
    for case, code in (("checked_in", people[4].ticket_code),
                       ("already", people[0].ticket_code), ("unknown", "2345-6789-ABCD"),
                       ("invalid", "nonsense")):
        count_queries["n"] = 0
        count_queries["statements"] = []
        assert door.scan(code).get_json()["outcome"] == case
        costs[case] = count_queries["n"]
    # Load the user, the event (and its details), the ticket, insert, photo, count, commit;
    # the user's roles; "already" reads the first check-in instead of inserting.
    assert costs["checked_in"] <= 12, count_queries["statements"]
    assert costs["already"] <= 13
    assert costs["unknown"] <= 9 and costs["invalid"] <= 8, costs


# Two desks, one ticket, on PostgreSQL -------------------------------------------------------

def test_two_desks_scanning_one_ticket_at_once_count_it_once(app, forum, staff, make_user,
                                                           database_url, monkeypatch):
    """Each desk is its own browser (client, session, CSRF token) posting to the endpoint
    in the same instant; the first check-in's transaction is held open a moment after its
    INSERT, so the other desk's INSERT really meets it."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: there is no race to lose")
    make_user("desk2@example.org", "Desk Two")
    accounts.grant_event_role(forum, "desk2@example.org", "checkin", actor=None)
    tickets = [person(forum, n).ticket_code for n in range(3)]
    slow_photo = attendance._photo

    def photo_after_a_moment(email):
        time.sleep(0.05)
        return slow_photo(email)

    monkeypatch.setattr(attendance, "_photo", photo_after_a_moment)
    for n_desks, code in ((2, tickets[0]), (2, tickets[1]), (4, tickets[2])):
        doors = []
        for i in range(n_desks):
            client = app.test_client()
            login(client, "staff@example.org" if i % 2 == 0 else "desk2@example.org")
            doors.append(Door(client))
        barrier = threading.Barrier(n_desks, timeout=30)
        answers: list = [None] * n_desks

        def desk(i, code=code, doors=doors, barrier=barrier, answers=answers):
            barrier.wait()
            response = doors[i].scan(code, scan_id=f"desk-{i}-{code}")
            answers[i] = (response.status_code, response.get_json())

        threads = [threading.Thread(target=desk, args=(i,)) for i in range(n_desks)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        statuses = [a[0] for a in answers]
        outcomes = sorted(a[1]["outcome"] for a in answers)
        assert statuses == [200] * n_desks
        assert outcomes == ["already"] * (n_desks - 1) + ["checked_in"]
        assert {a[1]["count"] for a in answers} == {tickets.index(code) + 1}
        db.session.rollback()
        registration_id = db.session.scalar(select(Registration.id).where(
            Registration.ticket_code == code))
        assert rows(registration_id=registration_id) == 1
