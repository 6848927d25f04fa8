from sqlalchemy import select

from eventsys.extensions import db
from eventsys.models import Event
from eventsys.services import accounts
from tests.conftest import login, submit

EVENT_FORM = {
    "title": "Science Park Workshop 2031", "slug": "spw-2031", "kind": "workshop",
    "theme": "Parks", "description": "Two weeks.", "start_date": "2031-08-11",
    "end_date": "2031-08-22", "timezone": "Asia/Shanghai", "mode": "in_person",
    "status": "published",
    "venues-0-name": "Hall", "venues-0-city": "Beijing", "venues-0-country": "CN",
    "venues-0-address": "",
    "venues-1-name": "Centre", "venues-1-city": "Nanning", "venues-1-country": "CN",
    "venues-1-address": "",
    "hosts-0-name": "GEI", "hosts-0-country": "CN", "hosts-0-role": "host",
    "hosts-1-name": "CISIP", "hosts-1-country": "", "hosts-1-role": "co_host",
}


def _admin(make_user):
    user = make_user("admin@example.org")
    user.is_admin = True
    db.session.commit()
    return user


def test_manage_needs_login(client):
    response = client.get("/manage/")
    assert response.status_code == 302 and "/login" in response.location


def test_admin_creates_and_edits_an_event(client, make_user):
    _admin(make_user)
    login(client, "admin@example.org")
    response = submit(client, "/manage/events/new", EVENT_FORM)
    assert response.status_code == 302, response.get_data(as_text=True)
    event = db.session.scalar(select(Event))
    assert event.cities == ["Beijing", "Nanning"]
    assert [h.organisation.name for h in event.hosts] == ["GEI", "CISIP"]
    assert client.get("/events/spw-2031").status_code == 200

    form = dict(EVENT_FORM, title="Renamed Workshop", **{"venues-1-name": "", "venues-1-city": ""})
    response = submit(client, "/manage/events/spw-2031/edit", form)
    assert response.status_code == 302
    db.session.refresh(event)
    assert event.title == "Renamed Workshop" and event.cities == ["Beijing"]


def test_event_form_errors_are_400_with_messages(client, make_user):
    _admin(make_user)
    login(client, "admin@example.org")
    bad = dict(EVENT_FORM, end_date="2031-08-01", slug="Bad Slug", timezone="Nowhere/City")
    response = submit(client, "/manage/events/new", bad, page="/manage/events/new")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "cannot come before" in page and "lower-case" in page
    assert db.session.scalar(select(Event)) is None


def test_only_managers_reach_an_events_pages(client, make_user, make_event):
    organiser = make_user("org@example.org")
    make_user("staff@example.org")
    make_user("out@example.org")
    event = make_event(creator=organiser)
    accounts.grant_event_role(event, "staff@example.org", "checkin", actor=organiser)
    for email, expected in (("out@example.org", 403), ("staff@example.org", 403),
                            ("org@example.org", 200)):
        client.get("/")
        login(client, email)
        assert client.get(f"/manage/events/{event.slug}/edit").status_code == expected, email
        assert client.get(f"/manage/events/{event.slug}/").status_code == expected, email
        submit(client, "/logout", {})
    login(client, "out@example.org")
    assert client.get("/manage/events/new").status_code == 403


def test_publish_and_team(client, make_user, make_event):
    organiser = make_user("org@example.org")
    make_user("colleague@example.org")
    event = make_event(creator=organiser, status="draft")
    login(client, "org@example.org")
    response = submit(client, f"/manage/events/{event.slug}/status/published", {},
                      page=f"/manage/events/{event.slug}/")
    assert response.status_code == 302
    assert client.get(f"/events/{event.slug}").status_code == 200
    response = submit(client, f"/manage/events/{event.slug}/team",
                      {"email": "colleague@example.org", "role": "checkin"})
    assert response.status_code == 302
    page = client.get(f"/manage/events/{event.slug}/team").get_data(as_text=True)
    assert "colleague@example.org" in page
    response = submit(client, f"/manage/events/{event.slug}/team",
                      {"email": "ghost@example.org", "role": "checkin"})
    assert response.status_code == 404 and "sign up first" in response.get_data(as_text=True)


def test_dashboard_lists_own_events_only(client, make_user, make_event):
    organiser = make_user("org@example.org")
    make_event("mine", title="Mine", creator=organiser)
    make_event("theirs", title="Theirs")
    login(client, "org@example.org")
    page = client.get("/manage/").get_data(as_text=True)
    assert "Mine" in page and "Theirs" not in page
