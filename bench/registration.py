"""Registrations over HTTP against eventsys served the production way, and the same load on
a bare Flask + SQLAlchemy insert as the ceiling of the stack.

    cd /work/main && .venv/bin/python bench/registration.py [--help]

Each registration is what a browser does: GET /events/<slug>/register, take the CSRF token
from the page (the session cookie kept per simulated browser), POST the form; a 302 to
/r/<token> is success and the redirect is not followed. Servers: gunicorn, 4 sync workers,
PostgreSQL (a fresh database per run, dropped at the end), Redis as the Celery broker (a
dedicated DB number, flushed before and after). The load generator runs on the same machine:
a few processes of a few threads, each thread one persistent HTTP/1.1 connection (where the
server keeps it open) and one cookie jar.

The last line of output is one JSON object (``"bench": "registration"``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
import redis
from _common import (
    BENCH_DIR,
    BIN,
    ROOT,
    LoadResult,
    Server,
    children,
    cpu_between,
    cpu_snapshot,
    create_database,
    drop_database,
    run_load,
)

TARGETS = {"per_s": 200.0, "p95_ms": 100.0, "over_capacity": 0, "ratio": 0.4}
APP_DB = "eventsys_bench"
BARE_DB = "eventsys_bench_bare"
SLUG = "bench-forum"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--total", type=int, default=2000, help="timed registrations (2000)")
    p.add_argument("--warmup", type=int, default=100, help="untimed registrations first (100)")
    p.add_argument("--capacity", type=int, default=1500, help="in-person places (1500)")
    p.add_argument("--workers", type=int, default=4, help="gunicorn workers (4)")
    p.add_argument("--worker-class", default="sync", choices=("sync", "gthread"),
                   help="gunicorn worker class for both servers (sync)")
    p.add_argument("--worker-threads", type=int, default=2,
                   help="threads per gthread worker (2)")
    p.add_argument("--processes", type=int, default=4, help="load processes (4)")
    p.add_argument("--threads", type=int, default=2, help="browsers per load process (2)")
    p.add_argument("--time-limit", type=float, default=120, help="seconds per timed phase")
    p.add_argument("--redis-db", type=int, default=int(os.environ.get("BENCH_REDIS_DB", 11)))
    p.add_argument("--celery-worker", action="store_true",
                   help="also run a Celery worker (mail rendered to files) during the load")
    p.add_argument("--skip-bare", action="store_true", help="measure eventsys only")
    p.add_argument("--serve-only", action="store_true",
                   help="set up and serve eventsys, print the URL, wait for Ctrl-C (profiling)")
    p.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    return p.parse_args()


def gunicorn_extra(args) -> list[str]:
    if args.worker_class == "sync":
        return []
    return ["-k", "gthread", "--threads", str(args.worker_threads)]


def log(msg: str) -> None:
    print(msg, flush=True)


# eventsys ---------------------------------------------------------------------------------

def app_env(tmp: Path, redis_db: int) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in {"EVENTSYS_ENV", "SMTP_URL", "SESSION_COOKIE_SECURE", "FILES_DIR"}}
    env.update({
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{APP_DB}",
        "REDIS_URL": f"redis://127.0.0.1:6379/{redis_db}",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "EVENTSYS_INSTANCE": str(tmp / "instance"),
        "BASE_URL": "http://127.0.0.1",
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    return env


def setup_app_database(env: dict, capacity: int) -> None:
    create_database(APP_DB)
    subprocess.run([str(BIN / "eventsys"), "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=120)
    # The event is made through the services, in a child process so this one stays light.
    code = f"""
from datetime import date, timedelta
from eventsys import create_app
from eventsys.extensions import db
from eventsys.services import events, registration
from eventsys.services.events import EventData, HostData, VenueData
app = create_app()
with app.app_context():
    start = date.today() + timedelta(days=21)
    event = events.create_event(EventData(
        slug={SLUG!r}, kind="forum", title="Benchmark Forum", start_date=start,
        end_date=start + timedelta(days=1), timezone="Asia/Karachi", mode="in_person",
        status="published", venues=[VenueData("Hall 1", "Lahore", "PK")],
        hosts=[HostData("Benchmark Institute", "PK")]), creator=None)
    registration.set_capacities(event, {{"in_person": {capacity}}}, actor=None)
    assert event.waitlist_enabled and event.approval == "open", "waitlist must be on"
    db.engine.dispose()
