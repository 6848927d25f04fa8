"""The registration form's one-second page cache, and what the busiest two requests cost in
SQL: the form for an anonymous crowd is one rendering a second with each visitor's own CSRF
token; a registration is a fixed handful of statements."""

import re
import time

import pytest
from sqlalchemy import func, select

from eventsys.extensions import db
from eventsys.models import Registration
from eventsys.services import events, invitations
from eventsys.services import registration as reg
from eventsys.services.invitations import InviteeData
from tests.conftest import csrf_from, last_text, login, submit

URL = "/events/forum/register"


def form(n=1, **kw):
    data = {"name": f"Person {n}", "name_native": "", "email": f"p{n}@example.org",
            "organisation_name": "NSTP", "job_title": "Manager", "country": "PK",
            "mode": "in_person"}
    data.update(kw)
    return data


@pytest.fixture
def cached(app):
    app.config["REGISTRATION_FORM_CACHE_SECONDS"] = 60
    yield app
    app.config["REGISTRATION_FORM_CACHE_SECONDS"] = 0


@pytest.fixture
def forum(make_event):
    event = make_event("forum", mode="hybrid")
    reg.set_capacities(event, {"in_person": 5, "online": None}, actor=None)
    return event


def test_each_visitor_gets_their_own_working_token_from_one_rendering(cached, forum,
                                                                     count_queries):
    db.session.remove()
    clients = [cached.test_client() for _ in range(3)]
    pages = [c.get(URL).get_data(as_text=True) for c in clients]
    tokens = [csrf_from(page) for page in pages]
    assert len(set(tokens)) == 3
    assert pages[1].replace(tokens[1], "T") == pages[2].replace(tokens[2], "T")
    # Only the first visitor's page was rendered from the database.
    selects = [s for s in count_queries["statements"] if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) <= 3
    for n, (client, token) in enumerate(zip(clients, tokens, strict=True)):
        response = client.post(URL, data={**form(n), "csrf_token": token})
        assert response.status_code == 302 and "/r/" in response.location
    assert db.session.scalar(select(func.count()).select_from(Registration)) == 3


def test_another_visitors_token_is_refused(cached, forum):
    first, second = cached.test_client(), cached.test_client()
    first.get(URL)
    token = csrf_from(second.get(URL).get_data(as_text=True))
    assert first.post(URL, data={**form(), "csrf_token": token}).status_code == 400


def test_logged_in_and_invited_visitors_get_their_own_page(cached, forum, make_user):
    cached.test_client().get(URL)  # fills the cache
    make_user("member@example.org", name="Member Person")
    member = cached.test_client()
    login(member, "member@example.org")
    assert "member@example.org" in member.get(URL).get_data(as_text=True)
    invitations.invite(forum, InviteeData(email="guest@example.org", name="Guest"),
                       skip_approval=True, actor=None)
    token = re.search(r"http://eventsys\.test/invitations/(\S+)",
                      last_text("guest@example.org")).group(1)
    link = f"/events/forum/register?invitation={token}"
    page = cached.test_client().get(link).get_data(as_text=True)
    assert "guest@example.org" in page


def test_an_organisers_change_shows_at_once(cached, forum, make_user):
    visitor = cached.test_client()
    assert visitor.get(URL).status_code == 200
    make_user("org@example.org", is_admin=True)
    organiser = cached.test_client()
    login(organiser, "org@example.org")
    response = submit(organiser, "/manage/events/forum/registration-settings", {
        "opens_at": "2030-01-01T10:00", "closes_at": "", "approval": "open",
        "waitlist_enabled": "y", "online_url": "", "capacity_in_person": "5",
        "capacity_online": "",
    })
    assert response.status_code == 302
    assert visitor.get(URL).status_code == 403


def test_a_cached_page_expires(app, forum):
    app.config["REGISTRATION_FORM_CACHE_SECONDS"] = 0.3
    try:
        client = app.test_client()
        assert "Test Forum" in client.get(URL).get_data(as_text=True)
        event = events.event_by_slug("forum")
        event.title = "Renamed forum"
        db.session.commit()
        assert "Renamed forum" not in client.get(URL).get_data(as_text=True)  # a moment old
        time.sleep(0.35)
        assert "Renamed forum" in client.get(URL).get_data(as_text=True)
    finally:
        app.config["REGISTRATION_FORM_CACHE_SECONDS"] = 0


def test_a_registration_is_a_fixed_handful_of_statements(app, forum, count_queries,
                                                       monkeypatch):
    from eventsys.services import messaging

    monkeypatch.setattr(messaging, "announce", lambda *args: None)  # no delivery here
    client = app.test_client()
    token = csrf_from(client.get(URL).get_data(as_text=True))
    db.session.remove()
    count_queries["statements"].clear()
    assert client.post(URL, data={**form(), "csrf_token": token}).status_code == 302
    # event + questions; take the place; registration; token; audit; outbox (and nothing
    # per question, per mode or per registration already made)
    writes = [s.split()[0].upper() for s in count_queries["statements"]
              if s.split()[0].upper() in ("SELECT", "INSERT", "UPDATE", "DELETE")]
    assert writes == ["SELECT", "UPDATE", "INSERT", "INSERT", "INSERT", "INSERT"], writes
