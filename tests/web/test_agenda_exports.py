"""The agenda exports over HTTP: the event's calendar, a participant's own calendar, the
frab schedule in XML and JSON, and the JSON API with its OpenAPI description.

The calendars are read back with icalendar and checked line by line against RFC 5545's
framing (CRLF, 75 octets): neither the ``ics`` package nor ``recurring_ical_events`` is
installed to serve as a second parser.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import jsonschema
import pytest
from icalendar import Calendar

from eventsys.extensions import db
from eventsys.services import agenda
from eventsys.services import registration as reg
from eventsys.services.registration import RegistrationInput
from tests.services.test_schedule import (
    NASTY_TEXT,
    NASTY_TITLE,
    STREAM,
    _at,
    api_validator,
    forum_agenda,
    ics_lines_are_strict,
    valid_frab_json,
    valid_frab_xml,
    vevents,
    workshop_agenda,
)
from tests.services.test_schedule import no_pdf_task as no_pdf_task  # autouse fixture

EXPORTS = ("agenda.ics", "schedule.xml", "schedule.json")


def _uids(body: bytes) -> dict[str, object]:
    return {str(e["UID"]): e for e in vevents(body)}


def _register(event, n=1):
    outcome = reg.register(event, RegistrationInput(
        email=f"p{n}@example.org", name=f"Person {n}", mode="in_person"))
    return outcome.token, outcome.registration


def _move(event, session, hours):
    """Republish with ``session`` moved by ``hours``, all else as it was."""
    tz = event.timezone
    people = [(p.person_id, p.role) for p in session.people]
    data = agenda.SessionData(
        title=session.title, kind=session.kind,
        starts_local=agenda.to_local(session.starts_at, tz).replace(tzinfo=None)
        + timedelta(hours=hours),
        ends_local=agenda.to_local(session.ends_at, tz).replace(tzinfo=None)
        + timedelta(hours=hours),
        venue_id=session.venue_id, room=session.room, mode=session.mode,
        stream_url=session.stream_url, track=session.track, description=session.description,
        counts_for_attendance=session.counts_for_attendance)
    # In two steps: update_session with a person who stays in the session breaks the
    # unique (session, person) key today (the new row is inserted before the old deleted).
    agenda.update_session(event, session.id, data, actor=None)
    data.people = people
    agenda.update_session(event, session.id, data, actor=None)
    return agenda.publish(event, actor=None, confirm_warnings=True)


# iCalendar ------------------------------------------------------------------------------

def test_event_calendar(client, make_event):
    event, sessions = forum_agenda(make_event)
    response = client.get("/events/forum/agenda.ics")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    assert response.headers["Content-Disposition"] == 'attachment; filename="forum-agenda.ics"'
    ics_lines_are_strict(response.data)
    cal = Calendar.from_ical(response.data)
    assert str(cal["X-WR-CALNAME"]) == event.title
    entries = _uids(response.data)
    assert set(entries) == {f"{s.guid}@eventsys" for s in sessions.values()}
    keynote = entries[f"{sessions['keynote'].guid}@eventsys"]
    assert str(keynote["SUMMARY"]) == NASTY_TITLE
    assert str(keynote["URL"]) == "http://localhost/events/forum/agenda"
    assert NASTY_TEXT in str(keynote["DESCRIPTION"])
    assert str(keynote["DESCRIPTION"]).endswith("http://localhost/events/forum/agenda")
    assert STREAM.encode() not in response.data


def test_republishing_keeps_uids_and_raises_the_sequence(client, make_event):
    event, sessions = forum_agenda(make_event)
    before = _uids(client.get("/events/forum/agenda.ics").data)
    assert _move(event, sessions["keynote"], 2).version == 2
    after = _uids(client.get("/events/forum/agenda.ics").data)
    assert set(after) == set(before)
    uid = f"{sessions['keynote'].guid}@eventsys"
    assert after[uid].decoded("DTSTART") - before[uid].decoded("DTSTART") == timedelta(hours=2)
    assert {e.decoded("SEQUENCE") for e in before.values()} == {1}
    assert {e.decoded("SEQUENCE") for e in after.values()} == {2}
    assert after[uid].decoded("LAST-MODIFIED") > before[uid].decoded("LAST-MODIFIED") - \
        timedelta(seconds=1)


def test_personal_calendar_has_only_the_marked_sessions(client, make_event):
    event, sessions = forum_agenda(make_event)
    token, registration = _register(event)
    agenda.set_marks(registration, [sessions["roundtable"].guid, sessions["break"].guid],
                     agenda.public_agenda(event))
    response = client.get(f"/r/{token}/agenda.ics")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Content-Disposition"] == \
        'attachment; filename="forum-my-agenda.ics"'
    ics_lines_are_strict(response.data)
    assert set(_uids(response.data)) == {f"{sessions['roundtable'].guid}@eventsys",
                                         f"{sessions['break'].guid}@eventsys"}
    assert event.title in str(Calendar.from_ical(response.data)["X-WR-CALNAME"])
    assert STREAM.encode() not in response.data

    agenda.set_marks(registration, [], agenda.public_agenda(event))
    assert vevents(client.get(f"/r/{token}/agenda.ics").data) == []


def test_personal_calendar_refuses_a_bad_token(client, make_event):
    forum_agenda(make_event)
    assert client.get("/r/not-a-real-token-at-all/agenda.ics").status_code == 404
    assert client.get("/r/short/agenda.ics").status_code == 404


# frab schedule --------------------------------------------------------------------------

@pytest.mark.parametrize("build", [forum_agenda, workshop_agenda])
def test_frab_schedule_xml_and_json_are_valid(client, make_event, build):
    event, sessions = build(make_event)
    xml = client.get(f"/events/{event.slug}/schedule.xml")
    assert xml.status_code == 200 and xml.mimetype == "application/xml"
    root = valid_frab_xml(xml.data)
    assert {e.get("guid") for e in root.iter("event")} == {s.guid for s in sessions.values()}
    answer = client.get(f"/events/{event.slug}/schedule.json")
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    data = valid_frab_json(answer.data)
    items = [i for day in data["schedule"]["conference"]["days"]
             for room in day["rooms"].values() for i in room]
    assert sorted(i["id"] for i in items) == sorted(s.id for s in sessions.values())
    assert all(i["url"].startswith(f"http://localhost/events/{event.slug}/agenda#session-")
               for i in items)
    for body in (xml.data, answer.data):
        assert STREAM.encode() not in body and b"stream" not in body


def test_frab_attachments_download(client, make_event):
    forum_agenda(make_event)
    data = json.loads(client.get("/events/forum/schedule.json").data)
    [url] = [a["url"] for day in data["schedule"]["conference"]["days"]
             for room in day["rooms"].values() for i in room for a in i["attachments"]]
    download = client.get(urlsplit(url).path)
    assert download.status_code == 200 and download.data == b"%PDF-1.4 not really"


# 404s -----------------------------------------------------------------------------------

def test_exports_of_unknown_unpublished_or_agenda_less_events_are_404(client, make_event):
    forum_agenda(make_event, slug="draft", status="draft")
    make_event("bare")  # published, no agenda yet
    for slug in ("nope", "draft", "bare"):
        for name in EXPORTS:
            assert client.get(f"/events/{slug}/{name}").status_code == 404, (slug, name)
        answer = client.get(f"/api/v1/events/{slug}/agenda")
        assert answer.status_code == 404 and answer.mimetype == "application/json"
        assert answer.json["error"]
    for bad in ("Not_A_Slug", "x" * 81, "-dash"):
        answer = client.get(f"/api/v1/events/{bad}/agenda")
        assert answer.status_code == 404 and answer.json["error"], bad


# The JSON API ---------------------------------------------------------------------------

def test_api_agenda_in_the_events_zone_by_default(client, make_event):
    _event, sessions = forum_agenda(make_event)
    answer = client.get("/api/v1/events/forum/agenda")
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    data = answer.json
    api_validator().validate(data)
    assert data["timezone"] == "Asia/Shanghai" and data["version"] == 1
    [day] = data["days"]
    assert [s["guid"] for s in day["sessions"]] == [
        sessions[k].guid for k in ("opening", "keynote", "roundtable", "break")]
    assert day["sessions"][1]["starts_at"] == day["sessions"][1]["starts_at_event_zone"]
    assert day["sessions"][1]["title"] == NASTY_TITLE
    assert "中文".encode() in answer.data  # UTF-8 as is
    assert b"stream" not in answer.data


def test_api_agenda_in_the_readers_zone(client, make_event):
    _event, sessions = forum_agenda(make_event)
    data = client.get("/api/v1/events/forum/agenda?tz=America/Sao_Paulo").json
    api_validator().validate(data)
    assert data["timezone"] == "America/Sao_Paulo"
    keynote = data["days"][0]["sessions"][1]
    assert keynote["starts_at"].endswith("T22:30:00-03:00")  # 09:30 in Beijing, day before
    assert datetime.fromisoformat(keynote["starts_at"]) == sessions["keynote"].starts_at


@pytest.mark.parametrize("tz", ["Mars/Olympus", "../../etc/passwd", "x" * 300])
def test_api_agenda_with_an_unknown_zone_is_a_json_400(client, make_event, tz):
    forum_agenda(make_event)
    answer = client.get("/api/v1/events/forum/agenda", query_string={"tz": tz})
    assert answer.status_code == 400 and answer.mimetype == "application/json"
    assert "time zone" in answer.json["error"]


def test_openapi_document(client, make_event):
    answer = client.get("/api/v1/openapi.json")
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    doc = answer.json
    assert doc["openapi"] == "3.1.0" and doc["info"]["title"] and doc["info"]["version"]
    assert doc["servers"] == [{"url": "http://localhost/api/v1"}]
    operation = doc["paths"]["/events/{slug}/agenda"]["get"]
    assert {(p["name"], p["in"], p["required"]) for p in operation["parameters"]} == {
        ("slug", "path", True), ("tz", "query", False)}
    assert set(operation["responses"]) == {"200", "400", "404"}
    for response in operation["responses"].values():
        ref = response["content"]["application/json"]["schema"]["$ref"]
        assert ref.removeprefix("#/components/schemas/") in doc["components"]["schemas"]
    for schema in doc["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)
    # The document's own schema accepts what the API answers, and its errors.
    forum_agenda(make_event)
    root = {"$ref": "#/components/schemas/Agenda", "components": doc["components"]}
    jsonschema.Draft202012Validator(root).validate(
        client.get("/api/v1/events/forum/agenda").json)
    error = {"$ref": "#/components/schemas/Error", "components": doc["components"]}
    jsonschema.Draft202012Validator(error).validate(
        client.get("/api/v1/events/forum/agenda?tz=Nowhere").json)


# Cost -----------------------------------------------------------------------------------

def _programme(make_event, slug, n):
    """``n`` half-hour sessions, each with a speaker, over as many days as it takes; and a
    participant who marked them all."""
    event = make_event(slug, days=3)
    speaker = agenda.create_person(agenda.PersonData(name=f"Speaker {slug}"), actor=None)
    for i in range(n):
        start = _at(event, 0, 8) + timedelta(minutes=30 * i)
        agenda.create_session(event, agenda.SessionData(
            title=f"Talk {i}", kind="talk", starts_local=start,
            ends_local=start + timedelta(minutes=30), venue_id=event.venues[0].id,
            room=f"Room {i % 3}", mode="hybrid", stream_url=STREAM,
            people=[(speaker.id, "speaker")]), actor=None)
    agenda.publish(event, actor=None, confirm_warnings=True)
    token, registration = _register(event)
    published = agenda.public_agenda(event)
    agenda.set_marks(registration, [s.guid for s in published.sessions], published)
    return token


def _queries(client, counter, url) -> tuple[int, bytes]:
    db.session.remove()  # a fresh session, as a real request has: nothing cached
    counter["n"] = 0
    response = client.get(url)
    assert response.status_code == 200, url
    return counter["n"], response.data


def test_exports_cost_the_same_queries_for_10_or_150_sessions(client, make_event,
                                                              count_queries):
    small, big = _programme(make_event, "small", 10), _programme(make_event, "big", 150)
    for path in ("/events/{slug}/agenda.ics", "/events/{slug}/schedule.xml",
                 "/events/{slug}/schedule.json", "/api/v1/events/{slug}/agenda",
                 "/r/{token}/agenda.ics"):
        few, _body = _queries(client, count_queries, path.format(slug="small", token=small))
        many, body = _queries(client, count_queries, path.format(slug="big", token=big))
        assert few == many <= 6, (path, few, many)
        assert body.count(b"Talk 149") == 1 and STREAM.encode() not in body
