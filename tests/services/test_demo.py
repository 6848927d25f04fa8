from datetime import date, timedelta

from sqlalchemy import func, select

from eventsys.extensions import db
from eventsys.models import Event, User
from eventsys.services import accounts, demo


def _counts() -> dict[str, int]:
    return {t.name: db.session.scalar(select(func.count()).select_from(t))
            for t in db.metadata.sorted_tables}


def test_seed_demo_builds_the_real_events_and_is_idempotent(app):
    today = date.today()
    demo.seed_demo(today)
    first = _counts()
    demo.seed_demo(today + timedelta(days=9))  # a later day: still nothing changes
    assert _counts() == first

    events = {e.slug: e for e in db.session.scalars(select(Event))}
    assert set(events) == {"cisip-forum-2021", "br-science-park-workshop-2019",
                           "demo-forum", "demo-workshop"}
    forum = events["cisip-forum-2021"]
    assert forum.start_date == date(2021, 12, 7) and forum.mode == "hybrid"
    assert [h.organisation.short_name for h in forum.hosts] == ["GEI", "CASTIP", "CISIP"]
    assert "379" in forum.description
    workshop = events["br-science-park-workshop-2019"]
    assert workshop.start_date.year == 2019 and workshop.start_date.month == 8
    assert workshop.cities == ["Beijing", "Nanning"]
    assert events["demo-forum"].start_date > today
    assert events["demo-workshop"].start_date > events["demo-forum"].start_date
    assert all(e.status == "published" for e in events.values())

    participants = db.session.scalars(
        select(User).where(User.email.like("participant%"))).all()
    assert len(participants) == 26
    assert len({p.country for p in participants}) == 11

    from eventsys.services import registration

    forum_counts = {c.mode: c for c in registration.counts(forum)}
    assert forum_counts["in_person"].confirmed == 60
    assert forum_counts["online"].confirmed == 379
    workshop_counts = registration.counts(workshop)
    assert [(c.mode, c.confirmed, c.capacity) for c in workshop_counts] == [
        ("in_person", 26, 26)]
    upcoming_workshop = events["demo-workshop"]
    assert upcoming_workshop.approval == "application" and len(upcoming_workshop.questions) == 5
    assert registration.window_state(upcoming_workshop) == "open"
    assert events["demo-forum"].online_url.startswith("https://")

    admin = accounts.authenticate("admin@example.org", demo.DEMO_PASSWORD, "127.0.0.1")
    assert admin.is_admin
    organiser = accounts.find_user("organiser@example.org")
    assert all(accounts.can_manage(organiser, e) for e in events.values())


def test_seed_demo_takes_the_past_events_attendance(app):
    """The 2019 workshop's sheets leave someone on each side of a completion line; the 2021
    forum's door and platform give its real numbers."""
    from eventsys.services import attendance

    demo.seed_demo(date.today())
    events = {e.slug: e for e in db.session.scalars(select(Event))}
    workshop = {p.name: p for p in attendance.rates(events["br-science-park-workshop-2019"])}
    assert len(workshop) == 26 and workshop["Ayesha Siddiqui"].percent == 100
    assert workshop["Kovács Eszter"].attended == 8 and workshop["Kovács Eszter"].total == 12
    assert sorted(p.percent for p in workshop.values())[:4] == [66, 75, 83, 91]
    forum = attendance.rates(events["cisip-forum-2021"])
    assert sum(1 for p in forum if p.attended and p.mode == "in_person") == 57
    online = [p for p in forum if p.mode == "online"]
    assert len(online) == 379 and 300 < sum(1 for p in online if p.attended) < 379
