"""Certificates (eventsys/services/certificates.py): codes, eligibility for every kind of
rule and the organiser's overrides, issuing as a job shared by workers (idempotent, files
and checksums, a worker dying mid-batch), re-issuing and revoking."""

from __future__ import annotations

import hashlib
import math
import re
import threading
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from eventsys.extensions import db
from eventsys.models import (
    AuditLog,
    Certificate,
    CertificateTemplate,
    Event,
    EventRole,
    Job,
    OutboxMessage,
    Registration,
    utcnow,
)
from eventsys.services import agenda, attendance, certificates, jobs, verification
from eventsys.services import registration as reg
from eventsys.services.agenda import PersonData, SessionData
from eventsys.services.certificates import Rule
from eventsys.services.errors import Conflict, NotFound, ServiceError
from eventsys.services.registration import RegistrationInput
from eventsys.services.tickets import ALPHABET
from tests.conftest import base_config, delivered

# Helpers ---------------------------------------------------------------------------------

NAMES = [("Ayesha Siddiqui", "عائشہ صدیقی"), ("Kanokwan Thongdee", "กนกวรรณ ทองดี"),
         ("Milica Jovanović", "Милица Јовановић"), ("Nino Beridze", "ნინო ბერიძე"),
         ("Tan Wei Ming", "陈伟明"), ("Priya Raghavan", "प्रिया राघवन"),
         ("Inês Conceição", None)]


def person(event, n: int, **kw) -> Registration:
    name, native = NAMES[n % len(NAMES)]
    out = reg.register(event, RegistrationInput(
        f"p{n}@example.org", kw.pop("name", f"{name} {n}"), "in_person",
        name_native=kw.pop("name_native", native), organisation_name="Science Park", **kw))
    return db.session.get(Registration, out.registration_id)


def lecture(event, n: int, **kw):
    start = datetime.combine(event.start_date, datetime.min.time()).replace(hour=8 + n)
    return agenda.create_session(event, SessionData(
        kw.pop("title", f"Lecture {n}"), kw.pop("kind", "lecture"), start,
        start + timedelta(minutes=50), **kw), actor=None)


def attend(event, sessions, people) -> None:
    for session in sessions:
        attendance.mark(event, session, [p.id for p in people], present=True, staff=None)


def set_rule(event, kind: str, **rule) -> None:
    enabled = rule.pop("enabled", True)
    certificates.update_rule(event, kind, Rule(**rule), enabled=enabled, actor=None)


def by_name(found) -> dict[str, certificates.Candidate]:
    return {c.name: c for c in found.candidates}


def valid_of(event, kind: str = "completion") -> list[Certificate]:
    db.session.expire_all()
    return list(db.session.scalars(select(Certificate).where(
        Certificate.event_id == event.id, Certificate.kind == kind,
        Certificate.status == "valid").order_by(Certificate.id)))


def file_of(certificate: Certificate) -> Path:
    from flask import current_app
    return Path(current_app.config["FILES_DIR"]) / "certificates" / certificate.stored_name


def intact(certificate: Certificate) -> bool:
    data = file_of(certificate).read_bytes()
    return (hashlib.sha256(data).hexdigest() == certificate.sha256
            and len(data) == certificate.size and data.startswith(b"%PDF-"))


def files() -> set[str]:
    from flask import current_app
    folder = Path(current_app.config["FILES_DIR"]) / "certificates"
    return {p.name for p in folder.glob("*.pdf")} if folder.is_dir() else set()


@pytest.fixture
def workshop(make_event):
    """A workshop of four lectures and five participants who attended 4, 4, 3, 2 and 0."""
    event = make_event("workshop", kind="workshop", title="Science Park Workshop",
                       mode="in_person", days=2)
    reg.set_capacities(event, {"in_person": None}, actor=None)
    lectures = [lecture(event, n) for n in range(4)]
    people = [person(event, n) for n in range(5)]
    attend(event, lectures, people[:2])
    attend(event, lectures[:3], people[2:3])
    attend(event, lectures[:2], people[3:4])
    return event


@pytest.fixture
def no_workers(monkeypatch):
    """The broker is down: issuing stores the job and nothing runs it (tests drive it)."""
    monkeypatch.setattr(certificates.tasks, "enqueue", lambda *args: False)


# Codes ------------------------------------------------------------------------------------

