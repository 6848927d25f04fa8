"""Invitations per second through the real path: 5,000 invitations imported, rendered, sent
over SMTP and recorded by Celery workers on Redis, against one Celery task per message.

1. A fresh database ``eventsys_bench_mail`` (migrated), Redis db 13 (flushed before and
   after), an aiosmtpd server in its own process that counts what it accepts and the
   Message-IDs it has seen before (duplicates), and ``--workers`` Celery worker processes
   (``celery -A workers worker -Q mail,celery``, ``--pool solo`` by default).
2. ``sink``: the SMTP server alone, one plain client sending pre-built invitations over
   one connection (the ceiling of the server, for reference).
3. ``outbox`` (ours): an invitation list of ``--invitations`` people is checked
   (``invitations.start_import``) and confirmed (``confirm_import``); timed from the
   confirmation to the last message recorded as sent: the import job's chunks, the outbox
   rows, their delivery tasks, rendering, SMTP and the recorded outcomes.
4. ``naive``: the same number of invitations for a second event, imported beforehand (not
   timed, its mail not announced); then one ``bench.naive_invitation`` task per message
   (``bench/naive_mail.py``: load, render the same templates, open an SMTP connection,
   send, one UPDATE), timed from the first task sent to the last message recorded.

Prints a table, the CPU each part of the machine used, whether the targets (issue 5) are
met, and as its last line one JSON object. Exit status 0 only when they are.

    .venv/bin/python bench/mail.py [--invitations 5000] [--naive 5000] [--sink 5000]
                                   [--workers 2] [--pool solo|threads|prefork]
                                   [--concurrency 1] [--redis-db 13] [--keep]

See bench/README.md for figures and what they say.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import multiprocessing as mp
import os
import re
import secrets
import shutil
import signal
import smtplib
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import redis as redis_lib
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import (  # noqa: E402
    Workers,
    cpu_between,
    cpu_snapshot,
    create_database,
    drop_database,
    free_port,
    wait_for,
)
from eventsys import create_app  # noqa: E402
from eventsys.extensions import db  # noqa: E402
from eventsys.models import Event, Job, OutboxMessage  # noqa: E402
from eventsys.services import events, invitations, jobs, messaging  # noqa: E402
from eventsys.services.events import EventData, HostData, VenueData  # noqa: E402

DB = "eventsys_bench_mail"
TARGET_PER_S, TARGET_RATIO = 400.0, 1.7
SECRET = secrets.token_urlsafe(48)


# The SMTP server, in its own process -------------------------------------------------------

_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)


def _sink(port: int, received, duplicates, last_at, ready, stop) -> None:
    """An aiosmtpd server that accepts everything and counts it; runs until ``stop``."""
    from aiosmtpd.controller import Controller

    seen: set[bytes] = set()

    class Counting:
        async def handle_DATA(self, server, session, envelope):
            head = envelope.content[:envelope.content.find(b"\r\n\r\n")]
            found = _MESSAGE_ID.search(head)
            key = found.group(1) if found else b""
            if key in seen:
                duplicates.value += 1
            seen.add(key)
            received.value += 1
            last_at.value = time.time()
            return "250 OK"

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    controller = Controller(Counting(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


class Sink:
    def __init__(self) -> None:
        ctx = mp.get_context("spawn")
        self.port = free_port()
        self.received = ctx.Value("q", 0)
        self.duplicates = ctx.Value("q", 0)
        self.last_at = ctx.Value("d", 0.0)
        self._ready, self._stop = ctx.Event(), ctx.Event()
        self.process = ctx.Process(target=_sink, daemon=True, args=(
            self.port, self.received, self.duplicates, self.last_at, self._ready, self._stop))

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def __enter__(self) -> Sink:
        self.process.start()
        if not self._ready.wait(30):
            raise RuntimeError("the SMTP sink did not start")
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()

    def counts(self) -> tuple[int, int]:
        return self.received.value, self.duplicates.value


# Celery workers ------------------------------------------------------------------------------

# The work ------------------------------------------------------------------------------------

def invitee_list(n: int, prefix: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["name", "email", "organisation", "country", "role", "language"])
    roles = ("participant", "participant", "speaker", "guest")
    for i in range(n):
        writer.writerow([f"Invitee {i:05d}", f"{prefix}{i:05d}@bench.example.org",
                         f"Science Park {i % 37}", ("CN", "PK", "BR", "DE", "")[i % 5],
                         roles[i % 4], ("en", "zh", "")[i % 3]])
    return out.getvalue().encode()


def make_event(slug: str) -> Event:
    start = date.today() + timedelta(days=40)
    return events.create_event(EventData(
        slug=slug, kind="forum", title="Belt & Road Science Park Forum (bench)",
        start_date=start, end_date=start + timedelta(days=2), timezone="Asia/Shanghai",
        mode="hybrid", status="published",
        venues=[VenueData("China-ASEAN Science and Technology Center", "Nanning", "CN")],
        hosts=[HostData("Great Wall Enterprise Institute", "CN")]), creator=None)


def settled(job_id: int) -> tuple[int, int]:
    """(sent, failed) of a job's messages."""
    db.session.rollback()
    counts = dict(db.session.execute(
        select(OutboxMessage.status, func.count()).where(OutboxMessage.job_id == job_id)
        .group_by(OutboxMessage.status)).all())
    db.session.rollback()
    return counts.get("sent", 0), counts.get("failed", 0)


