"""``eventsys seed-demo``: realistic demo data built from the seed documents.

Every object is looked up by its natural key (email, slug, organisation name) before it is
made, so seeding twice changes nothing. Upcoming editions are dated from ``today``.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from eventsys.extensions import db
from eventsys.models import (
    AgendaSession,
    Attendance,
    AttendanceNote,
    CertificateTemplate,
    Event,
    EventRole,
    ModeCapacity,
    Organisation,
    Person,
    Registration,
    RegistrationQuestion,
    User,
)
from eventsys.services import (
    accounts,
    agenda,
    attendance,
    certificate_render,
    events,
    questions,
    tickets,
)
from eventsys.services.demo_data import (
    AUDIENCE_NAMES,
    FORUM_DESCRIPTION,
    FORUM_PEOPLE,
    FORUM_PROGRAMME,
    FORUM_QUESTIONS,
    FORUM_STREAM,
    ORGANISATIONS,
    WORKSHOP_DESCRIPTION,
    WORKSHOP_LECTURERS,
    WORKSHOP_PARTICIPANTS,
    WORKSHOP_PROGRAMME_2019,
    WORKSHOP_QUESTIONS,
    WORKSHOP_ROLES,
)
from eventsys.services.events import EventData, HostData, VenueData

# Documented in the README; seed-demo refuses to run in production.
DEMO_PASSWORD = "eventsys-demo"  # noqa: S105
STAFF = [
    # email, name, admin, role in every demo event
    ("admin@example.org", "Demo Admin", True, None),
    ("organiser@example.org", "Li Na (organiser)", False, "manager"),
    ("checkin@example.org", "Zhao Lei (check-in)", False, "checkin"),
]


def _organisations() -> dict[str, Organisation]:
    found: dict[str, Organisation] = {}
    for key, (name, short, country) in ORGANISATIONS.items():
        org = db.session.scalar(
            select(Organisation).where(Organisation.name == name, Organisation.country == country)
        )
        if org is None:
            org = Organisation(name=name, short_name=short, country=country)
            db.session.add(org)
        found[key] = org
    db.session.flush()
    return found


def _hosts(orgs: dict[str, Organisation], host: str, *co_hosts: str) -> list[HostData]:
    rows = [HostData(orgs[host].name, orgs[host].country, "host")]
    rows += [HostData(orgs[k].name, orgs[k].country, "co_host") for k in co_hosts]
    return rows


BEIJING_VENUE = VenueData("Zhongguancun Exhibition Center, Hall 2", "Beijing", "CN",
                          "Zhongguancun South Road, Haidian District")
NANNING_VENUE = VenueData("China-ASEAN Science and Technology Center", "Nanning", "CN",
                          "High-tech Zone, Nanning, Guangxi")


def demo_events(today: date, orgs: dict[str, Organisation]) -> list[EventData]:
    forum_day = today + timedelta(weeks=5)
    workshop_start = today + timedelta(days=95)
    return [
        EventData(
            slug="cisip-forum-2021", kind="forum",
            title="2021 Community of International Science-Industry Parks Forum",
            theme="Digital economy — a new driving force for global recovery",
            description=FORUM_DESCRIPTION,
            start_date=date(2021, 12, 7), end_date=date(2021, 12, 7),
            timezone="Asia/Shanghai", mode="hybrid", status="published",
            venues=[VenueData("GEI Conference Hall", "Beijing", "CN", "Haidian District")],
            hosts=_hosts(orgs, "gei", "castip", "cisip"),
        ),
        EventData(
            slug="br-science-park-workshop-2019", kind="workshop",
            title="Belt & Road Science Park Management Workshop 2019",
            theme="Development and management of science and technology parks",
            description=WORKSHOP_DESCRIPTION,
            start_date=date(2019, 8, 12), end_date=date(2019, 8, 23),
            timezone="Asia/Shanghai", mode="in_person", status="published",
            venues=[BEIJING_VENUE, NANNING_VENUE],
            hosts=_hosts(orgs, "gei", "cisip"),
        ),
        EventData(
            slug="demo-forum", kind="forum",
            title=f"{forum_day.year} Community of International Science-Industry Parks Forum",
            theme="Science parks and the green digital transition",
            description=(
                "The next edition of the CISIP Forum: keynotes, the release of this year's "
                "Report on the Development of B&R Science Parks, company presentations and an "
                "online roundtable. Join us in Beijing or online.\n\n"
                "Registration is open."
            ),
            start_date=forum_day, end_date=forum_day,
            timezone="Asia/Shanghai", mode="hybrid", status="published",
            venues=[BEIJING_VENUE],
            hosts=_hosts(orgs, "gei", "castip", "cisip"),
        ),
        EventData(
            slug="demo-workshop", kind="workshop",
            title=f"Belt & Road Science Park Management Workshop {workshop_start.year}",
            theme="Managing parks for innovation-led growth",
            description=(
                "Two weeks of lectures and field trips in Beijing and Nanning for managers of "
                "science and technology parks. Places are limited: apply, and the organisers "
                "will confirm your place.\n\n"
                "Participants who complete the programme receive a certificate of completion."
            ),
            start_date=workshop_start, end_date=workshop_start + timedelta(days=11),
            timezone="Asia/Shanghai", mode="in_person", status="published",
            venues=[BEIJING_VENUE, NANNING_VENUE],
            hosts=_hosts(orgs, "gei", "cisip", "zbra"),
        ),
    ]


def _user(email: str, name: str, *, password_hash: str, admin: bool = False,
          country: str | None = None, organisation: Organisation | None = None) -> User:
    user = accounts.find_user(email)
    if user is None:
        user = User(email=email, name=name, password_hash=password_hash, is_admin=admin,
                    country=country, organisation=organisation)
        db.session.add(user)
        db.session.flush()
    return user


def seed_demo(today: date) -> list[str]:
    report: list[str] = []
    orgs = _organisations()
    staff_hash = accounts.hash_password(DEMO_PASSWORD)
    staff = {email: (_user(email, name, password_hash=staff_hash, admin=admin), role)
             for email, name, admin, role in STAFF}

    for data in demo_events(today, orgs):
        event = db.session.scalar(select(Event).where(Event.slug == data.slug))
        if event is None:
            event = events.create_event(data, creator=None)
            report.append(f"created event {event.slug} ({event.start_date})")
        else:
            report.append(f"kept event {event.slug} ({event.start_date})")
        for user, role in staff.values():
            if role and not db.session.scalar(select(EventRole.id).where(
                    EventRole.event_id == event.id, EventRole.user_id == user.id,
                    EventRole.role == role)):
                db.session.add(EventRole(event_id=event.id, user_id=user.id, role=role))

    # Participants have accounts with a password nobody knows; "forgot password" opens them.
    unusable = accounts.hash_password(secrets.token_urlsafe(32))
    for index, (name, _native, country, org_key) in enumerate(WORKSHOP_PARTICIPANTS, start=1):
        _user(f"participant{index:02d}@example.org", name, password_hash=unusable,
              country=country, organisation=orgs[org_key])
    db.session.commit()

    by_slug = {e.slug: e for e in db.session.scalars(select(Event))}
    _registration_settings(by_slug)
    report.append(_past_registrations(by_slug, orgs))
    db.session.commit()
    report.append(_agendas(by_slug, orgs))
    report.append(_attendance(by_slug, staff["checkin@example.org"][0]))
    report.append(_certificates(by_slug))
    report.append(f"accounts: {', '.join(staff)} (password {DEMO_PASSWORD!r}); "
                  f"{len(WORKSHOP_PARTICIPANTS)} participants participantNN@example.org")
    return report


def _registration_settings(by_slug: dict[str, Event]) -> None:
    """The upcoming editions: the forum open to all (60 seats in the room, a stream online),
    the workshop by application for 26 places, each with its own questions."""
    forum, workshop = by_slug["demo-forum"], by_slug["demo-workshop"]
    if forum.online_url is None:
        forum.online_url = "https://live.example.org/cisip-forum"
        _set_capacity(forum, "in_person", 60)
        _set_capacity(forum, "online", 1000)
    if workshop.approval != "application":
        workshop.approval = "application"
        _set_capacity(workshop, "in_person", 26)
    for event, wanted in ((forum, FORUM_QUESTIONS), (workshop, WORKSHOP_QUESTIONS)):
        have = set(db.session.scalars(select(RegistrationQuestion.label).where(
            RegistrationQuestion.event_id == event.id)))
        for kind, label, required, choices in wanted:
            if label not in have:
                questions.add_question(event, kind=kind, label=label, help_text=None,
                                       required=required, choices=choices or [], actor=None)


def _set_capacity(event: Event, mode: str, capacity: int) -> None:
    row = db.session.get(ModeCapacity, (event.id, mode))
    row.capacity = capacity


def _add_confirmed(event: Event, people: list[dict]) -> int:
    """Past events' registrations, as they stood when the event took place."""
    have = set(db.session.scalars(select(Registration.email).where(
        Registration.event_id == event.id)))
    added = 0
    for person in people:
        if person["email"] in have:
            continue
        db.session.add(Registration(event_id=event.id, status="confirmed",
                                    ticket_code=tickets.new_ticket_code(), **person))
        row = db.session.get(ModeCapacity, (event.id, person["mode"]))
        row.confirmed += 1
        added += 1
    return added


