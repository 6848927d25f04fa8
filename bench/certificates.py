"""Certificates per second through the real path: 1,000 certificates of completion issued by
Celery workers on Redis into PostgreSQL and files, against the naive loop (one WeasyPrint
document per certificate, same template) measured in the same run.

1. A fresh database ``eventsys_bench_certs`` (migrated), Redis db 12 (flushed before and
   after), a temporary instance directory (the files, and the mail written as files), and
   ``--workers`` Celery worker processes (``celery -A workers worker``, ``--pool solo`` by
   default; both queues, so the certificate mail is sent by the same processes).
2. Through the services: a two-week workshop in Beijing and Nanning with 12 lectures,
   ``--certificates`` confirmed participants with names in Latin with accents, Arabic and
   Urdu, Thai, Cyrillic, Georgian, Devanagari and Chinese, all present at every lecture, and
   the completion rule "attendance at least 80 %".
3. ``naive``: in this process, before the workers get anything, ``--naive`` certificates
   rendered one WeasyPrint document each (``certificate_render.render_batch`` with one item)
   with the same template and data: the loop most apps write.
4. ``ours``: ``certificates.issue`` (the organiser's click): timed from the click to the job
   recorded as done, i.e. every certificate rendered, written, hashed, committed and its
   mail queued; then until every mail is sent (reported, not a target). The workers' memory
   is sampled every 0.1 s throughout (resident set of each worker process and its children).
5. Checks: one valid certificate per participant, every file's SHA-256 as recorded.

Prints a table, whether the targets (issue 7) are met, and as its last line one JSON
object with at least ``per_s``, ``naive_per_s``, ``ratio``, ``issued``, ``peak_rss_mb``.
Exit status 0 only when the targets are met.

    .venv/bin/python bench/certificates.py [--certificates 1000] [--naive 60] [--workers 2]
        [--pool solo|prefork] [--concurrency 1] [--batch 50] [--redis-db 12] [--keep]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
from datetime import date, datetime, timedelta
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
    wait_for,
)
from eventsys import create_app  # noqa: E402
from eventsys.extensions import db  # noqa: E402
from eventsys.models import Certificate, Job, OutboxMessage  # noqa: E402
from eventsys.services import (  # noqa: E402
    agenda,
    attendance,
    certificate_render,
    certificates,
    events,
)
from eventsys.services import registration as reg  # noqa: E402
from eventsys.services.agenda import SessionData  # noqa: E402
from eventsys.services.events import EventData, HostData, VenueData  # noqa: E402
from eventsys.services.registration import RegistrationInput  # noqa: E402

DB = "eventsys_bench_certs"
TARGET_SECONDS, TARGET_RATIO, TARGET_RSS_MB = 20.0, 5.0, 500.0
SECRET = secrets.token_urlsafe(48)
NAMES = [  # (name, native script, country)
    ("Ayesha Siddiqui", "عائشہ صدیقی", "PK"), ("Kanokwan Thongdee", "กนกวรรณ ทองดี", "TH"),
    ("Milica Jovanović", "Милица Јовановић", "RS"), ("Nino Beridze", "ნინო ბერიძე", "GE"),
    ("Tan Wei Ming", "陈伟明", "CN"), ("Priya Raghavan", "प्रिया राघवन", "IN"),
    ("Inês Conceição", None, "PT"), ("Ahmed Farouk", "أحمد فاروق", "EG"),
    ("Kovács Eszter", None, "HU"), ("João Vitor Araújo", None, "BR"),
]


# Workers and their memory ----------------------------------------------------------------

def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class MemorySampler(threading.Thread):
    """The largest resident set each worker process reached, sampled every 0.1 s."""

    def __init__(self, workers: Workers) -> None:
        super().__init__(daemon=True)
        self.workers, self.peaks, self.peak_total = workers, {}, 0.0
        self.stop_event = threading.Event()

    def run(self) -> None:
        pids = self.workers.pids()
        while not self.stop_event.is_set():
            total = 0.0
            for pid in pids:
                value = rss_mb(pid)
                total += value
                self.peaks[pid] = max(self.peaks.get(pid, 0.0), value)
            self.peak_total = max(self.peak_total, total)
            self.stop_event.wait(0.1)

    def stop(self) -> None:
        self.stop_event.set()
        self.join(5)


# The event -------------------------------------------------------------------------------

def make_workshop(n: int):
    start = date.today() + timedelta(days=20)
    event = events.create_event(EventData(
        slug="bench-workshop", kind="workshop",
        title="Belt & Road Science Park Management Workshop (bench)", start_date=start,
        end_date=start + timedelta(days=11), timezone="Asia/Shanghai", mode="in_person",
        status="published",
        venues=[VenueData("Great Wall Enterprise Institute", "Beijing", "CN"),
                VenueData("China-ASEAN Science and Technology Center", "Nanning", "CN")],
        hosts=[HostData("Great Wall Enterprise Institute", "CN")]), creator=None)
    reg.set_capacities(event, {"in_person": None}, actor=None)
    ids = []
    for i in range(n):
        name, native, country = NAMES[i % len(NAMES)]
        ids.append(reg.register(event, RegistrationInput(
            f"p{i:05d}@bench.example.org", f"{name} {i:04d}", "in_person", name_native=native,
            country=country, organisation_name=f"Science Park {i % 37}")).registration_id)
    for day in range(12):
        begin = datetime.combine(start + timedelta(days=day), datetime.min.time()).replace(
            hour=9)
        session = agenda.create_session(event, SessionData(
            f"Lecture {day + 1}", "lecture", begin, begin + timedelta(hours=3)), actor=None)
        attendance.mark(event, session, ids, present=True, staff=None)
    certificates.update_rule(event, "completion", certificates.Rule(min_rate=80), actor=None)
    return event


# The two ways ----------------------------------------------------------------------------

def run_naive(event, n: int) -> dict:
    """One WeasyPrint document per certificate, same template and data, in this process."""
    found = certificates.eligibility(event, "completion")
    people = found.eligible[:n]
    issue_date = certificates.issue_day(event)
    items = [certificates.printed(found, c, code=certificates.new_code(), issue_date=issue_date)
             for c in people]
    db.session.rollback()
    certificate_render.render_batch(event, found.template, items[:1])  # fonts loaded once
    t0, cpu0 = time.perf_counter(), time.process_time()
    sizes = [len(certificate_render.render_batch(event, found.template, [item])[0])
             for item in items]
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return {"n": len(items), "seconds": round(elapsed, 2),
            "per_s": round(len(items) / elapsed, 1), "per_cpu_s": round(len(items) / cpu, 1),
            "kb_per_pdf": round(sum(sizes) / len(sizes) / 1024, 1)}


def run_ours(app, event_id: int, workers: Workers, files: Path) -> dict:
    with app.app_context():
        from eventsys.models import Event

        event = db.session.get(Event, event_id)
        sampler = MemorySampler(workers)
        sampler.start()

        def groups():
            return {"workers": workers.pids(), "bench": [os.getpid()]}

        cpu0 = cpu_snapshot(groups())
        t0 = time.time()
        job_id = certificates.issue(event, "completion", actor=None).id

        def status() -> str:
            db.session.rollback()
            return db.session.scalar(select(Job.status).where(Job.id == job_id))

        done = wait_for(lambda: status() == "done", seconds=600, every=0.05)
        ready_s = time.time() - t0
        cpu = cpu_between(cpu0, cpu_snapshot(groups()))
        job = db.session.get(Job, job_id)
        total, error = job.total, job.error
        issued = db.session.scalar(select(func.count()).select_from(Certificate).where(
            Certificate.job_id == job_id))
        first = db.session.scalar(select(func.min(Certificate.issued_at)).where(
            Certificate.job_id == job_id))

        def mailed() -> bool:
            db.session.rollback()
            return db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.job_id == job_id, OutboxMessage.status == "sent")) >= issued

        mail_done = wait_for(mailed, seconds=600, every=0.2)
        mailed_s = time.time() - t0
        sampler.stop()
        rows = db.session.execute(select(Certificate.registration_id, Certificate.stored_name,
                                         Certificate.sha256, Certificate.size).where(
            Certificate.job_id == job_id, Certificate.status == "valid")).all()
        holders = {row.registration_id for row in rows}
        damaged = sum(
            1 for row in rows
            if hashlib.sha256((files / "certificates" / row.stored_name).read_bytes())
            .hexdigest() != row.sha256)
        sizes = [row.size for row in rows]
        db.session.rollback()
    return {"n": total, "done": done, "issued": issued, "holders": len(holders),
            "damaged": damaged, "seconds": round(ready_s, 2),
            "per_s": round(issued / ready_s, 1) if ready_s else None,
            "first_after_s": round(first.timestamp() - t0, 2) if first else None,
            "mail_done": mail_done, "mailed_seconds": round(mailed_s, 2),
            "peak_rss_mb": round(max(sampler.peaks.values() or [0]), 1),
            "peak_rss_total_mb": round(sampler.peak_total, 1),
            "kb_per_pdf": round(sum(sizes) / max(1, len(sizes)) / 1024, 1),
            "error": error, "cpu": cpu,
            "per_cpu_s": round(issued / cpu["workers"], 1) if cpu["workers"] else None}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--certificates", type=int, default=1000)
    parser.add_argument("--naive", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pool", default="solo", choices=("solo", "prefork"))
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--batch", type=int, default=certificates.DEFAULT_BATCH)
    parser.add_argument("--redis-db", type=int, default=12)
    parser.add_argument("--keep", action="store_true", help="leave the database")
    args = parser.parse_args()

    url = create_database(DB).replace("postgresql://", "postgresql+psycopg://")
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
    redis_lib.Redis.from_url(redis_url).flushdb()
    instance = Path(tempfile.mkdtemp(prefix="bench-certs-"))
    try:
        return run(args, url, redis_url, instance)
    finally:
        redis_lib.Redis.from_url(redis_url).flushdb()
        shutil.rmtree(instance, ignore_errors=True)
        if not args.keep:
            drop_database(DB)


def run(args, url: str, redis_url: str, instance: Path) -> int:
    files = instance / "files"
    parallel = args.workers * (args.concurrency if args.pool != "solo" else 1)
    common = {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET,
              "BASE_URL": "https://eventsys.example.org", "FILES_DIR": str(files)}
    app = create_app({**common, "INSTANCE_PATH": str(instance / "app"), "REDIS_URL": redis_url,
                      "CELERY": {"broker_url": redis_url}, "CERTIFICATE_BATCH": args.batch,
                      "CERTIFICATE_WORKERS": parallel})
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        t0 = time.perf_counter()
        event = make_workshop(args.certificates)
        event_id = event.id
        print(f"set up {args.certificates} participants in {time.perf_counter() - t0:.1f} s")
        naive = run_naive(event, args.naive) if args.naive else None
        db.engine.dispose()
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": redis_url,
           "EVENTSYS_INSTANCE": str(instance / "worker"), "SECRET_KEY": SECRET,
           "BASE_URL": "https://eventsys.example.org", "FILES_DIR": str(files)}
    env.pop("SMTP_URL", None)  # mail written to files under the workers' instance
    workers = Workers(args.workers, env, instance / "workers.log", args.pool, args.concurrency,
                      queues="celery,mail", name="certs")
    try:
        celery_app = app.extensions["celery"]
        if not wait_for(lambda: len(celery_app.control.ping(timeout=0.5) or [])
                        == args.workers, seconds=60, every=0.2):
            print((instance / "workers.log").read_text()[-3000:])
            return 2
        time.sleep(1.0)  # let them settle (imports done, connected)
        print(f"workers: {args.workers} x --pool {args.pool}"
              f"{'' if args.pool == 'solo' else f' --concurrency {args.concurrency}'}, "
              f"batches of {args.batch}, pids {' '.join(map(str, workers.pids()))}")
        ours = run_ours(app, event_id, workers, files)
    finally:
        workers.stop()
        with app.app_context():
            db.engine.dispose()
    if ours["error"]:
        print("job error:", ours["error"])
        print((instance / "workers.log").read_text()[-3000:])
    return report(args, ours, naive)


def report(args, ours: dict, naive: dict | None) -> int:
    print(f"{'path':<6} {'certificates':>12} {'seconds':>8} {'per s':>8} {'KB/PDF':>7}")
    print(f"{'ours':<6} {ours['issued']:>12} {ours['seconds']:>8.2f} {ours['per_s']:>8.1f} "
          f"{ours['kb_per_pdf']:>7.1f}")
    if naive:
        print(f"{'naive':<6} {naive['n']:>12} {naive['seconds']:>8.2f} {naive['per_s']:>8.1f} "
              f"{naive['kb_per_pdf']:>7.1f}")
    print(f"ours: first certificate committed after {ours['first_after_s']} s; all mail sent "
          f"after {ours['mailed_seconds']} s; peak RSS per worker {ours['peak_rss_mb']} MB "
          f"(all workers together {ours['peak_rss_total_mb']} MB)")
    cpu = ours["cpu"]
    print(f"CPU while issuing ({ours['seconds']} s, {cpu['machine']:.1f} s of CPU on the "
          f"machine): workers {cpu['workers']:.1f} s, PostgreSQL {cpu['postgres']:.1f} s, "
          f"Redis {cpu['redis']:.1f} s, this process {cpu['bench']:.1f} s, other processes "
          f"{cpu['other processes']:.1f} s {cpu['_top_other']}")
    if naive:
        print(f"per CPU-second: ours {ours['per_cpu_s']} (workers' CPU), naive "
              f"{naive['per_cpu_s']}: a ratio of "
              f"{ours['per_cpu_s'] / naive['per_cpu_s']:.2f} on each core")
    ratio = round(ours["per_s"] / naive["per_s"], 2) if naive else None
    targets = {
        "all_issued": ours["done"] and ours["issued"] == ours["holders"] == args.certificates
        and ours["damaged"] == 0,
        "ready_in_20_s": ours["done"] and ours["seconds"] <= TARGET_SECONDS,
        "ratio_ge_5": ratio is not None and ratio >= TARGET_RATIO,
        "peak_rss_le_500_mb": ours["peak_rss_mb"] <= TARGET_RSS_MB,
    }
    for name, met in targets.items():
        print(f"target {name}: {'met' if met else 'MISSED'}")
    summary = {
        "bench": "certificates", "issued": ours["issued"], "workers": args.workers,
        "pool": args.pool, "concurrency": args.concurrency, "batch": args.batch,
        "per_s": ours["per_s"], "seconds": ours["seconds"],
        "naive_per_s": naive["per_s"] if naive else None,
        "naive_n": naive["n"] if naive else None, "ratio": ratio,
        "peak_rss_mb": ours["peak_rss_mb"], "peak_rss_total_mb": ours["peak_rss_total_mb"],
        "mailed_seconds": ours["mailed_seconds"], "damaged": ours["damaged"],
        "kb_per_pdf": ours["kb_per_pdf"], "per_cpu_s": ours["per_cpu_s"],
        "naive_per_cpu_s": naive["per_cpu_s"] if naive else None,
        "other_cpu_s": round(ours["cpu"]["other processes"], 1), "targets_met": targets,
    }
    print(json.dumps(summary))
    return 0 if all(targets.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