def test_codes_are_long_unambiguous_and_read_back_however_typed():
    codes = {certificates.new_code() for _ in range(2000)}
    assert len(codes) == 2000
    for code in list(codes)[:50]:
        assert re.fullmatch(r"([A-Z0-9]{4}-){4}[A-Z0-9]{4}", code)
        assert set(code.replace("-", "")) <= set(ALPHABET)
        assert certificates.normalise_code(code) == code
        assert certificates.normalise_code(" " + code.lower().replace("-", " ") + "\n") == code
        assert certificates.normalise_code(code.replace("-", "")) == code
    # 20 symbols of 30: at least 80 bits.
    assert certificates.CODE_LENGTH * math.log2(len(ALPHABET)) >= 80
    for bad in ("", "ABCD", "ABCD-EFGH-JKMN-PQRS-TVWO", "ABCD-EFGH-JKMN-PQRS-TVW1",
                "ABCD-EFGH-JKMN-PQRS-TVWXY", "\uff21BCD-EFGH-JKMN-PQRS-TVWX", "x" * 10_000, None):
        assert certificates.normalise_code(bad) == ""


# Eligibility ------------------------------------------------------------------------------

def test_completion_by_attendance_rate_with_reasons(workshop):
    found = certificates.eligibility(workshop, "completion")  # the default rule: 80 %
    people = by_name(found)
    assert [c.eligible for c in found.candidates] == [c.name[:4] in ("Ayes", "Kano")
                                                      for c in found.candidates]
    assert people["Milica Jovanović 2"].reasons == [
        "attended 3 of 4 sessions (75 %), needs 80 %"]
    assert people["Tan Wei Ming 4"].reasons == ["attended 0 of 4 sessions (0 %), needs 80 %"]
    assert found.describe() == ("Eligible: a confirmed registration; an attendance rate of "
                                "at least 80 %.")
    set_rule(workshop, "completion", min_rate=75)
    found = certificates.eligibility(workshop, "completion")
    assert sorted(c.name for c in found.eligible) == [
        "Ayesha Siddiqui 0", "Kanokwan Thongdee 1", "Milica Jovanović 2"]
    set_rule(workshop, "completion")  # no condition: every confirmed participant
    assert len(certificates.eligibility(workshop, "completion").eligible) == 5


def test_specific_sessions_must_each_be_attended(workshop):
    sessions = attendance.counting_sessions(workshop)
    set_rule(workshop, "participation", sessions=(sessions[0].id, sessions[2].id))
    people = by_name(certificates.eligibility(workshop, "participation"))
    assert people["Milica Jovanović 2"].eligible
    assert people["Nino Beridze 3"].reasons == ["did not attend Lecture 2"]
    assert people["Tan Wei Ming 4"].reasons == ["did not attend Lecture 0, Lecture 2"]
    with pytest.raises(ServiceError):
        set_rule(workshop, "participation", sessions=(10**6,))
    with pytest.raises(ServiceError):
        set_rule(workshop, "participation", min_rate=101)


