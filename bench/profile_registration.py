"""Where a registration's time goes: one gunicorn worker running ``bench/profile_app.py``
(eventsys's ``wsgi:app`` wrapped with timers), one browser registering in sequence, so each
request is measured alone, without queueing or CPU contention.

    cd /work/main && .venv/bin/python bench/profile_registration.py [--n 300]

Prints, per method (GET = the form, POST = the registration): wall and CPU milliseconds per
request, SQL statements per request and the time spent inside cursor.execute, the last
request's statements, then the top of a cProfile of a second pass (cProfile slows small
calls down; the first pass is measured without it). Same database, broker and environment
as ``bench/registration.py``; everything is removed afterwards.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import http.client
import json
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import redis
import registration as bench
from _common import (
    BENCH_DIR,
    BIN,
    HOST,
    Browser,
    Server,
    csrf_token,
    drop_database,
    form_fields,
    run_load,
)


def call(port: int, path: str) -> dict | str:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    conn.request("GET", path)
    body = conn.getresponse().read().decode()
    conn.close()
    return json.loads(body) if body.startswith("{") else body


# py-spy: sampled wall time of one kind of request at a time ------------------------------

_LINE = re.compile(r":\d+\)$")
_SITE = re.compile(r"^.*/site-packages/")


def _frame(raw: str) -> str:
    name, _, where = raw.partition(" (")
    where = _SITE.sub("", _LINE.sub("", "(" + where).lstrip("("))
    return f"{name} ({where.rstrip(')')})"


def _package(frame: str) -> str:
    where = frame.rpartition("(")[2].rstrip(")")
    if where.startswith("eventsys/") or where.endswith(".html") or where.endswith(".txt"):
        return "eventsys code and templates (own time)"
    return where.split("/", 1)[0].replace(".py", "")


def spy_pass(kind: str, server: Server, path: str, n: int, prefix: str, out: Path,
             rate: int) -> dict:
    """GET the form ``n`` times, or POST it ``n`` times with one session's token, while
    py-spy samples the worker (idle included: waiting for PostgreSQL is part of the wall
    time); only samples inside gunicorn's handling of a request are kept."""
    worker = server.worker_pids()[0]
    spy = subprocess.Popen([str(BIN / "py-spy"), "record", "--pid", str(worker), "--rate",
                            str(rate), "--idle", "--nonblocking", "--format", "raw", "-o",
                            str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(2)
    browser = Browser(server.port)
    status, _h, html = browser.request("GET", path)
    token = csrf_token(html)
    bad = 0
    t0 = time.perf_counter()
    for i in range(n):
        if kind == "GET":
            status, _h, _b = browser.request("GET", path)
            bad += status != 200
        else:
            body = urllib.parse.urlencode({"csrf_token": token,
                                           **form_fields(prefix, i)}).encode()
            status, _h, _b = browser.request(
                "POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"})
            bad += status != 302
    elapsed = time.perf_counter() - t0
    browser.close()
    time.sleep(0.5)
    spy.send_signal(signal.SIGINT)
    try:
        spy.wait(timeout=60)
    except subprocess.TimeoutExpired:
        spy.kill()
        spy.wait()
    inclusive: collections.Counter = collections.Counter()
    own: collections.Counter = collections.Counter()
    packages: collections.Counter = collections.Counter()
    total = 0
    for line in out.read_text().splitlines() if out.exists() else []:
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if not any("SyncWorker.handle " in f for f in frames):
            continue
        count = int(count)
        total += count
        names = [_frame(f) for f in frames if f.startswith(("process ", "thread ")) is False]
        for name in set(names):
            inclusive[name] += count
        own[names[-1]] += count
        packages[_package(names[-1])] += count
    ms = 1000 / rate / n  # one sample, in milliseconds per request
    return {"kind": kind, "n": n, "bad": bad, "client_ms": elapsed * 1000 / n,
            "sampled_ms": total * ms, "ms": ms, "inclusive": inclusive, "own": own,
            "packages": packages}


def print_spy(result: dict, top: int) -> None:
    ms = result["ms"]
    print(f"\n===== py-spy, {result['kind']} alone: {result['n']} requests ({result['bad']} "
          f"unexpected answers), {result['client_ms']:.2f} ms each at the client, "
          f"{result['sampled_ms']:.2f} ms sampled inside gunicorn's handle() =====")
    print("inclusive ms per request, eventsys code and templates:")
    ours = [(f, c) for f, c in result["inclusive"].most_common()
            if _package(f).startswith("eventsys")]
    for name, count in ours[:top]:
        print(f"  {count * ms:7.2f}  {name}")
    print("inclusive ms per request, selected library entry points:")
    for key in ("SyncWorker.handle_request", "Flask.wsgi_app", "render_template ",
                "Select.__call__", "html_params", "Form.validate", "Session.commit",
                "Session.flush", "Connection.wait (psycopg", "Engine.raw_connection",
                "Celery.send_task", "qr_png", "write_png", "test_request_context",
                "SecureCookieSessionInterface.save_session",
                "SecureCookieSessionInterface.open_session", "generate_csrf", "validate_csrf"):
        got = [(f, c) for f, c in result["inclusive"].items() if key in f]
        if got:
            name, count = max(got, key=lambda fc: fc[1])
            print(f"  {count * ms:7.2f}  {name}")
    print("own time by package (where the samples end):")
    for name, count in result["packages"].most_common(14):
        print(f"  {count * ms:7.2f}  {name}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=300, help="registrations per pass (300)")
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--capacity", type=int, default=1500,
                   help="places (1500: every profiled registration is confirmed)")
    p.add_argument("--redis-db", type=int, default=11)
    p.add_argument("--keep", action="store_true", help="keep the database afterwards")
    p.add_argument("--no-py-spy", action="store_true",
                   help="skip the sampled passes (py-spy needs ptrace rights)")
    p.add_argument("--no-cprofile", action="store_true", help="skip the cProfile pass")
    p.add_argument("--rate", type=int, default=1000, help="py-spy samples per second")
    p.add_argument("--top", type=int, default=30, help="lines of each py-spy table")
    p.add_argument("--out", type=Path, default=None,
                   help="keep py-spy's raw stacks (flamegraph input) in this directory")
    args = p.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="eventsys-profile-"))
    env = bench.app_env(tmp, args.redis_db)
    broker = redis.Redis(host="127.0.0.1", port=6379, db=args.redis_db)
    path = f"/events/{bench.SLUG}/register"
    server = Server("profile", "profile_app:app", env=env, workers=1, log_dir=tmp,
                    extra=["--pythonpath", str(BENCH_DIR)])
    try:
        broker.flushdb()
        bench.setup_app_database(env, args.capacity)
        server.start(path)
        run_id = secrets.token_hex(3)
        warm = run_load(server.port, path, prefix=f"w{run_id}", total=args.warmup,
                        processes=1, threads=1, time_limit_s=60)
        call(server.port, "/__bench/reset")
        timed = run_load(server.port, path, prefix=f"t{run_id}", total=args.n, processes=1,
                         threads=1, time_limit_s=120)
        plain = call(server.port, "/__bench/dump")
        errors = len(warm.errors) + len(timed.errors)
        prof = {"cprofile": {}}
        if not args.no_cprofile:
            call(server.port, "/__bench/reset?cprofile=1")
            profiled = run_load(server.port, path, prefix=f"c{run_id}", total=args.n,
                                processes=1, threads=1, time_limit_s=240)
            prof = call(server.port, "/__bench/dump")
            errors += len(profiled.errors)
        s = timed.summary()
        print(f"one worker, one browser, {args.n} registrations in sequence "
              f"({errors} errors): {s['per_s']}/s; client-side GET p50 {s['get_p50_ms']} ms, "
              f"POST p50 {s['post_p50_ms']} ms")
        print("per request, measured inside the worker (no cProfile):")
        for method, st in sorted(plain["stats"].items()):
            n = st["n"]
            print(f"  {method:4} x{n}: wall {st['wall_ms'] / n:6.2f} ms, "
                  f"CPU {st['cpu_ms'] / n:6.2f} ms, {st['sql_n'] / n:4.1f} SQL statements taking "
                  f"{st['sql_wait_ms'] / n:5.2f} ms in cursor.execute")
            if st.get("lock_n"):
                print(f"        the place's row lock (UPDATE mode_capacity .. COMMIT) held "
                      f"{st['lock_ms'] / st['lock_n']:.2f} ms in {st['lock_n']} requests: "
                      f"registrations of one mode cannot exceed "
                      f"{1000 * st['lock_n'] / st['lock_ms']:.0f}/s whatever the CPU")
        for method, statements in sorted(plain["statements"].items()):
            print(f"\nSQL of the last {method} ({len(statements)} statements):")
            for i, text in enumerate(statements, 1):
                print(f"  {i:2}. {text}")
        if not args.no_py_spy:
            call(server.port, "/__bench/reset")
            for kind in ("GET", "POST"):
                raw = (args.out or tmp) / f"py-spy-{kind}.txt"
                raw.parent.mkdir(parents=True, exist_ok=True)
                print_spy(spy_pass(kind, server, path, args.n, f"s{kind}{run_id}", raw,
                                   args.rate), args.top)
        for method, text in sorted(prof["cprofile"].items()):
            print(f"\n===== cProfile {method}, {args.n} requests, by cumulative time =====")
            print(text["cumulative"])
            print(f"===== cProfile {method}, by own time =====")
            print(text["tottime"])
    finally:
        server.stop()
        with contextlib.suppress(redis.RedisError):
            broker.flushdb()
        if not args.keep:
            drop_database(bench.APP_DB)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