def last_sent_at(job_id: int) -> float:
    value = db.session.scalar(select(func.max(OutboxMessage.sent_at))
                              .where(OutboxMessage.job_id == job_id))
    db.session.rollback()
    return value.timestamp()


def run_sink_alone(app, sink: Sink, n: int) -> dict:
    """A plain client loop over one connection: the server's own ceiling."""
    with app.app_context():
        sample = OutboxMessage(
            id=0, to_email="sample@bench.example.org", to_name="Sample", template="invitation",
            locale=None, message_id="<sample@bench>", created_at=datetime.now(UTC),
            context={"event_id": db.session.scalar(select(func.min(Event.id))),
                     "name": "Sample", "role": "participant", "url": "http://x/i/abc"})
        rendered = messaging.render(sample, db.session)
        raw = messaging.envelope(sample, rendered, app.config["MAIL_FROM"]).content
        db.session.rollback()
    before = sink.counts()[0]
    t0 = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", sink.port) as smtp:
        for i in range(n):
            smtp.sendmail("no-reply@bench.example.org", ["sample@bench.example.org"],
                          raw.replace(b"<sample@bench>", f"<sink-{i}@bench>".encode()))
    elapsed = time.perf_counter() - t0
    assert sink.counts()[0] - before == n
    return {"n": n, "seconds": round(elapsed, 2), "per_s": round(n / elapsed, 1),
            "bytes": len(raw)}


def run_outbox(app, sink: Sink, n: int, groups) -> dict:
    """Ours: import and confirm a list; timed from the confirmation to the last sent."""
    with app.app_context():
        event = make_event("bench-outbox")
        job = invitations.start_import(event, "list.csv", invitee_list(n, "o"), actor=None)
        assert job.total == n, job.payload["problems"][:3]
        job_id = job.id
        received0, dups0 = sink.counts()
        cpu0 = cpu_snapshot(groups())
        t0 = time.time()
        invitations.confirm_import(event, job_id, actor=None)
        done = wait_for(lambda: sum(settled(job_id)) >= n, seconds=600)
        cpu1 = cpu_snapshot(groups())
        sent, failed = settled(job_id)
        elapsed = last_sent_at(job_id) - t0 if sent else float("nan")
        imported = db.session.get(Job, job_id)
        import_s = (imported.finished_at.timestamp() - t0) if imported.finished_at else None
        after, after_s = 0, 0.0
        if imported.finished_at and sent:  # sending alone, once the import is over
            after = db.session.scalar(select(func.count()).where(
                OutboxMessage.job_id == job_id, OutboxMessage.sent_at > imported.finished_at))
            after_s = last_sent_at(job_id) - imported.finished_at.timestamp()
    time.sleep(1.0)  # a duplicate would arrive now or never
    received, dups = sink.counts()
    return {"n": n, "done": done, "sent": sent, "failed": failed,
            "seconds": round(elapsed, 2), "per_s": round(sent / elapsed, 1),
            "import_seconds": round(import_s, 2) if import_s else None,
            "after_import_per_s": round(after / after_s, 1) if after_s > 0 else None,
            "received": received - received0, "duplicates": dups - dups0,
            "cpu": cpu_between(cpu0, cpu1)}


