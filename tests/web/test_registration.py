import csv
import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from eventsys.extensions import db
from eventsys.models import OutboxMessage, Registration
from eventsys.services import accounts
from eventsys.services import registration as reg
from tests.conftest import last_text, login, submit


def form(n=1, **kw):
    data = {"name": f"Person {n}", "name_native": "", "email": f"p{n}@example.org",
            "organisation_name": "NSTP", "job_title": "Manager", "country": "PK",
            "mode": "in_person"}
    data.update(kw)
    return data


def count(**where) -> int:
    query = select(func.count()).select_from(Registration)
    for key, value in where.items():
        query = query.where(getattr(Registration, key) == value)
    return db.session.scalar(query)


@pytest.fixture
def forum(make_event):
    event = make_event("forum", mode="hybrid")
    reg.set_capacities(event, {"in_person": 1, "online": None}, actor=None)
    return event


def test_register_and_see_the_participant_page(client, forum):
    page = client.get("/events/forum").get_data(as_text=True)
    assert "/events/forum/register" in page
    response = submit(client, "/events/forum/register", form(name_native="عائشہ صدیقی"))
    assert response.status_code == 302 and "/r/" in response.location
    page = client.get(response.location)
    html = page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "Confirmed" in html and "عائشہ صدیقی" in html
    ticket = db.session.scalar(select(Registration.ticket_code))
    assert ticket in html and "data:image/svg+xml;base64," in html
    token = response.location.split("/r/")[1].split("?")[0]
    ics = client.get(f"/r/{token}/calendar.ics")
    assert ics.mimetype == "text/calendar" and b"BEGIN:VEVENT" in ics.data


def test_waitlist_then_cancel_promotes(client, app, forum):
    first = submit(client, "/events/forum/register", form(1)).location
    submit(app.test_client(), "/events/forum/register", form(2))
    assert count(status="waitlisted") == 1
    token = first.split("/r/")[1].split("?")[0]
    confirm = client.get(f"/r/{token}/cancel")  # GET only asks
    assert confirm.status_code == 200 and count(status="cancelled") == 0
    response = submit(client, f"/r/{token}/cancel", {})
    assert response.status_code == 302
    assert count(status="cancelled") == 1 and count(status="confirmed") == 1
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.kind == "registration_promoted")) == 1
    assert "Cancel my registration" not in client.get(f"/r/{token}").get_data(as_text=True)
    response = submit(client, f"/r/{token}/cancel", {}, page="/login")  # a replayed form
    assert response.status_code == 409


def test_second_registration_with_same_email_is_told_and_mailed(client, forum):
    submit(client, "/events/forum/register", form(1))
    response = submit(client, "/events/forum/register", form(1, name="Someone else"))
    assert response.status_code == 409
    assert "registered for this event already" in response.get_data(as_text=True)
    assert count() == 1


def test_bad_form_is_400_and_writes_nothing(client, forum):
    for bad in (form(email="nope"), form(mode="telepathy"), form(country="XX"),
                form(name=""), form(name="x" * 201), form(name="a\x00b")):
        response = submit(client, "/events/forum/register", bad)
        assert response.status_code == 400, bad
    assert count() == 0


def test_missing_csrf_is_400(client, forum):
    response = client.post("/events/forum/register", data=form())
    assert response.status_code == 400 and count() == 0


def test_closed_and_draft_and_invitation_only(client, forum, make_event):
    from datetime import timedelta

    from eventsys.models import utcnow

    forum.registration_closes_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert client.get("/events/forum/register").status_code == 403
    response = client.post("/events/forum/register", data=form())
    assert response.status_code in (400, 403) and count() == 0
    make_event("draft-event", status="draft")
    assert client.get("/events/draft-event/register").status_code == 404
    forum.registration_closes_at = None
    forum.invitation_only = True
    db.session.commit()
    response = client.get("/events/forum/register")
    assert response.status_code == 403 and "invitation only" in response.get_data(as_text=True)
    assert client.get("/events/forum/register?invitation=forged-forged-forged").status_code == 403


def test_full_mode_without_waitlist_is_409(client, app, forum):
    forum.waitlist_enabled = False
    db.session.commit()
    submit(client, "/events/forum/register", form(1))
    response = submit(app.test_client(), "/events/forum/register", form(2))
    assert response.status_code == 409 and "no places left" in response.get_data(as_text=True)
    assert count() == 1


def test_unknown_token_is_404(client):
    assert client.get("/r/not-a-real-token-at-all").status_code == 404
    assert client.get("/r/x").status_code == 404


def test_logged_in_user_sees_registrations_in_account(client, forum, make_user):
    make_user("nino@example.org")
    login(client, "nino@example.org")
    page = client.get("/events/forum/register").get_data(as_text=True)
    assert 'value="nino@example.org"' in page  # pre-filled
    submit(client, "/events/forum/register", form(email="nino@example.org"))
    account = client.get("/account").get_data(as_text=True)
    assert "Test Forum" in account
    link = re.search(r'href="(/account/registrations/\d+)"', account).group(1)
    response = client.get(link)
    assert response.status_code == 302 and "/r/" in response.location
    other = make_user("other@example.org")
    assert other
    client.get("/")
    submit(client, "/logout", {})
    login(client, "other@example.org")
    assert client.get(link).status_code == 404


