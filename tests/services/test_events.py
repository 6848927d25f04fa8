from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from eventsys.extensions import db
from eventsys.models import AuditLog, Event, Organisation
from eventsys.services import events
from eventsys.services.errors import NotFound, ServiceError
from eventsys.services.events import EventData, HostData, VenueData


def _data(**kw) -> EventData:
    start = kw.pop("start_date", date(2030, 5, 1))
    values = dict(slug="forum-2030", kind="forum", title="Forum 2030", start_date=start,
                  end_date=start, timezone="Asia/Shanghai", mode="hybrid")
    values.update(kw)
    return EventData(**values)


def test_create_with_venues_in_two_cities_and_cohosts(app, make_user):
    creator = make_user()
    event = events.create_event(_data(
        kind="workshop", end_date=date(2030, 5, 12),
        venues=[VenueData("Hall", "Beijing", "CN"), VenueData("Centre", "Nanning", "CN")],
        hosts=[HostData("GEI", "CN"), HostData("CISIP", "CN", "co_host"),
               HostData("gei", "CN", "co_host")],
    ), creator=creator)
    assert event.cities == ["Beijing", "Nanning"]
    assert [h.role for h in event.hosts] == ["host", "co_host", "co_host"]
    # Organisations are matched without regard to case: "gei" is GEI.
    assert db.session.scalar(select(func.count()).select_from(Organisation)) == 2
    assert [r.role for r in event.roles] == ["manager"]
    assert db.session.scalar(select(AuditLog.actor_id).where(AuditLog.action == "event.created")) \
        == creator.id


@pytest.mark.parametrize("change, words", [
    ({"end_date": date(2030, 4, 30)}, "end before"),
    ({"timezone": "Mars/Olympus"}, "time zone"),
    ({"slug": "Not A Slug"}, "short name"),
    ({"slug": "new"}, "reserved"),
    ({"kind": "party"}, "kind"),
    ({"mode": "telepathy"}, "mode"),
    ({"title": "   "}, "title"),
    ({"start_date": date(1800, 1, 1), "end_date": date(1800, 1, 1)}, "range"),
    ({"end_date": date(2032, 1, 1)}, "year"),
    ({"venues": [VenueData("", "Beijing")]}, "venue"),
    ({"hosts": [HostData("GEI", "XX")]}, "country"),
])
def test_invalid_events_are_refused_and_nothing_is_written(app, change, words):
    with pytest.raises(ServiceError) as refused:
        events.create_event(_data(**change), creator=None)
    assert words in refused.value.message.lower()
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Event)) == 0


def test_slug_must_be_unique(app):
    events.create_event(_data(), creator=None)
    with pytest.raises(ServiceError, match="short name"):
        events.create_event(_data(title="Other"), creator=None)


def test_public_lists_show_published_only(app, make_event):
    make_event("upcoming", days_ahead=10)
    make_event("draft-one", status="draft")
    make_event("archived-one", status="archived")
    make_event("past-one", days_ahead=-400)
    assert [e.slug for e in events.upcoming_events()] == ["upcoming"]
    assert [e.slug for e in events.past_events()] == ["past-one"]
    with pytest.raises(NotFound):
        events.published_event("draft-one")
    assert events.published_event("upcoming").slug == "upcoming"


def test_update_and_status(app, make_event, make_user):
    actor = make_user()
    event = make_event()
    data = _data(slug=event.slug, title="Renamed", start_date=date.today() + timedelta(days=3),
                 end_date=date.today() + timedelta(days=4), status="draft")
    events.update_event(event, data, actor=actor)
    assert event.title == "Renamed" and event.status == "draft"
    assert event.venues == []
    events.set_status(event, "published", actor=actor)
    assert events.published_event(event.slug).title == "Renamed"
    with pytest.raises(ServiceError):
        events.set_status(event, "deleted", actor=actor)
