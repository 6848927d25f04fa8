"""The published agenda for machines: an iCalendar feed, the frab schedule (XML and JSON,
as conference tooling such as pretalx, frab and the c3voc players exchange it) and our own
JSON API.

Every builder is a pure function of one ``PublishedAgenda`` (one publication row) and the
event, so an export costs the same few queries however long the programme. Links are
passed in (``Links``): the services know no request. Libraries do the escaping:
icalendar for calendars, ElementTree for XML, ``json`` for JSON; nothing here writes
markup by hand. The stream link is never exported: it is for registered participants.

The published schemas (``frab-schedule.xml.xsd``, ``frab-schedule.schema.json``) force a
few choices, each marked "schema:" below.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from xml.etree import ElementTree as ET

from icalendar import Calendar
from icalendar import Event as CalendarEvent

from eventsys.models import SESSION_KINDS, SESSION_MODES, SESSION_ROLES, Event, utcnow
from eventsys.services.agenda import (
    PersonView,
    PublishedAgenda,
    SessionView,
    kind_label,
    role_label,
    zone,
)
from eventsys.services.events import slugify

PRODID = "-//eventsys//eventsys//EN"  # as services/calendar.py
ONLINE_ROOM = "Online"
UNPLACED_ROOM = "To be announced"
FRAB_SCHEMA = "https://c3voc.de/schedule/schema.json"
FRAB_TIMESLOT = "00:05"
# schema: the XSD allows at most two digits of hours in a duration.
XML_MAX_DURATION = "99:59"
# schema: the JSON schema's pattern for conference.time_zone_name, searched as JSON Schema
# does; zones it does not accept (Etc/GMT-8, EST5EDT) are left out: every date in the
# schedule carries its offset anyway.
_FRAB_ZONE = re.compile(r"^([A-Z][a-z]+/[A-Z][a-z]+)|UTC$")
# Characters XML 1.0 cannot carry at all; the services refuse control characters already,
# this also keeps out U+FFFE/U+FFFF and lone surrogates.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ROOMS = uuid.UUID("6d1f6f1e-3c5b-4f0e-9a57-7a3f2b1c0e42")  # namespace for room guids


@dataclass(frozen=True)
class Links:
    """Absolute addresses the exports point to, made by the web layer."""

    agenda: str  # the public agenda page
    material: Callable[[dict], str]  # a material of the snapshot -> its download

    def session(self, view: SessionView) -> str:
        return f"{self.agenda}#session-{view.guid}"


# Shared wording --------------------------------------------------------------------------

def place(view: SessionView) -> str:
    """Where to go, as a calendar shows it: "Hall 1, Room A, Beijing", "Online", or
    "Hall 1, Beijing / online" for a hybrid session."""
    if view.mode == "online":
        return ONLINE_ROOM
    venue = view.venue or {}
    where = ", ".join(p for p in (venue.get("name"), view.room, venue.get("city")) if p)
    if view.mode == "hybrid":
        return f"{where} / online" if where else ONLINE_ROOM
    return where


def room_name(view: SessionView) -> str:
    """A frab room: "<venue>, <room>", the venue, or "Online" for online-only sessions."""
    if view.mode == "online":
        return ONLINE_ROOM
    venue = (view.venue or {}).get("name")
    if venue and view.room:
        return f"{venue}, {view.room}"
    return venue or view.room or UNPLACED_ROOM


def person_line(role: str, person: PersonView) -> str:
    """"Moderator / host: Prof. Li Wei (李伟) — Director, Tsinghua Science Park"."""
    name = person.display_name
    if person.name_native and person.name_native != person.name:
        name = f"{name} ({person.name_native})"
    affiliation = ", ".join(p for p in (person.job_title, person.organisation) if p)
    return f"{role_label(role)}: {name}" + (f" — {affiliation}" if affiliation else "")


def _minutes(view: SessionView) -> int:
    return max(0, int((view.ends_at - view.starts_at).total_seconds() // 60))


def _hours_minutes(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


# iCalendar -------------------------------------------------------------------------------

def session_uid(view: SessionView) -> str:
    """From the session's guid, which survives edits and republishing: a calendar that
    fetches again updates its entry instead of adding a second one."""
    return f"{view.guid}@eventsys"


def calendar(event: Event, published: PublishedAgenda, links: Links, *,
             sessions: Iterable[SessionView] | None = None, name: str | None = None) -> bytes:
    """One VEVENT per session (all of them, or ``sessions``), times in UTC; SEQUENCE is
    the publication's version, so a republished session supersedes the copy a calendar
    holds."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name or event.title)
    cal.add("x-wr-timezone", event.timezone)
    stamp = utcnow()
    published_at = published.published_at.astimezone(UTC)
    for view in published.sessions if sessions is None else sessions:
        entry = CalendarEvent()
        entry.add("uid", session_uid(view))
        entry.add("dtstamp", stamp)
        entry.add("dtstart", view.starts_at.astimezone(UTC))
        entry.add("dtend", view.ends_at.astimezone(UTC))
        entry.add("sequence", published.version)
        entry.add("last-modified", published_at)
        entry.add("summary", view.title)
        where = place(view)
        if where:
            entry.add("location", where)
        entry.add("description", _calendar_description(view, links))
        entry.add("url", links.agenda)
        entry.add("categories", [kind_label(view.kind)])
        cal.add_component(entry)
    return cal.to_ical()