# Organisers ---------------------------------------------------------------------------------

@pytest.fixture
def organiser_client(client, forum, make_user):
    make_user("org@example.org")
    accounts.grant_event_role(forum, "org@example.org", "manager", actor=None)
    login(client, "org@example.org")
    return client


def test_organiser_list_filters_and_bulk_decisions(organiser_client, app, forum):
    forum.approval = "application"
    db.session.commit()
    for n in range(1, 5):
        submit(app.test_client(), "/events/forum/register",
               form(n, country="TH" if n % 2 else "PK"))
    page = organiser_client.get("/manage/events/forum/registrations?country=TH")
    html = page.get_data(as_text=True)
    assert "Person 1" in html and "Person 3" in html and "Person 2" not in html
    ids = [str(i) for i in db.session.scalars(select(Registration.id).order_by(Registration.id))]
    response = submit(organiser_client, "/manage/events/forum/registrations/decide",
                      {"action": "approve", "reason": "", "ids": ids[:2]},
                      page="/manage/events/forum/registrations")
    assert response.status_code == 302
    assert count(status="confirmed") == 1 and count(status="waitlisted") == 1
    submit(organiser_client, "/manage/events/forum/registrations/decide",
           {"action": "decline", "reason": "Too many from one park", "ids": ids[2:]},
           page="/manage/events/forum/registrations")
    assert count(status="declined") == 2
    search = organiser_client.get("/manage/events/forum/registrations?q=person+4")
    assert "p4@example.org" in search.get_data(as_text=True)


def test_ids_from_another_event_are_ignored(organiser_client, app, make_event):
    other = make_event("other-event")
    submit(app.test_client(), "/events/other-event/register", form(1))
    victim = db.session.scalar(select(Registration.id))
    submit(organiser_client, "/manage/events/forum/registrations/decide",
           {"action": "cancel", "reason": "", "ids": [str(victim)]},
           page="/manage/events/forum/registrations")
    assert db.session.get(Registration, victim).status == "confirmed"
    assert other
    assert organiser_client.get(
        f"/manage/events/forum/registrations/{victim}").status_code == 404


