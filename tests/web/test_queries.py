"""Pages that list events load them with a fixed number of queries, however many there are."""


from eventsys.extensions import db
from eventsys.services.events import HostData, VenueData
from tests.conftest import login


def _events(make_event, prefix, n, creator=None):
    for i in range(n):
        make_event(f"{prefix}-{i}", creator=creator, days_ahead=10 + i,
                   venues=[VenueData("Hall", "Beijing", "CN"), VenueData("C", "Nanning", "CN")],
                   hosts=[HostData(f"Org {prefix} {i}", "CN"), HostData("CISIP", "CN", "co_host")])


def _queries(client, counter, url) -> int:
    db.session.remove()  # a fresh session, as a real request has: nothing cached
    counter["n"] = 0
    assert client.get(url).status_code == 200
    return counter["n"]


def test_home_page_queries_do_not_grow_with_events(client, make_event, count_queries):
    _events(make_event, "a", 2)
    few = _queries(client, count_queries, "/")
    _events(make_event, "b", 12)
    assert _queries(client, count_queries, "/") == few


def test_dashboard_queries_do_not_grow_with_events(client, make_user, make_event,
                                                   count_queries):
    organiser = make_user("org@example.org")
    _events(make_event, "a", 2, creator=organiser)
    login(client, "org@example.org")
    few = _queries(client, count_queries, "/manage/")
    _events(make_event, "b", 12, creator=organiser)
    assert _queries(client, count_queries, "/manage/") == few
