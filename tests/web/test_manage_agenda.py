"""The organiser's agenda and people pages: sessions typed in the event's time zone, people
in roles, materials, publishing past warnings, speaker profiles with photos, bad input and
who may open what."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import current_app
from PIL import Image
from sqlalchemy import func, select

from eventsys.extensions import db
from eventsys.models import AgendaPublication, AgendaSession, Person, SessionMaterial
from eventsys.services import accounts
from eventsys.services import agenda as programme
from eventsys.services.events import VenueData
from tests.conftest import csrf_from, login, submit

SCRIPT = '<script>alert("x")</script>'


@pytest.fixture
def forum(make_event):
    return make_event("forum", days=2, venues=[VenueData("Hall 1", "Beijing", "CN"),
                                               VenueData("Centre", "Nanning", "CN")])


@pytest.fixture
def organiser(client, forum, make_user):
    make_user("org@example.org")
    accounts.grant_event_role(forum, "org@example.org", "manager", actor=None)
    login(client, "org@example.org")
    return client


@pytest.fixture(autouse=True)
def enqueued(monkeypatch) -> list[tuple]:
    """The printable PDF a publication asks for is the workers' business (and WeasyPrint's
    first start takes half a minute): here it is only recorded."""
    asked: list[tuple] = []
    monkeypatch.setattr(programme, "enqueue", lambda *args: asked.append(args))
    return asked


def person(name="Wang Ming", **kw) -> Person:
    kw.setdefault("job_title", "Director")
    return programme.create_person(programme.PersonData(name=name, **kw), actor=None)


def day(event, n=0) -> str:
    return (event.start_date + timedelta(days=n)).isoformat()


def session_form(event, **changes) -> dict:
    data = {"title": "Opening keynote", "kind": "keynote", "starts": f"{day(event)}T09:00",
            "ends": f"{day(event)}T10:00", "venue": str(event.venues[0].id), "room": "A1",
            "mode": "hybrid", "stream_url": "https://live.example.org/a", "track": "Main",
            "description": "Welcome.", "counts_for_attendance": "y"}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def make_session(event, title="Talk", hour=9, people=(), kind="talk", minutes=60):
    start = datetime.combine(event.start_date, datetime.min.time()).replace(hour=hour)
    return programme.create_session(event, programme.SessionData(
        title=title, kind=kind, starts_local=start,
        ends_local=start + timedelta(minutes=minutes), people=list(people)), actor=None)


def sessions() -> list[AgendaSession]:
    return list(db.session.scalars(select(AgendaSession).order_by(AgendaSession.id)))


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def page(response) -> str:
    return response.get_data(as_text=True)


def agenda_url(event, tail="") -> str:
    return f"/manage/events/{event.slug}/agenda{tail}"


# Sessions --------------------------------------------------------------------------------

def test_a_session_typed_in_the_events_zone_is_stored_in_utc_with_its_people(organiser,
                                                                            forum):
    wang, li = person("Wang Ming"), person("Li Hua", organisation_name="CISIP")
    new = agenda_url(forum, "/new")
    form_page = page(organiser.get(new))
    assert 'type="datetime-local"' in form_page and "Times in Asia/Shanghai" in form_page
    assert "Moderator / host" in form_page and "Keynote" in form_page
    assert "Li Hua · CISIP" in form_page
    response = submit(organiser, new, session_form(forum, **{
        "people-0-person": str(wang.id), "people-0-role": "speaker",
        "people-1-person": str(li.id), "people-1-role": "moderator",
        "people-2-person": "", "people-2-role": "speaker"}))
    assert response.status_code == 302, page(response)
    [s] = sessions()
    start = forum.start_date
    assert s.starts_at == datetime(start.year, start.month, start.day, 1, 0, tzinfo=UTC)
    assert s.ends_at - s.starts_at == timedelta(hours=1)
    assert [(sp.person.name, sp.role) for sp in s.people] == [("Wang Ming", "speaker"),
                                                             ("Li Hua", "moderator")]
    assert (s.venue.name, s.room, s.mode, s.track) == ("Hall 1", "A1", "hybrid", "Main")
    listing = page(organiser.get(response.location))
    assert ">09:00</time>&#8288;–&#8288;<time" in listing and "Opening keynote" in listing
    assert "Wang Ming" in listing and "Moderator / host" in listing


def test_edit_shows_local_times_and_saves_changes(organiser, forum):
    wang, li = person("Wang Ming"), person("Li Hua")
    s = make_session(forum, "Old title", hour=14, people=[(wang.id, "speaker")])
    edit = agenda_url(forum, f"/{s.id}/edit")
    form_page = page(organiser.get(edit))
    assert f'value="{day(forum)}T14:00"' in form_page and 'value="Old title"' in form_page
    response = submit(organiser, edit, session_form(
        forum, title="New title", starts=f"{day(forum, 1)}T16:30",
        ends=f"{day(forum, 1)}T18:00", venue="", mode="online", counts_for_attendance=None,
        **{"people-0-person": "", "people-0-role": "speaker",
           "people-1-person": str(li.id), "people-1-role": "panellist"}))
    assert response.status_code == 302, page(response)
    db.session.expire_all()
    s = db.session.get(AgendaSession, s.id)
    assert s.title == "New title" and s.venue_id is None and s.mode == "online"
    assert s.counts_for_attendance is False
    assert programme.to_local(s.starts_at, "Asia/Shanghai").strftime("%H:%M") == "16:30"
    assert [(sp.person_id, sp.role) for sp in s.people] == [(li.id, "panellist")]


def test_saving_a_session_that_keeps_its_people(organiser, forum):
    wang, li = person("Wang Ming"), person("Li Hua")
    s = make_session(forum, "Panel", people=[(wang.id, "speaker"), (li.id, "moderator")])
    response = submit(organiser, agenda_url(forum, f"/{s.id}/edit"), session_form(
        forum, title="Panel, renamed", **{
            "people-0-person": str(li.id), "people-0-role": "moderator",
            "people-1-person": str(wang.id), "people-1-role": "panellist"}))
    assert response.status_code == 302
    db.session.expire_all()
    s = db.session.get(AgendaSession, s.id)
    assert s.title == "Panel, renamed"
    assert [(sp.person_id, sp.role) for sp in s.people] == [(li.id, "moderator"),
                                                           (wang.id, "panellist")]


def test_duplicate_delete_and_move(organiser, forum):
    a = make_session(forum, "Room A")
    b = make_session(forum, "Room B")
    agenda = agenda_url(forum)
    response = submit(organiser, agenda_url(forum, f"/{a.id}/duplicate"), {}, page=agenda)
    assert response.status_code == 302 and "/edit" in response.location
    copy = sessions()[-1]
    assert copy.title == "Room A (copy)" and response.location.endswith(f"/{copy.id}/edit")

    def order():
        return [s.title for s in programme.sessions_of(forum)]
    assert sorted(order()) == ["Room A", "Room A (copy)", "Room B"]
    before = order()
    response = submit(organiser, agenda_url(forum, f"/{b.id}/move"), {"direction": "up"},
                      page=agenda)
    assert response.status_code == 302 and response.location.endswith(f"#session-{b.id}")
    db.session.expire_all()
    i = before.index("Room B")
    assert i > 0 and order() == [*before[:i - 1], "Room B", before[i - 1], *before[i + 1:]]
    response = submit(organiser, agenda_url(forum, f"/{b.id}/move"), {"direction": "down"},
                      page=agenda)
    db.session.expire_all()
    assert response.status_code == 302 and order() == before
    assert submit(organiser, agenda_url(forum, f"/{b.id}/move"), {"direction": "sideways"},
                  page=agenda).status_code == 400

    confirm = page(organiser.get(agenda_url(forum, f"/{copy.id}/delete")))
    assert "Delete “Room A (copy)”?" in confirm
    assert count(AgendaSession) == 3  # looking at the question deletes nothing
    response = submit(organiser, agenda_url(forum, f"/{copy.id}/delete"), {})
    assert response.status_code == 302
    db.session.expire_all()
    assert [s.title for s in sessions()] == ["Room A", "Room B"]


def test_sessions_of_another_event_are_not_found(organiser, forum, make_event):
    other = make_event("other-forum")
    theirs = make_session(other, "Theirs")
    assert organiser.get(agenda_url(forum, f"/{theirs.id}/edit")).status_code == 404
    response = submit(organiser, agenda_url(forum, f"/{theirs.id}/delete"), {},
                      page=agenda_url(forum))
    assert response.status_code == 404
    assert count(AgendaSession) == 1


# Publishing ------------------------------------------------------------------------------

def test_publish_needs_confirming_warnings_then_has_nothing_to_publish(organiser, forum):
    s = make_session(forum, "Lonely talk")  # a talk with nobody speaking: a warning
    agenda = agenda_url(forum)
    listing = page(organiser.get(agenda))
    assert "Lonely talk” is a talk with nobody speaking" in listing
    assert f'href="#session-{s.id}"' in listing
    assert "Publish even though there are warnings" in listing
    assert "1 change is not published yet" in listing

    response = submit(organiser, agenda_url(forum, "/publish"), {})
    assert response.status_code == 409
    assert "nobody speaking" in page(response) and count(AgendaPublication) == 0

    response = submit(organiser, agenda_url(forum, "/publish"), {"confirm_warnings": "y"})
    assert response.status_code == 302
    assert "Published version 1 (1 changes, 0 people emailed)" in page(organiser.get(agenda))
    assert count(AgendaPublication) == 1

    response = submit(organiser, agenda_url(forum, "/publish"), {"confirm_warnings": "y"})
    assert response.status_code == 400
    assert "Nothing has changed" in page(response) and count(AgendaPublication) == 1
    listing = page(organiser.get(agenda))
    assert "Version 1 is public since" in listing and "is up to date" in listing
    assert "/agenda/publish" not in listing  # nothing to publish, no button


def test_a_republished_change_is_mailed_to_the_speaker(organiser, forum, enqueued):
    wang = person("Wang Ming", email="wang@example.org")
    li = person("Li Hua")
    s = make_session(forum, "Keynote", kind="keynote", people=[(wang.id, "speaker")])
    assert submit(organiser, agenda_url(forum, "/publish"), {},
                  page=agenda_url(forum)).status_code == 302
    assert enqueued == [("eventsys.render_agenda_pdf", forum.id, 1)]
    response = submit(organiser, agenda_url(forum, f"/{s.id}/edit"), session_form(
        forum, title="Keynote", starts=f"{day(forum)}T11:00", ends=f"{day(forum)}T12:00",
        **{"people-0-person": str(li.id), "people-0-role": "speaker"}))
    assert response.status_code == 302
    listing = page(organiser.get(agenda_url(forum)))
    assert "Also email every confirmed participant" in listing
    assert "1 change is not published yet" in listing
    response = submit(organiser, agenda_url(forum, "/publish"), {"notify_participants": "y"})
    assert response.status_code == 302
    assert "Published version 2 (1 changes, 1 people emailed)" in \
        page(organiser.get(agenda_url(forum)))


# Materials -------------------------------------------------------------------------------

def test_materials_upload_and_delete(organiser, forum):
    s = make_session(forum)
    edit = agenda_url(forum, f"/{s.id}/edit")
    upload = agenda_url(forum, f"/{s.id}/materials")
    response = submit(organiser, upload, {
        "title": "Slides", "file": (io.BytesIO(b"%PDF-1.4 slides"), "my slides.pdf")},
        page=edit)
    assert response.status_code == 302, page(response)
    [material] = db.session.scalars(select(SessionMaterial)).all()
    assert (material.title, material.filename, material.size) == ("Slides", "my slides.pdf", 15)
    stored = Path(current_app.config["FILES_DIR"]) / "materials" / material.stored_name
    assert stored.read_bytes() == b"%PDF-1.4 slides"
    form_page = page(organiser.get(edit))
    assert "my slides.pdf" in form_page and 'enctype="multipart/form-data"' in form_page
    assert "1" in page(organiser.get(agenda_url(forum)))

    response = submit(organiser, upload, {"file": (io.BytesIO(b"MZ..."), "tool.exe")},
                      page=edit)
    assert response.status_code == 400 and "Upload a PDF" in page(response)
    response = submit(organiser, upload, {"title": "Nothing"}, page=edit)
    assert response.status_code == 400 and "Choose a file." in page(response)
    assert count(SessionMaterial) == 1

    other = make_session(forum, "Other")
    wrong = agenda_url(forum, f"/{other.id}/materials/{material.id}/delete")
    assert submit(organiser, wrong, {}, page=edit).status_code == 404
    response = submit(organiser, agenda_url(forum, f"/{s.id}/materials/{material.id}/delete"),
                      {}, page=edit)
    assert response.status_code == 302
    assert count(SessionMaterial) == 0 and not stored.exists()


# People ----------------------------------------------------------------------------------

def png(size=(40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


PERSON = {"honorific": "Dr.", "name": "Aisha Siddiqui", "name_native": "عائشہ صدیقی",
          "job_title": "Professor", "organisation_name": "NUST", "country": "PK",
          "email": "Aisha@Example.org", "bio": "Works on parks."}


def test_people_create_edit_and_search(organiser):
    response = submit(organiser, "/manage/people/new", PERSON)
    assert response.status_code == 302, page(response)
    aisha = db.session.scalar(select(Person))
    assert (aisha.display_name, aisha.name_native, aisha.country, aisha.email) == (
        "Dr. Aisha Siddiqui", "عائشہ صدیقی", "PK", "aisha@example.org")
    assert response.location.endswith(f"/manage/people/{aisha.id}/edit")
    person("Li Hua", organisation_name="CISIP")

    edit = f"/manage/people/{aisha.id}/edit"
    assert 'value="Aisha Siddiqui"' in page(organiser.get(edit))
    response = submit(organiser, edit, dict(PERSON, job_title="Dean", country=""))
    assert response.status_code == 302
    db.session.expire_all()
    assert (aisha.job_title, aisha.country) == ("Dean", None)

    found = page(organiser.get("/manage/people?q=nust"))
    assert "Aisha Siddiqui" in found and "Li Hua" not in found
    assert "عائشہ صدیقی" in page(organiser.get("/manage/people?q=عائشہ"))
    everyone = page(organiser.get("/manage/people"))
    assert "Aisha Siddiqui" in everyone and "Li Hua" in everyone
    assert "Nobody matches" in page(organiser.get("/manage/people?q=zzz"))


def test_adding_a_person_from_a_session_form_returns_there(organiser, forum):
    new = agenda_url(forum, "/new")
    assert "/manage/people/new?next=" in page(organiser.get(new))
    response = submit(organiser, f"/manage/people/new?next={new}", dict(PERSON, name="Li"))
    assert response.location.endswith(new)
    response = submit(organiser, "/manage/people/new?next=https://evil.example/",
                      dict(PERSON, name="Wu"))
    assert "evil" not in response.location and "/manage/people/" in response.location


def test_photo_is_reencoded_and_bad_files_are_refused(organiser):
    aisha = person("Aisha")
    edit = f"/manage/people/{aisha.id}/edit"
    url = f"/manage/people/{aisha.id}/photo"
    response = submit(organiser, url, {"photo": (io.BytesIO(png()), "face.png")}, page=edit)
    assert response.status_code == 302, page(response)
    db.session.expire_all()
    assert aisha.photo.endswith(".jpg")
    stored = Path(current_app.config["FILES_DIR"]) / "photos" / aisha.photo
    assert stored.read_bytes()[:3] == b"\xff\xd8\xff"  # a JPEG, whatever was sent
    assert f'src="/media/photos/{aisha.photo}"' in page(organiser.get(edit))
    assert aisha.photo in page(organiser.get("/manage/people"))
    kept = aisha.photo

    response = submit(organiser, url, {"photo": (io.BytesIO(b"just some text"), "face.jpg")},
                      page=edit)
    assert response.status_code == 400 and "not an image" in page(response)
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * (9 * 1024 * 1024)
    response = submit(organiser, url, {"photo": (io.BytesIO(big), "big.png")}, page=edit)
    assert response.status_code in (400, 413)
    assert submit(organiser, url, {}, page=edit).status_code == 400
    db.session.expire_all()
    assert aisha.photo == kept

    response = submit(organiser, f"/manage/people/{aisha.id}/photo/remove", {}, page=edit)
    assert response.status_code == 302
    db.session.expire_all()
    assert aisha.photo is None


def test_a_new_person_can_come_with_a_photo(organiser):
    response = submit(organiser, "/manage/people/new",
                      dict(PERSON, name="Ravi Kumar", photo=(io.BytesIO(png()), "ravi.png")))
    assert response.status_code == 302, page(response)
    ravi = db.session.scalar(select(Person).where(Person.name == "Ravi Kumar"))
    assert ravi.photo.endswith(".jpg")
    assert (Path(current_app.config["FILES_DIR"]) / "photos" / ravi.photo).is_file()


def test_a_bad_photo_on_a_new_person_saves_nothing(organiser):
    response = submit(organiser, "/manage/people/new",
                      dict(PERSON, name="Ravi Kumar",
                           photo=(io.BytesIO(b"<script>alert(1)</script>"), "ravi.png")))
    assert response.status_code == 400 and "not an image" in page(response)
    assert db.session.scalar(select(Person).where(Person.name == "Ravi Kumar")) is None


def test_the_people_list_says_when_it_shows_only_the_first_ones(organiser, monkeypatch):
    monkeypatch.setattr(programme, "PEOPLE_PAGE", 2)
    for name in ("Ann", "Bob", "Cy"):
        person(name)
    listed = page(organiser.get("/manage/people"))
    assert "Only the first 2 are listed" in listed and "Cy" not in listed


# Bad input -------------------------------------------------------------------------------

BAD_SESSIONS = {
    "end before start": ({"ends": "{d}T08:00"}, "must end after it starts"),
    "year 9999": ({"starts": "9999-01-01T09:00"}, "between 2000 and 2200"),
    "not a date": ({"starts": "not-a-date"}, "Enter a date and time"),
    "loose date": ({"starts": "{d}T9:0"}, "Enter a date and time"),
    "unicode digits": ({"starts": "\uff12\uff10\uff13\uff11-01-01T09:00"}, "Enter a date and time"),
    "no start": ({"starts": ""}, "required"),
    "no title": ({"title": "  "}, "required"),
    "unknown kind": ({"kind": "party"}, "Not a valid choice"),
    "unknown mode": ({"mode": "telepathy"}, "Not a valid choice"),
    "unknown role": ({"people-0-role": "king"}, "Not a valid choice"),
    "unknown person": ({"people-0-person": "999999"}, "Not a valid choice"),
    "person not a number": ({"people-0-person": "abc"}, "Not a valid choice"),
    "duplicate person": ({"people-1-person": "{p}", "people-1-role": "moderator"},
                         "already in the session"),
    "other event's venue": ({"venue": "{v}"}, "Not a valid choice"),
    "stream not a link": ({"stream_url": "javascript:alert(1)"}, "web address"),
    "title too long": ({"title": "x" * 301}, "300"),
    "control characters": ({"room": "A\x00"}, "not allowed"),
    "too long": ({"ends": "{d2}T09:00"}, "14 days"),
}


@pytest.mark.parametrize("case", BAD_SESSIONS)
def test_bad_session_input_is_400_with_a_message_and_nothing_stored(organiser, forum,
                                                                     make_event, case):
    wang = person("Wang Ming")
    other = make_event("other-forum")
    changes, message = BAD_SESSIONS[case]
    values = {"d": day(forum), "d2": (forum.start_date + timedelta(days=15)).isoformat(),
              "p": wang.id, "v": other.venues[0].id}
    data = session_form(forum, **{"people-0-person": str(wang.id), "people-0-role": "speaker"})
    data.update({k: v.format(**values) for k, v in changes.items()})
    response = submit(organiser, agenda_url(forum, "/new"), data)
    assert response.status_code == 400
    assert message in page(response)
    assert count(AgendaSession) == 0

    s = make_session(forum, "Kept", people=[(wang.id, "speaker")])
    response = submit(organiser, agenda_url(forum, f"/{s.id}/edit"), data)
    assert response.status_code == 400 and message in page(response)
    db.session.expire_all()
    kept = db.session.get(AgendaSession, s.id)
    assert kept.title == "Kept" and [p.person_id for p in kept.people] == [wang.id]


@pytest.mark.parametrize("changes, message", [
    ({"name": ""}, "required"),
    ({"email": "not-an-email"}, "valid email"),
    ({"country": "XX"}, "Not a valid choice"),
    ({"bio": "x" * 4001}, "4000"),
    ({"honorific": "x" * 41}, "40"),
])
def test_bad_person_input_is_400(organiser, changes, message):
    response = submit(organiser, "/manage/people/new", dict(PERSON, **changes))
    assert response.status_code == 400 and message in page(response)
    assert count(Person) == 0


def test_html_is_stored_as_typed_and_shown_escaped(organiser, forum):
    response = submit(organiser, "/manage/people/new", dict(PERSON, name=f"Eve {SCRIPT}",
                                                            bio=f"Bio {SCRIPT}"))
    assert response.status_code == 302
    eve = db.session.scalar(select(Person))
    assert eve.bio == f"Bio {SCRIPT}"
    response = submit(organiser, agenda_url(forum, "/new"), session_form(
        forum, title=f"Talk {SCRIPT}", description=SCRIPT,
        **{"people-0-person": str(eve.id), "people-0-role": "speaker"}))
    assert response.status_code == 302
    assert sessions()[0].title == f"Talk {SCRIPT}"
    s = sessions()[0]
    for url in (agenda_url(forum), agenda_url(forum, f"/{s.id}/edit"),
                agenda_url(forum, f"/{s.id}/delete"), "/manage/people",
                f"/manage/people/{eve.id}/edit"):
        html = page(organiser.get(url))
        assert "<script>" not in html, url
        assert "&lt;script&gt;" in html, url


def test_posts_without_csrf_are_refused(organiser, forum):
    s = make_session(forum)
    aisha = person("Aisha")
    organiser.get(agenda_url(forum))  # the session has a token of its own
    for url, data in ((agenda_url(forum, "/new"), session_form(forum)),
                      (agenda_url(forum, f"/{s.id}/edit"), session_form(forum)),
                      (agenda_url(forum, f"/{s.id}/duplicate"), {}),
                      (agenda_url(forum, f"/{s.id}/delete"), {}),
                      (agenda_url(forum, f"/{s.id}/move"), {"direction": "up"}),
                      (agenda_url(forum, f"/{s.id}/materials"),
                       {"file": (io.BytesIO(b"x"), "a.pdf")}),
                      (agenda_url(forum, "/publish"), {"confirm_warnings": "y"}),
                      ("/manage/people/new", PERSON),
                      (f"/manage/people/{aisha.id}/edit", PERSON),
                      (f"/manage/people/{aisha.id}/photo",
                       {"photo": (io.BytesIO(png()), "a.png")}),
                      (f"/manage/people/{aisha.id}/photo/remove", {})):
        assert organiser.post(url, data=data).status_code == 400, url
    db.session.expire_all()
    assert [x.title for x in sessions()] == ["Talk"]
    assert count(Person) == 1 and count(SessionMaterial) == 0
    assert count(AgendaPublication) == 0 and aisha.photo is None


# Who may open what -----------------------------------------------------------------------

def test_who_may_open_the_agenda_and_people_pages(app, client, forum, make_user):
    s = make_session(forum)
    aisha = person("Aisha")
    agenda_pages = [agenda_url(forum), agenda_url(forum, "/new"),
                    agenda_url(forum, f"/{s.id}/edit"), agenda_url(forum, f"/{s.id}/delete")]
    people_pages = ["/manage/people", "/manage/people/new", f"/manage/people/{aisha.id}/edit"]
    for url in agenda_pages + people_pages:
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.location, url

    make_user("staff@example.org")
    accounts.grant_event_role(forum, "staff@example.org", "checkin", actor=None)
    make_user("nobody@example.org")
    make_user("admin@example.org", is_admin=True)
    for email, agenda_status, people_status in (
            ("staff@example.org", 403, 403), ("nobody@example.org", 403, 403),
            ("admin@example.org", 200, 200)):
        browser = app.test_client()
        login(browser, email)
        for url in agenda_pages:
            assert browser.get(url).status_code == agenda_status, (email, url)
        for url in people_pages:
            assert browser.get(url).status_code == people_status, (email, url)
    staff = app.test_client()
    login(staff, "staff@example.org")
    token = csrf_from(page(staff.get("/account")))
    response = staff.post(agenda_url(forum, "/publish"),
                          data={"csrf_token": token, "confirm_warnings": "y"})
    assert response.status_code == 403 and count(AgendaPublication) == 0


def test_a_manager_of_another_event_may_edit_people_but_not_this_agenda(app, forum,
                                                                          make_user,
                                                                          make_event):
    other_organiser = make_user("other-org@example.org")
    make_event("other-forum", creator=other_organiser)
    browser = app.test_client()
    login(browser, "other-org@example.org")
    assert browser.get("/manage/people").status_code == 200
    assert browser.get(agenda_url(forum)).status_code == 403


# Cost ------------------------------------------------------------------------------------

def _fill(event, first: int, n: int, people: list[int]) -> None:
    for i in range(first, first + n):
        s = make_session(event, f"Session {i}", hour=8 + i % 10,
                         people=[(people[i % len(people)], "speaker"),
                                 (people[(i + 1) % len(people)], "moderator")])
        programme.add_material(event, s.id, title=None, filename=f"s{i}.pdf", data=b"%PDF",
                               actor=None)


def _queries(client, counter, url) -> int:
    db.session.remove()  # a fresh session, as a real request has: nothing cached
    counter["n"] = 0
    response = client.get(url)
    assert response.status_code == 200
    return counter["n"]


def test_agenda_page_queries_do_not_grow_with_sessions(organiser, forum, count_queries):
    people = [person(f"Speaker {i}").id for i in range(8)]
    _fill(forum, 0, 5, people)
    programme.publish(forum, actor=None, confirm_warnings=True)
    few = _queries(organiser, count_queries, agenda_url(forum))
    _fill(forum, 5, 55, people)
    assert _queries(organiser, count_queries, agenda_url(forum)) == few