def test_exports_are_inert_in_spreadsheets(organiser_client, app):
    submit(app.test_client(), "/events/forum/register",
           form(1, name='=HYPERLINK("http://evil.example","click")', organisation_name="+1-2",
                name_native="王明阳"))
    csv_response = organiser_client.get("/manage/events/forum/registrations.csv")
    assert csv_response.status_code == 200
    text = csv_response.data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1][3] == "'=HYPERLINK(\"http://evil.example\",\"click\")"
    assert rows[1][6] == "'+1-2" and rows[1][4] == "王明阳"
    xlsx = organiser_client.get("/manage/events/forum/registrations.xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    cell = sheet.cell(row=2, column=4)
    assert cell.value == '=HYPERLINK("http://evil.example","click")'
    assert cell.data_type == "s"  # text: shown, never evaluated


def test_settings_capacity_and_promotion(organiser_client, app, forum):
    submit(app.test_client(), "/events/forum/register", form(1))
    submit(app.test_client(), "/events/forum/register", form(2))
    assert count(status="waitlisted") == 1
    response = submit(organiser_client, "/manage/events/forum/registration-settings", {
        "opens_at": "", "closes_at": "", "approval": "open", "waitlist_enabled": "y",
        # Two places, typed on an Arabic keyboard.
        "capacity_in_person": "\u0662", "capacity_online": "",
        "online_url": "https://live.example/x",
    })
    assert response.status_code == 302
    assert count(status="confirmed") == 2
    db.session.refresh(forum)
    assert forum.online_url == "https://live.example/x"
    bad = submit(organiser_client, "/manage/events/forum/registration-settings", {
        "opens_at": "2030-01-02T10:00", "closes_at": "2030-01-01T10:00", "approval": "open",
        "capacity_in_person": "-3", "online_url": "javascript:alert(1)"})
    assert bad.status_code == 400


def test_questions_appear_on_the_form_and_in_answers(organiser_client, app, forum):
    response = submit(organiser_client, "/manage/events/forum/questions", {
        "label": "Dietary needs", "kind": "single_choice", "help_text": "",
        "required": "y", "choices": "Halal\nVegetarian\nNone"})
    assert response.status_code == 302
    public = app.test_client()
    html = public.get("/events/forum/register").get_data(as_text=True)
    assert "Dietary needs" in html and "Vegetarian" in html
    qid = re.search(r'name="q_(\d+)"', html).group(1)
    missing = submit(public, "/events/forum/register", form(1))
    assert missing.status_code == 400
    ok = submit(public, "/events/forum/register", form(1, **{f"q_{qid}": "Halal"}))
    assert ok.status_code == 302
    assert db.session.scalar(select(Registration.answers)) == {qid: "Halal"}
    detail = organiser_client.get(
        f"/manage/events/forum/registrations/{db.session.scalar(select(Registration.id))}")
    assert "Halal" in detail.get_data(as_text=True)


def test_invitations_page_sends_a_working_link(organiser_client, app, forum):
    forum.invitation_only = True
    db.session.commit()
    response = submit(organiser_client, "/manage/events/forum/invitations",
                      {"email": "guest@example.org", "name": "Guest", "skip_approval": "y"})
    assert response.status_code == 302
    body = last_text("guest@example.org")
    token = re.search(r"http://eventsys\.test/invitations/(\S+)", body).group(1)
    guest = app.test_client()
    accepted = submit(guest, f"/invitations/{token}", {"answer": "accept"})
    assert accepted.status_code == 302
    url = accepted.location
    assert url.endswith(f"/events/forum/register?invitation={token}")
    page = guest.get(url)
    assert page.status_code == 200
    response = submit(guest, url, form(1, email="guest@example.org", invitation=token))
    assert response.status_code == 302
    assert db.session.scalar(select(Registration.email)) == "guest@example.org"


def test_registration_list_query_count_is_constant(organiser_client, app, forum):
    from sqlalchemy import event as sa_event

    counter = {"n": 0}

    def before(*args, **kwargs):
        counter["n"] += 1

    def queries() -> int:
        db.session.remove()
        counter["n"] = 0
        assert organiser_client.get("/manage/events/forum/registrations").status_code == 200
        return counter["n"]

    for n in range(3):
        reg.register(forum, reg.RegistrationInput(email=f"a{n}@x.org", name="A", mode="online"))
    sa_event.listen(db.engine, "before_cursor_execute", before)
    try:
        few = queries()
        from eventsys.models import Event

        forum = db.session.scalar(select(Event).where(Event.slug == "forum"))
        for n in range(30):
            reg.register(forum, reg.RegistrationInput(email=f"b{n}@x.org", name="B",
                                                      mode="online"))
        assert queries() == few
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", before)


def test_an_organiser_corrects_a_participant_s_details(organiser_client, app, forum):
    """A misspelt name is corrected before the certificate is re-issued: saved cleaned,
    recorded with the old value; bad values are refused whole with a 400."""
    submit(app.test_client(), "/events/forum/register", form(1, name="Mihaly  Kovacs"))
    person = db.session.scalar(select(Registration))
    url = f"/manage/events/forum/registrations/{person.id}"
    page = organiser_client.get(url).get_data(as_text=True)
    assert "Correct the details" in page and 'value="Mihaly  Kovacs"' not in page
    good = {"name": " Kovács  Mihály ", "name_native": "", "organisation_name": "ELTE",
            "job_title": "", "country": "HU"}
    response = submit(organiser_client, url + "/details", good, page=url)
    assert response.status_code == 302
    db.session.refresh(person)
    assert (person.name, person.organisation_name, person.country, person.job_title) == (
        "Kovács Mihály", "ELTE", "HU", None)
    page = organiser_client.get(url).get_data(as_text=True)
    assert "Corrected: name, organisation, job title, country." in page
    assert "registration.corrected" in page and "Mihaly Kovacs" in page  # the old value
    for bad in ({"name": ""}, {"name": "x" * 201}, {"name": "Kovács\x00"},
                {"country": "XX"}, {"organisation_name": "o" * 201}):
        response = submit(organiser_client, url + "/details", {**good, **bad}, page=url)
        assert response.status_code == 400, bad
    db.session.refresh(person)
    assert person.name == "Kovács Mihály" and person.country == "HU"
    assert submit(organiser_client, url + "/details", good, page=url).status_code == 302
    assert "Nothing was changed." in organiser_client.get(url).get_data(as_text=True)


def test_after_the_event_the_page_leads_with_certificates_and_cannot_cancel(client, forum):
    """The event is over: no ticket, calendar or cancel button, and a cancel posted anyway
    is refused with a message (what they attended and earned stands)."""
    from datetime import timedelta

    from eventsys.services.registration import RegistrationInput

    outcome = reg.register(forum, RegistrationInput("ana@example.org", "Ana", "in_person"))
    url = f"/r/{outcome.token}"
    assert "Cancel my registration" in client.get(url).get_data(as_text=True)
    forum.start_date -= timedelta(days=60)
    forum.end_date = forum.start_date
    db.session.commit()
    page = client.get(url).get_data(as_text=True)
    assert "Cancel my registration" not in page and "Your ticket" not in page
    response = submit(client, url + "/cancel", {}, page=url + "/cancel")
    assert response.status_code == 409
    assert "The event is over, so there is nothing to cancel." in response.get_data(
        as_text=True)
    assert db.session.get(Registration, outcome.registration_id).status == "confirmed"
