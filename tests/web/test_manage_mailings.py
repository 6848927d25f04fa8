"""The organiser's mailings: choosing the audience with a live count, placeholders checked
before anything goes, a preview per recipient, a test to oneself, sending after a
confirmation that states the number, the progress page and cancelling."""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import func, select

from eventsys import i18n
from eventsys.extensions import db
from eventsys.models import Job, Mailing, OutboxMessage
from eventsys.services import accounts, jobs
from eventsys.services import registration as reg
from eventsys.services.invitations import InviteeData
from tests.conftest import delivered, login, submit, text_of

BASE = "/manage/events/forum"
NEW = f"{BASE}/mailings/new"
SCRIPT = '<script>alert("x")</script>'


@pytest.fixture
def forum(make_event):
    event = make_event("forum", days=1)
    people = [("ayesha@example.org", "Ayesha Siddiqui", "online"),
              ("kanchana@example.org", "Kanchana Wanichkorn", "online"),
              ("eduardo@example.org", "Eduardo Correia", "in_person")]
    for email, name, mode in people:
        reg.register(event, reg.RegistrationInput(email=email, name=name, mode=mode,
                                                  organisation_name="Park " + name[:3]))
    return event


@pytest.fixture
def organiser(client, forum, make_user):
    make_user("org@example.org", name="Li Na")
    accounts.grant_event_role(forum, "org@example.org", "manager", actor=None)
    login(client, "org@example.org")
    return client


def draft(action: str = "preview", **changes) -> dict:
    data = {"kind": "registrants", "statuses": ["confirmed"], "modes": [],
            "subject": "News for {name}",
            "body": "Dear {name} of {organisation},\n\nSee you at {event} ({dates}, {place}).\n"
                    "Your page: {personal_link}",
            "action": action}
    data.update(changes)
    return data


def page_of(response) -> str:
    return response.get_data(as_text=True)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def news() -> list:
    return [m for m in delivered() if m["Subject"].startswith(("News", "[TEST]", "Nachricht"))]


# Writing ---------------------------------------------------------------------------------

def test_the_form_shows_the_audience_count_and_the_placeholders(organiser, forum):
    page = page_of(organiser.get(NEW))
    assert "3 recipients" in page and "Send to 3 people…" in page
    for placeholder in ("{name}", "{organisation}", "{event}", "{dates}", "{place}",
                        "{personal_link}", "{joining_link}"):
        assert placeholder in page
    assert "the recipient&#39;s name" in page or "the recipient's name" in page
    assert "Versions in other languages" not in page  # only English exists
    assert "js/mailing.js" in page
    assert page_of(organiser.get(f"{BASE}/mailings")).count("No messages sent yet.") == 1


def test_the_live_count_follows_the_audience(organiser, forum):
    def counted(query: str) -> int:
        response = organiser.get(f"{BASE}/mailings/count.json?{query}")
        assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
        return response.get_json()["count"]

    assert counted("kind=registrants") == 3
    assert counted("kind=registrants&modes=online") == 2
    assert counted("kind=registrants&statuses=cancelled") == 0
    assert organiser.get(f"{BASE}/mailings/count.json?kind=registrants&modes=online"
                         ).get_json()["send"] == "Send to 2 people…"
    assert counted("kind=speakers") == 0
    assert counted("kind=invitees") == 0
    from eventsys.services import invitations

    invitations.invite(forum, InviteeData(email="guest@example.org", role="guest"), actor=None)
    assert counted("kind=invitees&answers=open&roles=guest") == 1
    assert counted("kind=invitees&roles=speaker") == 0
    for odd in ("", "kind=%00", "kind=nobody", "kind=registrants&statuses=%00",
                "kind=registrants&" + "&".join(["modes=x"] * 500), "kind=" + "r" * 5000):
        assert counted(odd) == 0 or odd.startswith("kind=registrants&" + "modes"), odd


def test_placeholder_mistakes_are_shown_beside_the_form_and_nothing_is_sent(organiser, forum):
    cases = [
        (draft(body="Dear {nmae},"), "{nmae} is not a placeholder"),
        (draft(body="Dear {name.__class__}"), "is not a placeholder"),
        (draft(body="Dear {name!r}"), "is not a placeholder"),
        (draft(body="Dear {name"), "A brace is not closed"),
        (draft(body="Join: {joining_link}"), "cannot be filled in for this audience"),
        (draft(kind="speakers", body="{personal_link}"), "cannot be filled in"),
        (draft(subject=""), "Write a subject and a message"),
        (draft(subject="x" * 201), "too long"),
        (draft(kind="everyone"), "not a valid choice"),
        (draft(statuses=["vip"]), "not a valid choice"),
    ]
    for data, message in cases:
        for action in ("preview", "test", "send", "confirm"):
            response = submit(organiser, NEW, dict(data, action=action, expected="3"))
            assert response.status_code == 400, (data, action)
            assert message.lower() in unescape(page_of(response)).lower(), (data, action)
    assert count(Mailing) == 0 and count(Job) == 0 and news() == []