def run_naive(app, quiet_app, sink: Sink, n: int, groups) -> dict:
    """One task per message, each with its own SMTP connection."""
    with quiet_app.app_context():  # imported here, its mail announced to nobody
        event = make_event("bench-naive")
        job = invitations.start_import(event, "list.csv", invitee_list(n, "n"), actor=None)
        invitations.confirm_import(event, job.id, actor=None)
        jobs.run(job.id)
        job_id = job.id
        ids = list(db.session.scalars(select(OutboxMessage.id)
                                      .where(OutboxMessage.job_id == job_id)
                                      .order_by(OutboxMessage.id)))
        db.session.rollback()
    assert len(ids) == n
    celery_app = app.extensions["celery"]
    with app.app_context():
        received0, dups0 = sink.counts()
        cpu0 = cpu_snapshot(groups())
        t0 = time.time()
        for message_id in ids:
            celery_app.send_task("bench.naive_invitation", args=[message_id])
        done = wait_for(lambda: sum(settled(job_id)) >= n, seconds=600)
        cpu1 = cpu_snapshot(groups())
        sent, failed = settled(job_id)
        elapsed = last_sent_at(job_id) - t0 if sent else float("nan")
    time.sleep(1.0)
    received, dups = sink.counts()
    return {"n": n, "done": done, "sent": sent, "failed": failed,
            "seconds": round(elapsed, 2), "per_s": round(sent / elapsed, 1),
            "received": received - received0, "duplicates": dups - dups0,
            "cpu": cpu_between(cpu0, cpu1)}


def cpu_line(cpu: dict, n: int) -> str:
    parts = [f"{name} {cpu[name] / n * 1000:.2f}" for name in
             ("workers", "sink", "postgres", "redis", "bench", "kernel interrupts",
              "other processes") if name in cpu]
    return "CPU ms per message: " + ", ".join(parts) + f" (machine {cpu['machine'] / n * 1000:.2f})"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--invitations", type=int, default=5000)
    parser.add_argument("--naive", type=int, default=5000, help="0 skips the naive path")
    parser.add_argument("--sink", type=int, default=5000, help="0 skips the sink alone")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pool", default="solo", choices=("solo", "prefork", "threads"))
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--redis-db", type=int, default=13)
    parser.add_argument("--keep", action="store_true", help="leave the database")
    args = parser.parse_args()

    url = create_database(DB).replace("postgresql://", "postgresql+psycopg://")
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
    redis_lib.Redis.from_url(redis_url).flushdb()
    instance = Path(tempfile.mkdtemp(prefix="bench-mail-"))
    try:
        with Sink() as sink:
            return run(args, url, redis_url, instance, sink)
    finally:
        redis_lib.Redis.from_url(redis_url).flushdb()
        shutil.rmtree(instance, ignore_errors=True)
        if not args.keep:
            drop_database(DB)


