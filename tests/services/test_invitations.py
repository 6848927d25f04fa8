"""Invitations (eventsys/services/invitations.py): one by one and by list, personal links,
answers, reminders, and what the organiser sees."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from eventsys.extensions import db
from eventsys.models import (
    AuditLog,
    Invitation,
    InvitationToken,
    Job,
    OutboxMessage,
    SessionPerson,
)
from eventsys.services import agenda, invitations, jobs
from eventsys.services import registration as reg
from eventsys.services.agenda import PersonData, SessionData
from eventsys.services.errors import Conflict, NotAllowed, NotFound, ServiceError
from eventsys.services.invitations import InviteeData
from eventsys.services.registration import RegistrationInput
from eventsys.services.tokens import token_hash
from tests.conftest import delivered, last_text, tampered, text_of

# Helpers ---------------------------------------------------------------------------------


def count(model, **where) -> int:
    query = select(func.count()).select_from(model)
    for key, value in where.items():
        query = query.where(getattr(model, key) == value)
    return db.session.scalar(query)


def written() -> dict[str, int]:
    return {model.__name__: count(model) for model in (
        Invitation, InvitationToken, OutboxMessage, AuditLog, Job)}


def stored_text() -> str:
    """Every row of every table, as text: where a leaked token would show."""
    db.session.commit()
    return "\n".join(repr(tuple(row)) for table in db.metadata.sorted_tables
                     for row in db.session.execute(table.select()))


def link_in(text: str) -> str:
    return text.split("/invitations/")[1].split()[0]


def token_of(email: str) -> str:
    """The token of the latest link mailed to ``email``."""
    return link_in(last_text(email, "/invitations/"))


def csv_bytes(rows: list[tuple]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["Name", "Email", "Organisation", "Country", "Role"])
    writer.writerows(rows)
    return out.getvalue().encode()


def people(numbers, role: str = "participant") -> list[tuple]:
    return [(f"Person {n}", f"p{n}@example.org", "Shenzhen Park", "CN", role) for n in numbers]


def invite(event, email: str = "ana@example.org", skip_approval: bool = True,
           **kw) -> Invitation:
    return invitations.invite(event, InviteeData(email=email, **kw), actor=None,
                              skip_approval=skip_approval)


def fresh(invitation: Invitation) -> Invitation:
    return db.session.scalars(select(Invitation).where(Invitation.id == invitation.id)
                              .execution_options(populate_existing=True)).one()


@pytest.fixture
def forum(make_event):
    event = make_event("forum")
    reg.set_capacities(event, {"in_person": None, "online": None}, actor=None)
    return event


@pytest.fixture
def other(make_event):
    return make_event("other-forum")


# One by one ------------------------------------------------------------------------------

def test_invite_one_normalises_mails_a_working_link_and_keeps_only_its_hash(forum, client):
    invitation = invite(forum, " Ana@Example.ORG ", name="  Ana \t Li ", country="cn",
                        organisation=" Great   Wall ", role="speaker")
    assert (invitation.email, invitation.name, invitation.organisation_name,
            invitation.country, invitation.role, invitation.status) == (
        "ana@example.org", "Ana Li", "Great Wall", "CN", "speaker", "open")
    [mail] = delivered("ana@example.org")
    assert "Ana Li" in mail["To"] and "Test Forum" in mail["Subject"]
    token = link_in(text_of(mail))
    assert f"http://eventsys.test/invitations/{token}" in text_of(mail)
    assert invitations.by_token(token).id == invitation.id
    page = client.get(f"/invitations/{token}")
    assert page.status_code == 200 and "Test Forum" in page.get_data(as_text=True)
    assert client.get(f"/invitations/{token[:-1]}").status_code == 404
    [stored] = db.session.scalars(select(InvitationToken))
    assert stored.token_hash == token_hash(token)
    # Sent: the outbox scrubbed its copy, so the database opens no invitation.
    assert db.session.get(OutboxMessage, fresh(invitation).message_id).status == "sent"
    assert token not in stored_text()

    before = written()
    with pytest.raises(Conflict, match="invited already"):
        invite(forum, "ANA@example.org ", name="Again")
    assert written() == before


BAD_INVITEES = [
    InviteeData(email="not an address"),
    InviteeData(email=""),
    InviteeData(email="ana@example.org\r\nBcc: eve@example.org"),
    InviteeData(email="ana@example.org", country="XX"),
    InviteeData(email="ana@example.org", country="China"),
    InviteeData(email="ana@example.org", role="king"),
    InviteeData(email="ana@example.org", name="Ana\x00Li"),
    InviteeData(email="ana@example.org", organisation="Org\x1b[31m"),
    InviteeData(email="ana@example.org", name="A" * 201),
    InviteeData(email="ana@example.org", role="speaker", person_id=999_999),
]


def test_bad_invitees_are_refused_and_nothing_written(forum):
    before = written()
    for data in BAD_INVITEES:
        with pytest.raises(ServiceError) as refused:
            invitations.invite(forum, data, actor=None)
        assert type(refused.value) is ServiceError and refused.value.message, data
        db.session.rollback()
    assert written() == before
    assert delivered() == []


# A whole list ----------------------------------------------------------------------------

def test_import_previews_then_imports_once_on_confirmation(forum):
    rows = [*people(range(1, 4)), ("No Mail", "nobody", "", "", "")]
    job = invitations.start_import(forum, "list.csv", csv_bytes(rows), actor=None)
    assert (job.status, job.total, job.done) == ("preview", 3, 0)
    assert [i["email"] for i in job.payload["invitees"]] == [
        "p1@example.org", "p2@example.org", "p3@example.org"]
    assert [p["line"] for p in job.payload["problems"]] == [5]
    assert (count(Invitation), count(OutboxMessage)) == (0, 0)  # a preview imports nothing
    assert invitations.counts(forum)["total"] == 0

    job = invitations.confirm_import(forum, job.id, actor=None)
    assert (job.status, job.done, job.queued, job.skipped) == ("done", 3, 3, 0)
    for n in range(1, 4):
        assert len(delivered(f"p{n}@example.org")) == 1
    assert count(Invitation, job_id=job.id) == 3
    assert {row.state for row in invitations.listing(forum)} == {"no_answer"}
    assert jobs.progress(job).finished and jobs.progress(job).sent == 3

    invitations.answer(token_of("p2@example.org"), accept=True)
    assert invitations.counts(forum) == {
        "queued": 0, "sending": 0, "no_answer": 2, "failed": 0, "accepted": 1,
        "declined": 0, "withdrawn": 0, "total": 3}
    assert [r.email for r in invitations.listing(forum, state="accepted")] == ["p2@example.org"]
    assert [r.email for r in invitations.listing(forum, search=" PERSON  3")] == [
        "p3@example.org"]
    assert len(invitations.listing(forum, search="\x00per\x00son\r\n")) == 3
    assert len(invitations.listing(forum, state="nonsense")) == 3
    assert [j.id for j in invitations.imports_of(forum)] == [job.id]

    before = written()
    assert invitations.confirm_import(forum, job.id, actor=None).status == "done"
    assert written() == before and len(delivered()) == 3
    with pytest.raises(Conflict):
        invitations.discard_import(forum, job.id, actor=None)


def test_discarded_list_imports_nobody(forum, other):
    job = invitations.start_import(forum, "list.csv", csv_bytes(people([1, 2])), actor=None)
    with pytest.raises(NotFound):  # another event's organiser cannot touch it
        invitations.confirm_import(other, job.id, actor=None)
    invitations.discard_import(forum, job.id, actor=None)
    assert (db.session.get(Job, job.id).status, db.session.get(Job, job.id).payload) == (
        "discarded", None)
    assert invitations.confirm_import(forum, job.id, actor=None).status == "discarded"
    assert (count(Invitation), count(OutboxMessage)) == (0, 0)
    assert invitations.imports_of(forum) == []


def test_reimporting_a_list_adds_nobody_twice(forum):
    invite(forum, "p9@example.org", name="One by one")
    first = invitations.start_import(forum, "a.csv", csv_bytes(people([1, 2, 3])), actor=None)
    invitations.confirm_import(forum, first.id, actor=None)

    again = invitations.start_import(forum, "a.csv", csv_bytes(people([1, 2, 3])), actor=None)
    assert again.total == 0 and again.payload["invitees"] == []
    assert [a["email"] for a in again.payload["already"]] == [
        "p1@example.org", "p2@example.org", "p3@example.org"]

    overlap = invitations.start_import(forum, "b.csv", csv_bytes(people([3, 4, 9, 5])),
                                       actor=None)
    assert [i["email"] for i in overlap.payload["invitees"]] == [
        "p4@example.org", "p5@example.org"]
    assert [(a["line"], a["email"]) for a in overlap.payload["already"]] == [
        (2, "p3@example.org"), (4, "p9@example.org")]
    invitations.confirm_import(forum, again.id, actor=None)
    invitations.confirm_import(forum, overlap.id, actor=None)
    assert count(Invitation) == 6
    assert sorted(m["To"].addresses[0].addr_spec for m in delivered()) == sorted(
        f"p{n}@example.org" for n in (1, 2, 3, 4, 5, 9))


def test_two_previews_of_one_list_confirmed_import_it_once(forum):
    """Both previews were checked before either was imported: the table's unique
    (event, email) skips the second rather than inviting twice."""
    data = csv_bytes(people([1, 2]))
    a = invitations.start_import(forum, "a.csv", data, actor=None)
    b = invitations.start_import(forum, "a.csv", data, actor=None)
    invitations.confirm_import(forum, a.id, actor=None)
    b = invitations.confirm_import(forum, b.id, actor=None)
    assert (b.status, b.queued, b.skipped) == ("done", 0, 2)
    assert jobs.progress(b).percent == 100
    assert count(Invitation) == 2 and len(delivered()) == 2


# Links -----------------------------------------------------------------------------------

def test_links_that_do_not_open_an_invitation(forum, other):
    token = (invite(forum), token_of("ana@example.org"))[1]
    for bad in ("", None, "short", "x" * 32, token[:-1], tampered(token), token + "x", token * 10,
                "\x00" * 40, "../" * 12, "%2e%2e%2f" * 5, "\ud800" * 20,
                token[:10] + " " + token[11:], token.replace(token[5], "é")):
        with pytest.raises(NotFound, match="not valid"):
            invitations.by_token(bad)
    assert invitations.by_token(token).email == "ana@example.org"

    with pytest.raises(NotAllowed, match="not valid for this event"):
        invitations.valid_invitation(other, token)
    with pytest.raises(NotAllowed, match="not valid for this event"):
        invitations.valid_invitation(forum, "forged-forged-forged-forged")
    assert invitations.valid_invitation(forum, token).email == "ana@example.org"

    invitation = db.session.scalar(select(Invitation))
    invitation.status = "revoked"
    db.session.commit()
    with pytest.raises(NotAllowed, match="withdrawn"):
        invitations.by_token(token)
    with pytest.raises(NotAllowed, match="withdrawn"):
        invitations.answer(token, accept=True)


def test_link_expires_when_the_event_is_over_where_it_takes_place(forum):
    invite(forum)
    token = token_of("ana@example.org")
    forum.end_date = date(2030, 5, 1)
    assert invitations.expires_at(forum) == datetime.combine(
        date(2030, 5, 2), time(0), ZoneInfo("Asia/Shanghai"))
    forum.start_date = forum.end_date = date.today() - timedelta(days=2)
    db.session.commit()
    with pytest.raises(NotAllowed, match="expired"):
        invitations.by_token(token)
    with pytest.raises(NotAllowed, match="expired"):
        invitations.answer(token, accept=True)


# Answers ---------------------------------------------------------------------------------

def test_answers_and_changes_of_mind(forum):
    invitation = invite(forum)
    token = token_of("ana@example.org")
    first = invitations.answer(token, accept=True)
    answered_at = first.answered_at
    assert (first.status, answered_at is not None) == ("accepted", True)
    assert invitations.answer(token, accept=True).answered_at == answered_at  # harmless
    assert count(AuditLog, action="invitation.accepted") == 1

    assert invitations.answer(token, accept=False).status == "declined"  # not registered
    assert invitations.answer(token, accept=False).status == "declined"
    assert invitations.answer(token, accept=True).status == "accepted"
    assert count(AuditLog, action="invitation.declined") == 1
    assert invitations.state_of(fresh(invitation).status, "sent") == "accepted"

    reg.register(forum, RegistrationInput(email="x@example.org", name="Ana", mode="online"),
                 invitation_token=token)
    with pytest.raises(Conflict, match="cancel your registration"):
        invitations.answer(token, accept=False)
    db.session.rollback()
    assert fresh(invitation).status == "accepted"


def test_declining_after_a_cancelled_registration_is_allowed(forum):
    invite(forum)
    token = token_of("ana@example.org")
    outcome = reg.register(forum, RegistrationInput(email="ana@example.org", name="Ana",
                                                    mode="in_person"), invitation_token=token)
    reg.cancel(outcome.registration_id, actor=None, by_participant=True)
    assert invitations.answer(token, accept=False).status == "declined"


def test_speaker_accepting_is_confirmed_on_their_sessions_of_this_event_only(forum, other):
    person = agenda.create_person(PersonData(name="Zhao Hui", email="zhao@example.org"),
                                  actor=None)
    bystander = agenda.create_person(PersonData(name="Li Na"), actor=None)

    def session(event, title, who):
        begins = datetime.combine(event.start_date, time(9))
        return agenda.create_session(event, SessionData(
            title=title, kind="talk", starts_local=begins, ends_local=begins + timedelta(hours=1),
            people=[(p.id, "speaker") for p in who]), actor=None)

    def confirmed() -> dict:
        return {(sp.session_id, sp.person_id): sp.confirmed_at is not None
                for sp in db.session.scalars(select(SessionPerson)
                                             .execution_options(populate_existing=True))}

    here = [session(forum, "Keynote", [person, bystander]), session(forum, "Panel", [person])]
    there = session(other, "Elsewhere", [person])
    invite(forum, "zhao@example.org", role="speaker", person_id=person.id)
    token = token_of("zhao@example.org")
    invitations.answer(token, accept=True)
    assert confirmed() == {(here[0].id, person.id): True, (here[0].id, bystander.id): False,
                           (here[1].id, person.id): True, (there.id, person.id): False}

    invite(other, "zhao@example.org", role="speaker", person_id=person.id)
    invitations.answer(token_of("zhao@example.org"), accept=True)
    invitations.answer(token, accept=False)  # cannot come to this one after all
    assert confirmed() == {(here[0].id, person.id): False, (here[0].id, bystander.id): False,
                           (here[1].id, person.id): False, (there.id, person.id): True}


def test_a_speaker_from_an_imported_list_is_found_by_their_address(forum):
    """A list names no profile: accepting finds the speaker's profile by email."""
    person = agenda.create_person(PersonData(name="Zhao Hui", email="zhao@example.org"),
                                  actor=None)
    begins = datetime.combine(forum.start_date, time(9))
    talk = agenda.create_session(forum, SessionData(
        title="Talk", kind="talk", starts_local=begins, ends_local=begins + timedelta(hours=1),
        people=[(person.id, "speaker")]), actor=None)
    job = invitations.start_import(
        forum, "speakers.csv", b"Name,Email,Role\nZhao Hui,ZHAO@example.org,speaker\n",
        actor=None)
    invitations.confirm_import(forum, job.id, actor=None)
    invitations.answer(token_of("zhao@example.org"), accept=True)
    row = db.session.scalar(select(SessionPerson).where(SessionPerson.session_id == talk.id)
                            .execution_options(populate_existing=True))
    assert row.confirmed_at is not None


