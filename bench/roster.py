"""The organiser's registration list at 10,000 registrations, on PostgreSQL.

Times the list page (first page, a deep page, filters, search) and the CSV/XLSX exports,
server side (Flask test client, no network), and counts SQL queries per page. Prints the
figures; the last line is one JSON object.

    .venv/bin/python bench/roster.py [--registrations 10000] [--repeat 30]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import psycopg
from sqlalchemy import event as sa_event
from sqlalchemy import insert

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eventsys import create_app  # noqa: E402
from eventsys.extensions import db  # noqa: E402
from eventsys.models import Registration  # noqa: E402
from eventsys.services import accounts, events, tickets  # noqa: E402
from eventsys.services.events import EventData, VenueData  # noqa: E402

PG = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
DB = "eventsys_bench_roster"
COUNTRIES = ["CN", "PK", "TH", "HU", "RS", "GE", "EG", "BR", "PT", "IN", "ID", "MY"]
STATUSES = ["confirmed"] * 6 + ["waitlisted", "pending", "cancelled", "declined"]


def fresh_database() -> str:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB}")
    return f"{PG.replace('postgresql://', 'postgresql+psycopg://')}/{DB}"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--registrations", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    url = fresh_database()
    instance = Path(tempfile.mkdtemp(prefix="bench-roster-"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(instance),
                      "SECRET_KEY": "bench-secret-key-0123456789-0123456789",
                      "WTF_CSRF_ENABLED": False})
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        user = accounts.create_user("org@example.org", "Organiser", "bench password 1")
        start = date.today() + timedelta(days=30)
        event = events.create_event(EventData(
            slug="big-forum", kind="forum", title="Big Forum", start_date=start,
            end_date=start, timezone="Asia/Shanghai", mode="hybrid", status="published",
            venues=[VenueData("Hall", "Beijing", "CN")]), creator=user)
        rows = [{
            "event_id": event.id, "email": f"p{i}@example.org", "name": f"Person {i}",
            "organisation_name": f"Park {i % 300}", "country": COUNTRIES[i % len(COUNTRIES)],
            "mode": "in_person" if i % 3 else "online", "status": STATUSES[i % len(STATUSES)],
            "ticket_code": tickets.new_ticket_code(), "job_title": "Manager",
        } for i in range(args.registrations)]
        t0 = time.perf_counter()
        for chunk in range(0, len(rows), 2000):
            db.session.execute(insert(Registration), rows[chunk:chunk + 2000])
        db.session.commit()
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()
        print(f"inserted {args.registrations} registrations in {time.perf_counter() - t0:.1f} s")
        last_page = -(-args.registrations // 50)
        session_id = user.get_id()

    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = session_id
        session["_fresh"] = True
    base = "/manage/events/big-forum/registrations"
    cases = {
        "first_page": base,
        "deep_page": f"{base}?page={last_page // 2}",
        "last_page": f"{base}?page={last_page}",
        "filtered": f"{base}?status=confirmed&mode=in_person&country=PK",
        "search": f"{base}?q=person+4242",
    }
    queries = {"n": 0}
    with app.app_context():
        sa_event.listen(db.engine, "before_cursor_execute",
                        lambda *a, **k: queries.__setitem__("n", queries["n"] + 1))
    figures: dict[str, float] = {}
    print(f"{'page':<12} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8}")
    for name, path in cases.items():
        times = []
        for _ in range(args.repeat):
            queries["n"] = 0
            t0 = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200, (path, response.status_code)
        figures[f"{name}_p95_ms"] = round(percentile(times, 95), 1)
        print(f"{name:<12} {statistics.median(times):8.1f} {percentile(times, 95):8.1f} "
              f"{queries['n']:8d}")
    for fmt in ("csv", "xlsx"):
        t0 = time.perf_counter()
        response = client.get(f"{base}.{fmt}")
        seconds = time.perf_counter() - t0
        assert response.status_code == 200
        figures[f"export_{fmt}_s"] = round(seconds, 2)
        print(f"export {fmt}: {seconds:.2f} s, {len(response.data) / 1e6:.1f} MB")
    with app.app_context():
        db.engine.dispose()
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    worst = max(v for k, v in figures.items() if k.endswith("_p95_ms"))
    print(f"target: every list page p95 < 100 ms at {args.registrations} registrations: "
          f"{'met' if worst < 100 else 'MISSED'} (worst {worst} ms)")
    print(json.dumps({"bench": "roster", "registrations": args.registrations,
                      "worst_page_p95_ms": worst, **figures}))


if __name__ == "__main__":
    main()