def run(args, url: str, redis_url: str, instance: Path, sink: Sink) -> int:
    common = {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET,
              "BASE_URL": "http://127.0.0.1", "SMTP_URL": sink.url}
    app = create_app({**common, "INSTANCE_PATH": str(instance / "app"), "REDIS_URL": redis_url,
                      "CELERY": {"broker_url": redis_url}})
    quiet_app = create_app({**common, "INSTANCE_PATH": str(instance / "quiet"),
                            "ANNOUNCE_DELAY_SECONDS": 0,
                            "CELERY": {"broker_url": "memory://localhost/"}})
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        db.engine.dispose()
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": redis_url, "SMTP_URL": sink.url,
           "EVENTSYS_INSTANCE": str(instance / "worker"), "SECRET_KEY": SECRET,
           "BASE_URL": "http://127.0.0.1"}
    workers = Workers(args.workers, env, instance / "workers.log", args.pool, args.concurrency,
                      queues="mail,celery", name="bench", include="bench.naive_mail")
    try:
        celery_app = app.extensions["celery"]
        if not wait_for(lambda: len(celery_app.control.ping(timeout=0.5) or [])
                        == args.workers, seconds=60):
            print((instance / "workers.log").read_text()[-3000:])
            return 2

        print(f"workers: {args.workers} x --pool {args.pool}"
              f"{'' if args.pool == 'solo' else f' --concurrency {args.concurrency}'}, "
              f"pids {' '.join(map(str, workers.pids()))} (for py-spy); "
              f"SMTP sink pid {sink.process.pid}")

        def groups():
            return {"workers": workers.pids(), "sink": [sink.process.pid],
                    "bench": [os.getpid()]}

        results: dict = {}
        if args.sink:
            with app.app_context():
                make_event("bench-sample")
            results["sink"] = run_sink_alone(app, sink, args.sink)
        results["outbox"] = run_outbox(app, sink, args.invitations, groups)
        if args.naive:
            results["naive"] = run_naive(app, quiet_app, sink, args.naive, groups)
    finally:
        workers.stop()
        for each in (app, quiet_app):
            with each.app_context():
                db.engine.dispose()
    return report(args, results)


def report(args, results: dict) -> int:
    print(f"{'path':<8} {'messages':>9} {'seconds':>8} {'per s':>8} {'received':>9} "
          f"{'duplicates':>10}")
    for name in ("sink", "outbox", "naive"):
        r = results.get(name)
        if r:
            print(f"{name:<8} {r['n']:>9} {r['seconds']:>8.2f} {r['per_s']:>8.1f} "
                  f"{r.get('received', r['n']):>9} {r.get('duplicates', 0):>10}")
    if results["outbox"]["import_seconds"]:
        print(f"outbox: the import job took {results['outbox']['import_seconds']:.2f} s; "
              f"after it, {results['outbox']['after_import_per_s']} sent per s")
    for name in ("outbox", "naive"):
        if name in results:
            print(f"{name}: " + cpu_line(results[name]["cpu"], results[name]["n"]))
    ours = results["outbox"]
    naive = results.get("naive")
    ratio = round(ours["per_s"] / naive["per_s"], 2) if naive else None
    duplicates = ours["duplicates"] + (naive["duplicates"] if naive else 0)
    targets = {
        "per_s_ge_400": ours["per_s"] >= TARGET_PER_S,
        "ratio_ge_1_7": ratio is not None and ratio >= TARGET_RATIO,
        "no_duplicates": duplicates == 0,
        "all_delivered": ours["sent"] == ours["n"] == ours["received"],
    }
    for name, met in targets.items():
        print(f"target {name}: {'met' if met else 'MISSED'}")
    summary = {
        "bench": "mail", "invitations": ours["n"], "workers": args.workers, "pool": args.pool,
        "concurrency": args.concurrency, "per_s": ours["per_s"],
        "naive_per_s": naive["per_s"] if naive else None, "ratio": ratio,
        "sink_per_s": results["sink"]["per_s"] if "sink" in results else None,
        "delivered": ours["received"], "sent": ours["sent"], "failed": ours["failed"],
        "duplicates": duplicates, "seconds": ours["seconds"],
        "import_seconds": ours["import_seconds"],
        "after_import_per_s": ours["after_import_per_s"],
        "naive_seconds": naive["seconds"] if naive else None,
        "sink_seconds": results["sink"]["seconds"] if "sink" in results else None,
        "targets_met": targets,
    }
    print(json.dumps(summary))
    return 0 if all(targets.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