def test_registering_with_the_link_accepts_and_skips_approval_when_chosen(forum):
    forum.approval = "application"
    db.session.commit()
    invite(forum, "vip@example.org", skip_approval=True)
    invite(forum, "guest@example.org", skip_approval=False)
    vip = reg.register(forum, RegistrationInput(email="typo@example.org", name="V",
                                                mode="in_person"),
                       invitation_token=token_of("vip@example.org"))
    guest = reg.register(forum, RegistrationInput(email="g@example.org", name="G",
                                                  mode="in_person"),
                         invitation_token=token_of("guest@example.org"))
    assert (vip.registration.email, vip.status) == ("vip@example.org", "confirmed")
    assert (guest.registration.email, guest.status) == ("guest@example.org", "pending")
    assert invitations.counts(forum)["accepted"] == 2
    assert invitations.registration_of(db.session.scalar(
        select(Invitation).where(Invitation.email == "vip@example.org"))).id == \
        vip.registration_id


# Reminders -------------------------------------------------------------------------------

def test_reminder_mails_a_new_link_and_the_first_still_works(forum):
    invitation = invite(forum)
    first = token_of("ana@example.org")
    job = invitations.remind(forum, None, actor=None)
    assert (job.kind, job.status, job.total, job.queued) == ("reminders", "done", 1, 1)
    mails = delivered("ana@example.org")
    assert len(mails) == 2 and "reminder" in text_of(mails[1]).lower()
    second = link_in(text_of(mails[1]))
    assert second != first
    assert invitations.by_token(first).id == invitations.by_token(second).id == invitation.id
    invitation = fresh(invitation)
    assert (invitation.reminders, invitation.reminded_at is not None) == (1, True)
    assert invitation.message_id == db.session.scalar(
        select(OutboxMessage.id).where(OutboxMessage.kind == "invitation_reminder"))
    assert first not in stored_text() and second not in stored_text()


