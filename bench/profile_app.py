"""eventsys's WSGI app (``wsgi:app``) wrapped to measure each request: wall and CPU time,
SQL statements (count, time waiting on the database) and, when asked, cProfile; split by
method (GET and POST). For profiling only, never for the figures of the benchmark.

    gunicorn -w 1 --pythonpath bench profile_app:app      (from the project root)

``GET /__bench/reset?cprofile=1`` clears the figures (and turns cProfile on or off);
``GET /__bench/dump`` answers them as JSON, with the top of the cProfile per method.
"""

from __future__ import annotations

import cProfile
import io
import json
import pstats
import time

from sqlalchemy import event as sa_event

from eventsys.extensions import db
from wsgi import app as flask_app

_state = {"cprofile": False, "sql": None}
_stats: dict[str, dict] = {}
_profiles: dict[str, cProfile.Profile] = {}
_statements: dict[str, list[str]] = {}


def _reset(cprofile: bool) -> None:
    _state["cprofile"] = cprofile
    _stats.clear()
    _profiles.clear()
    _statements.clear()


with flask_app.app_context():
    engine = db.engine


@sa_event.listens_for(engine, "before_cursor_execute")
def _before(conn, cursor, statement, parameters, context, executemany):
    sql = _state["sql"]
    if sql is not None:
        sql["t"] = time.perf_counter()
        sql["text"].append(" ".join(statement.split())[:160])
        if statement.lstrip().startswith("UPDATE mode_capacity") and "lock_from" not in sql:
            sql["lock_from"] = sql["t"]


@sa_event.listens_for(engine, "commit")
def _commit(conn):
    """The place's row lock, taken by UPDATE mode_capacity, lasts until this COMMIT."""
    sql = _state["sql"]
    if sql is not None and "lock_from" in sql:
        sql["lock_ms"] = sql.get("lock_ms", 0.0) + (
            time.perf_counter() - sql.pop("lock_from")) * 1000


@sa_event.listens_for(engine, "after_cursor_execute")
def _after(conn, cursor, statement, parameters, context, executemany):
    sql = _state["sql"]
    if sql is not None and "t" in sql:
        sql["wait"] += time.perf_counter() - sql.pop("t")
        sql["n"] += 1


def _top(profile: cProfile.Profile, sort: str, limit: int) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.strip_dirs().sort_stats(sort).print_stats(limit)
    return out.getvalue()


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/__bench/reset":
        _reset("cprofile=1" in environ.get("QUERY_STRING", ""))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"reset\n"]
    if path == "/__bench/dump":
        body = {"stats": _stats, "statements": _statements,
                "cprofile": {m: {"cumulative": _top(p, "cumulative", 70),
                                 "tottime": _top(p, "tottime", 40)}
                             for m, p in _profiles.items()}}
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]

    method = environ.get("REQUEST_METHOD", "GET")
    sql = _state["sql"] = {"n": 0, "wait": 0.0, "text": []}
    profile = _profiles.setdefault(method, cProfile.Profile()) if _state["cprofile"] else None
    wall0, cpu0 = time.perf_counter(), time.thread_time()
    if profile:
        profile.enable()
    try:
        chunks = list(flask_app(environ, start_response))  # the whole body, inside the timing
    finally:
        if profile:
            profile.disable()
        wall, cpu = time.perf_counter() - wall0, time.thread_time() - cpu0
        _state["sql"] = None
        s = _stats.setdefault(method, {"n": 0, "wall_ms": 0.0, "cpu_ms": 0.0,
                                       "sql_n": 0, "sql_wait_ms": 0.0, "lock_n": 0,
                                       "lock_ms": 0.0})
        if "lock_ms" in sql:
            s["lock_n"] += 1
            s["lock_ms"] += sql["lock_ms"]
        s["n"] += 1
        s["wall_ms"] += wall * 1000
        s["cpu_ms"] += cpu * 1000
        s["sql_n"] += sql["n"]
        s["sql_wait_ms"] += sql["wait"] * 1000
        _statements[method] = sql["text"]  # the last request's statements, in order
    return chunks