def test_speakers_are_matched_by_address_or_hold_it_as_programme_people(workshop):
    ana = agenda.create_person(PersonData("Ayesha Siddiqui", email="P0@example.org"),
                               actor=None)
    guest = agenda.create_person(PersonData("Dr. Li Na", name_native="李娜",
                                            email="lina@example.org"), actor=None)
    quiet = agenda.create_person(PersonData("Someone Else"), actor=None)
    db.session.commit()
    start = datetime.combine(workshop.start_date, datetime.min.time()).replace(hour=17)
    agenda.create_session(workshop, SessionData(
        "Keynote", "keynote", start, start + timedelta(hours=1),
        people=[(ana.id, "speaker"), (guest.id, "moderator")]), actor=None)
    agenda.create_session(workshop, SessionData(
        "Panel", "panel", start + timedelta(hours=1), start + timedelta(hours=2),
        people=[(guest.id, "panellist")], counts_for_attendance=False), actor=None)
    del quiet

    found = certificates.eligibility(workshop, "speaker")
    eligible = {c.name: c for c in found.eligible}
    assert set(eligible) == {"Ayesha Siddiqui 0", "Dr. Li Na"}
    assert eligible["Ayesha Siddiqui 0"].registration_id is not None
    assert eligible["Ayesha Siddiqui 0"].spoke_in == ("Keynote",)
    assert eligible["Dr. Li Na"].registration_id is None
    assert eligible["Dr. Li Na"].person_id == guest.id
    assert eligible["Dr. Li Na"].spoke_in == ("Keynote", "Panel")
    assert by_name(found)["Kanokwan Thongdee 1"].reasons == [
        "did not speak in any session (matched by email address)"]

    set_rule(workshop, "speaker", spoke=True, confirmed=True)  # registered speakers only
    found = certificates.eligibility(workshop, "speaker")
    assert [c.name for c in found.eligible] == ["Ayesha Siddiqui 0"]
    assert by_name(found)["Dr. Li Na"].reasons == ["has no confirmed registration"]

    # Completion for those who spoke and attended at least half.
    set_rule(workshop, "completion", min_rate=50, spoke=True)
    assert [c.name for c in certificates.eligibility(workshop, "completion").eligible] == [
        "Ayesha Siddiqui 0"]

    # Dr. Li Na holds hers as a person of the programme; registering later gives her no
    # second one.
    set_rule(workshop, "speaker", spoke=True, confirmed=False)
    certificates.issue(workshop, "speaker", actor=None)
    assert {c.holder_name for c in valid_of(workshop, "speaker")} == {"Ayesha Siddiqui 0",
                                                                       "Dr. Li Na"}
    reg.register(workshop, RegistrationInput("lina@example.org", "Li Na", "in_person"))
    found = certificates.eligibility(workshop, "speaker")
    li_na = by_name(found)["Li Na"]
    assert li_na.registration_id and li_na.certificate and not li_na.to_issue
    assert "Dr. Li Na" not in by_name(found) and not found.to_issue


def test_organiser_certificates_go_to_managers_who_registered(workshop, make_user):
    helper = make_user("p1@example.org", "Kanokwan")
    boss = make_user("boss@example.org", "Boss Without Registration")
    for user in (helper, boss):
        db.session.add(EventRole(event_id=workshop.id, user_id=user.id, role="manager"))
    db.session.commit()
    found = certificates.eligibility(workshop, "organiser")
    assert [c.name for c in found.eligible] == ["Kanokwan Thongdee 1"]
    assert by_name(found)["Nino Beridze 3"].reasons == [
        "not an organiser (manager) of this event"]
    assert found.managers_unregistered == ["Boss Without Registration"]
    volunteer = by_name(found)["Nino Beridze 3"]
    certificates.set_override(workshop, "organiser", volunteer.registration_id, True,
                              "ran the registration desk", actor=boss)
    found = certificates.eligibility(workshop, "organiser")
    nino = by_name(found)["Nino Beridze 3"]
    assert nino.eligible and not nino.by_rule
    assert (nino.override.include, nino.override.note, nino.override.by) == (
        True, "ran the registration desk", "Boss Without Registration")


def test_overrides_include_exclude_and_back_to_the_rule(workshop, make_event):
    found = by_name(certificates.eligibility(workshop, "completion"))
    tan, ayesha = found["Tan Wei Ming 4"], found["Ayesha Siddiqui 0"]
    certificates.set_override(workshop, "completion", tan.registration_id, True,
                              "  attended   online, report lost ", actor=None)
    certificates.set_override(workshop, "completion", ayesha.registration_id, False, None,
                              actor=None)
    found = by_name(certificates.eligibility(workshop, "completion"))
    assert found["Tan Wei Ming 4"].eligible and found["Tan Wei Ming 4"].override.note == \
        "attended online, report lost"
    assert not found["Ayesha Siddiqui 0"].eligible and found["Ayesha Siddiqui 0"].by_rule
    # An override is per kind.
    assert not by_name(certificates.eligibility(workshop, "participation"))[
        "Ayesha Siddiqui 0"].override
    certificates.set_override(workshop, "completion", tan.registration_id, None, None,
                              actor=None)
    assert not by_name(certificates.eligibility(workshop, "completion"))[
        "Tan Wei Ming 4"].eligible
    assert db.session.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == "certificates.override")) == 3

    other = make_event("other")
    reg.set_capacities(other, {"in_person": None, "online": None}, actor=None)
    stranger = person(other, 9)
    for registration_id in (stranger.id, 10**6):
        with pytest.raises(ServiceError):
            certificates.set_override(workshop, "completion", registration_id, True, None,
                                      actor=None)
    with pytest.raises(ServiceError):
        certificates.set_override(workshop, "completion", tan.registration_id, True,
                                  "x" * 301, actor=None)
    with pytest.raises(NotFound):
        certificates.set_override(workshop, "nonsense", tan.registration_id, True, None,
                                  actor=None)


