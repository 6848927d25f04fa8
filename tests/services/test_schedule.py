"""The agenda exports as built from a publication: iCalendar, frab XML and JSON (checked
against the published schemas in /work/shared/schemas), and our own API's JSON.

``forum_agenda`` and ``workshop_agenda`` are also used by tests/web/test_agenda_exports.py.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest
from icalendar import Calendar
from lxml import etree

from eventsys.services import agenda, schedule
from eventsys.services.events import VenueData

SCHEMAS = Path("/work/shared/schemas")
STREAM = "https://stream.example.org/secret-stream-link"
NASTY_TITLE = ('R&D <script>alert("x")</script> "quotes", commas; semicolons \\ back '
               '🎉 中文 عربى')
NASTY_TEXT = ('Line one & <b>bold</b>;\nline two, "quoted" 🎉\n\n中文段落 — عربى, '
              '<script>alert(1)</script>')


@pytest.fixture(autouse=True)
def no_pdf_task(monkeypatch):
    """Publishing asks a worker for the PDF, which these tests do not look at. (Run eagerly
    on SQLite it also waits 30 s for a lock: ``publish`` reads ``event.id`` after its
    commit, which begins a new write transaction before the task runs.)"""
    monkeypatch.setattr(agenda, "enqueue", lambda *args: True)


# Agendas built through the service -----------------------------------------------------

def _person(name, **kw):
    return agenda.create_person(agenda.PersonData(name=name, **kw), actor=None)


def _at(event, day, hour, minute=0):
    return datetime.combine(event.start_date + timedelta(days=day), datetime.min.time()) \
        .replace(hour=hour, minute=minute)


def _session(event, title, kind, start, end, **kw):
    return agenda.create_session(event, agenda.SessionData(
        title=title, kind=kind, starts_local=start, ends_local=end, **kw), actor=None)


def forum_agenda(make_event, slug="forum", **event_kw):
    """A CISIP-like forum day, published: opening, a keynote with nasty text (hybrid, with a
    stream), an online roundtable (a moderator and four panellists) and a break."""
    event = make_event(slug, mode="hybrid", title="CISIP Forum, 2030; \"Parks\" & 中文",
                       venues=[VenueData("Hall A, East; Wing", "Beijing", "CN")], **event_kw)
    hall = event.venues[0].id
    host = _person("Wang Fang", honorific="Dr.", name_native="王芳",
                   job_title="Director", organisation_name="Great Wall Institute", country="CN")
    keynote = _person("Ayesha Siddiqui", honorific="Prof.", name_native="عائشہ صدیقی",
                      job_title="Chair, Board", organisation_name="NSTP", country="PK")
    moderator = _person("Li Wei", job_title="Head of Programmes", organisation_name="CISIP")
    panellists = [_person(f"Panellist {n}", organisation_name=f"Park {n}") for n in range(1, 5)]
    sessions = {
        "opening": _session(event, "Opening speech", "opening", _at(event, 0, 9),
                            _at(event, 0, 9, 30), venue_id=hall, room="Main hall",
                            people=[(host.id, "speaker")]),
        "keynote": _session(event, NASTY_TITLE, "keynote", _at(event, 0, 9, 30),
                            _at(event, 0, 10, 15), venue_id=hall, room="Main hall",
                            mode="hybrid", stream_url=STREAM, track="Innovation & <Policy>",
                            description=NASTY_TEXT, people=[(keynote.id, "speaker")]),
        "roundtable": _session(event, "Online roundtable: parks, people; futures",
                               "roundtable", _at(event, 0, 10, 30), _at(event, 0, 12),
                               mode="online", stream_url=STREAM,
                               people=[(moderator.id, "moderator")]
                               + [(p.id, "panellist") for p in panellists]),
        "break": _session(event, "Lunch", "break", _at(event, 0, 12), _at(event, 0, 13),
                          venue_id=hall, counts_for_attendance=False),
    }
    agenda.add_material(event, sessions["keynote"].id, title="Report 2030 & annex",
                        filename="CISIP report 2030.pdf", data=b"%PDF-1.4 not really",
                        actor=None)
    agenda.publish(event, actor=None, confirm_warnings=True)
    return event, sessions


def workshop_agenda(make_event, slug="workshop"):
    """A training workshop in two cities: lectures in Beijing and Nanning and a field trip
    of more than four days."""
    event = make_event(slug, kind="workshop", mode="in_person", days=6,
                       title="B&R Science Park Management Workshop",
                       venues=[VenueData("Tsinghua Science Park", "Beijing", "CN"),
                               VenueData("China-ASEAN Science Park", "Nanning", "CN")])
    beijing, nanning = (v.id for v in event.venues)
    lecturer = _person("Zhang San", honorific="Prof.", name_native="张三",
                       job_title="Professor", organisation_name="Tsinghua University")
    sessions = {
        "lecture": _session(event, "Science parks: a theory", "lecture", _at(event, 0, 9),
                            _at(event, 0, 12), venue_id=beijing, room="Room 301",
                            people=[(lecturer.id, "speaker")]),
        "nanning": _session(event, "Parks in ASEAN", "lecture", _at(event, 1, 14),
                            _at(event, 1, 17), venue_id=nanning,
                            people=[(lecturer.id, "speaker")]),
        "trip": _session(event, "Field trip to the Guangxi parks", "field_trip",
                         _at(event, 2, 8), _at(event, 6, 18), venue_id=nanning,
                         track="Field trips"),
    }
    agenda.publish(event, actor=None, confirm_warnings=True)
    return event, sessions


LINKS = schedule.Links(agenda="http://eventsys.test/events/x/agenda",
                       material=lambda m: f"http://eventsys.test/files/{m['id']}")


# Checkers shared with the web tests -----------------------------------------------------

def valid_frab_xml(body: bytes) -> etree._Element:
    xsd = etree.XMLSchema(etree.parse(str(SCHEMAS / "frab-schedule.xml.xsd")))
    root = etree.fromstring(body)
    xsd.assertValid(root)
    return root


def valid_frab_json(body: bytes) -> dict:
    data = json.loads(body)
    schema = json.loads((SCHEMAS / "frab-schedule.schema.json").read_text())
    assert schema["$schema"] == "http://json-schema.org/draft-06/schema#"
    validator = jsonschema.Draft6Validator(
        schema, format_checker=jsonschema.Draft6Validator.FORMAT_CHECKER)
    validator.validate(data)
    # jsonschema has no checkers for these formats without extra packages: check them here.
    conference = data["schedule"]["conference"]
    date.fromisoformat(conference["start"])
    date.fromisoformat(conference["end"])
    for room in conference["rooms"]:
        uuid.UUID(room["guid"])
    for day in conference["days"]:
        date.fromisoformat(day["date"])
        assert datetime.fromisoformat(day["day_start"]).tzinfo is not None
        assert datetime.fromisoformat(day["day_end"]).tzinfo is not None
        for items in day["rooms"].values():
            for item in items:
                uuid.UUID(item["guid"])
                assert datetime.fromisoformat(item["date"]).tzinfo is not None
                # frab's "HH:MM" (the schema's "date-time" for start is not what frab,
                # pretalx or the schema's own examples write).
                assert re.fullmatch(r"[0-2][0-9]:[0-5][0-9]", item["start"])
                assert item["url"].startswith("http")
    return data


def ics_lines_are_strict(body: bytes) -> None:
    """RFC 5545 3.1: CRLF line ends, lines of at most 75 octets, continuation lines start
    with a space."""
    assert body.endswith(b"\r\n")
    lines = body.split(b"\r\n")[:-1]
    assert all(b"\n" not in line and b"\r" not in line for line in lines)
    assert all(len(line) <= 75 for line in lines)
    assert lines[0] == b"BEGIN:VCALENDAR" and lines[-1] == b"END:VCALENDAR"
    for line in lines:
        assert line.startswith(b" ") or re.match(rb"^[A-Z][A-Z0-9-]*[;:]", line), line


def vevents(body: bytes) -> list:
    return Calendar.from_ical(body).walk("VEVENT")


def _published(event, tz=None):
    return agenda.public_agenda(event, tz)


# iCalendar ------------------------------------------------------------------------------

def test_calendar_round_trips_nasty_text_and_says_who_and_where(app, make_event):
    event, sessions = forum_agenda(make_event)
    published = _published(event)
    body = schedule.calendar(event, published, LINKS)
    ics_lines_are_strict(body)
    cal = Calendar.from_ical(body)
    assert str(cal["X-WR-CALNAME"]) == event.title
    assert str(cal["X-WR-TIMEZONE"]) == "Asia/Shanghai"
    entries = {str(e["UID"]): e for e in cal.walk("VEVENT")}
    assert set(entries) == {f"{s.guid}@eventsys" for s in sessions.values()}
    keynote = entries[f"{sessions['keynote'].guid}@eventsys"]
    assert str(keynote["SUMMARY"]) == NASTY_TITLE
    assert keynote.decoded("DTSTART") == sessions["keynote"].starts_at
    assert keynote.decoded("DTSTART").utcoffset() == timedelta(0)
    assert b"DTSTART:" in body and b"Z\r\n" in body  # UTC form, no TZID
    assert keynote.decoded("SEQUENCE") == 1
    assert keynote.decoded("LAST-MODIFIED") == published.published_at.replace(microsecond=0)
    assert str(keynote["LOCATION"]) == "Hall A, East; Wing, Main hall, Beijing / online"
    assert str(keynote["URL"]) == LINKS.agenda
    assert [str(c) for c in keynote["CATEGORIES"].cats] == ["Keynote"]
    description = str(keynote["DESCRIPTION"])
    assert description.startswith("Keynote\n\n")
    assert "Speaker: Prof. Ayesha Siddiqui (عائشہ صدیقی) — Chair, Board, NSTP" in description
    assert NASTY_TEXT in description and description.endswith(LINKS.agenda)

    roundtable = entries[f"{sessions['roundtable'].guid}@eventsys"]
    assert str(roundtable["LOCATION"]) == "Online"
    lines = str(roundtable["DESCRIPTION"]).split("\n")
    assert lines[2] == "Moderator / host: Li Wei — Head of Programmes, CISIP"
    assert lines[3:7] == [f"Panellist: Panellist {n} — Park {n}" for n in range(1, 5)]
    assert str(entries[f"{sessions['opening'].guid}@eventsys"]["LOCATION"]) == \
        "Hall A, East; Wing, Main hall, Beijing"
    assert STREAM.encode() not in body


def test_calendar_of_chosen_sessions_only(app, make_event):
    event, sessions = forum_agenda(make_event)
    published = _published(event)
    chosen = [s for s in published.sessions if s.guid == sessions["roundtable"].guid]
    body = schedule.calendar(event, published, LINKS, sessions=chosen, name="Mine, 中文")
    cal = Calendar.from_ical(body)
    assert str(cal["X-WR-CALNAME"]) == "Mine, 中文"
    assert [str(e["UID"]) for e in cal.walk("VEVENT")] == [
        f"{sessions['roundtable'].guid}@eventsys"]


# frab XML and JSON ----------------------------------------------------------------------

def test_frab_xml_is_valid_and_carries_the_programme(app, make_event):
    event, sessions = forum_agenda(make_event)
    root = valid_frab_xml(schedule.frab_xml(event, _published(event), LINKS))
    assert root.findtext("version") == "1"
    assert root.findtext("conference/acronym") == "forum"
    assert root.findtext("conference/title") == event.title
    assert root.findtext("conference/start") == event.start_date.isoformat()
    [day] = root.findall("day")
    assert day.get("index") == "1" and day.get("date") == event.start_date.isoformat()
    assert day.get("start") == f"{event.start_date.isoformat()}T00:00:00+08:00"
    assert [r.get("name") for r in day.findall("room")] == [
        "Hall A, East; Wing", "Hall A, East; Wing, Main hall", "Online"]
    keynote = root.find(f"day/room/event[@guid='{sessions['keynote'].guid}']")
    assert keynote.get("id") == str(sessions["keynote"].id)
    assert keynote.findtext("title") == NASTY_TITLE
    assert keynote.findtext("abstract") == NASTY_TEXT
    assert keynote.findtext("track") == "Innovation & <Policy>"
    assert keynote.findtext("type") == "keynote"
    assert keynote.findtext("start") == "09:30" and keynote.findtext("duration") == "00:45"
    assert keynote.findtext("date") == f"{event.start_date.isoformat()}T09:30:00+08:00"
    assert keynote.findtext("slug") == f"forum-{sessions['keynote'].id}-r-d-script-alert-x-" \
        "script-quotes-commas-semicolons"
    [link] = keynote.findall("links/link")
    assert link.text == "Report 2030 & annex" and link.get("href").startswith("http://")
    roundtable = root.find(f"day/room[@name='Online']/event[@guid='{sessions['roundtable'].guid}']")
    persons = roundtable.findall("persons/person")
    assert [p.text for p in persons] == ["Li Wei"] + [f"Panellist {n}" for n in range(1, 5)]
    assert all(int(p.get("id")) > 0 for p in persons)
    assert roundtable.findtext("room") == "Online"


def test_frab_json_is_valid_against_the_published_schema(app, make_event):
    event, sessions = forum_agenda(make_event)
    data = valid_frab_json(schedule.frab_json(event, _published(event), LINKS))
    conference = data["schedule"]["conference"]
    assert data["schedule"]["version"] == "1"
    assert conference["acronym"] == "forum" and conference["time_zone_name"] == "Asia/Shanghai"
    assert conference["daysCount"] == 1
    assert [r["name"] for r in conference["rooms"]] == [
        "Hall A, East; Wing", "Hall A, East; Wing, Main hall", "Online"]
    [day] = conference["days"]
    items = {i["guid"]: i for room in day["rooms"].values() for i in room}
    keynote = items[sessions["keynote"].guid]
    assert keynote["title"] == NASTY_TITLE and keynote["description"] == NASTY_TEXT
    assert keynote["persons"] == [{"id": sessions["keynote"].people[0].person_id,
                                   "public_name": "Prof. Ayesha Siddiqui"}]
    assert keynote["attachments"][0]["title"] == "Report 2030 & annex"
    assert keynote["url"] == f"{LINKS.agenda}#session-{sessions['keynote'].guid}"
    assert [p["public_name"] for p in items[sessions["roundtable"].guid]["persons"]] == \
        ["Li Wei"] + [f"Panellist {n}" for n in range(1, 5)]
    assert items[sessions["break"].guid]["persons"] == []
    raw = schedule.frab_json(event, _published(event), LINKS)
    assert "中文".encode() in raw  # UTF-8, not \u escapes
    assert STREAM.encode() not in raw


def test_workshop_in_two_cities_with_a_long_field_trip(app, make_event):
    event, sessions = workshop_agenda(make_event)
    published = _published(event)
    data = valid_frab_json(schedule.frab_json(event, published, LINKS))
    conference = data["schedule"]["conference"]
    assert conference["acronym"] == "workshop" and conference["daysCount"] == 7
    assert [d["index"] for d in conference["days"]] == list(range(1, 8))
    assert [r["name"] for r in conference["rooms"]] == [
        "Tsinghua Science Park, Room 301", "China-ASEAN Science Park"]
    assert conference["tracks"] == [{"name": "Field trips"}]
    trip_day = conference["days"][2]
    [trip] = trip_day["rooms"]["China-ASEAN Science Park"]
    assert trip["duration"] == "106:00" and trip["type"] == "field_trip"
    # The day that starts the trip ends when the trip does.
    assert trip_day["day_end"] == f"{(event.start_date + timedelta(days=6)).isoformat()}" \
        "T18:00:00+08:00"
    assert conference["days"][3]["rooms"] == {"Tsinghua Science Park, Room 301": [],
                                              "China-ASEAN Science Park": []}

    root = valid_frab_xml(schedule.frab_xml(event, published, LINKS))
    assert len(root.findall("day")) == 7
    # schema: two digits of hours at most in the XML.
    assert root.find(f".//event[@guid='{sessions['trip'].guid}']").findtext("duration") \
        == "99:59"
    body = schedule.calendar(event, published, LINKS)
    ics_lines_are_strict(body)
    places = {str(e["SUMMARY"]): str(e["LOCATION"]) for e in vevents(body)}
    assert places == {"Science parks: a theory": "Tsinghua Science Park, Room 301, Beijing",
                      "Parks in ASEAN": "China-ASEAN Science Park, Nanning",
                      "Field trip to the Guangxi parks": "China-ASEAN Science Park, Nanning"}


def test_sessions_outside_the_dates_get_days_of_their_own(app, make_event):
    event = make_event("forum", timezone="America/New_York")
    agenda.create_session(event, agenda.SessionData(
        title="Eve", kind="talk", starts_local=_at(event, -1, 23, 30),
        ends_local=_at(event, 0, 0, 30), venue_id=event.venues[0].id), actor=None)
    agenda.publish(event, actor=None, confirm_warnings=True)
    data = valid_frab_json(schedule.frab_json(event, _published(event), LINKS))
    days = data["schedule"]["conference"]["days"]
    assert [d["date"] for d in days] == [(event.start_date - timedelta(days=1)).isoformat(),
                                         event.start_date.isoformat()]
    assert days[0]["rooms"]["Hall 1"][0]["start"] == "23:30"
    valid_frab_xml(schedule.frab_xml(event, _published(event), LINKS))


@pytest.mark.parametrize("slug, timezone, acronym, zone_named", [
    ("ab", "Etc/GMT-8", "ab__", False),
    ("cisip-forum-2021", "Asia/Karachi", "cisip_forum_2021", True),
    ("x1", "UTC", "x1__", True),
])
def test_acronyms_and_zones_the_schema_accepts(app, make_event, slug, timezone, acronym,
                                               zone_named):
    event = make_event(slug, timezone=timezone)
    agenda.create_session(event, agenda.SessionData(
        title="中文", kind="talk", starts_local=_at(event, 0, 10), ends_local=_at(event, 0, 11),
        venue_id=event.venues[0].id), actor=None)
    agenda.publish(event, actor=None, confirm_warnings=True)
    data = valid_frab_json(schedule.frab_json(event, _published(event), LINKS))
    conference = data["schedule"]["conference"]
    assert conference["acronym"] == acronym
    assert ("time_zone_name" in conference) is zone_named
    [item] = conference["days"][0]["rooms"]["Hall 1"]
    assert re.fullmatch(rf"{acronym}-\d+", item["slug"])  # a title with no latin letters
    root = valid_frab_xml(schedule.frab_xml(event, _published(event), LINKS))
    assert root.findtext("conference/acronym") == acronym


# Our API's JSON -------------------------------------------------------------------------

def api_validator() -> jsonschema.Draft202012Validator:
    components = schedule.openapi("http://eventsys.test/api/v1")["components"]
    schema = {"$ref": "#/components/schemas/Agenda", "components": components}
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def test_api_json_in_the_readers_zone(app, make_event):
    event, sessions = forum_agenda(make_event)
    data = schedule.api_agenda(event, _published(event, "Europe/Lisbon"), LINKS)
    api_validator().validate(data)
    assert data["timezone"] == "Europe/Lisbon" and data["version"] == 1
    assert data["event"]["slug"] == "forum" and data["event"]["timezone"] == "Asia/Shanghai"
    [day] = data["days"]
    assert day["date"] == event.start_date.isoformat()
    by_guid = {s["guid"]: s for s in day["sessions"]}
    keynote = by_guid[sessions["keynote"].guid]
    starts = datetime.fromisoformat(keynote["starts_at"])
    assert starts == sessions["keynote"].starts_at
    assert keynote["starts_at_event_zone"].endswith("T09:30:00+08:00")
    assert starts.utcoffset() in (timedelta(0), timedelta(hours=1))  # Lisbon, winter/summer
    assert keynote["title"] == NASTY_TITLE and keynote["mode"] == "hybrid"
    assert keynote["people"][0] | {"id": 0} == {
        "id": 0, "role": "speaker", "honorific": "Prof.", "name": "Ayesha Siddiqui",
        "name_native": "عائشہ صدیقی", "job_title": "Chair, Board", "organisation": "NSTP",
        "country": "PK"}
    [material] = keynote["materials"]
    assert material["filename"] == "CISIP report 2030.pdf" and material["size"] == 19
    roundtable = by_guid[sessions["roundtable"].guid]
    assert [p["role"] for p in roundtable["people"]] == ["moderator"] + ["panellist"] * 4
    assert roundtable["venue"] is None
    assert by_guid[sessions["break"].guid]["counts_for_attendance"] is False
    assert "stream" not in json.dumps(data)


def test_an_agenda_published_empty_is_still_a_valid_schedule(app, make_event):
    event = make_event("forum", days=1)
    agenda.publish(event, actor=None, confirm_warnings=True)
    published = _published(event)
    data = valid_frab_json(schedule.frab_json(event, published, LINKS))
    assert [d["rooms"] for d in data["schedule"]["conference"]["days"]] == [{}, {}]
    root = valid_frab_xml(schedule.frab_xml(event, published, LINKS))
    assert len(root.findall("day")) == 2 and root.find(".//event") is None
    assert vevents(schedule.calendar(event, published, LINKS)) == []
    api_validator().validate(schedule.api_agenda(event, published, LINKS))