def test_remind_only_the_open_invitations_chosen_in_this_event(forum, other):
    open_one, accepted, declined = (invite(forum, f"{w}@example.org") for w in
                                    ("open", "yes", "no"))
    elsewhere = invite(other, "elsewhere@example.org")
    invitations.answer(token_of("yes@example.org"), accept=True)
    invitations.answer(token_of("no@example.org"), accept=False)

    chosen = [open_one.id, accepted.id, declined.id, elsewhere.id]
    job = invitations.remind(forum, chosen, actor=None)
    assert job.payload["ids"] == [open_one.id] and job.total == 1
    assert [len(delivered(f"{w}@example.org")) for w in ("open", "yes", "no", "elsewhere")] \
        == [2, 1, 1, 1]
    with pytest.raises(Conflict, match="Nobody to remind"):
        invitations.remind(forum, [accepted.id, declined.id, elsewhere.id], actor=None)
    with pytest.raises(Conflict):
        invitations.remind(other, [open_one.id], actor=None)
    with pytest.raises(Conflict):  # a tampered form: not ids at all
        invitations.remind(forum, ["x", "1 OR 1=1", "-1", ""], actor=None)

    invitations.remind(forum, None, actor=None)
    assert (fresh(open_one).reminders, fresh(accepted).reminders) == (2, 0)
    assert len(delivered("open@example.org")) == 3