def _past_registrations(by_slug: dict[str, Event], orgs: dict[str, Organisation]) -> str:
    workshop = by_slug["br-science-park-workshop-2019"]
    participants = [
        {"email": f"participant{i:02d}@example.org", "name": name, "name_native": native,
         "country": country, "organisation_name": orgs[org].name, "mode": "in_person",
         "job_title": "Science park manager"}
        for i, (name, native, country, org) in enumerate(WORKSHOP_PARTICIPANTS, start=1)
    ]
    added = _add_confirmed(workshop, participants)

    forum = by_slug["cisip-forum-2021"]
    people = [
        {"email": f"speaker.{key.replace('_', '.')}@example.org", "name": name,
         "name_native": native, "country": orgs[org].country, "job_title": title,
         "organisation_name": orgs[org].name,
         "mode": "online" if key in ("amer_hashmi", "kanchana", "eduardo_correia",
                                     "vijay_mishra") else "in_person"}
        for key, (_hon, name, native, title, org) in FORUM_PEOPLE.items()
    ]
    countries = list(AUDIENCE_NAMES)
    in_room = sum(1 for p in people if p["mode"] == "in_person")
    online = len(people) - in_room
    n = 0
    while in_room < 60 or online < 379:
        country = countries[n % len(countries)]
        given, family = AUDIENCE_NAMES[country]
        name = f"{given[n % len(given)]} {family[(n // len(given)) % len(family)]}"
        mode = "in_person" if in_room < 60 and n % 7 == 0 else "online"
        if mode == "online" and online >= 379:
            mode = "in_person"
        people.append({"email": f"forum2021.{n:03d}@example.org", "name": name,
                       "country": country, "mode": mode})
        in_room += mode == "in_person"
        online += mode == "online"
        n += 1
    added += _add_confirmed(forum, people)
    for event, capacities in ((forum, {"in_person": 60, "online": 400}),
                              (workshop, {"in_person": 26})):
        for mode, capacity in capacities.items():
            _set_capacity(event, mode, capacity)
    return f"past registrations added: {added}"