def test_eligibility_takes_the_same_number_of_queries_for_any_number(
        workshop, count_queries):
    def queries(kind: str) -> int:
        db.session.expire_all()
        count_queries["n"] = 0
        certificates.eligibility(workshop, kind)
        return count_queries["n"]

    sessions = attendance.counting_sessions(workshop)
    set_rule(workshop, "completion", min_rate=50, sessions=(sessions[0].id,), spoke=True)
    before = {kind: queries(kind) for kind in ("completion", "speaker", "organiser")}
    speaker = agenda.create_person(PersonData("Speaker", email="p7@example.org"), actor=None)
    start = datetime.combine(workshop.start_date, datetime.min.time()).replace(hour=20)
    agenda.create_session(workshop, SessionData("Talk", "talk", start,
                                                start + timedelta(hours=1),
                                                people=[(speaker.id, "speaker")]), actor=None)
    more = [person(workshop, n) for n in range(5, 30)]
    attend(workshop, sessions, more)
    for n, p in enumerate(more[:5]):
        certificates.set_override(workshop, "completion", p.id, n % 2 == 0, "note",
                                  actor=None)
    after = {kind: queries(kind) for kind in ("completion", "speaker", "organiser")}
    assert after == before
    assert max(after.values()) <= 12


# Issuing ----------------------------------------------------------------------------------

def test_issue_makes_one_pdf_each_mails_it_and_refuses_to_issue_twice(workshop):
    job = certificates.issue(workshop, "completion", actor=None)  # eager: done here
    db.session.refresh(job)
    assert (job.kind, job.status, job.total, job.done, job.skipped) == (
        "certificates", "done", 2, 2, 0)
    issued = valid_of(workshop)
    assert sorted(c.holder_name for c in issued) == ["Ayesha Siddiqui 0",
                                                     "Kanokwan Thongdee 1"]
    for certificate in issued:
        assert intact(certificate) and certificate.version == 1 and certificate.job_id == job.id
        assert certificate.stored_name == f"{certificate.code}.pdf"
        assert certificate.message_id is not None
        assert certificate.data["attended"] == "4 of 4 sessions"
        assert certificate.data["verify_url"] == \
            f"http://eventsys.test/verify/{certificate.code}"
        assert certificate.data["cities"] == "Beijing"
        assert certificate.data["event_title"] == "Science Park Workshop"
    ayesha = next(c for c in issued if c.holder_name.startswith("Ayesha"))
    assert ayesha.holder_name_native == "عائشہ صدیقی" and ayesha.data["dates"]
    progress = jobs.progress(job)
    assert (progress.made, progress.percent, progress.left, progress.sent) == (2, 100, 0, 2)
    mails = [m for m in delivered() if m["Subject"].startswith("Your certificate")]
    assert len(mails) == 2
    pdf = [part.get_content() for part in mails[0].iter_attachments()
           if part.get_content_type() == "application/pdf"]
    assert len(pdf) == 1 and hashlib.sha256(pdf[0]).hexdigest() in {c.sha256 for c in issued}

    with pytest.raises(Conflict, match="everyone eligible has this certificate already"):
        certificates.issue(workshop, "completion", actor=None)
    set_rule(workshop, "completion", min_rate=100, enabled=False)
    with pytest.raises(Conflict, match="switched off"):
        certificates.issue(workshop, "completion", actor=None)
    set_rule(workshop, "speaker")
    with pytest.raises(Conflict, match="nobody is eligible"):
        certificates.issue(workshop, "speaker", actor=None)
    # Those who become eligible later are issued theirs alone.
    set_rule(workshop, "completion", min_rate=75)
    job = certificates.issue(workshop, "completion", actor=None)
    assert job.total == 1
    assert len(valid_of(workshop)) == 3


def test_a_second_click_while_it_runs_is_the_same_job(workshop, no_workers):
    first = certificates.issue(workshop, "completion", actor=None)
    assert certificates.issue(workshop, "completion", actor=None).id == first.id
    assert certificates.running_job(workshop, "participation") is None


