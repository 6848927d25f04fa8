"""Mailings (eventsys/services/mailings.py): the placeholder checks and filling (pure, no
database, with properties for any text), then audiences, preview, test sends and sending
to real recipients."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from eventsys.extensions import db
from eventsys.models import (
    Event,
    InvitationToken,
    Job,
    Mailing,
    OutboxMessage,
    Registration,
    RegistrationToken,
)
from eventsys.services import agenda, invitations, jobs, mailings
from eventsys.services import registration as reg
from eventsys.services.agenda import PersonData, SessionData
from eventsys.services.errors import ServiceError
from eventsys.services.invitations import InviteeData
from eventsys.services.mailings import MAX_BODY, MAX_SUBJECT, PLACEHOLDERS, Audience, Draft
from eventsys.services.registration import RegistrationInput
from tests.conftest import delivered, last_text, text_of

# Checking and filling: no database -------------------------------------------------------

EVENT = Event(title="Forum", online_url="https://live.example.org/forum")
EVERYTHING = Audience("registrants", statuses=["confirmed"], modes=["online"])
REGISTRANTS = Audience("registrants")
VALUES = {name: f"<{name.upper()}>" for name in PLACEHOLDERS}


def problems(body="Hello {name}", subject="News", audience=REGISTRANTS, event=EVENT,
             versions=None) -> list[str]:
    return mailings.check(event, Draft(audience, subject, body, versions or {}))


def test_a_good_draft_has_no_problems():
    assert problems("Dear {name} of {organisation},\n{event}, {dates}, {place}: "
                    "{personal_link}. Braces: {{ and }}.") == []
    assert problems("Join at {joining_link}", audience=EVERYTHING) == []
    assert problems("{name}", audience=Audience("speakers")) == []
    assert problems("{personal_link}", audience=Audience("invitees", answers=["open"],
                                                         roles=["speaker"])) == []
    assert problems(versions={"en": {"subject": "News", "body": "Hi {name}"}}) == []


@pytest.mark.parametrize(("draft", "expected"), [
    ({"body": "Dear {nmae}"}, "{nmae} is not a placeholder. Known ones: {name}, "),
    ({"subject": "For {Name}"}, "not a placeholder"),
    ({"body": "{joining_link}"}, "cannot be filled in for this audience"),
    ({"body": "{joining_link}", "audience": Audience("registrants", modes=["in_person"],
                                                     statuses=["confirmed"])}, "cannot be"),
    # No statuses chosen means the pending and the waiting too: not for them.
    ({"body": "{joining_link}", "audience": Audience("registrants", modes=["online"])},
     "for confirmed online participants"),
    ({"body": "{joining_link}", "audience": Audience(
        "registrants", modes=["online"], statuses=["confirmed", "waitlisted"])}, "cannot be"),
    ({"body": "{joining_link}", "audience": Audience("invitees")}, "cannot be"),
    ({"body": "{personal_link}", "audience": Audience("speakers")}, "cannot be"),
    ({"body": "{joining_link}", "audience": EVERYTHING, "event": Event(title="No link")},
     "no joining link yet"),
    ({"body": "{name.__class__}"}, "“{name.__class__}” is not a placeholder"),
    ({"body": "{name.__init__.__globals__[app]}"}, "is not a placeholder"),
    ({"body": "{name[0]}"}, "is not a placeholder"),
    ({"body": "{0}"}, "“{0}” is not a placeholder"),
    ({"body": "{}"}, "is not a placeholder"),
    ({"body": "{name!r}"}, "“{name!r}” is not a placeholder"),
    ({"body": "{name:>10}"}, "“{name:>10}” is not a placeholder"),
    ({"body": "{name:{event}}"}, "look like {name}"),
    ({"body": "{name:}"}, "“{name:}” is not a placeholder"),
    ({"body": "{name!}"}, "is not a placeholder"),
    ({"body": "Hello {name"}, "A brace is not closed"),
    ({"body": "Hello name}"}, "A brace is not closed"),
    ({"body": "}{"}, "A brace is not closed"),
    ({"subject": "  "}, "Write a subject and a message"),
    ({"body": "\n \t"}, "Write a subject and a message"),
    ({"subject": "News\r\nBcc: victim@example.org"}, "The subject must be one line"),
    ({"subject": "News\nmore"}, "must be one line"),
    ({"body": "Hello\x00"}, "control characters"),
    ({"subject": "News\x1b[2J"}, "control characters"),
    ({"subject": "N" * (MAX_SUBJECT + 1)}, "too long"),
    ({"body": "B" * (MAX_BODY + 1)}, "too long"),
    ({"versions": {"tlh": {"subject": "News", "body": "nuqneH"}}}, "There is no language tlh"),
    ({"versions": {"": {"subject": "x", "body": "y"}}}, "There is no language"),
    ({"versions": {"en": {"subject": "News", "body": "{nmae}"}}}, "placeholder (en)"),
    ({"versions": {"en": {"subject": "", "body": "Hi"}}}, "a message (en)"),
    ({"audience": Audience("everyone")}, "Choose who gets the message"),
    ({"audience": Audience("registrants", statuses=["vip"])}, "from the lists"),
    ({"audience": Audience("invitees", answers=["maybe"])}, "from the lists"),
    ({"audience": Audience("invitees", roles=["king"])}, "from the lists"),
])
def test_problems_are_found_and_said(draft, expected):
    found = problems(**draft)
    assert any(expected in problem for problem in found), found


def test_fill_replaces_placeholders_and_never_evaluates_anything():
    assert mailings.fill("{{{name}}} {{name}} {name}{event}", VALUES) == \
        "{<NAME>} {name} <NAME><EVENT>"
    # Unchecked text (a preview while typing) neither raises nor reaches any object.
    for text in ("{name.__class__}", "{name!r}", "{0}", "{name:>10}", "{", "}", "{name",
                 "{name.__init__.__globals__}"):
        assert mailings.fill(text, {"name": "Ana"}) == text
    assert mailings.fill("{unknown}", {}) == ""


FIELDS = st.sampled_from([f"{{{name}}}" for name in PLACEHOLDERS])
BRACES = st.sampled_from(["{", "}", "{{", "}}", "{0}", "{}", "{name.x}", "{name!s}",
                          "{name:}", "{nmae}", ":", "!", ".", "["])
WORDS = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="{}"), max_size=8)
TEXTS = st.lists(st.one_of(FIELDS, BRACES, WORDS), max_size=12).map("".join) | st.text()


@settings(max_examples=300, deadline=None)
@given(body=TEXTS, subject=TEXTS)
def test_any_text_is_either_accepted_or_told_what_is_wrong(body, subject):
    found = problems(body=body, subject=subject, audience=EVERYTHING)
    assert isinstance(found, list) and all(isinstance(p, str) and p for p in found)
    for text in (body, subject):
        mailings.fill(text, VALUES)  # never raises, checked or not
    if found:
        return
    for text in (body, subject):
        filled = mailings.fill(text, VALUES)
        # Exactly what str.format would give with plain values (the check let through
        # nothing but bare names and doubled braces), and no placeholder left unfilled
        # unless it was written with doubled braces.
        assert filled == text.format_map(VALUES)
        for name in PLACEHOLDERS:
            if f"{{{name}}}" in filled:
                assert f"{{{{{name}}}}}" in text


@settings(max_examples=200, deadline=None)
@given(literal=st.text(alphabet=st.sampled_from("{}ab :!.0\n é")).filter(str.strip))
def test_doubled_braces_round_trip(literal):
    escaped = literal.replace("{", "{{").replace("}", "}}")
    assert problems(body=escaped) == []
    assert mailings.fill(escaped, VALUES) == literal


# Audiences, preview, sending -------------------------------------------------------------

def count(model, **where) -> int:
    query = select(func.count()).select_from(model)
    for key, value in where.items():
        query = query.where(getattr(model, key) == value)
    return db.session.scalar(query)


def stored_text() -> str:
    db.session.commit()
    return "\n".join(repr(tuple(row)) for table in db.metadata.sorted_tables
                     for row in db.session.execute(table.select()))


def register(event, who: str, mode: str = "in_person", **kw):
    return reg.register(event, RegistrationInput(
        email=f"{who.lower()}@example.org", name=kw.pop("name", who), mode=mode, **kw))


def addresses(message) -> list[str]:
    return [a.addr_spec for a in message["To"].addresses]


@pytest.fixture
def forum(make_event):
    event = make_event("forum", mode="hybrid")
    event.online_url = "https://live.example.org/forum"
    db.session.commit()
    reg.set_capacities(event, {"in_person": 1, "online": None}, actor=None)
    return event


@pytest.fixture
def crowd(forum, make_event):
    """Registrants in every state, invitees with every answer, speakers here and
    elsewhere; their own mails delivered and forgotten."""
    ids = {
        "ana": register(forum, "Ana").registration_id,  # confirmed, in person
        "bo": register(forum, "Bo").registration_id,  # waiting for a place in person
        "chen": register(forum, "Chen", "online", locale="zh").registration_id,
        "dan": register(forum, "Dan", "online").registration_id,
    }
    reg.cancel(ids["dan"], actor=None, by_participant=True)
    for who, role in (("ina", "participant"), ("ian", "speaker"), ("ivy", "guest")):
        invitations.invite(forum, InviteeData(email=f"{who}@example.org", name=who.title(),
                                              role=role), actor=None)
    for who, accept in (("ian", True), ("ivy", False)):
        token = last_text(f"{who}@example.org").split("/invitations/")[1].split()[0]
        invitations.answer(token, accept=accept)
    other = make_event("other")
    zhao = agenda.create_person(PersonData(name="Zhao", email="zhao@example.org"), actor=None)
    quiet = agenda.create_person(PersonData(name="No Mail"), actor=None)
    away = agenda.create_person(PersonData(name="Away", email="away@example.org"), actor=None)
    for event, who in ((forum, [zhao, quiet]), (forum, [zhao]), (other, [away])):
        begins = datetime.combine(event.start_date, time(9))
        agenda.create_session(event, SessionData(
            title="Talk", kind="talk", starts_local=begins, ends_local=begins + timedelta(hours=1),
            people=[(p.id, "speaker") for p in who]), actor=None)
    ids["zhao"] = zhao.id
    ids["mails"] = len(delivered())
    return ids


def emails(event, audience: Audience) -> list[str]:
    return [r.email.split("@")[0] for r in mailings.recipients(event, audience)]


def test_recipients_of_each_audience(forum, crowd):
    assert emails(forum, REGISTRANTS) == ["ana", "bo", "chen"]  # active ones by default
    assert emails(forum, Audience("registrants", statuses=["confirmed"])) == ["ana", "chen"]
    assert emails(forum, Audience("registrants", statuses=["waitlisted", "cancelled"])) == [
        "bo", "dan"]
    assert emails(forum, Audience("registrants", modes=["online"])) == ["chen"]
    assert emails(forum, Audience("registrants", statuses=["pending"])) == []
    assert emails(forum, Audience("invitees")) == ["ina", "ian", "ivy"]
    assert emails(forum, Audience("invitees", answers=["open", "declined"])) == ["ina", "ivy"]
    assert emails(forum, Audience("invitees", roles=["speaker", "guest"],
                                  answers=["accepted"])) == ["ian"]
    assert emails(forum, Audience("speakers")) == ["zhao"]  # with an email, in this event
    [chen] = mailings.recipients(forum, Audience("registrants", modes=["online"]))
    assert (chen.kind, chen.locale, chen.mode, chen.name) == ("registration", "zh", "online",
                                                              "Chen")
    assert mailings.count(forum, REGISTRANTS) == 3
    assert mailings.count(forum, Audience("speakers")) == 1
    assert mailings.count(forum, Audience("nobody")) == 0
    for odd in (Audience("registrants", statuses=["\x00"]), Audience("registrants",
                modes=["online", "x"]), Audience("invitees", roles=["\x00"]),
                Audience("invitees", answers=["revoked"])):
        assert mailings.recipients(forum, odd) == [] and mailings.count(forum, odd) == 0


def test_preview_shows_a_recipient_with_a_sample_link_and_mints_nothing(forum, crowd):
    tokens = (count(RegistrationToken), count(InvitationToken))
    draft = Draft(REGISTRANTS, "News for {name}", "Dear {name},\nyour page: {personal_link}")
    shown = mailings.preview(forum, draft, index=1)
    assert (shown.recipient.name, shown.subject) == ("Bo", "News for Bo")
    assert "your page: http://eventsys.test/events/forum" in shown.body
    assert "Dear Bo," in shown.body_text and "<p>Dear Bo,<br>your page: <a href=" in \
        shown.body_html
    assert mailings.preview(forum, draft, index=99).recipient.name == "Chen"
    nobody = mailings.preview(forum, Draft(Audience("registrants", statuses=["pending"]),
                                           "News", "Dear {name}"))
    assert nobody.recipient is None and "Dear Participant" in nobody.body
    typing = mailings.preview(forum, Draft(REGISTRANTS, "News", "Dear {name"))
    assert typing.body == "Dear {name"  # a draft still being typed previews as it is
    assert (count(RegistrationToken), count(InvitationToken)) == tokens
    assert count(Mailing) == count(Job) == 0


def test_test_send_reaches_only_the_organiser(forum, crowd, make_user):
    organiser = make_user("org@example.org", "Orla")
    draft = Draft(REGISTRANTS, "News for {name}", "Dear {name}: {personal_link}")
    tokens = count(RegistrationToken)
    mailings.send_test(forum, draft, actor=organiser)
    [mail] = delivered()[crowd["mails"]:]
    assert addresses(mail) == ["org@example.org"]
    assert mail["Subject"] == "[TEST] News for Ana"
    assert "Dear Ana: http://eventsys.test/events/forum" in text_of(mail)
    assert count(RegistrationToken) == tokens and count(Mailing) == 0
    with pytest.raises(ServiceError, match="not a placeholder"):
        mailings.send_test(forum, Draft(REGISTRANTS, "News", "{nmae}"), actor=organiser)


def test_each_registrant_gets_one_mail_of_their_own_with_a_working_link(forum, crowd, client):
    draft = Draft(REGISTRANTS, "News for {name}",
                  "Dear {name},\nyour page: {personal_link}\n{event}, {place}, {dates}")
    mailing = mailings.send(forum, draft, actor=None)
    job = db.session.get(Job, mailing.job_id)
    assert (job.kind, job.status, job.total, job.queued) == ("mailing", "done", 3, 3)
    assert jobs.progress(job).finished
    sent = delivered()[crowd["mails"]:]
    assert sorted(addresses(m)[0] for m in sent) == [
        "ana@example.org", "bo@example.org", "chen@example.org"]
    everyone = ("ana", "bo", "chen", "dan", "ina", "zhao")
    for mail in sent:
        [address] = addresses(mail)
        who = address.split("@")[0]
        assert mail["Cc"] is None and mail["Bcc"] is None
        assert not [o for o in everyone if o != who and f"{o}@" in mail.as_string()]
        body = text_of(mail)
        assert f"Dear {who.title()}," in body and "Test Forum, Beijing" in body
        token = body.split("/r/")[1].split()[0]
        assert reg.registration_by_token(token).id == crowd[who]
    page = client.get(f"/r/{token}")
    assert page.status_code == 200 and "Chen" in page.get_data(as_text=True)
    assert token not in stored_text()  # the outbox scrubbed its copies once sent


def test_a_chunks_personal_links_are_minted_in_one_statement(forum, crowd, count_queries):
    draft = Draft(REGISTRANTS, "News for {name}", "Dear {name},\nyour page: {personal_link}")
    count_queries["statements"].clear()
    mailings.send(forum, draft, actor=None)
    inserts = [s for s in count_queries["statements"]
               if s.lstrip().upper().startswith("INSERT INTO REGISTRATION_TOKEN")]
    assert len(inserts) == 1, inserts  # three recipients, one INSERT
    assert db.session.scalar(select(func.count()).select_from(RegistrationToken)) >= 3


def test_invitees_links_open_their_invitation_and_speakers_get_no_link(forum, crowd):
    mailings.send(forum, Draft(Audience("invitees", answers=["open", "accepted"]),
                               "Programme", "Hello {name}, answer here: {personal_link}"),
                  actor=None)
    for who in ("ina", "ian"):
        body = last_text(f"{who}@example.org", "answer here")
        token = body.split("/invitations/")[1].split()[0]
        invitation = invitations.by_token(token)
        assert (invitation.email, invitation.status) == (
            f"{who}@example.org", "open" if who == "ina" else "accepted")
    assert len(delivered("ivy@example.org")) == 1  # the invitation only: she declined
    tokens = count(InvitationToken)
    mailings.send(forum, Draft(Audience("speakers"), "Your talk", "Dear {name}"), actor=None)
    assert "Dear Zhao" in last_text("zhao@example.org")
    assert count(InvitationToken) == tokens and not delivered("away@example.org")


def test_recipients_read_their_language_version(forum, crowd, monkeypatch):
    monkeypatch.setattr(mailings, "available_locales", lambda: ["en", "zh"])
    draft = Draft(Audience("registrants", statuses=["confirmed"]), "News for {name}",
                  "Dear {name}", versions={"zh": {"subject": "{name}您好",
                                                  "body": "亲爱的{name} {event}"}})
    mailings.send(forum, draft, actor=None)
    assert last_text("ana@example.org").startswith("Dear Ana")
    [chen] = [m for m in delivered("chen@example.org") if "亲爱的" in text_of(m)]
    assert chen["Subject"] == "Chen您好" and "亲爱的Chen Test Forum" in text_of(chen)
    assert db.session.scalar(select(Mailing.versions)) == draft.versions


def test_joining_link_goes_to_confirmed_online_participants_only(forum, crowd):
    online = Audience("registrants", statuses=["confirmed"], modes=["online"])
    mailings.send(forum, Draft(online, "Join", "Join at {joining_link}"), actor=None)
    # The tracked link (services/attendance.py), which counts them and leads to the stream.
    text = last_text("chen@example.org", "Join at")
    assert "Join at http://eventsys.test/join/" in text and "live.example.org" not in text
    with pytest.raises(ServiceError, match="cannot be filled in"):
        mailings.send(forum, Draft(Audience("registrants", modes=["online"]), "Join",
                                   "{joining_link}"), actor=None)


def test_user_text_is_escaped_in_html_and_kept_out_of_headers(forum, crowd):
    db.session.execute(update(Registration).where(Registration.id == crowd["ana"]).values(
        name="<script>alert(1)</script>"))
    db.session.execute(update(Registration).where(Registration.id == crowd["bo"]).values(
        name="Bo\r\nBcc: victim@example.org\nX-Evil: 1"))  # as if written before checks
    db.session.commit()
    mailings.send(forum, Draft(REGISTRANTS, "News for {name}",
                               "Hello {name} <b>bold</b> http://x.example/\"onclick=\"a"),
                  actor=None)
    [ana] = delivered("ana@example.org")[-1:]
    html = ana.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>bold" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    assert 'onclick="' not in html
    [bo] = [m for m in delivered() if "Bo" in str(m["To"]) and "News" in m["Subject"]]
    assert bo["Bcc"] is None and bo["X-Evil"] is None
    assert addresses(bo) == ["bo@example.org"]
    assert "\n" not in bo["Subject"] and bo["Subject"].startswith("News for Bo")


def test_send_stores_the_chosen_and_leaves_out_who_left_meanwhile(app, forum, crowd):
    celery = app.extensions["celery"]
    celery.conf.task_always_eager, celery.conf.broker_url = False, "memory://"
    try:
        mailing = mailings.send(forum, Draft(REGISTRANTS, "News", "Hello {name}"), actor=None)
    finally:
        celery.conf.task_always_eager = True
    job = db.session.get(Job, mailing.job_id)
    assert job.status == "queued" and sorted(job.payload["ids"]) == sorted(
        crowd[w] for w in ("ana", "bo", "chen"))
    reg.cancel(crowd["bo"], actor=None, by_participant=True)
    jobs.run(job.id)
    job = db.session.get(Job, job.id)
    assert (job.status, job.total, job.queued, job.skipped) == ("done", 3, 2, 1)
    assert count(OutboxMessage, job_id=job.id) == 2


def test_nothing_is_stored_for_a_draft_that_cannot_go(forum, crowd):
    with pytest.raises(ServiceError, match="not a placeholder"):
        mailings.send(forum, Draft(REGISTRANTS, "News", "{name.__class__}"), actor=None)
    with pytest.raises(ServiceError, match="Nobody is in this audience"):
        mailings.send(forum, Draft(Audience("registrants", statuses=["pending"]), "News",
                                   "Hello"), actor=None)
    db.session.rollback()
    assert count(Mailing) == count(Job) == 0
    assert mailings.mailings_of(forum) == []


def test_braces_survive_the_whole_way(forum, crowd):
    body = "Use {{name}} and {{ braces }}: {name}"
    mailings.send(forum, Draft(Audience("registrants", statuses=["confirmed"],
                                        modes=["in_person"]), "{{x}}", body), actor=None)
    mail = delivered("ana@example.org")[-1]
    assert mail["Subject"] == "{x}"
    assert "Use {name} and { braces }: Ana" in text_of(mail)
