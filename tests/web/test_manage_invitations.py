"""The organiser's invitation pages: inviting one person, a list checked into a preview and
imported once confirmed, the states of the invitations, reminders, the progress page, bad
files, and who may open what."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select, update

from eventsys.extensions import db
from eventsys.models import Invitation, Job, OutboxMessage
from eventsys.services import accounts, invitations, jobs
from eventsys.services.invitations import InviteeData
from eventsys.web import manage_invitations
from tests.conftest import csrf_from, delivered, last_text, login, submit, text_of

PAGE = "/manage/events/forum/invitations"
SCRIPT = '<script>alert("x")</script>'

GUESTS = (
    "Name,Email,Organisation,Country,Role,Notes\n"
    "Ayesha Siddiqui,ayesha@nstp.example.org,NSTP,Pakistan,guest,vegetarian\n"
    "Kanchana Wanichkorn,kanchana@thai.example.org,Thailand Science Park,TH,speaker,\n"
    "Broken Address,not-an-email,Somewhere,CN,guest,\n"
    "Formula Person,formula@example.org,=HYPERLINK(\"http://evil\"),CN,guest,\n"
    "Eduardo Correia,eduardo@porto.example.org,Porto Park,Portugal,,\n"
)


@pytest.fixture
def forum(make_event):
    return make_event("forum", days=1)


@pytest.fixture
def organiser(client, forum, make_user):
    make_user("org@example.org", name="Li Na")
    accounts.grant_event_role(forum, "org@example.org", "manager", actor=None)
    login(client, "org@example.org")
    return client


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def page_of(response) -> str:
    return response.get_data(as_text=True)


def upload(client, data: bytes, filename: str = "guests.csv"):
    html = page_of(client.get(PAGE))
    return client.post(f"{PAGE}/imports", data={
        "csrf_token": csrf_from(html), "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data")


def preview_url(response) -> str:
    assert response.status_code == 302, page_of(response)[-3000:]
    assert re.search(r"/invitations/imports/\d+$", response.location), response.location
    return response.location


def confirm(client, url: str, skip_approval: bool = True, page: str | None = None):
    """Confirm an import from its preview page (or ``page``, once the preview is gone)."""
    data = {"skip_approval": "y"} if skip_approval else {}
    return submit(client, f"{url}/confirm", data, page=page or url)


def answer_token(email: str) -> str:
    text = last_text(email)
    return re.search(r"http://eventsys\.test/invitations/(\S+)", text).group(1)


# One person ------------------------------------------------------------------------------

def test_an_organiser_invites_one_person_with_all_details(organiser, forum):
    response = submit(organiser, PAGE, {
        "email": "Ayesha@NSTP.example.org", "name": "Ayesha Siddiqui", "organisation": "NSTP",
        "country": "PK", "role": "speaker", "language": "en", "skip_approval": "y"})
    assert response.status_code == 302
    invitation = db.session.scalar(select(Invitation))
    assert (invitation.email, invitation.name, invitation.organisation_name, invitation.country,
            invitation.role, invitation.locale, invitation.skip_approval) == (
        "ayesha@nstp.example.org", "Ayesha Siddiqui", "NSTP", "PK", "speaker", "en", True)
    assert len(delivered("ayesha@nstp.example.org")) == 1
    page = page_of(organiser.get(PAGE))
    assert "The invitation to Ayesha@NSTP.example.org is on its way." in page
    assert "Ayesha Siddiqui" in page and "Speaker" in page and "Pakistan" in page
    assert "Delivered, no answer" in page

    again = submit(organiser, PAGE, {"email": "ayesha@nstp.example.org", "role": "guest"})
    assert again.status_code == 409
    assert "is invited already" in page_of(again)
    assert len(delivered("ayesha@nstp.example.org")) == 1


def test_bad_input_for_one_person_is_a_400_with_the_reason(organiser, forum):
    for data, message in (
        ({"email": "nobody"}, "Invalid email address."),
        ({"email": "a@example.org", "role": "emperor"}, "Not a valid choice"),
        ({"email": "a@example.org", "country": "XX"}, "Not a valid choice"),
        ({"email": "a@example.org", "language": "tlh"}, "Not a valid choice"),
        ({"email": "a@example.org", "name": "N" * 201}, "200 characters"),
    ):
        response = submit(organiser, PAGE, data)
        assert response.status_code == 400, data
        assert message in page_of(response), data
    assert count(Invitation) == 0 and delivered() == []


def test_a_header_in_a_name_never_becomes_a_header(organiser, forum):
    response = submit(organiser, PAGE, {
        "email": "eve@example.org", "name": "Eve\r\nBcc: victim@example.org", "role": "guest",
        "skip_approval": "y"})
    assert response.status_code == 302
    (message,) = delivered()
    assert message["Bcc"] is None and message["Cc"] is None
    assert [a.addr_spec for a in message["To"].addresses] == ["eve@example.org"]
    assert db.session.scalar(select(Invitation.name)) == "Eve Bcc: victim@example.org"

    # In a list, a line break inside a quoted cell becomes a space; other control
    # characters are a reason to leave the row out.
    data = (b'Name,Email\n"Mallory\r\nBcc: victim@example.org",mallory@example.org\n'
            b'Bell\x07,bell@example.org\n')
    url = preview_url(upload(organiser, data))
    page = page_of(organiser.get(url))
    assert "Mallory Bcc: victim@example.org" in page
    assert "Bell" in page and "contains characters that are not allowed" in page
    assert confirm(organiser, url).status_code == 302
    recipients = [(a.addr_spec, m["Bcc"], m["Cc"]) for m in delivered()
                  for a in m["To"].addresses]
    assert recipients == [("eve@example.org", None, None),
                          ("mallory@example.org", None, None)]
    assert count(Invitation) == 2


def test_names_and_organisations_are_escaped(organiser, forum):
    invitations.invite(forum, InviteeData(email="x@example.org", name=SCRIPT,
                                          organisation=SCRIPT), actor=None)
    page = page_of(organiser.get(PAGE))
    assert SCRIPT not in page and "&lt;script&gt;" in page

    url = preview_url(upload(organiser, f"Name,Email,Organisation\n{SCRIPT},y@example.org,"
                                        f"{SCRIPT}\n".encode()))
    assert SCRIPT not in page_of(organiser.get(url))


# A list ----------------------------------------------------------------------------------

def test_the_preview_shows_the_bad_rows_and_imports_nothing(organiser, forum):
    url = preview_url(upload(organiser, GUESTS.encode()))
    page = page_of(organiser.get(url))
    assert "guests.csv" in page
    assert re.search(r'class="big">3<', page)  # will be invited
    # Each bad row with its line, its cells and its reasons.
    assert re.search(r'data-label="Line">4</td>', page)
    assert "not-an-email" in page and "Broken Address" in page
    assert re.search(r'data-label="Line">5</td>', page) and "a spreadsheet formula" in page
    # The columns recognised and those left aside.
    assert "“Organisation”" in page and "Notes" in page
    assert "Import 3 invitations" in page
    assert "Ayesha Siddiqui" in page and "Eduardo Correia" in page
    assert count(Invitation) == 0 and delivered() == []
    assert db.session.scalar(select(Job.status)) == "preview"


def test_confirming_imports_the_list_and_mails_each_invitee_once(organiser, forum):
    url = preview_url(upload(organiser, GUESTS.encode()))
    response = confirm(organiser, url, skip_approval=False)
    assert response.status_code == 302
    job_url = response.location
    assert re.search(r"/manage/events/forum/jobs/\d+$", job_url)
    assert count(Invitation) == 3
    assert not db.session.scalar(select(Invitation.skip_approval).limit(1))
    for email in ("ayesha@nstp.example.org", "kanchana@thai.example.org",
                  "eduardo@porto.example.org"):
        (message,) = delivered(email)
        assert "/invitations/" in text_of(message)
    assert len(delivered()) == 3

    progress = organiser.get(f"{job_url}.json").get_json()
    assert progress["finished"] and progress["sent"] == 3 and progress["left"] == 0
    page = page_of(organiser.get(job_url))
    assert "Importing invitations" in page and 'value="100"' in page and "Finished" in page

    # A second confirmation (a double click, the Back button) does nothing more.
    again = confirm(organiser, url, page=PAGE)
    assert again.status_code == 302 and again.location == job_url
    assert count(Invitation) == 3 and len(delivered()) == 3
    # The preview of a confirmed list is its progress.
    assert organiser.get(url).location == job_url


def test_importing_the_same_list_again_adds_nobody(organiser, forum):
    confirm(organiser, preview_url(upload(organiser, GUESTS.encode())))
    assert count(Invitation) == 3
    url = preview_url(upload(organiser, GUESTS.encode()))
    page = page_of(organiser.get(url))
    assert re.search(r'class="big">0<', page) and re.search(r'class="big">3<', page)
    assert "Nobody new to invite" in page and "Import 0" not in page
    assert confirm(organiser, url).status_code == 302
    assert count(Invitation) == 3 and len(delivered()) == 3


def test_a_discarded_list_invites_nobody(organiser, forum):
    url = preview_url(upload(organiser, GUESTS.encode()))
    response = submit(organiser, f"{url}/discard", {}, page=url)
    assert response.status_code == 302
    assert "nobody was invited" in page_of(organiser.get(PAGE))
    assert confirm(organiser, url, page=PAGE).status_code == 302
    assert count(Invitation) == 0 and delivered() == []
    assert "discarded" in page_of(organiser.get(organiser.get(url).location))


def test_files_that_are_not_lists_are_a_clear_4xx(organiser, forum):
    big = b"Name,Email\n" + b"x" * (20 * 1024 * 1024)
    response = upload(organiser, big, "huge.csv")
    assert response.status_code == 413
    assert "The file is too big (20.0 MB); the limit is 5 MB" in page_of(response)

    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
    response = upload(organiser, png, "guests.csv")
    assert response.status_code == 400
    assert "This file is a PNG file, not a list" in page_of(response)

    for data, filename, message in (
        (b"", "empty.csv", "The file is empty"),
        (b"   \n", "blank.csv", "The file is empty"),
        (b"PK\x03\x04garbage", "list.xlsx", "could not be read"),
        (b"Who,Where\nA,B\n", "list.csv", "No column of email addresses"),
    ):
        response = upload(organiser, data, filename)
        assert response.status_code == 400, filename
        assert message in page_of(response), (filename, page_of(response)[-2000:])
    # No file chosen at all: the browser sends the form without a file part.
    response = submit(organiser, f"{PAGE}/imports", {}, page=PAGE)
    assert response.status_code == 400 and "Choose a file." in page_of(response)
    assert count(Invitation) == 0 and count(Job) == 0


def test_an_import_of_another_kind_of_job_is_not_found(organiser, forum):
    invitations.invite(forum, InviteeData(email="x@example.org"), actor=None)
    job = invitations.remind(forum, None, actor=None)
    assert organiser.get(f"{PAGE}/imports/{job.id}").status_code == 404
    url = f"{PAGE}/imports/{job.id}"
    page = f"{PAGE}"
    assert submit(organiser, f"{url}/confirm", {}, page=page).status_code == 404
    assert organiser.get(f"{PAGE}/imports/99999").status_code == 404


# The list of invitations ------------------------------------------------------------------

def test_states_counts_filters_and_the_smtp_error(organiser, forum):
    for name in ("Accepting Person", "Declining Person", "Silent Person", "Bouncing Person"):
        email = name.split()[0].lower() + "@example.org"
        invitations.invite(forum, InviteeData(email=email, name=name), actor=None)
    invitations.answer(answer_token("accepting@example.org"), accept=True)
    invitations.answer(answer_token("declining@example.org"), accept=False)
    bounced = db.session.scalar(select(Invitation.message_id).where(
        Invitation.email == "bouncing@example.org"))
    db.session.execute(update(OutboxMessage).where(OutboxMessage.id == bounced).values(
        status="failed", last_error="550 5.1.1 <bouncing@example.org>: mailbox unavailable"))
    db.session.commit()

    page = page_of(organiser.get(PAGE))
    for label in ("Accepted", "Declined", "Delivered, no answer", "Failed"):
        assert label in page
    assert "550 5.1.1 &lt;bouncing@example.org&gt;: mailbox unavailable" in page
    assert re.search(r'All <span class="tally">4<', page)
    assert "Remind everyone without an answer (2)" in page

    only_failed = page_of(organiser.get(f"{PAGE}?state=failed"))
    assert "Bouncing Person" in only_failed and "Silent Person" not in only_failed
    found = page_of(organiser.get(f"{PAGE}?q=silent"))
    assert "Silent Person" in found and "Bouncing Person" not in found
    for odd in ("state=%00", "state=nonsense", "q=" + "x" * 5000, "q=%25%5F", "q=%00"):
        assert organiser.get(f"{PAGE}?{odd}").status_code == 200, odd


def test_the_table_says_when_it_shows_only_the_newest(organiser, forum, monkeypatch):
    monkeypatch.setattr(manage_invitations, "SHOWN", 2)
    for n in range(3):
        invitations.invite(forum, InviteeData(email=f"p{n}@example.org", name=f"Person {n}"),
                           actor=None)
    page = page_of(organiser.get(PAGE))
    assert "Only the newest 2 are listed" in page
    assert "Person 2" in page and "Person 0" not in page


# Reminders --------------------------------------------------------------------------------

def test_reminders_go_only_to_those_without_an_answer(organiser, forum):
    ids = {}
    for who in ("yes", "no", "silent", "quiet"):
        ids[who] = invitations.invite(forum, InviteeData(email=f"{who}@example.org",
                                                         name=who.title()), actor=None).id
    invitations.answer(answer_token("yes@example.org"), accept=True)
    invitations.answer(answer_token("no@example.org"), accept=False)

    # The chosen: the accepted one is left out.
    response = submit(organiser, f"{PAGE}/remind",
                      {"who": "chosen", "ids": [str(ids["yes"]), str(ids["silent"])]}, page=PAGE)
    assert response.status_code == 302 and "/jobs/" in response.location
    assert organiser.get(f"{response.location}.json").get_json()["finished"]
    assert len(delivered("silent@example.org")) == 2
    assert len(delivered("quiet@example.org")) == 1
    assert len(delivered("yes@example.org")) == 1 and len(delivered("no@example.org")) == 1

    # Everyone without an answer.
    response = submit(organiser, f"{PAGE}/remind", {"who": "everyone"}, page=PAGE)
    assert response.status_code == 302
    progress = organiser.get(f"{response.location}.json").get_json()
    assert progress["sent"] == 2 and progress["finished"]
    assert len(delivered("silent@example.org")) == 3
    assert len(delivered("quiet@example.org")) == 2
    assert len(delivered("yes@example.org")) == 1 and len(delivered("no@example.org")) == 1
    assert "Sending reminders" in page_of(organiser.get(response.location))
    # The reminder's link works too.
    assert organiser.get(f"/invitations/{answer_token('quiet@example.org')}").status_code == 200
    page = page_of(organiser.get(f"{PAGE}?q=silent"))
    assert re.search(r'data-label="Reminders">2 <small>', page)


def test_reminding_nobody_says_so(organiser, forum):
    response = submit(organiser, f"{PAGE}/remind", {"who": "chosen"}, page=PAGE)
    assert response.status_code == 302
    assert "Tick the invitations to remind first." in page_of(organiser.get(PAGE))
    invitation = invitations.invite(forum, InviteeData(email="yes@example.org"), actor=None)
    invitations.answer(answer_token("yes@example.org"), accept=True)
    for data in ({"who": "everyone"}, {"who": "chosen", "ids": [str(invitation.id)]},
                 {"who": "chosen", "ids": ["abc", "99999999999", "²"]}):
        response = submit(organiser, f"{PAGE}/remind", data, page=PAGE)
        assert response.status_code == 302
        page = page_of(organiser.get(PAGE))
        assert "Nobody to remind" in page or "Tick the invitations" in page
    assert count(Job) == 0


# Who may open what -----------------------------------------------------------------------

def _pages(forum) -> tuple[list[str], list[str]]:
    invitations.invite(forum, InviteeData(email="x@example.org"), actor=None)
    job = invitations.start_import(forum, "a.csv", b"Email\ny@example.org\n", actor=None)
    base = "/manage/events/forum"
    gets = [PAGE, f"{PAGE}/imports/{job.id}", f"{base}/jobs/{job.id}",
            f"{base}/jobs/{job.id}.json", f"{base}/mailings", f"{base}/mailings/new",
            f"{base}/mailings/count.json?kind=registrants"]
    posts = [PAGE, f"{PAGE}/imports", f"{PAGE}/imports/{job.id}/confirm",
             f"{PAGE}/imports/{job.id}/discard", f"{PAGE}/remind",
             f"{base}/jobs/{job.id}/cancel", f"{base}/mailings/new"]
    return gets, posts


@pytest.mark.parametrize("who", ["checkin-staff", "other-events-manager", "member",
                                 "anonymous"])
def test_only_the_events_managers_open_these_pages(app, forum, make_event, make_user, who):
    gets, posts = _pages(forum)
    other = make_event("other-forum")
    make_user("staff@example.org")
    accounts.grant_event_role(forum, "staff@example.org", "checkin", actor=None)
    make_user("elsewhere@example.org")
    accounts.grant_event_role(other, "elsewhere@example.org", "manager", actor=None)
    make_user("member@example.org")
    client = app.test_client()
    email = {"checkin-staff": "staff@example.org", "member": "member@example.org",
             "other-events-manager": "elsewhere@example.org"}.get(who)
    if email:
        login(client, email)
    token = csrf_from(page_of(client.get("/login"))) if email is None else \
        csrf_from(page_of(client.get("/account")))
    for url in gets:
        response = client.get(url)
        if email:
            assert response.status_code == 403, url
        else:
            assert response.status_code == 302 and "/login" in response.location, url
    for url in posts:
        response = client.post(url, data={"csrf_token": token, "email": "z@example.org",
                                          "who": "everyone", "action": "confirm"})
        assert response.status_code in ((403,) if email else (302,)), url
    assert count(Invitation) == 1 and db.session.scalar(select(Job.status)) == "preview"


def test_another_events_jobs_and_imports_are_not_found(organiser, forum, make_event):
    other = make_event("other-forum")
    job = invitations.start_import(other, "a.csv", b"Email\ny@example.org\n", actor=None)
    base = "/manage/events/forum"
    for url in (f"{PAGE}/imports/{job.id}", f"{base}/jobs/{job.id}",
                f"{base}/jobs/{job.id}.json"):
        assert organiser.get(url).status_code == 404, url
    assert submit(organiser, f"{PAGE}/imports/{job.id}/confirm", {},
                  page=PAGE).status_code == 404
    assert jobs.job_of(other, job.id).status == "preview"


def test_the_post_forms_need_their_csrf_token(organiser, forum):
    url = preview_url(upload(organiser, GUESTS.encode()))
    for target in (PAGE, f"{PAGE}/remind", f"{url}/confirm", f"{url}/discard"):
        response = organiser.post(target, data={"email": "z@example.org", "who": "everyone",
                                                "skip_approval": "y"})
        assert response.status_code == 400, target
    response = organiser.post(f"{PAGE}/imports", data={
        "file": (io.BytesIO(GUESTS.encode()), "guests.csv")}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert count(Invitation) == 0 and count(Job) == 1