def test_workers_share_a_job_batch_by_batch_and_done_is_a_watermark(
        app, workshop, no_workers):
    app.config["CERTIFICATE_BATCH"] = 10
    set_rule(workshop, "participation")
    more = [person(workshop, n) for n in range(5, 28)]  # 28 in all: batches 10, 10, 8
    del more
    job_id = certificates.issue(workshop, "participation", actor=None).id
    first, second, third = (certificates._claim(job_id) for _ in range(3))
    assert (first, second, third) == ((0, 10), (10, 20), (20, 28))
    assert isinstance(certificates._claim(job_id), float)  # all held: wait
    # The last batch finishes first: nothing is below it yet, so done does not move.
    assert certificates._work_batch(job_id, 20, 28) == 8
    job = db.session.get(Job, job_id)
    db.session.refresh(job)
    assert (job.done, job.payload["finished"], sorted(job.payload["leases"])) == (
        0, [20], ["0", "10"])
    assert certificates._work_batch(job_id, 0, 10) == 10
    db.session.refresh(job)
    assert (job.done, job.status) == (10, "running")
    # The worker holding 10-20 dies; once its lease runs out the batch is taken over.
    job.payload = {**job.payload, "leases": {"10": (utcnow() - timedelta(seconds=1))
                                             .isoformat()}}
    db.session.commit()
    assert certificates.work(job_id) == {"job": job_id, "made": 10, "batches": 1}
    db.session.refresh(job)
    assert (job.status, job.done, job.skipped) == ("done", 28, 0)
    assert jobs.progress(job).made == 28
    issued = valid_of(workshop, "participation")
    assert len(issued) == 28 and all(intact(c) for c in issued)
    assert len({c.code for c in issued}) == 28
    assert certificates.work(job_id) == {"job": job_id, "made": 0, "batches": 0}


def test_a_batch_done_twice_issues_nobody_twice(app, workshop, no_workers):
    """A worker that stored its batch but died before anyone knew (or a second delivery
    of the task, or the sweep beside a live worker): the batch is done again."""
    set_rule(workshop, "participation")
    job_id = certificates.issue(workshop, "participation", actor=None).id
    assert certificates._claim(job_id) == (0, 5)
    assert certificates._work_batch(job_id, 0, 5) == 5
    assert certificates._work_batch(job_id, 0, 5) == 0  # again: all made by this job
    # And by another way in (the sweep's), over the same holders: nothing new either.
    job = db.session.get(Job, job_id)
    assert certificates._issue_chunk(job, 0, 5) == ([], 0)
    db.session.rollback()
    issued = valid_of(workshop, "participation")
    assert len(issued) == 5 and all(intact(c) for c in issued)
    assert files() == {c.stored_name for c in issued}
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.kind == "certificate_issued")) == 5


def test_a_slow_worker_overtaken_after_its_lease_counts_nobody_twice(workshop, no_workers):
    """Worker B takes over a batch whose lease ran out while worker A was still rendering
    it; A stores first. B's certificates go in for nobody (the unique indexes), its files
    are removed, and its holders are not counted as skipped: A made them."""
    set_rule(workshop, "participation")
    job_id = certificates.issue(workshop, "participation", actor=None).id
    assert certificates._claim(job_id) == (0, 5)
    job = db.session.get(Job, job_id)
    holders = job.payload["holders"]
    late = certificates._prepare(job, holders)  # B has read the batch...
    db.session.commit()
    assert certificates._work_batch(job_id, 0, 5) == 5  # ... when A stores it
    pdfs = certificates._render(late)
    job = db.session.get(Job, job_id)
    stored = certificates._store(job, late, pdfs)
    db.session.commit()
    assert (stored.certificates, stored.messages, stored.lost) == ([], [], 0)
    issued = valid_of(workshop, "participation")
    assert len(issued) == 5 and files() == {c.stored_name for c in issued}
    assert jobs.progress(db.session.get(Job, job_id)).as_dict()["skipped"] == 0


