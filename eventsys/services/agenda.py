"""The programme: sessions and the people in them, the checks an organiser sees before
publishing, publishing (a frozen snapshot, and one email per affected person saying what
changed), and the published agenda as readers see it in their own time zone.

Times are stored in UTC and edited in the event's time zone. The public pages and every
export read the latest ``AgendaPublication`` snapshot only, never the draft.

Snapshot shape (version 1)::

    {"v": 1, "event": {"slug", "title", "timezone", "start_date", "end_date"},
     "sessions": [{"guid", "id", "title", "kind", "starts_at", "ends_at" (ISO UTC),
                   "venue": {"id", "name", "city"} | None, "room", "mode", "track",
                   "description", "counts_for_attendance", "stream_url",
                   "people": [{"person_id", "role"}],
                   "materials": [{"id", "title", "filename", "size"}]}],
     "people": {"<id>": {"id", "honorific", "name", "name_native", "job_title",
                         "organisation", "country", "bio", "photo"}}}
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from eventsys.extensions import db
from eventsys.i18n import is_country, is_timezone
from eventsys.models import (
    KINDS_WITH_SPEAKERS,
    SESSION_KINDS,
    SESSION_MODES,
    SESSION_ROLES,
    AgendaMark,
    AgendaPublication,
    AgendaSession,
    Event,
    Person,
    Registration,
    SessionMaterial,
    SessionPerson,
    User,
    Venue,
)
from eventsys.services import audit, media, messaging
from eventsys.services.errors import Conflict, NotFound, ServiceError
from eventsys.services.validation import clean_text
from eventsys.tasks import enqueue

MAX_SESSION_MINUTES = 14 * 24 * 60  # a field trip may take days, not a month
MAX_PEOPLE_PER_SESSION = 50
SNAPSHOT_VERSION = 1


# Time ------------------------------------------------------------------------------------

def zone(name: str | None) -> ZoneInfo:
    """A time zone by its IANA name; ServiceError for anything else."""
    if not name or not is_timezone(name):
        raise ServiceError(_("Unknown time zone %(name)s.", name=(name or "")[:64]))
    return ZoneInfo(name)


def to_utc(local: datetime, timezone: str) -> datetime:
    """A wall-clock time in ``timezone`` (as the organiser typed it) to UTC."""
    if not 2000 <= local.year <= 2200:
        raise ServiceError(_("Those dates are out of range."))
    tz = zone(timezone)
    moment = local.replace(tzinfo=tz).astimezone(ZoneInfo("UTC"))
    # A wall time skipped when the clocks go forward does not exist; Python would quietly
    # move it an hour. (A repeated one, when they go back, is taken the first time.)
    if moment.astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None, fold=0):
        raise ServiceError(_("%(time)s does not exist in %(zone)s: the clocks go forward "
                             "then. Please choose another time.",
                             time=local.strftime("%Y-%m-%d %H:%M"), zone=timezone))
    return moment


def to_local(moment: datetime, timezone: str) -> datetime:
    return moment.astimezone(zone(timezone))


# People ----------------------------------------------------------------------------------

@dataclass
class PersonData:
    name: str
    honorific: str | None = None
    name_native: str | None = None
    job_title: str | None = None
    organisation_name: str | None = None
    country: str | None = None
    bio: str | None = None
    email: str | None = None


_PERSON_LIMITS = {"name": 200, "honorific": 40, "name_native": 200, "job_title": 200,
                  "organisation_name": 200, "bio": 4000, "email": 254}


def _person_values(data: PersonData) -> dict:
    values = {key: clean_text(getattr(data, key), limit, multiline=key == "bio")
              for key, limit in _PERSON_LIMITS.items()}
    if not values["name"]:
        raise ServiceError(_("Please give the person's name."))
    country = (data.country or "").strip().upper() or None
    if country and not is_country(country):
        raise ServiceError(_("Unknown country code %(code)s.", code=country[:8]))
    values["country"] = country
    email = values["email"]
    if email:
        email = email.lower()
        if "@" not in email or " " in email:
            raise ServiceError(_("Enter a valid email address."))
        values["email"] = email
    return values


def create_person(data: PersonData, *, actor: User | None, photo: bytes | None = None) -> Person:
    """``photo``: the uploaded image, checked and re-encoded before anything is saved, so a
    bad image leaves no person behind."""
    values = _person_values(data)
    if photo:
        values["photo"] = media.store_photo(photo)
    person = Person(**values)
    db.session.add(person)
    db.session.flush()
    audit.record("person.created", actor=actor, target=person)
    db.session.commit()
    return person


def update_person(person: Person, data: PersonData, *, actor: User | None) -> Person:
    for key, value in _person_values(data).items():
        setattr(person, key, value)
    audit.record("person.updated", actor=actor, target=person)
    db.session.commit()
    return person


def person_by_id(person_id: int) -> Person:
    person = db.session.get(Person, person_id)
    if person is None:
        raise NotFound(_("There is no such person."))
    return person


PEOPLE_PAGE = 500


def people(search: str | None = None, limit: int | None = PEOPLE_PAGE) -> list[Person]:
    """People by name; ``limit=None`` for all of them (the session form's picker)."""
    query = select(Person).order_by(Person.name, Person.id).limit(limit)
    search = " ".join((search or "").split())[:100]
    if search:
        like = f"%{search.lower()}%"
        query = query.where(func.lower(Person.name).like(like)
                            | func.lower(func.coalesce(Person.organisation_name, "")).like(like)
                            | func.coalesce(Person.name_native, "").like(f"%{search}%"))
    return list(db.session.scalars(query))


# Sessions --------------------------------------------------------------------------------

@dataclass
class SessionData:
    title: str
    kind: str
    starts_local: datetime  # wall-clock time in the event's time zone
    ends_local: datetime
    venue_id: int | None = None
    room: str | None = None
    mode: str = "in_person"
    stream_url: str | None = None
    track: str | None = None
    description: str | None = None
    counts_for_attendance: bool = True
    people: list[tuple[int, str]] = field(default_factory=list)  # (person id, role)
    needs_checkout: bool = False  # in the room, attended means checked in and out


def _session_values(event: Event, data: SessionData) -> dict:
    title = clean_text(data.title, 300)
    if not title:
        raise ServiceError(_("Please give the session a title."))
    if data.kind not in SESSION_KINDS:
        raise ServiceError(_("Unknown kind of session."))
    if data.mode not in SESSION_MODES:
        raise ServiceError(_("Unknown way of attending."))
    starts_at = to_utc(data.starts_local, event.timezone)
    ends_at = to_utc(data.ends_local, event.timezone)
    if ends_at <= starts_at:
        raise ServiceError(_("A session must end after it starts."))
    if ends_at - starts_at > timedelta(minutes=MAX_SESSION_MINUTES):
        raise ServiceError(_("A session cannot last more than 14 days."))
    if data.venue_id is not None and data.venue_id not in {v.id for v in event.venues}:
        raise ServiceError(_("Choose one of the event's venues."))
    url = clean_text(data.stream_url, 500)
    if url and (not url.startswith(("https://", "http://")) or " " in url):
        raise ServiceError(_("The stream link must be a web address (https://...)."))
    return {
        "title": title, "kind": data.kind, "starts_at": starts_at, "ends_at": ends_at,
        "venue_id": data.venue_id, "room": clean_text(data.room, 120), "mode": data.mode,
        "stream_url": url, "track": clean_text(data.track, 120),
        "description": clean_text(data.description, 10000, multiline=True),
        "counts_for_attendance": bool(data.counts_for_attendance),
        "needs_checkout": bool(data.needs_checkout),
    }


def _set_people(session: AgendaSession, people_roles: Iterable[tuple[int, str]]) -> None:
    wanted: list[tuple[int, str]] = []
    seen: set[int] = set()
    for person_id, role in people_roles:
        if role not in SESSION_ROLES:
            raise ServiceError(_("Unknown role in a session."))
        if person_id in seen:
            raise ServiceError(_("A person can have only one role in a session."))
        seen.add(person_id)
        wanted.append((person_id, role))
    if len(wanted) > MAX_PEOPLE_PER_SESSION:
        raise ServiceError(_("Too many people in one session."))
    found = set(db.session.scalars(select(Person.id).where(Person.id.in_(seen)))) if seen \
        else set()
    if found != seen:
        raise ServiceError(_("Choose people from the list of speakers."))
    # Keep the rows of people who stay (the unit of work inserts before it deletes, so a
    # new row for the same person would collide with the old one on the unique key).
    existing = {sp.person_id: sp for sp in session.people}
    rows = []
    for n, (pid, role) in enumerate(wanted):
        row = existing.pop(pid, None) or SessionPerson(person_id=pid)
        row.role, row.position = role, n
        rows.append(row)
    session.people = rows


def sessions_of(event: Event) -> list[AgendaSession]:
    """The draft programme in order, with people, venues and materials: four queries
    however many sessions."""
    return list(db.session.scalars(
        select(AgendaSession).where(AgendaSession.event_id == event.id)
        .order_by(AgendaSession.starts_at, AgendaSession.position, AgendaSession.id)
        .options(selectinload(AgendaSession.people).selectinload(SessionPerson.person),
                 selectinload(AgendaSession.materials),
                 selectinload(AgendaSession.venue))
    ))


def session_of(event: Event, session_id: int) -> AgendaSession:
    session = db.session.get(AgendaSession, session_id)
    if session is None or session.event_id != event.id:
        raise NotFound(_("There is no such session."))
    return session


def create_session(event: Event, data: SessionData, *, actor: User | None) -> AgendaSession:
    session = AgendaSession(event_id=event.id, guid=str(uuid.uuid4()),
                            **_session_values(event, data))
    try:
        _set_people(session, data.people)
    except ServiceError:
        db.session.rollback()  # the new session was never added: nothing is written
        raise
    db.session.add(session)
    db.session.flush()
    audit.record("session.created", actor=actor, event_id=event.id, target=session)
    db.session.commit()
    return session


def update_session(event: Event, session_id: int, data: SessionData, *,
                   actor: User | None) -> AgendaSession:
    session = session_of(event, session_id)
    values = _session_values(event, data)
    try:
        for key, value in values.items():
            setattr(session, key, value)
        _set_people(session, data.people)
    except ServiceError:
        db.session.rollback()  # the half-applied changes go with it
        raise
    audit.record("session.updated", actor=actor, event_id=event.id, target=session)
    db.session.commit()
    return session


def duplicate_session(event: Event, session_id: int, *, actor: User | None) -> AgendaSession:
    """A copy right after the original (same time and people; a new guid, no materials),
    for the organiser to adjust."""
    original = session_of(event, session_id)
    copy = AgendaSession(
        event_id=event.id, guid=str(uuid.uuid4()),
        title=_copy_title(original.title),
        **{key: getattr(original, key) for key in (
            "kind", "starts_at", "ends_at", "venue_id", "room", "mode", "stream_url", "track",
            "description", "counts_for_attendance", "needs_checkout")},
        position=0)
    db.session.add(copy)
    copy.people = [SessionPerson(person_id=p.person_id, role=p.role, position=p.position)
                   for p in original.people]
    db.session.flush()
    # Right after the original among the sessions that start with it.
    together = [s for s in _starting_together(event, original) if s is not copy]
    together.insert(together.index(original) + 1, copy)
    for n, item in enumerate(together):
        item.position = n
    audit.record("session.duplicated", actor=actor, event_id=event.id, target=copy,
                 source=original.id)
    db.session.commit()
    return copy


def _copy_title(title: str) -> str:
    suffix = _(" (copy)")
    return title[:300 - len(suffix)].rstrip() + suffix


def delete_session(event: Event, session_id: int, *, actor: User | None) -> None:
    session = session_of(event, session_id)
    files = [m.stored_name for m in session.materials]
    audit.record("session.deleted", actor=actor, event_id=event.id, title=session.title,
                 guid=session.guid)
    db.session.delete(session)
    db.session.commit()
    for stored_name in files:
        media.remove_material(stored_name)


def _starting_together(event: Event, session: AgendaSession) -> list[AgendaSession]:
    return list(db.session.scalars(
        select(AgendaSession).where(AgendaSession.event_id == event.id,
                                    AgendaSession.starts_at == session.starts_at)
        .order_by(AgendaSession.position, AgendaSession.id)))


def move_session(event: Event, session_id: int, direction: int, *,
                 actor: User | None) -> None:
    """Swap a session with its neighbour among those starting at the same time (the only
    order the clock does not decide)."""
    session = session_of(event, session_id)
    together = _starting_together(event, session)
    index = together.index(session)
    other = index + (1 if direction > 0 else -1)
    if not 0 <= other < len(together):
        db.session.rollback()
        return
    together[index], together[other] = together[other], together[index]
    for n, item in enumerate(together):
        item.position = n
    audit.record("session.moved", actor=actor, event_id=event.id, target=session)
    db.session.commit()


# Checks ----------------------------------------------------------------------------------

@dataclass
class AgendaWarning:
    code: str  # person_double_booked, room_double_booked, outside_dates,
    #            speaker_without_profile, no_speaker
    message: str
    session_ids: list[int]


def _overlap(a: AgendaSession, b: AgendaSession) -> bool:
    return a.starts_at < b.ends_at and b.starts_at < a.ends_at


def check(event: Event, sessions: list[AgendaSession] | None = None) -> list[AgendaWarning]:
    """What an organiser should look at before publishing; none of it forbids publishing."""
    sessions = sessions if sessions is not None else sessions_of(event)
    tz = event.timezone
    warnings: list[AgendaWarning] = []

    def when(s: AgendaSession) -> str:
        return to_local(s.starts_at, tz).strftime("%Y-%m-%d %H:%M")

    ordered = sorted(sessions, key=lambda s: (s.starts_at, s.id))
    by_person: dict[int, list[AgendaSession]] = defaultdict(list)
    by_room: dict[tuple, list[AgendaSession]] = defaultdict(list)
    for s in ordered:
        for sp in s.people:
            by_person[sp.person_id].append(s)
        if s.mode != "online" and s.venue_id is not None:
            by_room[(s.venue_id, (s.room or "").casefold())].append(s)
    names = {sp.person_id: sp.person.display_name for s in sessions for sp in s.people}
    for person_id, items in by_person.items():
        for i, a in enumerate(items):
            for b in items[i + 1:]:
                if _overlap(a, b):
                    warnings.append(AgendaWarning("person_double_booked", _(
                        "%(name)s is in two sessions at once: “%(a)s” and “%(b)s” "
                        "(%(when)s).", name=names[person_id], a=a.title, b=b.title,
                        when=when(b)), [a.id, b.id]))
    for items in by_room.values():
        for i, a in enumerate(items):
            for b in items[i + 1:]:
                if _overlap(a, b):
                    place = a.venue.name + (f", {a.room}" if a.room else "")
                    warnings.append(AgendaWarning("room_double_booked", _(
                        "Two sessions in %(place)s at once: “%(a)s” and “%(b)s” (%(when)s).",
                        place=place, a=a.title, b=b.title, when=when(b)), [a.id, b.id]))
    for s in ordered:
        start = to_local(s.starts_at, tz).date()
        end = to_local(s.ends_at - timedelta(microseconds=1), tz).date()
        if start < event.start_date or end > event.end_date:
            warnings.append(AgendaWarning("outside_dates", _(
                "“%(title)s” (%(when)s) is outside the event's dates.", title=s.title,
                when=when(s)), [s.id]))
        if s.kind in KINDS_WITH_SPEAKERS and not s.people:
            warnings.append(AgendaWarning("no_speaker", _(
                "“%(title)s” is a %(kind)s with nobody speaking.", title=s.title,
                kind=kind_label(s.kind).lower()), [s.id]))
    flagged: set[int] = set()
    for s in ordered:
        for sp in s.people:
            p = sp.person
            if p.id not in flagged and not (p.job_title or p.organisation_name or p.bio):
                flagged.add(p.id)
                warnings.append(AgendaWarning("speaker_without_profile", _(
                    "%(name)s has no job title, organisation or biography yet.",
                    name=p.display_name), [s.id]))
    return warnings


# Publishing ------------------------------------------------------------------------------

class NeedsConfirmation(Conflict):
    """Publishing with warnings needs the organiser to say "publish anyway"."""

    def __init__(self, warnings: list[AgendaWarning]):
        super().__init__(_("The agenda has %(n)d warnings. Look at them, then publish anyway "
                           "if they are intended.", n=len(warnings)))
        self.warnings = warnings


@dataclass
class Change:
    guid: str
    title: str
    what: str  # added, removed, changed; "profile" for a person's published details
    fields: list[str] = field(default_factory=list)  # for "changed": time, place, ...


@dataclass
class PublishResult:
    version: int
    changes: list[Change]
    mailed: int


def snapshot(event: Event, sessions: list[AgendaSession]) -> dict:
    people: dict[str, dict] = {}
    items = []
    for s in sessions:
        for sp in s.people:
            p = sp.person
            people[str(p.id)] = {
                "id": p.id, "honorific": p.honorific, "name": p.name,
                "name_native": p.name_native, "job_title": p.job_title,
                "organisation": p.organisation_name, "country": p.country, "bio": p.bio,
                "photo": p.photo,
            }
        items.append({
            "guid": s.guid, "id": s.id, "title": s.title, "kind": s.kind,
            "starts_at": s.starts_at.isoformat(), "ends_at": s.ends_at.isoformat(),
            "venue": {"id": s.venue.id, "name": s.venue.name, "city": s.venue.city}
            if s.venue else None,
            "room": s.room, "mode": s.mode, "track": s.track, "description": s.description,
            "counts_for_attendance": s.counts_for_attendance, "stream_url": s.stream_url,
            "people": [{"person_id": sp.person_id, "role": sp.role} for sp in s.people],
            "materials": [{"id": m.id, "title": m.title, "filename": m.filename,
                           "size": m.size} for m in s.materials],
        })
    return {"v": SNAPSHOT_VERSION,
            "event": {"slug": event.slug, "title": event.title, "timezone": event.timezone,
                      "start_date": event.start_date.isoformat(),
                      "end_date": event.end_date.isoformat()},
            "sessions": items, "people": people}


_COMPARED = {"title": ("title",), "time": ("starts_at", "ends_at"),
             "place": ("venue", "room"), "mode": ("mode",), "people": ("people",),
             "description": ("description",), "kind": ("kind",),
             "materials": ("materials",), "details": ("track", "counts_for_attendance",
                                                     "stream_url")}


def changes_between(old: dict | None, new: dict) -> list[Change]:
    before = {s["guid"]: s for s in (old or {}).get("sessions", [])}
    after = {s["guid"]: s for s in new["sessions"]}
    changes = []
    for guid, s in after.items():
        if guid not in before:
            changes.append(Change(guid, s["title"], "added"))
            continue
        fields = [name for name, keys in _COMPARED.items()
                  if any(before[guid].get(k) != s.get(k) for k in keys)]
        if fields:
            changes.append(Change(guid, s["title"], "changed", fields))
    changes += [Change(guid, s["title"], "removed") for guid, s in before.items()
                if guid not in after]
    # A speaker's profile (bio, photo, title) is published too, but mails nobody.
    old_people = (old or {}).get("people", {})
    changes += [Change(f"person:{key}", person["name"], "profile")
                for key, person in new.get("people", {}).items()
                if key in old_people and old_people[key] != person]
    return changes


def latest_publication(event: Event) -> AgendaPublication | None:
    return db.session.scalar(
        select(AgendaPublication).where(AgendaPublication.event_id == event.id)
        .order_by(AgendaPublication.version.desc()).limit(1))


def publish(event: Event, *, actor: User | None, confirm_warnings: bool = False,
            notify_participants: bool = False) -> PublishResult:
    """Freeze the draft as the new public agenda. With warnings, only when confirmed. Once
    an agenda was public, the speakers of changed sessions, the participants who marked
    them (or, with ``notify_participants``, every confirmed participant) get one email
    listing the changes."""
    sessions = sessions_of(event)
    warnings = check(event, sessions)
    if warnings and not confirm_warnings:
        raise NeedsConfirmation(warnings)
    previous = latest_publication(event)
    new = snapshot(event, sessions)
    changes = changes_between(previous.snapshot if previous else None, new)
    if previous is not None and not changes:
        raise ServiceError(_("Nothing has changed since the agenda was last published."))
    version = (previous.version + 1) if previous else 1
    db.session.add(AgendaPublication(event_id=event.id, version=version, snapshot=new,
                                     published_by_id=actor.id if actor else None))
    mailed = 0
    if previous is not None:
        mailed = _mail_changes(event, version, changes, previous.snapshot, new,
                               notify_participants)
    event_id = event.id  # read now: after the commit it would open a new transaction
    audit.record("agenda.published", actor=actor, event_id=event_id, version=version,
                 changes=len(changes), warnings=len(warnings), mailed=mailed)
    db.session.commit()
    enqueue("eventsys.render_agenda_pdf", event_id, version)
    return PublishResult(version, changes, mailed)


def _mail_changes(event: Event, version: int, changes: list[Change], old: dict, new: dict,
                  everyone: bool) -> int:
    changes = [c for c in changes if c.what != "profile"]
    if not changes:
        return 0
    changed = {c.guid for c in changes}
    person_ids = {p["person_id"] for snap in (old, new) for s in snap["sessions"]
                  if s["guid"] in changed for p in s["people"]}
    recipients: dict[str, tuple[str, str | None]] = {}
    for person in db.session.scalars(select(Person).where(Person.id.in_(person_ids),
                                                          Person.email.is_not(None))):
        recipients[person.email] = (person.display_name, None)
    query = select(Registration).where(Registration.event_id == event.id,
                                       Registration.status == "confirmed")
    if not everyone:
        query = query.where(Registration.id.in_(
            select(AgendaMark.registration_id).where(AgendaMark.session_guid.in_(changed))))
    for registration in db.session.scalars(query):
        recipients.setdefault(registration.email, (registration.name, registration.locale))
    summary = [{"title": c.title, "what": c.what, "fields": c.fields} for c in changes]
    for email, (name, locale) in sorted(recipients.items()):
        messaging.queue_mail(
            kind="agenda_changed", dedupe_key=f"agenda:{event.id}:{version}:{email}",
            to_email=email, to_name=name, template="agenda_changed", locale=locale,
            event_id=event.id,
            context={"event_id": event.id, "name": name, "changes": summary},
        )
    return len(recipients)


@messaging.context_builder("agenda_changed")
def _agenda_changed_mail(session, stored: dict) -> tuple[dict, list]:
    event = session.get(Event, stored["event_id"])
    return {"event_title": event.title, "name": stored.get("name"),
            "changes": stored.get("changes", []),
            "agenda_url": messaging.external_url("agenda.agenda", slug=event.slug)}, []


# Reading the published agenda ------------------------------------------------------------

KIND_LABELS = {
    "opening": "Opening", "keynote": "Keynote", "talk": "Talk",
    "presentation": "Presentation", "panel": "Panel", "roundtable": "Roundtable",
    "lecture": "Lecture", "field_trip": "Field trip", "break": "Break",
    "ceremony": "Ceremony", "other": "Other",
}
ROLE_LABELS = {"speaker": "Speaker", "moderator": "Moderator / host",
               "panellist": "Panellist", "discussant": "Discussant"}


def kind_label(kind: str) -> str:
    return _(KIND_LABELS.get(kind, kind))


def role_label(role: str) -> str:
    return _(ROLE_LABELS.get(role, role))


@dataclass
class PersonView:
    id: int
    honorific: str | None
    name: str
    name_native: str | None
    job_title: str | None
    organisation: str | None
    country: str | None
    bio: str | None
    photo: str | None

    @cached_property
    def display_name(self) -> str:
        return f"{self.honorific} {self.name}" if self.honorific else self.name

    @cached_property
    def affiliation(self) -> str:
        return ", ".join(p for p in (self.job_title, self.organisation) if p)


@dataclass
class SessionView:
    guid: str
    id: int
    title: str
    kind: str
    starts_at: datetime  # UTC
    ends_at: datetime
    local_start: datetime  # in the event's time zone
    local_end: datetime
    reader_start: datetime  # in the reader's
    reader_end: datetime
    venue: dict | None
    room: str | None
    mode: str
    track: str | None
    description: str | None
    counts_for_attendance: bool
    people: list[tuple[str, PersonView]]  # (role, person)
    materials: list[dict]

    @property
    def minutes(self) -> int:
        return int((self.ends_at - self.starts_at).total_seconds() // 60)


@dataclass
class AgendaDay:
    day: date  # in the event's time zone
    sessions: list[SessionView]


@dataclass
class PublishedAgenda:
    version: int
    published_at: datetime
    timezone: str  # the event's
    reader_timezone: str
    days: list[AgendaDay]
    people: dict[int, PersonView]
    publication_id: int

    @property
    def sessions(self) -> list[SessionView]:
        return [s for d in self.days for s in d.sessions]


def read(publication: AgendaPublication, event: Event,
         reader_timezone: str | None = None) -> PublishedAgenda:
    """The snapshot as readers see it: by day in the event's time zone, each time also in
    the reader's. Pure computation on one row."""
    snap = publication.snapshot
    event_tz = zone(event.timezone)
    reader_tz = zone(reader_timezone) if reader_timezone else event_tz
    people = {int(k): PersonView(**{f: v.get(f) for f in (
        "id", "honorific", "name", "name_native", "job_title", "organisation", "country",
        "bio", "photo")}) for k, v in snap.get("people", {}).items()}
    days: dict[date, list[SessionView]] = defaultdict(list)
    for s in snap.get("sessions", []):
        starts, ends = datetime.fromisoformat(s["starts_at"]), datetime.fromisoformat(s["ends_at"])
        view = SessionView(
            guid=s["guid"], id=s["id"], title=s["title"], kind=s["kind"], starts_at=starts,
            ends_at=ends, local_start=starts.astimezone(event_tz),
            local_end=ends.astimezone(event_tz), reader_start=starts.astimezone(reader_tz),
            reader_end=ends.astimezone(reader_tz), venue=s.get("venue"), room=s.get("room"),
            mode=s["mode"], track=s.get("track"), description=s.get("description"),
            counts_for_attendance=s.get("counts_for_attendance", True),
            people=[(p["role"], people[p["person_id"]]) for p in s.get("people", [])
                    if p["person_id"] in people],
            materials=s.get("materials", []),
        )
        days[view.local_start.date()].append(view)
    return PublishedAgenda(
        version=publication.version, published_at=publication.published_at,
        timezone=event.timezone, reader_timezone=reader_tz.key,
        days=[AgendaDay(d, sorted(v, key=lambda x: x.starts_at)) for d, v in sorted(days.items())],
        people=people, publication_id=publication.id)


def public_agenda(event: Event, reader_timezone: str | None = None) -> PublishedAgenda | None:
    """The latest published agenda of a published event (one query), or None."""
    publication = latest_publication(event)
    if publication is None:
        return None
    return read(publication, event, reader_timezone)


def sessions_of_person(agenda: PublishedAgenda, person_id: int) -> list[tuple[str, SessionView]]:
    return [(role, s) for s in agenda.sessions for role, p in s.people if p.id == person_id]


# Personal agenda -------------------------------------------------------------------------

def marked(registration: Registration) -> set[str]:
    return set(db.session.scalars(select(AgendaMark.session_guid).where(
        AgendaMark.registration_id == registration.id)))


def set_marks(registration: Registration, guids: Iterable[str], agenda: PublishedAgenda) -> None:
    """Replace the participant's marked sessions with ``guids`` (those not in the published
    agenda are ignored)."""
    known = {s.guid for s in agenda.sessions}
    wanted = {g for g in guids if g in known}
    current = marked(registration)
    for guid in current - wanted:
        db.session.execute(AgendaMark.__table__.delete().where(
            AgendaMark.registration_id == registration.id, AgendaMark.session_guid == guid))
    for guid in sorted(wanted - current):
        db.session.add(AgendaMark(registration_id=registration.id, session_guid=guid))
    db.session.commit()


def venue_choices(event: Event) -> list[Venue]:
    return list(event.venues)


# Photos and materials --------------------------------------------------------------------

def set_photo(person: Person, data: bytes, *, actor: User | None) -> Person:
    person.photo = media.store_photo(data)
    audit.record("person.photo", actor=actor, target=person)
    db.session.commit()
    return person


def remove_photo(person: Person, *, actor: User | None) -> None:
    person.photo = None
    audit.record("person.photo_removed", actor=actor, target=person)
    db.session.commit()


def add_material(event: Event, session_id: int, *, title: str | None, filename: str,
                 data: bytes, actor: User | None) -> SessionMaterial:
    session = session_of(event, session_id)
    stored = media.store_material(filename, data)
    material = SessionMaterial(
        session_id=session.id, title=clean_text(title, 200) or stored.filename,
        filename=stored.filename, stored_name=stored.stored_name,
        content_type=stored.content_type, size=stored.size, sha256=stored.sha256)
    db.session.add(material)
    db.session.flush()
    audit.record("session.material_added", actor=actor, event_id=event.id, target=material)
    db.session.commit()
    return material


def material_of(event: Event, material_id: int) -> SessionMaterial:
    material = db.session.get(SessionMaterial, material_id)
    if material is None or material.session.event_id != event.id:
        raise NotFound(_("There is no such file."))
    return material


def delete_material(event: Event, material_id: int, *, actor: User | None) -> None:
    material = material_of(event, material_id)
    audit.record("session.material_deleted", actor=actor, event_id=event.id,
                 filename=material.filename)
    stored_name = material.stored_name
    db.session.delete(material)
    db.session.commit()
    media.remove_material(stored_name)  # a published agenda listing it now answers 404


def public_material(event: Event, material_id: int) -> SessionMaterial:
    """A material the public may download: one listed in the published agenda."""
    publication = latest_publication(event)
    listed = {m["id"] for s in (publication.snapshot["sessions"] if publication else [])
              for m in s.get("materials", [])}
    if material_id not in listed:
        raise NotFound(_("There is no such file."))
    return material_of(event, material_id)


FIELD_LABELS = {"title": "title", "time": "time", "place": "place", "mode": "way of attending",
                "people": "speakers", "description": "description", "kind": "kind",
                "materials": "files", "details": "details"}


def field_label(name: str) -> str:
    return _(FIELD_LABELS.get(name, name))


def has_published(event: Event) -> bool:
    return db.session.scalar(select(AgendaPublication.id).where(
        AgendaPublication.event_id == event.id).limit(1)) is not None


def latest_publication_id(event: Event) -> int | None:
    """The id of the agenda as published now: what a cached page of it is keyed by."""
    return db.session.scalar(
        select(AgendaPublication.id).where(AgendaPublication.event_id == event.id)
        .order_by(AgendaPublication.version.desc()).limit(1))