def test_the_joining_link_is_allowed_for_confirmed_online_participants(organiser, forum):
    forum.online_url = "https://live.example.org/forum"
    db.session.commit()
    response = submit(organiser, NEW, draft(modes=["online"], body="Join: {joining_link}"))
    assert response.status_code == 200
    assert "Join: http://eventsys.test/join/" in page_of(response)


def test_a_header_in_the_subject_is_refused(organiser, forum):
    for subject in ("Hello\r\nBcc: victim@example.org", "Hello\nBcc: victim@example.org",
                    "Hello\x0bthere"):
        for action in ("test", "confirm", "send"):
            response = submit(organiser, NEW, draft(action, subject=subject, expected="3"))
            assert response.status_code == 400
            page = page_of(response)
            assert "must be one line" in page or "not allowed" in page
    assert count(Mailing) == 0 and news() == []


# Preview and test ------------------------------------------------------------------------

def test_the_preview_shows_each_recipients_copy(organiser, forum):
    response = submit(organiser, NEW, draft())
    assert response.status_code == 200
    page = page_of(response)
    assert "As recipient 1 of 3 gets it:" in page
    assert "News for Ayesha Siddiqui" in page and "Dear Ayesha Siddiqui of Park Aye" in page
    # The HTML part in a sandboxed frame, as text of its attribute: nothing of it runs here.
    srcdoc = re.search(r'<iframe class="mail-html" sandbox srcdoc="([^"]*)"', page).group(1)
    assert srcdoc.startswith("&lt;!doctype html&gt;") and "<" not in srcdoc
    assert "Dear Ayesha Siddiqui of Park Aye" in unescape(srcdoc)
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self' 'unsafe-inline'" in csp
    assert 'name="index" type="hidden" value="0"' in page

    following = submit(organiser, NEW, draft("next", index="0"))
    assert "As recipient 2 of 3" in page_of(following)
    assert "News for Kanchana Wanichkorn" in page_of(following)
    last = submit(organiser, NEW, draft("next", index="2"))
    assert "As recipient 3 of 3" in page_of(last) and "Eduardo Correia" in page_of(last)
    back = submit(organiser, NEW, draft("previous", index="1"))
    assert "As recipient 1 of 3" in page_of(back)
    for odd in ("-1", "abc", "99999999999", "²"):
        assert submit(organiser, NEW, draft("next", index=odd)).status_code == 200
    # Only the editing pages allow inline styles (for the preview's frame).
    assert "'unsafe-inline'" not in organiser.get(NEW).headers["Content-Security-Policy"]
    assert news() == [] and count(Mailing) == 0


def test_the_preview_of_an_empty_audience_uses_a_sample(organiser, forum):
    response = submit(organiser, NEW, draft(statuses=["cancelled"]))
    assert response.status_code == 200
    assert "Nobody is in this audience yet" in page_of(response)
    assert "0 recipients" in page_of(response)


def test_texts_are_escaped_everywhere(organiser, forum):
    data = draft(subject=f"News {SCRIPT}", body=f"Body {SCRIPT}")
    for action in ("preview", "send"):
        page = page_of(submit(organiser, NEW, dict(data, action=action)))
        assert SCRIPT not in page, action
    response = submit(organiser, NEW, dict(data, action="confirm", expected="3"))
    assert response.status_code == 302
    assert SCRIPT not in page_of(organiser.get(f"{BASE}/mailings"))
    assert "News &lt;script&gt;" in page_of(organiser.get(f"{BASE}/mailings"))


def test_a_test_send_reaches_the_organiser_only(organiser, forum):
    response = submit(organiser, NEW, draft("test"))
    assert response.status_code == 200
    assert "A test message is on its way to org@example.org." in page_of(response)
    (message,) = news()
    assert [a.addr_spec for a in message["To"].addresses] == ["org@example.org"]
    assert message["Subject"] == "[TEST] News for Ayesha Siddiqui"
    assert count(Mailing) == 0 and count(Job) == 0
    # The draft is still in the form.
    assert 'value="News for {name}"' in page_of(response)


# Sending ---------------------------------------------------------------------------------

def test_sending_asks_to_confirm_the_number_then_goes(organiser, forum):
    response = submit(organiser, NEW, draft("send", modes=["online"]))
    assert response.status_code == 200
    page = page_of(response)
    assert "2 people will get it." in page and "Send to 2 people" in page
    assert count(Mailing) == 0 and news() == []

    # The confirmation's form carries the draft and the number.
    hidden = dict(re.findall(r'<input type="hidden" name="([\w-]+)" value="([^"]*)"', page))
    assert hidden["expected"] == "2" and hidden["subject"] == "News for {name}"
    body = re.search(r'name="body" value="([^"]*)"', page).group(1)
    assert unescape(body) == draft()["body"]

    response = submit(organiser, NEW, draft("confirm", modes=["online"], expected="2"))
    assert response.status_code == 302
    assert re.search(r"/manage/events/forum/jobs/\d+$", response.location)
    progress = organiser.get(f"{response.location}.json").get_json()
    assert progress["finished"] and progress["sent"] == 2 and progress["left"] == 0
    assert progress["status"] == "done" and progress["percent"] == 100
    sent = news()
    assert sorted(m["Subject"] for m in sent) == ["News for Ayesha Siddiqui",
                                                  "News for Kanchana Wanichkorn"]
    text = text_of(next(m for m in sent if "Ayesha" in m["Subject"]))
    assert "Dear Ayesha Siddiqui of Park Aye" in text and "http://eventsys.test/r/" in text

    listing = page_of(organiser.get(f"{BASE}/mailings"))
    assert "News for {name}" in listing and "Registrants: Confirmed; Online" in listing
    assert "2 sent · 0 failed · 0 left" in listing
    job_page = page_of(organiser.get(response.location))
    assert "Sending a message" in job_page and "js/progress.js" in job_page
    assert 'data-field="sent">2<' in job_page and "Cancel" not in job_page


