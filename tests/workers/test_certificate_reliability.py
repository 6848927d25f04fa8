"""Issuing certificates with real worker processes that die: ``celery -A workers worker``
processes on Redis and PostgreSQL (conftest.py) share one job batch by batch; one is
SIGKILLed mid-run and another started. Afterwards every eligible participant has exactly
one valid certificate, nobody else has one, each file's SHA-256 matches its record, and
each holder is mailed once (at most one copy from the killed worker)."""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from eventsys.extensions import db
from eventsys.models import Certificate, Job, OutboxMessage, Registration
from eventsys.services import agenda, attendance, certificates, events
from eventsys.services import registration as reg
from eventsys.services.agenda import SessionData
from eventsys.services.events import EventData, HostData, VenueData
from eventsys.services.registration import RegistrationInput
from tests.workers.conftest import DEFAULT_WORKERS, wait_for

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

PEOPLE = 1112  # 1,000 eligible: the issue's "a worker killed in the middle of issuing 1,000"
NAMES = ["Ayesha Siddiqui", "Kanokwan Thongdee", "Милица Јовановић", "ნინო ბერიძე", "陈伟明",
         "प्रिया राघवन", "Inês Conceição", "أحمد فاروق"]


def _workshop():
    start = date.today() + timedelta(days=10)
    event = events.create_event(EventData(
        slug="workshop", kind="workshop", title="Science Park Management Workshop",
        start_date=start, end_date=start + timedelta(days=1), timezone="Asia/Shanghai",
        mode="in_person", status="published",
        venues=[VenueData("Hall 1", "Beijing", "CN"), VenueData("Park", "Nanning", "CN")],
        hosts=[HostData("Great Wall Enterprise Institute", "CN")]), creator=None)
    reg.set_capacities(event, {"in_person": None}, actor=None)
    return event


def _participants(event) -> list[int]:
    ids = []
    for n in range(PEOPLE):
        out = reg.register(event, RegistrationInput(
            f"p{n}@example.org", f"Participant {n}", "in_person",
            name_native=NAMES[n % len(NAMES)]))
        ids.append(out.registration_id)
    return ids


def _files_dir(stack) -> Path:
    return stack.tmp_path / "files"


def test_a_worker_killed_mid_run_leaves_one_valid_certificate_each(running_stack):
    stack = running_stack
    files = _files_dir(stack)
    # Both processes and this one read and write the same certificate files.
    # A batch held by a dead worker is taken over when its lease runs out: 10 s here (a
    # batch of 20 takes well under one), not the default 30, to keep the test short.
    stack.replace_all(DEFAULT_WORKERS, FILES_DIR=str(files), CERTIFICATE_BATCH_LEASE_SECONDS="10")
    stack.app.config["FILES_DIR"] = str(files)
    stack.app.config["CERTIFICATE_BATCH"] = 20  # 50 batches: the kill lands inside one
    stack.app.config["CERTIFICATE_BATCH_LEASE_SECONDS"] = 10
    with stack.app.app_context():
        try:
            _run(stack, files)
        finally:
            db.session.remove()
            from tests.conftest import clean_tables
            clean_tables()
            stack.smtp.handler.reset()


def _run(stack, files: Path) -> None:
    event = _workshop()
    ids = _participants(event)
    begin = datetime.combine(event.start_date, datetime.min.time()).replace(hour=9)
    sessions = [agenda.create_session(event, SessionData(
        f"Lecture {n}", "lecture", begin + timedelta(hours=n),
        begin + timedelta(hours=n, minutes=50)), actor=None) for n in range(2)]
    # Nine in ten at both lectures; the rest at one (50 %, under the rule's 80 %).
    attendance.mark(event, sessions[0], ids, present=True, staff=None)
    attendance.mark(event, sessions[1], [i for n, i in enumerate(ids) if n % 10], present=True,
                    staff=None)
    certificates.update_rule(event, "completion", certificates.Rule(min_rate=80), actor=None)
    certificates.set_override(event, "completion", ids[0], True, "excused", actor=None)
    certificates.set_override(event, "completion", ids[1], False, "left early", actor=None)
    eligible = {c.registration_id for c in certificates.eligibility(event, "completion").eligible}
    expected = {i for n, i in enumerate(ids) if n % 10 or n == 0} - {ids[1]}
    assert eligible == expected and len(eligible) == 1000

    job_id = certificates.issue(event, "completion", actor=None).id

    def made() -> int:
        db.session.rollback()
        return db.session.scalar(select(func.count()).select_from(Certificate))

    assert wait_for(lambda: made() >= 100, seconds=120), stack.log_tail()
    stack.kill("w1")  # mid-run: it holds a batch it may have rendered, even written
    assert made() < len(eligible), "the kill came too late to land mid-run"
    held = db.session.get(Job, job_id).payload["leases"]
    assert held, "no batch was being worked on when the worker died"
    stack.start("w1b", FILES_DIR=str(files), CERTIFICATE_BATCH_LEASE_SECONDS="10")

    def finished() -> bool:
        db.session.rollback()
        return db.session.get(Job, job_id).status == "done"

    # The killed worker's batch is taken over once its lease (10 s) runs out.
    assert wait_for(finished, seconds=180), stack.log_tail()
    db.session.rollback()
    job = db.session.get(Job, job_id)
    assert (job.done, job.total, job.error) == (len(eligible), len(eligible), None)

    rows = db.session.execute(select(
        Certificate.registration_id, Certificate.status, Certificate.stored_name,
        Certificate.sha256, Certificate.size, Certificate.code, Certificate.version,
        Certificate.message_id)).all()
    valid = [row for row in rows if row.status == "valid"]
    holders = Counter(row.registration_id for row in valid)
    assert set(holders) == eligible and set(holders.values()) == {1}
    assert len(rows) == len(valid)  # nothing revoked, nothing extra
    for row in valid:
        data = (files / "certificates" / row.stored_name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == row.sha256 and len(data) == row.size
        assert data.startswith(b"%PDF-") and row.version == 1 and row.message_id
    # Files no record names (a batch written by the killed worker, never committed) are
    # the sweep's to remove; after it, the directory holds exactly the certificates.
    certificates.sweep_orphans(older_than=timedelta(0))
    assert {p.name for p in (files / "certificates").glob("*.pdf")} == {
        row.stored_name for row in valid}

    # One mail per certificate, all sent; at most one copy from the killed worker.
    def all_sent() -> bool:
        db.session.rollback()
        return dict(db.session.execute(
            select(OutboxMessage.status, func.count()).where(OutboxMessage.job_id == job_id)
            .group_by(OutboxMessage.status)).all()) == {"sent": len(eligible)}

    assert wait_for(all_sent, seconds=180), stack.log_tail()
    time.sleep(0.5)
    received = Counter(str(m["To"]) for m in stack.smtp.handler.messages
                       if str(m["Subject"]).startswith("Your certificate"))
    emails = dict(db.session.execute(select(Registration.id, Registration.email)).all())
    assert {emails[i] for i in eligible} == {addr.split("<")[-1].rstrip(">")
                                               for addr in received}
    assert sum(n - 1 for n in received.values()) <= 1