def _calendar_description(view: SessionView, links: Links) -> str:
    parts = [kind_label(view.kind)]
    if view.people:
        parts.append("\n".join(person_line(role, p) for role, p in view.people))
    if view.description:
        parts.append(view.description)
    parts.append(links.agenda)
    return "\n\n".join(parts)


# frab schedule ---------------------------------------------------------------------------

def conference_acronym(event: Event) -> str:
    """The event's short name as the frab JSON schema's acronym pattern accepts it.

    schema: ``^[a-z0-9_-][a-z0-9_]{3,}(-2[0-9]{3}-[a-z]+)?$`` takes no dash after the first
    character, so "demo-forum" becomes "demo_forum"; names under four characters are
    padded with "_". Used in the XML too, so both formats name the conference alike."""
    return event.slug.replace("-", "_").ljust(4, "_")


def _session_slug(acronym: str, view: SessionView) -> str:
    # schema: ^[a-z0-9_-]+[a-z0-9]$, and unique; the id makes it so whatever the title.
    words = slugify(view.title)[:50].strip("-")
    return "-".join(p for p in (acronym, str(view.id), words) if p)


def _room_guid(event: Event, name: str) -> str:
    return str(uuid.uuid5(_ROOMS, f"{event.id}:{name}"))


def _days(event: Event, published: PublishedAgenda) -> list[date]:
    """Every day of the event, and any day a session starts on outside it (the organiser
    was warned, and published anyway)."""
    days = {event.start_date + timedelta(days=n)
            for n in range((event.end_date - event.start_date).days + 1)}
    days.update(d.day for d in published.days)
    return sorted(days)


def _rooms(event: Event, published: PublishedAgenda) -> list[str]:
    """Rooms in the order of the event's venues, then by name; "Online" last."""
    order = {v.id: n for n, v in enumerate(event.venues)}

    def key(view: SessionView) -> tuple:
        if view.mode == "online":
            return (2, 0, "")
        venue = view.venue or {}
        return (0 if venue else 1, order.get(venue.get("id"), len(order)),
                room_name(view).casefold())

    names: list[str] = []
    for view in sorted(published.sessions, key=key):
        name = room_name(view)
        if name not in names:
            names.append(name)
    return names