def test_a_changed_audience_is_confirmed_again(organiser, forum):
    reg.register(forum, reg.RegistrationInput(email="late@example.org", name="Late Comer",
                                              mode="online"))
    response = submit(organiser, NEW, draft("confirm", modes=["online"], expected="2"))
    assert response.status_code == 409
    assert "it is now 3 people" in page_of(response) and "Send to 3 people" in page_of(response)
    assert count(Mailing) == 0 and news() == []


def test_nobody_in_the_audience_is_a_400(organiser, forum):
    for action in ("send", "confirm"):
        response = submit(organiser, NEW, draft(action, statuses=["cancelled"], expected="0"))
        assert response.status_code == 400
        assert "Nobody is in this audience." in page_of(response)
    assert count(Mailing) == 0


def test_back_from_the_confirmation_keeps_the_draft(organiser, forum):
    response = submit(organiser, NEW, draft("edit", subject="Kept {name}"))
    assert response.status_code == 200 and 'value="Kept {name}"' in page_of(response)


def test_a_running_job_can_be_cancelled(organiser, forum, monkeypatch):
    # No worker picks the job up: it stays queued, as behind a busy queue.
    monkeypatch.setattr(jobs, "announce", lambda *args: None)
    response = submit(organiser, NEW, draft("confirm", expected="3"))
    job_url = response.location
    progress = organiser.get(f"{job_url}.json").get_json()
    assert progress["status"] == "queued" and not progress["finished"]
    assert progress["left"] == 3 and progress["percent"] == 0
    page = page_of(organiser.get(job_url))
    assert "Cancel" in page and "data-confirm=" in page and "Reload" in page

    response = submit(organiser, f"{job_url}/cancel", {}, page=job_url)
    assert response.status_code == 302 and response.location == job_url
    page = page_of(organiser.get(job_url))
    assert "Stopped." in page and "Cancelled" in page
    progress = organiser.get(f"{job_url}.json").get_json()
    assert progress["status"] == "cancelled" and progress["finished"]
    job_id = int(job_url.rsplit("/", 1)[1])
    assert news() == [] and db.session.scalar(select(func.count()).where(
        OutboxMessage.job_id == job_id)) == 0

    again = submit(organiser, f"{job_url}/cancel", {}, page=job_url)
    assert again.status_code == 302
    assert "This is finished already." in page_of(organiser.get(job_url))
    jobs.sweep()  # a later sweep does not revive it
    assert news() == []


def test_the_progress_json_of_an_unknown_job_is_a_404(organiser, forum):
    assert organiser.get(f"{BASE}/jobs/12345.json").status_code == 404
    assert organiser.get(f"{BASE}/jobs/12345").status_code == 404
    assert organiser.get(f"{BASE}/jobs/0").status_code == 404
    assert organiser.get(f"{BASE}/jobs/abc.json").status_code == 404


# Languages -------------------------------------------------------------------------------

def test_versions_in_other_languages_appear_when_the_site_speaks_them(organiser, forum,
                                                                      monkeypatch):
    monkeypatch.setattr(i18n, "_locales_on_disk", lambda: ("en", "de"))
    reg.register(forum, reg.RegistrationInput(email="anna@example.org", name="Anna Müller",
                                              mode="online", locale="de"))
    page = page_of(organiser.get(NEW))
    assert "Versions in other languages" in page and 'name="version_de-subject"' in page

    german = draft("confirm", modes=["online"], expected="3",
                   **{"version_de-subject": "Nachricht für {name}",
                      "version_de-body": "Liebe {name}, bis bald."})
    preview = page_of(submit(organiser, NEW, dict(german, action="preview", index="2")))
    assert "Nachricht für Anna Müller" in preview
    response = submit(organiser, NEW, german)
    assert response.status_code == 302
    subjects = sorted(m["Subject"] for m in news())
    assert subjects == ["Nachricht für Anna Müller", "News for Ayesha Siddiqui",
                        "News for Kanchana Wanichkorn"]
    bad = draft(**{"version_de-subject": "Hallo {nmae}", "version_de-body": "x"})
    response = submit(organiser, NEW, bad)
    assert response.status_code == 400 and "{nmae} is not a placeholder (de)" in page_of(response)
