"""Calendar files (RFC 5545) through the icalendar library, which escapes user text."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from icalendar import Calendar
from icalendar import Event as CalendarEvent

from eventsys.models import Event, utcnow


def _domain() -> str:
    base = current_app.config["BASE_URL"]
    return base.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "eventsys"


def event_uid(event: Event) -> str:
    """Stable across exports, so a calendar that imports again updates instead of adding."""
    return f"event-{event.id}@{_domain()}"


def event_calendar(event: Event, *, url: str, extra: str | None = None) -> bytes:
    """The whole event as one all-day entry (the programme's sessions come with the agenda)."""
    calendar = Calendar()
    calendar.add("prodid", "-//eventsys//eventsys//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    entry = CalendarEvent()
    entry.add("uid", event_uid(event))
    entry.add("dtstamp", utcnow())
    entry.add("dtstart", event.start_date)
    entry.add("dtend", event.end_date + timedelta(days=1))  # DTEND of all-day is exclusive
    entry.add("summary", event.title)
    places = [", ".join(p for p in (v.name, v.city) if p) for v in event.venues]
    if places:
        entry.add("location", "; ".join(places))
    description = [event.theme or "", extra or "", url]
    entry.add("description", "\n\n".join(p for p in description if p))
    entry.add("url", url)
    calendar.add_component(entry)
    return calendar.to_ical()