def _frab_event(acronym: str, view: SessionView, links: Links) -> dict:
    """One session in the frab JSON shape (the XML is written from the same dict)."""
    return {
        "id": view.id,
        "guid": view.guid,
        "date": view.local_start.isoformat(),
        "start": view.local_start.strftime("%H:%M"),
        "duration": _hours_minutes(_minutes(view)),
        "room": room_name(view),
        "slug": _session_slug(acronym, view),
        "url": links.session(view),
        "title": view.title,
        "subtitle": "",
        "track": view.track,
        "type": view.kind,
        # schema: required, and the agenda records no language per session.
        "language": "",
        "abstract": view.description or "",
        "description": view.description or "",
        # schema: a person is either frab's {id, public_name} or pretalx's {name}, never
        # both (oneOf); frab's, since the XML carries the same ids.
        "persons": [{"id": p.id, "public_name": p.display_name} for _role, p in view.people],
        "links": [],
        "attachments": [{"title": m["title"], "url": links.material(m)}
                        for m in view.materials],
    }


def frab_schedule(event: Event, published: PublishedAgenda, links: Links) -> dict:
    """The schedule as frab's JSON has it: conference, days, and per day every room with
    its sessions; days and times in the event's time zone."""
    tz = zone(event.timezone)
    acronym = conference_acronym(event)
    days = _days(event, published)
    rooms = _rooms(event, published)
    by_day = {d.day: d.sessions for d in published.days}
    tracks = sorted({s.track for s in published.sessions if s.track}, key=str.casefold)
    frab_days = []
    for index, day in enumerate(days, start=1):
        sessions = by_day.get(day, [])
        start = datetime.combine(day, time(0), tzinfo=tz)
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
        end = max([end, *(s.local_end for s in sessions)])  # a field trip past midnight
        day_rooms: dict[str, list[dict]] = {name: [] for name in rooms}
        for view in sessions:
            day_rooms[room_name(view)].append(_frab_event(acronym, view, links))
        frab_days.append({"index": index, "date": day.isoformat(),
                          "day_start": start.isoformat(), "day_end": end.isoformat(),
                          "rooms": day_rooms})
    conference = {
        "acronym": acronym,
        "title": event.title,
        "start": days[0].isoformat(),
        "end": days[-1].isoformat(),
        "daysCount": len(days),
        "timeslot_duration": FRAB_TIMESLOT,
        **({"time_zone_name": event.timezone} if _FRAB_ZONE.search(event.timezone) else {}),
        "url": links.agenda,
        "rooms": [{"name": name, "guid": _room_guid(event, name)} for name in rooms],
        "tracks": [{"name": name} for name in tracks],
        "days": frab_days,
    }
    return {"$schema": FRAB_SCHEMA, "generator": {"name": "eventsys"},
            "schedule": {"version": str(published.version), "conference": conference}}


def frab_json(event: Event, published: PublishedAgenda, links: Links) -> bytes:
    return json.dumps(frab_schedule(event, published, links), ensure_ascii=False,
                      indent=1).encode()


def _xml_text(value: str | None) -> str:
    return _NOT_XML.sub("", value or "")