def _people(orgs: dict[str, Organisation]) -> dict[str, Person]:
    """The forum's speakers and the workshop's lecturers, found by name or made once."""
    wanted = {key: (hon, name, native, title, org, None)
              for key, (hon, name, native, title, org) in FORUM_PEOPLE.items()}
    wanted.update(WORKSHOP_LECTURERS)
    have = {p.name: p for p in db.session.scalars(select(Person))}
    found = {}
    for key, (hon, name, native, title, org, bio) in wanted.items():
        person = have.get(name)
        if person is None:
            person = agenda.create_person(agenda.PersonData(
                name=name, honorific=hon, name_native=native, job_title=title,
                organisation_name=orgs[org].name, country=orgs[org].country, bio=bio,
                email=f"speaker.{key.replace('_', '.')}@example.org"), actor=None)
        found[key] = person
    return found


def _agendas(by_slug: dict[str, Event], orgs: dict[str, Organisation]) -> str:
    """Both forums get the 2021 programme, both workshops the 2019 one (in Beijing, then
    Nanning), each published once. Events that have sessions already are left alone."""
    people = _people(orgs)
    made = []
    for slug in ("cisip-forum-2021", "demo-forum", "br-science-park-workshop-2019",
                 "demo-workshop"):
        event = by_slug[slug]
        if db.session.scalar(select(AgendaSession.id).where(
                AgendaSession.event_id == event.id).limit(1)) is not None:
            continue
        venues = {v.city: v.id for v in event.venues}
        if event.kind == "forum":
            items = [(0, start, minutes, kind, title, roles, mode, "Beijing")
                     for start, minutes, kind, title, roles, mode in FORUM_PROGRAMME]
        else:
            items = [(day, start, minutes, kind, title, WORKSHOP_ROLES.get(title, []),
                      "in_person", city)
                     for day, start, minutes, kind, title, city in WORKSHOP_PROGRAMME_2019]
        for day, start, minutes, kind, title, roles, mode, city in items:
            begins = datetime.combine(event.start_date + timedelta(days=day),
                                      datetime.strptime(start, "%H:%M").time())
            agenda.create_session(event, agenda.SessionData(
                title=title, kind=kind, starts_local=begins,
                ends_local=begins + timedelta(minutes=minutes),
                venue_id=None if mode == "online" else venues.get(city), mode=mode,
                stream_url=FORUM_STREAM if mode != "in_person" else None,
                counts_for_attendance=kind != "break",
                track="Field trips" if kind == "field_trip" else None,
                people=[(people[key].id, role) for role, key in roles]), actor=None)
        agenda.publish(event, actor=None, confirm_warnings=True)
        made.append(f"{slug} ({len(items)} sessions)")
    return f"agendas published: {', '.join(made) or 'none new'}"


