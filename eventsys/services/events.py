"""Events: create, edit, publish; and the lists the public pages show."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from eventsys.extensions import db
from eventsys.i18n import is_country, is_timezone
from eventsys.models import (
    EVENT_KINDS,
    EVENT_MODES,
    EVENT_STATUSES,
    HOST_ROLES,
    Event,
    EventHost,
    EventRole,
    User,
    Venue,
    utcnow,
)
from eventsys.services import audit, organisations, registration
from eventsys.services.errors import NotFound, ServiceError
from eventsys.services.validation import has_control_chars

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
RESERVED_SLUGS = {"new", "manage", "admin", "api", "static"}


@dataclass
class VenueData:
    name: str
    city: str
    country: str | None = None
    address: str | None = None


@dataclass
class HostData:
    name: str
    country: str | None = None
    role: str = "host"


@dataclass
class EventData:
    slug: str
    kind: str
    title: str
    start_date: date
    end_date: date
    timezone: str
    mode: str
    theme: str | None = None
    description: str | None = None
    status: str = "draft"
    venues: list[VenueData] = field(default_factory=list)
    hosts: list[HostData] = field(default_factory=list)


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:80].strip("-")


def _validate(data: EventData, existing: Event | None) -> None:
    problems = []
    if not SLUG_RE.match(data.slug or "") or len(data.slug) > 80:
        problems.append(_("The short name may use lower-case letters, digits and dashes."))
    elif data.slug in RESERVED_SLUGS:
        problems.append(_("That short name is reserved."))
    else:
        clash = db.session.scalar(select(Event.id).where(Event.slug == data.slug))
        if clash is not None and (existing is None or clash != existing.id):
            problems.append(_("Another event uses this short name already."))
    if data.kind not in EVENT_KINDS:
        problems.append(_("Unknown kind of event."))
    if data.mode not in EVENT_MODES:
        problems.append(_("Unknown attendance mode."))
    if data.status not in EVENT_STATUSES:
        problems.append(_("Unknown status."))
    if not is_timezone(data.timezone):
        problems.append(_("Unknown time zone."))
    if not data.title or not data.title.strip():
        problems.append(_("An event needs a title."))
    if data.end_date < data.start_date:
        problems.append(_("The event cannot end before it starts."))
    if not (1900 <= data.start_date.year <= 2200 and 1900 <= data.end_date.year <= 2200):
        problems.append(_("Those dates are out of range."))
    elif (data.end_date - data.start_date).days > 366:
        problems.append(_("An event can last a year at most."))
    for venue in data.venues:
        if not venue.name.strip() or not venue.city.strip():
            problems.append(_("Each venue needs a name and a city."))
        if venue.country and not is_country(venue.country):
            problems.append(_("Unknown country code %(code)s.", code=venue.country))
    for host in data.hosts:
        if host.role not in HOST_ROLES:
            problems.append(_("Unknown host role."))
        if host.country and not is_country(host.country):
            problems.append(_("Unknown country code %(code)s.", code=host.country))
    texts = [data.slug, data.title, data.theme, data.description, data.timezone]
    texts += [t for v in data.venues for t in (v.name, v.city, v.address)]
    texts += [h.name for h in data.hosts]
    if any(has_control_chars(t) for t in texts):
        problems.append(_("Some text contains characters that are not allowed."))
    if problems:
        raise ServiceError(" ".join(dict.fromkeys(problems)))


def _venues(event: Event, wanted: list[VenueData]) -> list[Venue]:
    """The event's venues as the form lists them, keeping the rows (and so the sessions
    placed in them) of venues that stay: matched by name and city, then a renamed one by
    its place in the list."""
    def key(name: str, city: str) -> tuple[str, str]:
        return (" ".join(name.split()).casefold(), " ".join(city.split()).casefold())

    unmatched = list(event.venues)
    by_key = {key(v.name, v.city): v for v in unmatched}
    chosen: list[Venue | None] = []
    for data in wanted:
        venue = by_key.pop(key(data.name, data.city), None)
        if venue is not None:
            unmatched.remove(venue)
        chosen.append(venue)
    rows = []
    for i, (data, venue) in enumerate(zip(wanted, chosen, strict=True)):
        if venue is None:
            venue = unmatched.pop(0) if unmatched else Venue()
        venue.name, venue.city = data.name.strip(), data.city.strip()
        venue.country = data.country or None
        venue.address = (data.address or "").strip() or None
        venue.position = i
        rows.append(venue)
    return rows


def _apply(event: Event, data: EventData) -> None:
    event.slug = data.slug
    event.kind = data.kind
    event.title = data.title.strip()
    event.theme = (data.theme or "").strip() or None
    event.description = (data.description or "").strip() or None
    event.start_date = data.start_date
    event.end_date = data.end_date
    event.timezone = data.timezone
    event.mode = data.mode
    event.status = data.status
    event.venues = _venues(event, data.venues)
    event.hosts = [
        EventHost(organisation=organisations.find_or_create(h.name, h.country), role=h.role,
                  position=i)
        for i, h in enumerate(data.hosts)
    ]


def create_event(data: EventData, *, creator: User | None) -> Event:
    _validate(data, None)
    event = Event()
    _apply(event, data)
    # A forum's attendance is who came on the day; a workshop's, session by session.
    event.attendance_unit = "day" if event.kind == "forum" else "session"
    db.session.add(event)
    db.session.flush()
    registration.ensure_capacity_rows(event.id, event.modes)
    if creator is not None:
        db.session.add(EventRole(event_id=event.id, user_id=creator.id, role="manager"))
    audit.record("event.created", actor=creator, event_id=event.id, target=event)
    db.session.commit()
    return event


def update_event(event: Event, data: EventData, *, actor: User | None) -> Event:
    _validate(data, event)
    before = {"status": event.status, "slug": event.slug}
    _apply(event, data)
    event.updated_at = utcnow()  # venues and hosts changed count too (pages keyed by it)
    registration.ensure_capacity_rows(event.id, event.modes)
    audit.record("event.updated", actor=actor, event_id=event.id, target=event, before=before)
    db.session.commit()
    return event


def set_status(event: Event, status: str, *, actor: User | None) -> None:
    if status not in EVENT_STATUSES:
        raise ServiceError(_("Unknown status."))
    before = event.status
    event.status = status
    audit.record("event.status", actor=actor, event_id=event.id, target=event,
                 before=before, after=status)
    db.session.commit()


def _with_details(query):
    return query.options(
        selectinload(Event.venues), selectinload(Event.hosts).selectinload(EventHost.organisation)
    )


def today_in(tz_name: str) -> date:
    return datetime.now(ZoneInfo(tz_name)).date()


def upcoming_events(today: date | None = None) -> list[Event]:
    """Published events not yet over, soonest first. ``today`` is UTC's date: an event in a
    far-east time zone stays listed for the few hours it is still on there."""
    today = today or date.today()
    query = (
        select(Event)
        .where(Event.status == "published", Event.end_date >= today)
        .order_by(Event.start_date, Event.id)
    )
    return list(db.session.scalars(_with_details(query)))


def past_events(today: date | None = None, limit: int = 20) -> list[Event]:
    today = today or date.today()
    query = (
        select(Event)
        .where(Event.status == "published", Event.end_date < today)
        .order_by(Event.start_date.desc(), Event.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(_with_details(query)))


def published_event(slug: str) -> Event:
    event = db.session.scalar(
        _with_details(select(Event).where(Event.slug == slug, Event.status == "published"))
    )
    if event is None:
        raise NotFound(_("There is no such event."))
    return event


def event_by_slug(slug: str) -> Event:
    event = db.session.scalar(_with_details(select(Event).where(Event.slug == slug)))
    if event is None:
        raise NotFound(_("There is no such event."))
    return event


def events_managed_by(user: User) -> list[Event]:
    query = select(Event).order_by(Event.start_date.desc(), Event.id.desc())
    if not user.is_admin:
        query = query.join(EventRole).where(
            EventRole.user_id == user.id, EventRole.role.in_(("manager", "checkin"))
        ).distinct()
    return list(db.session.scalars(_with_details(query)))