def frab_xml(event: Event, published: PublishedAgenda, links: Links) -> bytes:
    """The same schedule as frab's XML.

    schema: the XSD's ``event`` is a closed ``xs:all`` with no url or attachments, and its
    ``conference`` has no time zone, url or rooms: the materials go into ``links``, the
    zone lives in every date's offset. Durations over 99:59 (sessions of four days or
    more) are written as 99:59; the JSON has the true figure."""
    data = frab_schedule(event, published, links)["schedule"]
    conference = data["conference"]
    root = ET.Element("schedule")
    ET.SubElement(root, "version").text = data["version"]
    head = ET.SubElement(root, "conference")
    for key, value in (("acronym", conference["acronym"]), ("title", conference["title"]),
                       ("start", conference["start"]), ("end", conference["end"]),
                       ("days", str(conference["daysCount"])),
                       ("timeslot_duration", conference["timeslot_duration"])):
        ET.SubElement(head, key).text = _xml_text(value)
    for day in conference["days"]:
        day_node = ET.SubElement(root, "day", {
            "index": str(day["index"]), "date": day["date"], "start": day["day_start"],
            "end": day["day_end"]})
        for name, items in day["rooms"].items():
            room = ET.SubElement(day_node, "room", {"name": _xml_text(name)})
            for item in items:
                _xml_event(room, item)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _xml_event(room: ET.Element, item: dict) -> None:
    node = ET.SubElement(room, "event", {"id": str(item["id"]), "guid": item["guid"]})
    hours = int(item["duration"].split(":")[0])
    duration = item["duration"] if hours <= 99 else XML_MAX_DURATION
    for key, value in (("date", item["date"]), ("start", item["start"]),
                       ("duration", duration), ("room", item["room"]),
                       ("slug", item["slug"]), ("title", item["title"]),
                       ("subtitle", item["subtitle"]), ("track", item["track"]),
                       ("type", item["type"]), ("abstract", item["abstract"]),
                       ("description", item["description"])):
        ET.SubElement(node, key).text = _xml_text(value)
    persons = ET.SubElement(node, "persons")
    for person in item["persons"]:
        ET.SubElement(persons, "person", {"id": str(person["id"])}).text = \
            _xml_text(person["public_name"])
    linked = ET.SubElement(node, "links")
    for attachment in item["attachments"]:
        ET.SubElement(linked, "link", {"href": attachment["url"]}).text = \
            _xml_text(attachment["title"])


# Our own JSON API ------------------------------------------------------------------------

def api_agenda(event: Event, published: PublishedAgenda, links: Links) -> dict:
    """``GET /api/v1/events/<slug>/agenda``: days in the event's time zone, each time
    given in the reader's (``published.reader_timezone``) and in the event's."""
    return {
        "event": {"slug": event.slug, "title": event.title, "timezone": event.timezone,
                  "start_date": event.start_date.isoformat(),
                  "end_date": event.end_date.isoformat()},
        "version": published.version,
        "published_at": published.published_at.astimezone(UTC).isoformat(),
        "timezone": published.reader_timezone,
        "days": [{"date": day.day.isoformat(),
                  "sessions": [_api_session(view, links) for view in day.sessions]}
                 for day in published.days],
    }


def _api_session(view: SessionView, links: Links) -> dict:
    return {
        "guid": view.guid, "id": view.id, "title": view.title, "kind": view.kind,
        "starts_at": view.reader_start.isoformat(), "ends_at": view.reader_end.isoformat(),
        "starts_at_event_zone": view.local_start.isoformat(),
        "venue": view.venue, "room": view.room, "mode": view.mode, "track": view.track,
        "description": view.description,
        "counts_for_attendance": view.counts_for_attendance,
        "people": [{"id": p.id, "role": role, "honorific": p.honorific, "name": p.name,
                    "name_native": p.name_native, "job_title": p.job_title,
                    "organisation": p.organisation, "country": p.country}
                   for role, p in view.people],
        "materials": [{"title": m["title"], "filename": m["filename"], "size": m["size"],
                       "url": links.material(m)} for m in view.materials],
    }


_TEXT = {"type": ["string", "null"]}
_DATETIME = {"type": "string", "format": "date-time"}
_DATE = {"type": "string", "format": "date"}

AGENDA_SCHEMA: dict = {
    "type": "object",
    "required": ["event", "version", "published_at", "timezone", "days"],
    "additionalProperties": False,
    "properties": {
        "event": {
            "type": "object", "additionalProperties": False,
            "required": ["slug", "title", "timezone", "start_date", "end_date"],
            "properties": {"slug": {"type": "string"}, "title": {"type": "string"},
                           "timezone": {"type": "string", "description": "IANA zone"},
                           "start_date": _DATE, "end_date": _DATE},
        },
        "version": {"type": "integer", "minimum": 1,
                    "description": "The publication's number; it grows with each one."},
        "published_at": {**_DATETIME, "description": "In UTC."},
        "timezone": {"type": "string", "description": "The zone of starts_at and ends_at."},
        "days": {"type": "array", "items": {
            "type": "object", "additionalProperties": False, "required": ["date", "sessions"],
            "properties": {
                "date": {**_DATE, "description": "A day in the event's time zone."},
                "sessions": {"type": "array", "items": {"$ref": "#/components/schemas/Session"}},
            },
        }},
    },
}