def test_reminder_skips_those_who_answer_before_it_goes(forum, app):
    """The reminder job is stored when the organiser asks; an answer in between wins."""
    a, b = invite(forum, "a@example.org"), invite(forum, "b@example.org")
    celery = app.extensions["celery"]
    celery.conf.task_always_eager, celery.conf.broker_url = False, "memory://"
    try:
        job = invitations.remind(forum, [a.id, b.id], actor=None)
    finally:
        celery.conf.task_always_eager = True
    invitations.answer(token_of("a@example.org"), accept=False)
    jobs.run(job.id)
    job = db.session.get(Job, job.id)
    assert (job.status, job.total, job.queued, job.skipped) == ("done", 2, 1, 1)
    assert (fresh(a).reminders, fresh(b).reminders) == (0, 1)
    assert len(delivered("a@example.org")) == 1


def test_search_takes_percent_and_underscore_literally(forum):
    invite(forum, "ana@example.org", name="Ana", organisation="100% Parks")
    invite(forum, "bo_b@example.org", name="Bob", organisation="Other")
    invite(forum, "carl@example.org", name="Carl", organisation="Third")
    assert [r.email for r in invitations.listing(forum, search="100%")] == ["ana@example.org"]
    assert [r.email for r in invitations.listing(forum, search="o_b")] == ["bo_b@example.org"]
    assert [r.email for r in invitations.listing(forum, search="%")] == ["ana@example.org"]