"""
    subprocess.run([str(BIN / "python"), "-c", code], cwd=ROOT, env=env, check=True,
                   timeout=120)


def app_counts() -> dict:
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{APP_DB}") as conn:
        event_id = conn.execute("SELECT id FROM event WHERE slug = %s", (SLUG,)).fetchone()[0]
        by_status = dict(conn.execute(
            "SELECT status, count(*) FROM registration WHERE event_id = %s GROUP BY status",
            (event_id,)).fetchall())
        capacity, counter = conn.execute(
            "SELECT capacity, confirmed FROM mode_capacity WHERE event_id = %s "
            "AND mode = 'in_person'", (event_id,)).fetchone()
        outbox = dict(conn.execute(
            "SELECT status, count(*) FROM outbox_message GROUP BY status").fetchall())
    return {"by_status": by_status, "capacity": capacity, "counter": counter,
            "outbox": outbox, "total": sum(by_status.values())}


def bare_count() -> int:
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{BARE_DB}") as conn:
        return conn.execute("SELECT count(*) FROM bare_registration").fetchone()[0]


# Running a phase --------------------------------------------------------------------------

def measure(label: str, server: Server, path: str, args, prefix: str,
            celery_pid: int | None = None) -> tuple[LoadResult, LoadResult, dict]:
    port = server.port
    log(f"[{label}] warm-up: {args.warmup} registrations (not counted)")
    warm = run_load(port, path, prefix=f"{prefix}-warm", total=args.warmup,
                    processes=args.processes, threads=args.threads, time_limit_s=60)
    if warm.errors:
        log(f"[{label}]   warm-up errors: {warm.error_kinds()}")
    log(f"[{label}] timed: {args.total} registrations, {args.processes} processes x "
        f"{args.threads} browsers, at most {args.time_limit:.0f} s")
    groups = {"gunicorn": [server.proc.pid, *server.worker_pids()]}
    if celery_pid:
        groups["celery"] = [celery_pid, *children(celery_pid)]
    before = cpu_snapshot(groups)
    timed = run_load(port, path, prefix=prefix, total=args.total, processes=args.processes,
                     threads=args.threads, time_limit_s=args.time_limit)
    spent = cpu_between(before, cpu_snapshot(groups))
    top_other = spent.pop("_top_other")
    spent["load generator"] = timed.client_cpu_s
    spent["unaccounted"] = spent["machine"] - sum(v for k, v in spent.items()
                                                  if k != "machine")
    n = max(1, len(timed.ok))
    cpu = {k: round(v * 1000 / n, 2) for k, v in spent.items()}
    s = timed.summary()
    log(f"[{label}]   {s['registrations']} ok, {s['errors']} errors in {s['elapsed_s']} s: "
        f"{s['per_s']}/s; GET+POST p50 {s['p50_ms']} ms, p95 {s['p95_ms']} ms, "
        f"p99 {s['p99_ms']} ms (GET p50/p95 {s['get_p50_ms']}/{s['get_p95_ms']} ms, "
        f"POST p50/p95 {s['post_p50_ms']}/{s['post_p95_ms']} ms)")
    parts = ", ".join(f"{k} {v}" for k, v in cpu.items() if k != "machine")
    log(f"[{label}]   machine CPU per registration: {cpu['machine']} ms of "
        f"{os.cpu_count()} cores ({parts})")
    elsewhere = cpu["other processes"] + cpu["unaccounted"]
    ours = cpu["machine"] - elsewhere
    cpu["idle_machine_per_s"] = round(1000 * (os.cpu_count() or 1) / ours, 1) if ours > 0 else 0
    log(f"[{label}]   CPU-bound estimate on an otherwise idle machine: "
        f"{cpu['idle_machine_per_s']}/s ({os.cpu_count()} cores / {ours:.2f} ms)")
    if elsewhere > 0.15 * cpu["machine"]:
        names = ", ".join(f"{c} {1000 * v / n:.1f} ms" for c, v in top_other)
        log(f"[{label}]   note: {100 * elsewhere / cpu['machine']:.0f}% of the machine's CPU "
            f"went to other work (busiest: {names or 'processes that have exited'}), which "
            f"lowers these figures")
    if timed.errors:
        log(f"[{label}]   errors: {timed.error_kinds()}")
    return warm, timed, cpu


def main() -> int:
    args = parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="eventsys-bench-"))
    env = app_env(tmp, args.redis_db)
    broker = redis.Redis(host="127.0.0.1", port=6379, db=args.redis_db)
    servers: list[Server] = []
    celery_proc = None
    result: dict = {"bench": "registration"}
    try:
        broker.flushdb()
        worker = ("running (mail rendered to files)" if args.celery_worker else
                  "none (mail is queued in the outbox and announced to Redis, not sent)")
        log(f"eventsys: gunicorn -w {args.workers} wsgi:app ({args.worker_class} workers), "
            f"PostgreSQL database {APP_DB}, Redis broker db {args.redis_db}; EVENTSYS_ENV unset "
            f"(development: plain-http cookies) with a random 64-char SECRET_KEY; SMTP_URL "
            f"unset; Celery worker: {worker}")
        log(f"event: open registration, in_person, capacity {args.capacity}, waiting list on")
        setup_app_database(env, args.capacity)
        if args.celery_worker:
            with open(tmp / "celery.log", "w") as celery_log:
                celery_proc = subprocess.Popen(
                    [str(BIN / "celery"), "-A", "workers", "worker", "--concurrency", "1",
                     "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
                     "--without-heartbeat"],
                    cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=celery_log)
        path = f"/events/{SLUG}/register"
        server = Server("eventsys", "wsgi:app", env=env, workers=args.workers, log_dir=tmp,
                        extra=gunicorn_extra(args))
        servers.append(server)
        server.start(path)
        if args.serve_only:
            log(f"serving http://127.0.0.1:{server.port}{path}; master pid {server.proc.pid}, "
                f"workers {server.worker_pids()}; Ctrl-C (or SIGTERM to pid {os.getpid()}) "
                f"stops it and cleans up")

            def _stop(*_):
                raise KeyboardInterrupt

            signal.signal(signal.SIGTERM, _stop)
            try:
                while server.proc.poll() is None:
                    time.sleep(1)
            except KeyboardInterrupt:
                pass
            return 0
        run_id = secrets.token_hex(3)
        warm, timed, cpu = measure("eventsys", server, path, args, f"p{run_id}",
                                   celery_proc.pid if celery_proc else None)
        server.stop()
        counts = app_counts()
        confirmed = counts["by_status"].get("confirmed", 0)
        capacity = counts["capacity"]
        over = max(0, confirmed - capacity) if capacity is not None else 0
        posted = len(warm.ok) + len(timed.ok)
        log(f"[eventsys] database: {counts['total']} registrations "
            f"({', '.join(f'{k} {v}' for k, v in sorted(counts['by_status'].items()))}); "
            f"capacity {capacity}, place counter {counts['counter']}; successful POSTs "
            f"{posted} (warm-up {len(warm.ok)} + timed {len(timed.ok)}); outbox "
            f"{counts['outbox']}; Celery messages left in Redis: {broker.llen('celery')}")
        s = timed.summary()
        result.update({
            "per_s": s["per_s"], "p50_ms": s["p50_ms"], "p95_ms": s["p95_ms"],
            "p99_ms": s["p99_ms"], "get_p50_ms": s["get_p50_ms"], "get_p95_ms": s["get_p95_ms"],
            "post_p50_ms": s["post_p50_ms"], "post_p95_ms": s["post_p95_ms"],
            "registrations": s["registrations"], "requested": args.total,
            "errors": s["errors"] + len(warm.errors), "elapsed_s": s["elapsed_s"],
            "over_capacity": over, "confirmed": confirmed, "capacity": capacity,
            "waitlisted": counts["by_status"].get("waitlisted", 0),
            "db_registrations": counts["total"], "successful_posts": posted,
            "place_counter": counts["counter"], "cpu_ms_per_registration": cpu,
        })

        bare = None
        if not args.skip_bare:
            create_database(BARE_DB)
            bare_env = {**env, "BARE_DATABASE_URL":
                        f"postgresql://postgres@127.0.0.1:5432/{BARE_DB}"}
            subprocess.run([str(BIN / "python"), str(BENCH_DIR / "bare_app.py"), "init"],
                           cwd=BENCH_DIR, env=bare_env, check=True, timeout=60)
            bare_server = Server("bare", "bare_app:app", env=bare_env, workers=args.workers,
                                 log_dir=tmp, cwd=BENCH_DIR, extra=gunicorn_extra(args))
            servers.append(bare_server)
            log(f"bare: gunicorn -w {args.workers} bare_app:app ({args.worker_class} workers), "
                f"Flask + Flask-SQLAlchemy inserting one row per POST, CSRF token in the session, "
                f"PostgreSQL database {BARE_DB}")
            bare_server.start("/register")
            bwarm, bare, bare_cpu = measure("bare", bare_server, "/register", args,
                                            f"b{run_id}")
            bare_server.stop()
            rows = bare_count()
            log(f"[bare] database: {rows} rows; successful POSTs {len(bwarm.ok) + len(bare.ok)}")
            b = bare.summary()
            result.update({
                "bare_per_s": b["per_s"], "bare_p50_ms": b["p50_ms"], "bare_p95_ms": b["p95_ms"],
                "bare_errors": b["errors"] + len(bwarm.errors),
                "bare_cpu_ms_per_registration": bare_cpu,
                "ratio": round(timed.per_s / bare.per_s, 3) if bare.per_s else None,
                "idle_estimate": {
                    "per_s": cpu["idle_machine_per_s"],
                    "bare_per_s": bare_cpu["idle_machine_per_s"],
                    "ratio": round(cpu["idle_machine_per_s"] / bare_cpu["idle_machine_per_s"],
                                   3) if bare_cpu["idle_machine_per_s"] else None},
            })
        else:
            result.update({"bare_per_s": None, "ratio": None})

        met = {
            "per_s": result["per_s"] >= TARGETS["per_s"] and s["registrations"] >= args.total,
            "p95_ms": result["p95_ms"] < TARGETS["p95_ms"],
            "over_capacity": over == 0,
            "ratio": result["ratio"] is not None and result["ratio"] >= TARGETS["ratio"],
            "no_errors": result["errors"] == 0 and counts["total"] == posted,
        }
        log("targets:")
        log(f"  >= {TARGETS['per_s']:.0f} registrations/s over {args.total}: "
            f"{result['per_s']}/s over {s['registrations']} -> "
            f"{'MET' if met['per_s'] else 'MISSED'}")
        log(f"  p95 < {TARGETS['p95_ms']:.0f} ms (GET+POST): {result['p95_ms']} ms -> "
            f"{'MET' if met['p95_ms'] else 'MISSED'}")
        log(f"  zero over capacity: confirmed {confirmed} of {capacity}, over {over} -> "
            f"{'MET' if met['over_capacity'] else 'MISSED'}")
        log(f"  ratio to bare >= {TARGETS['ratio']}: {result['per_s']}/s vs "
            f"{result['bare_per_s']}/s = {result['ratio']} -> "
            f"{'MET' if met['ratio'] else 'MISSED'}")
        if result.get("idle_estimate"):
            est = result["idle_estimate"]
            log(f"  (estimated from CPU use for an otherwise idle machine: {est['per_s']}/s vs "
                f"{est['bare_per_s']}/s, ratio {est['ratio']}; not used for the targets)")
        log(f"  no errors, every successful POST in the database: {result['errors']} errors, "
            f"{counts['total']} rows for {posted} POSTs -> "
            f"{'MET' if met['no_errors'] else 'MISSED'}")
        result.update({
            "targets_met": met, "all_met": all(met.values()),
            "workers": args.workers, "clients": args.processes * args.threads,
            "celery_worker": args.celery_worker, "environment": "development",
            "cpus": os.cpu_count(),
        })
    finally:
        for server in servers:
            server.stop()
        if celery_proc is not None and celery_proc.poll() is None:
            celery_proc.terminate()
            try:
                celery_proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                celery_proc.kill()
        with contextlib.suppress(redis.RedisError):
            broker.flushdb()
        if not args.keep:
            for name in (APP_DB, BARE_DB):
                try:
                    drop_database(name)
                except psycopg.Error as exc:
                    log(f"could not drop {name}: {exc}")
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result), flush=True)
    return 0 if result.get("all_met") else 1


if __name__ == "__main__":
    sys.exit(main())