# The 2019 workshop's register: most were at everything; a few were not, so the rates
# (and issue 7's certificates of completion) have someone on each side of the line.
WORKSHOP_ABSENCES = {
    # participant number: (days missed, or sessions missed by their place in the programme)
    3: ("sessions", (3, 5)),  # skipped two field trips
    7: ("days", (7, 8, 9)),  # no visa for Nanning in time: excused
    15: ("sessions", (6,)),
    21: ("sessions", (2, 4, 10)),
}
FORUM_2021_ABSENT = 3  # of the 60 with a seat, this many did not come


def _attendance(by_slug: dict[str, Event], checkin: User) -> str:
    """The past events as they were taken: the workshop's sheets (and the door staff's
    scans on field trips), the forum's door on the day and its platform's minutes online.
    Nothing is added to an event that has attendance already."""
    made = []
    workshop = by_slug["br-science-park-workshop-2019"]
    if db.session.scalar(select(Attendance.id).where(
            Attendance.event_id == workshop.id).limit(1)) is None:
        sessions = attendance.counting_sessions(workshop)
        registrations = list(db.session.scalars(select(Registration).where(
            Registration.event_id == workshop.id).order_by(Registration.email)))
        for position, session in enumerate(sessions):
            day = (attendance.local_day(workshop, session.starts_at)
                   - workshop.start_date).days
            present = []
            for registration in registrations:
                number = int(registration.email[len("participant"):][:2])
                how, which = WORKSHOP_ABSENCES.get(number, ("", ()))
                missed = position in which if how == "sessions" else day in which
                if not missed:
                    present.append(registration.id)
                elif how == "days":
                    db.session.add(AttendanceNote(
                        event_id=workshop.id, registration_id=registration.id,
                        session_id=session.id, note="excused (visa for Nanning)"))
            attendance.mark(workshop, session, present, present=True, staff=checkin,
                            now=session.starts_at)
        made.append(f"{workshop.slug} ({len(sessions)} sessions)")

    forum = by_slug["cisip-forum-2021"]
    if db.session.scalar(select(Attendance.id).where(
            Attendance.event_id == forum.id).limit(1)) is None:
        doors = datetime.combine(forum.start_date, datetime.min.time()).replace(
            hour=0, minute=20, tzinfo=UTC)  # 08:20 in Beijing
        registrations = list(db.session.scalars(select(Registration).where(
            Registration.event_id == forum.id).order_by(Registration.id)))
        in_room = [r for r in registrations if r.mode == "in_person"]
        for n, registration in enumerate(in_room[FORUM_2021_ABSENT:]):
            attendance.check_in(forum, registration.ticket_code, session=None,
                                staff=checkin, now=doors + timedelta(seconds=37 * n))
        online = {(r.id, None): (5 + (n * 37) % 200, doors + timedelta(minutes=40 + n % 30))
                  for n, r in enumerate(r for r in registrations if r.mode == "online")}
        attendance.record_online(forum, online)
        forum.attendance_min_minutes = 30
        db.session.commit()
        made.append(f"{forum.slug} ({len(in_room) - FORUM_2021_ABSENT} in the room, "
                    f"{len(online)} online)")
    return f"attendance taken: {', '.join(made) or 'none new'}"


def _certificates(by_slug: dict[str, Event]) -> str:
    """The 2019 workshop's certificate of completion, for those who attended at least 80 %
    of its sessions (the default design). Nothing is issued: that is the organiser's click
    on the certificates page, and a worker's job."""
    workshop = by_slug["br-science-park-workshop-2019"]
    if db.session.scalar(select(CertificateTemplate.id).where(
            CertificateTemplate.event_id == workshop.id,
            CertificateTemplate.kind == "completion")) is not None:
        return "certificate templates: kept"
    template = certificate_render.template_for(workshop, "completion")
    template.rule = {"confirmed": True, "min_rate": 80, "sessions": [], "spoke": False}
    # Who signs: two of the workshop's (invented) lecturers; no signature images, which an
    # organiser uploads in the template editor.
    template.signatories = [
        {"name": "Prof. Zhao Hui", "title": "Academic director of the workshop",
         "signature": None},
        {"name": "Ms. Huang Min", "title": "Great Wall Enterprise Institute",
         "signature": None}]
    db.session.add(template)
    db.session.commit()
    return f"certificate templates: {workshop.slug} completion (attendance at least 80 %)"