SESSION_SCHEMA: dict = {
    "type": "object",
    "additionalProperties": False,
    "required": ["guid", "id", "title", "kind", "starts_at", "ends_at",
                 "starts_at_event_zone", "venue", "room", "mode", "track", "description",
                 "counts_for_attendance", "people", "materials"],
    "properties": {
        "guid": {"type": "string", "format": "uuid",
                 "description": "Stable across publications."},
        "id": {"type": "integer"},
        "title": {"type": "string"},
        "kind": {"type": "string", "enum": list(SESSION_KINDS)},
        "starts_at": {**_DATETIME, "description": "With the reader's zone's offset."},
        "ends_at": _DATETIME,
        "starts_at_event_zone": _DATETIME,
        "venue": {"oneOf": [{"type": "null"}, {
            "type": "object", "required": ["id", "name", "city"],
            "properties": {"id": {"type": "integer"}, "name": {"type": "string"},
                           "city": {"type": "string"}}}]},
        "room": _TEXT,
        "mode": {"type": "string", "enum": list(SESSION_MODES)},
        "track": _TEXT,
        "description": _TEXT,
        "counts_for_attendance": {"type": "boolean"},
        "people": {"type": "array", "items": {
            "type": "object", "additionalProperties": False,
            "required": ["id", "role", "honorific", "name", "name_native", "job_title",
                         "organisation", "country"],
            "properties": {
                "id": {"type": "integer"},
                "role": {"type": "string", "enum": list(SESSION_ROLES)},
                "honorific": _TEXT, "name": {"type": "string"}, "name_native": _TEXT,
                "job_title": _TEXT, "organisation": _TEXT,
                "country": {"type": ["string", "null"], "description": "ISO 3166 alpha-2"},
            },
        }},
        "materials": {"type": "array", "items": {
            "type": "object", "additionalProperties": False,
            "required": ["title", "filename", "size", "url"],
            "properties": {"title": {"type": "string"}, "filename": {"type": "string"},
                           "size": {"type": "integer", "description": "Bytes."},
                           "url": {"type": "string", "format": "uri"}},
        }},
    },
}


def openapi(server_url: str) -> dict:
    """The API described in OpenAPI 3.1 (its schemas are JSON Schema 2020-12)."""
    error = {"content": {"application/json": {"schema": {
        "$ref": "#/components/schemas/Error"}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "eventsys API", "version": "1",
                 "description": "The published agenda of an event, read-only."},
        "servers": [{"url": server_url}],
        "paths": {"/events/{slug}/agenda": {"get": {
            "operationId": "getAgenda",
            "summary": "The latest published agenda of an event",
            "description": "The days that have sessions, as dates in the event's time "
                           "zone, each with its sessions in order; every start and end in "
                           "the reader's zone (`tz`), the start also in the event's. The "
                           "answer changes only when the organiser publishes again "
                           "(`version`). Stream links are never included.",
            "parameters": [
                {"name": "slug", "in": "path", "required": True,
                 "description": "The event's short name.",
                 "schema": {"type": "string", "pattern": "^[a-z0-9]+(-[a-z0-9]+)*$",
                            "maxLength": 80}},
                {"name": "tz", "in": "query", "required": False,
                 "description": "An IANA time zone such as Asia/Karachi; by default the "
                                "event's.",
                 "schema": {"type": "string"}},
            ],
            "responses": {
                "200": {"description": "The agenda.", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Agenda"}}}},
                "400": {"description": "`tz` is not a known time zone.", **error},
                "404": {"description": "No such published event, or no agenda published "
                                       "yet.", **error},
            },
        }}},
        "components": {"schemas": {
            "Agenda": AGENDA_SCHEMA,
            "Session": SESSION_SCHEMA,
            "Error": {"type": "object", "required": ["error"],
                      "properties": {"error": {"type": "string"}}},
        }},
    }
