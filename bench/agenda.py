"""The published agenda of a three-week workshop (150 sessions, 80 people), on PostgreSQL.

Builds, through the services, a workshop of 150 sessions with 2-4 people each (in roles),
in two venues in two cities and some online, and a one-day event of 15 sessions from the
same people; publishes both. Then times, server side (Flask test client, no network), the
public agenda (also in a reader's time zone, ``?tz=Asia/Karachi``), the organiser's agenda
page (logged in as an admin) and the machine exports (agenda.ics, schedule.xml,
schedule.json), counting the SQL queries of each request at 15 and at 150 sessions.

Targets (issue 4): the public agenda's p95 <= 50 ms at 150 sessions, and no page's query
count growing with the number of sessions. Prints whether they are met; exits 0 only
then. The last line is one JSON object.

    .venv/bin/python bench/agenda.py [--sessions 150] [--people 80] [--repeat 200]
                                     [--warmup 20] [--keep]

Database ``eventsys_bench_agenda`` is created and dropped again (``--keep`` leaves it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy import event as sa_event

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eventsys import create_app  # noqa: E402
from eventsys.extensions import db  # noqa: E402
from eventsys.services import accounts, agenda, events  # noqa: E402
from eventsys.services.events import EventData, HostData, VenueData  # noqa: E402

PG = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
DB = "eventsys_bench_agenda"
BIG, SMALL = "bench-workshop", "bench-day"
PUBLIC_P95_TARGET_MS = 50.0

COUNTRIES = ["CN", "PK", "TH", "HU", "RS", "GE", "EG", "BR", "PT", "IN", "ID", "MY"]
KINDS = ["lecture", "lecture", "talk", "panel", "presentation", "roundtable", "field_trip",
         "keynote", "lecture", "talk"]
# Each day's slots (local time, minutes); the two 09:00 ones run in parallel.
SLOTS = [("09:00", 90), ("09:00", 90), ("11:00", 60), ("14:00", 90), ("16:00", 75),
         ("19:30", 45), ("10:30", 30)]


def fresh_database() -> str:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB}")
    return f"{PG.replace('postgresql://', 'postgresql+psycopg://')}/{DB}"


def drop_database() -> None:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


# The programme ---------------------------------------------------------------------------

def make_people(n: int) -> list[int]:
    ids = []
    for i in range(n):
        person = agenda.create_person(agenda.PersonData(
            name=f"Speaker {i:03d}", honorific=("Prof.", "Dr.", "Ms.", "Mr.")[i % 4],
            name_native="王明阳" if i % 5 == 0 else None,
            job_title="Director of Innovation" if i % 7 else None,
            organisation_name=f"Science Park {i % 23}", country=COUNTRIES[i % len(COUNTRIES)],
            bio=("Works on science park management and technology transfer. " * 4
                 if i % 3 == 0 else None),
            email=f"speaker{i:03d}@bench.example.org"), actor=None)
        ids.append(person.id)
    return ids


def make_event(slug: str, title: str, start: date, days: int) -> events.Event:
    return events.create_event(EventData(
        slug=slug, kind="workshop", title=title, start_date=start,
        end_date=start + timedelta(days=days - 1), timezone="Asia/Shanghai", mode="hybrid",
        status="published", theme="Managing parks for innovation-led growth",
        description="Lectures and field trips in Beijing and Nanning.",
        venues=[VenueData("Zhongguancun Exhibition Center, Hall 2", "Beijing", "CN"),
                VenueData("China-ASEAN Science and Technology Center", "Nanning", "CN")],
        hosts=[HostData("Great Wall Enterprise Institute", "CN")]), creator=None)


def make_sessions(event, people: list[int], n: int, days: int) -> None:
    """``n`` sessions spread over ``days`` days: the first half of the days in Beijing, the
    rest in Nanning, one in five online; 2-4 people each, in roles."""
    venues = {v.city: v.id for v in event.venues}
    roles_by_size = {2: ["speaker", "discussant"], 3: ["moderator", "panellist", "panellist"],
                     4: ["moderator", "panellist", "panellist", "panellist"]}
    cursor = 0
    for i in range(n):
        day = i * days // n
        start, minutes = SLOTS[i % len(SLOTS)]
        kind = KINDS[i % len(KINDS)]
        size = 2 + i % 3
        chosen = [people[(cursor + k) % len(people)] for k in range(size)]
        cursor += size
        roles = roles_by_size[size] if kind in ("panel", "roundtable") else \
            ["speaker", *roles_by_size[size][1:]]
        online = i % 5 == 4
        city = "Beijing" if day < (days + 1) // 2 else "Nanning"
        begins = datetime.combine(event.start_date + timedelta(days=day),
                                  datetime.strptime(start, "%H:%M").time())
        agenda.create_session(event, agenda.SessionData(
            title=f"{kind.replace('_', ' ').title()} {i + 1}: parks, companies and people",
            kind=kind, starts_local=begins, ends_local=begins + timedelta(minutes=minutes),
            venue_id=None if online else venues[city],
            room=None if online else f"Room {1 + i % 2}",
            mode="online" if online else ("hybrid" if i % 3 == 0 else "in_person"),
            stream_url="https://live.example.org/workshop" if online or i % 3 == 0 else None,
            track="Field trips" if kind == "field_trip" else f"Track {'AB'[i % 2]}",
            description="What a park manager needs to know, with cases from the region. " * 3,
            people=list(zip(chosen, roles, strict=True))), actor=None)


# Measuring -------------------------------------------------------------------------------

def measure(client, path: str, queries: dict, *, repeat: int, warmup: int,
            cold: bool = False) -> dict:
    """``cold``: the published-page cache is emptied before every request, so each one
    renders the page from the snapshot (the first visitor after a publication)."""
    def forget():
        if cold:
            client.application.extensions.pop("agenda_pages", None)

    for _ in range(warmup):
        forget()
        response = client.get(path)
        if response.status_code != 200:
            return {"status": response.status_code}
    times, counts = [], []
    for _ in range(repeat):
        forget()
        queries["n"] = 0
        t0 = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - t0) * 1000)
        counts.append(queries["n"])
        if response.status_code != 200:
            return {"status": response.status_code}
    return {"status": 200, "p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(percentile(times, 95), 1), "queries": max(counts),
            "bytes": len(response.data)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=150)
    parser.add_argument("--small", type=int, default=15, help="sessions of the small event")
    parser.add_argument("--people", type=int, default=80)
    parser.add_argument("--days", type=int, default=21)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="leave the database")
    args = parser.parse_args()

    url = fresh_database()
    instance = Path(tempfile.mkdtemp(prefix="bench-agenda-"))
    try:
        return run(args, url, instance)
    finally:
        shutil.rmtree(instance, ignore_errors=True)
        if not args.keep:
            drop_database()


def run(args, url: str, instance: Path) -> int:
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(instance),
        "SECRET_KEY": "bench-secret-key-0123456789-0123456789",
        "WTF_CSRF_ENABLED": False, "BASE_URL": "http://127.0.0.1",
        # Publishing asks for a PDF and mails speakers of added sessions: queued to an
        # in-process broker that nobody reads, so no worker's CPU is in the figures.
        "ANNOUNCE_DELAY_SECONDS": 0,
        "CELERY": {"task_always_eager": False, "broker_url": "memory://localhost/"},
    })
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        admin = accounts.create_user("admin@bench.example.org", "Bench Admin",
                                     "bench password 1", is_admin=True)
        db.session.commit()
        t0 = time.perf_counter()
        people = make_people(args.people)
        start = date.today() + timedelta(days=40)
        big = make_event(BIG, "Belt & Road Science Park Management Workshop (bench)", start,
                         args.days)
        make_sessions(big, people, args.sessions, args.days)
        small = make_event(SMALL, "One-day forum (bench)", start, 1)
        make_sessions(small, people, args.small, 1)
        warnings = {}
        for event in (big, small):
            warnings[event.slug] = len(agenda.check(event))
            agenda.publish(event, actor=admin, confirm_warnings=True)
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()
        print(f"built {args.sessions} + {args.small} sessions, {args.people} people, "
              f"published (warnings confirmed: {warnings}) in {time.perf_counter() - t0:.1f} s")
        admin_id = admin.get_id()

    public = app.test_client()
    organiser = app.test_client()
    with organiser.session_transaction() as session:
        session["_user_id"] = admin_id
        session["_fresh"] = True
    queries = {"n": 0}
    with app.app_context():
        sa_event.listen(db.engine, "before_cursor_execute",
                        lambda *a, **k: queries.__setitem__("n", queries["n"] + 1))

    cases = {  # name: (client, path template, required)
        "public": (public, "/events/{slug}/agenda", True),
        "public_cold": (public, "/events/{slug}/agenda", True),
        "public_tz": (public, "/events/{slug}/agenda?tz=Asia/Karachi", True),
        "public_tz_cold": (public, "/events/{slug}/agenda?tz=Asia/Karachi", True),
        "manage": (organiser, "/manage/events/{slug}/agenda", True),
        "ics": (public, "/events/{slug}/agenda.ics", False),
        "xml": (public, "/events/{slug}/schedule.xml", False),
        "json": (public, "/events/{slug}/schedule.json", False),
    }
    figures: dict[str, dict] = {}
    print(f"{'page':<14} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8} {'at ' + str(args.small):>8}"
          f" {'KB':>7}")
    for name, (client, template, required) in cases.items():
        cold = name.endswith("_cold")
        small_run = measure(client, template.format(slug=SMALL), queries,
                            repeat=max(10, args.repeat // 10), warmup=3, cold=cold)
        big_run = measure(client, template.format(slug=BIG), queries, repeat=args.repeat,
                          warmup=args.warmup, cold=cold)
        if big_run["status"] != 200 or small_run["status"] != 200:
            print(f"{name:<14} answered {big_run['status']} / {small_run['status']}"
                  f"{'' if required else ' (optional route: skipped)'}")
            figures[name] = {"status": big_run["status"], "required": required}
            continue
        figures[name] = {**big_run, "queries_small": small_run["queries"],
                         "required": required}
        print(f"{name:<14} {big_run['p50_ms']:8.1f} {big_run['p95_ms']:8.1f} "
              f"{big_run['queries']:8d} {small_run['queries']:8d} "
              f"{big_run['bytes'] / 1024:7.0f}")
    with app.app_context():
        db.engine.dispose()

    measured = {k: v for k, v in figures.items() if v.get("status") == 200}
    missing = [k for k, v in figures.items() if v.get("status") != 200 and v["required"]]
    public_pages = ("public", "public_tz", "public_cold", "public_tz_cold")
    public_p95 = max((measured[k]["p95_ms"] for k in public_pages if k in measured),
                     default=float("nan"))
    growing = sorted(k for k, v in measured.items() if v["queries"] > v["queries_small"])
    targets = {
        "public_p95_le_50ms": not missing and public_p95 <= PUBLIC_P95_TARGET_MS,
        "queries_constant": not missing and not growing,
    }
    print(f"target: public agenda p95 <= {PUBLIC_P95_TARGET_MS:.0f} ms at {args.sessions} "
          f"sessions (plain and ?tz=): {'met' if targets['public_p95_le_50ms'] else 'MISSED'} "
          f"({public_p95} ms)")
    print(f"target: queries per request the same at {args.small} and {args.sessions} sessions: "
          f"{'met' if targets['queries_constant'] else 'MISSED'}"
          f"{' (growing: ' + ', '.join(growing) + ')' if growing else ''}"
          f"{' (no answer: ' + ', '.join(missing) + ')' if missing else ''}")
    summary = {"bench": "agenda", "sessions": args.sessions, "people": args.people,
               "repeat": args.repeat}
    public_fig = measured.get("public", {})
    summary.update({"p50_ms": public_fig.get("p50_ms"), "p95_ms": public_fig.get("p95_ms"),
                    "queries": public_fig.get("queries"),
                    "queries_at_small": public_fig.get("queries_small")})
    for name, fig in figures.items():
        if name == "public":
            continue
        if fig.get("status") != 200:
            summary[f"{name}_status"] = fig.get("status")
            continue
        summary.update({f"{name}_p50_ms": fig["p50_ms"], f"{name}_p95_ms": fig["p95_ms"],
                        f"{name}_queries": fig["queries"],
                        f"{name}_queries_at_small": fig["queries_small"]})
    summary["targets_met"] = targets
    print(json.dumps(summary))
    return 0 if all(targets.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