def test_a_worker_killed_between_rendering_and_committing_leaves_no_record(
        app, workshop, no_workers, monkeypatch):
    set_rule(workshop, "participation")
    job_id = certificates.issue(workshop, "participation", actor=None).id
    store = certificates._store

    def dies(*args, **kwargs):
        store(*args, **kwargs)
        raise KeyboardInterrupt  # stands for SIGKILL: the transaction never commits

    monkeypatch.setattr(certificates, "_store", dies)
    with pytest.raises(KeyboardInterrupt):
        certificates.work(job_id)
    db.session.rollback()
    orphans = files()
    assert len(orphans) == 5 and not valid_of(workshop, "participation")
    monkeypatch.setattr(certificates, "_store", store)
    job = db.session.get(Job, job_id)
    job.payload = {**job.payload, "leases": {}}  # its lease ran out
    db.session.commit()
    assert certificates.work(job_id)["made"] == 5
    issued = valid_of(workshop, "participation")
    assert len(issued) == 5 and all(intact(c) for c in issued)
    # The dead worker's files are named by codes never stored: the sweep removes them.
    assert files() == orphans | {c.stored_name for c in issued}
    assert certificates.sweep_orphans(older_than=timedelta(0)) == 5
    assert files() == {c.stored_name for c in issued}


def test_the_jobs_sweep_finishes_a_job_whose_workers_are_gone(app, workshop, no_workers,
                                                               monkeypatch):
    app.config["CERTIFICATE_BATCH"] = 2
    chunks = []  # the sweep's transactions, each committed with its batch
    issue_chunk = jobs._HANDLERS["certificates"]

    def recorded(job, start, stop):
        chunks.append((start, stop))
        return issue_chunk(job, start, stop)

    monkeypatch.setitem(jobs._HANDLERS, "certificates", recorded)
    set_rule(workshop, "participation")
    job_id = certificates.issue(workshop, "participation", actor=None).id
    assert certificates._claim(job_id) == (0, 2)
    certificates._work_batch(job_id, 0, 2)
    assert certificates._claim(job_id) == (2, 4)  # ... and this worker dies with it
    assert jobs.sweep() == 0  # the job's lease still holds
    job = db.session.get(Job, job_id)
    job.lease_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert jobs.sweep() == 1
    db.session.refresh(job)
    assert (job.status, job.done, job.skipped) == ("done", 5, 0)
    assert chunks == [(2, 4), (4, 5)]  # a batch a transaction, from where the worker left
    assert len(valid_of(workshop, "participation")) == 5
    assert jobs.progress(job).made == 5


def test_holders_no_longer_eligible_when_their_batch_comes_are_skipped(
        workshop, no_workers):
    set_rule(workshop, "participation")
    job_id = certificates.issue(workshop, "participation", actor=None).id
    nino = by_name(certificates.eligibility(workshop, "participation"))["Nino Beridze 3"]
    certificates.set_override(workshop, "participation", nino.registration_id, False,
                              "asked not to", actor=None)
    certificates.work(job_id)
    job = db.session.get(Job, job_id)
    progress = jobs.progress(job)
    assert (progress.made, progress.skipped, progress.percent) == (4, 1, 100)
    assert "Nino Beridze 3" not in {c.holder_name for c in valid_of(workshop,
                                                                     "participation")}


def test_a_cancelled_job_issues_no_more(workshop, no_workers, app):
    app.config["CERTIFICATE_BATCH"] = 2
    set_rule(workshop, "participation")
    job_id = certificates.issue(workshop, "participation", actor=None).id
    assert certificates._claim(job_id) == (0, 2)
    jobs.cancel(db.session.get(Job, job_id), actor=None)
    assert certificates._work_batch(job_id, 0, 2) == 0  # the batch in flight is dropped
    assert certificates.work(job_id)["made"] == 0
    assert not valid_of(workshop, "participation") and not files()


def test_the_verification_page_shows_the_date_printed_not_when_the_batch_was_stored(
        workshop, no_workers):
    """A job started before midnight whose batch is stored after it (or finished by the
    sweep hours later): the page says the day the paper says."""
    set_rule(workshop, "participation")
    job = certificates.issue(workshop, "participation", actor=None)
    job.payload = {**job.payload, "issue_date": "2019-08-23"}
    db.session.commit()
    certificates.work(job.id)
    made = valid_of(workshop, "participation")
    assert made and all(c.data["issue_date"] == "23 August 2019" for c in made)
    assert {verification.verify(c.code).issued_on for c in made} == {date(2019, 8, 23)}


