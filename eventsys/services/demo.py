"""``eventsys seed-demo``: realistic demo data built from the seed documents.

Every object is looked up by its natural key (email, slug, organisation name) before it is
made, so seeding twice changes nothing. Upcoming editions are dated from ``today``.
"""

from __future__ import annotations

import secrets
from datetime import date, timedelta

from sqlalchemy import select

from eventsys.extensions import db
from eventsys.models import Event, EventRole, Organisation, User
from eventsys.services import accounts, events
from eventsys.services.demo_data import (
    FORUM_DESCRIPTION,
    ORGANISATIONS,
    WORKSHOP_DESCRIPTION,
    WORKSHOP_PARTICIPANTS,
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
    report.append(f"accounts: {', '.join(staff)} (password {DEMO_PASSWORD!r}); "
                  f"{len(WORKSHOP_PARTICIPANTS)} participants participantNN@example.org")
    return report