def test_two_clicks_at_once_make_one_job(workshop, database_url, tmp_path, monkeypatch):
    """Two organisers press "Issue" in the same instant, each on their own connection:
    one job, which both are shown."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: there is no race to lose")
    from eventsys import create_app

    monkeypatch.setattr(certificates.tasks, "enqueue", lambda *args: False)
    set_rule(workshop, "participation")
    event_id = workshop.id
    db.session.commit()
    app = create_app(base_config(tmp_path / "clicks", database_url, SQLALCHEMY_ENGINE_OPTIONS={
        "pool_size": 2, "max_overflow": 0, "pool_timeout": 60}))
    barrier = threading.Barrier(2, timeout=60)
    job_ids: list[int] = []
    errors: list[Exception] = []

    def click():
        with app.app_context():
            try:
                event = db.session.get(Event, event_id)
                barrier.wait()
                job_ids.append(certificates.issue(event, "participation", actor=None).id)
            except Exception as exc:
                errors.append(exc)
                barrier.abort()
            finally:
                db.session.remove()

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with app.app_context():
        db.engine.dispose()
    assert not errors and len(job_ids) == 2 and len(set(job_ids)) == 1, (job_ids, errors)
    assert db.session.scalar(select(func.count()).select_from(Job).where(
        Job.kind == "certificates")) == 1


def test_cancelling_keeps_the_mail_of_the_certificates_made(workshop, no_workers, app):
    """Stopped half way: no more certificates, but those made are valid and their holders
    still get their mail (withdrawn, it could never be queued again)."""
    app.config["CERTIFICATE_BATCH"] = 2
    set_rule(workshop, "participation")
    job_id = certificates.issue(workshop, "participation", actor=None).id
    assert certificates._claim(job_id) == (0, 2)
    assert certificates._work_batch(job_id, 0, 2) == 2
    assert jobs.cancel(db.session.get(Job, job_id), actor=None) == 0
    made = valid_of(workshop, "participation")
    assert len(made) == 2
    statuses = db.session.scalars(select(OutboxMessage.status).where(
        OutboxMessage.job_id == job_id)).all()
    assert len(statuses) == 2 and "cancelled" not in statuses
    assert certificates.work(job_id)["made"] == 0  # the rest is not made
    finished = db.session.get(Job, job_id)
    finished.status = "done"
    db.session.commit()
    assert not jobs.progress(finished).cancellable
    with pytest.raises(Conflict):
        jobs.cancel(finished, actor=None)


def test_a_name_that_cannot_be_laid_out_does_not_hold_up_the_others(
        workshop, no_workers, monkeypatch, app):
    render = certificates.certificate_render.render_batch

    def fussy(event, template, items):
        if any(item.holder_name.startswith("Nino") for item in items):
            raise RuntimeError("a text is too long for one page")
        return render(event, template, items)

    monkeypatch.setattr(certificates.certificate_render, "render_batch", fussy)
    set_rule(workshop, "participation")
    for batch in (100, 1):  # in a batch with others, and alone in its batch (not retried)
        app.config["CERTIFICATE_BATCH"] = batch
        job_id = certificates.issue(workshop, "participation", actor=None).id
        certificates.work(job_id)
        progress = jobs.progress(db.session.get(Job, job_id))
        assert (progress.made, progress.skipped, progress.status) == (4, 1, "done"), batch
        for certificate in valid_of(workshop, "participation"):
            certificates.revoke(certificate, "again", actor=None)
    # A re-issue that cannot be laid out says so, and the valid one stays.
    monkeypatch.setattr(certificates.certificate_render, "render_batch", render)
    certificates.work(certificates.issue(workshop, "participation", actor=None).id)
    (nino,) = [c for c in valid_of(workshop, "participation") if c.holder_name.startswith("Nino")]
    monkeypatch.setattr(certificates.certificate_render, "render_batch", fussy)
    with pytest.raises(ServiceError, match="could not be laid out"):
        certificates.reissue(nino, actor=None)
    db.session.refresh(nino)
    assert nino.status == "valid"


# One certificate --------------------------------------------------------------------------

def test_reissue_after_a_name_correction_makes_a_new_version_and_revokes_the_old(workshop):
    certificates.issue(workshop, "completion", actor=None)
    old = next(c for c in valid_of(workshop) if c.holder_name.startswith("Ayesha"))
    old_id, old_file = old.id, file_of(old)
    registration = db.session.get(Registration, old.registration_id)
    registration.name = "Ayesha Siddiqui-Khan"
    db.session.commit()
    assert by_name(certificates.eligibility(workshop, "completion"))[
        "Ayesha Siddiqui-Khan"].changed
    new = certificates.reissue(old, actor=None)
    assert (new.version, new.holder_name, new.status) == (2, "Ayesha Siddiqui-Khan", "valid")
    assert intact(new) and new.code != old.code
    old = db.session.get(Certificate, old_id)
    db.session.refresh(old)
    assert old.status == "revoked" and old.revoked_at is not None
    assert old.revoked_reason == "Replaced by version 2 (name corrected)."
    assert old_file.exists()  # the old file stays: verification still checks it
    assert [c.id for c in valid_of(workshop)
            if c.registration_id == registration.id] == [new.id]
    assert not by_name(certificates.eligibility(workshop, "completion"))[
        "Ayesha Siddiqui-Khan"].changed
    with pytest.raises(Conflict):
        certificates.reissue(old, actor=None)
    mails = [m for m in delivered("p0@example.org")
             if m["Subject"].startswith("Your certificate")]
    assert len(mails) == 2


def test_revoke_needs_a_reason_and_the_holder_can_be_issued_again(workshop):
    certificates.issue(workshop, "completion", actor=None)
    certificate = valid_of(workshop)[0]
    with pytest.raises(ServiceError):
        certificates.revoke(certificate, "   ", actor=None)
    certificates.revoke(certificate, "issued by mistake", actor=None)
    assert (certificate.status, certificate.revoked_reason) == ("revoked",
                                                                "issued by mistake")
    with pytest.raises(Conflict):
        certificates.revoke(certificate, "again", actor=None)
    assert len(valid_of(workshop)) == 1
    job = certificates.issue(workshop, "completion", actor=None)
    assert job.total == 1
    again = [c for c in valid_of(workshop) if c.registration_id == certificate.registration_id]
    assert len(again) == 1 and again[0].version == 2
    assert db.session.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.action.in_(("certificates.revoked", "certificates.issued")))) == 3


def test_certificate_of_another_event_is_not_found(workshop, make_event):
    certificates.issue(workshop, "completion", actor=None)
    other = make_event("other")
    with pytest.raises(NotFound):
        certificates.certificate_of(other, valid_of(workshop)[0].id)


def test_rule_is_stored_on_the_template_with_its_defaults(workshop):
    assert db.session.scalar(select(func.count()).select_from(CertificateTemplate)) == 0
    set_rule(workshop, "completion", min_rate=90)
    template = db.session.scalar(select(CertificateTemplate))
    assert template.rule == {"confirmed": True, "min_rate": 90, "sessions": [],
                             "spoke": False}
    assert template.heading and template.body  # the design's defaults came with it
    summary = {s.kind: s for s in certificates.summaries(workshop)}
    assert summary["completion"].stored and not summary["speaker"].stored


def test_the_demo_workshops_eligible_participants_get_certificates_of_completion(app):
    """What seed-demo leaves: the 2019 workshop's completion rule (80 %); one click issues
    a certificate to each of those who attended enough, names in their own scripts."""
    from datetime import date

    from eventsys.models import Event
    from eventsys.services import demo

    demo.seed_demo(date.today())
    workshop = db.session.scalar(select(Event).where(
        Event.slug == "br-science-park-workshop-2019"))
    found = certificates.eligibility(workshop, "completion")
    assert found.rule == Rule(min_rate=80)
    assert certificates.glyph_warnings(found) == []
    eligible = {c.registration_id for c in found.eligible}
    assert 0 < len(eligible) < len(found.candidates)  # someone on each side of the line
    assert all(c.rate.percent >= 80 for c in found.eligible)
    certificates.issue(workshop, "completion", actor=None)
    issued = valid_of(workshop)
    assert {c.registration_id for c in issued} == eligible
    assert all(intact(c) for c in issued)
    natives = "".join(c.holder_name_native or "" for c in issued)
    for script in ("\u0600", "\u0e00", "\u0400", "\u10a0", "\u0900", "\u4e00"):
        block = range(ord(script), ord(script) + (0x5200 if script == "\u4e00" else 0x100))
        assert any(ord(ch) in block for ch in natives), script
    # CLDR 46 (Babel 2.17+) puts thin spaces around the dash; older data does not.
    assert {c.data["dates"].replace("\u2009", "") for c in issued} == {"12–23 August 2019"}
    assert {c.data["cities"] for c in issued} == {"Beijing, Nanning"}
    demo.seed_demo(date.today())  # seeding again changes nothing of it
    assert len(valid_of(workshop)) == len(eligible)
