"""Shared pieces of the HTTP benchmarks: databases, gunicorn servers, the load generator.

Everything here talks only to 127.0.0.1 and is bounded in count and in time.
"""

from __future__ import annotations

import http.client
import multiprocessing as mp
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
BIN = ROOT / ".venv" / "bin"
HOST = "127.0.0.1"
PG_SERVER = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")


# PostgreSQL -------------------------------------------------------------------------------

def pg_url(database: str) -> str:
    return f"{PG_SERVER}/{database}"


def _admin():
    return psycopg.connect(pg_url("postgres"), autocommit=True, connect_timeout=5)


def create_database(name: str) -> str:
    """A fresh, empty database (dropped first if a previous run left it behind)."""
    assert re.fullmatch(r"[a-z_][a-z0-9_]*", name), name
    with _admin() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    return pg_url(name)


def drop_database(name: str) -> None:
    assert re.fullmatch(r"[a-z_][a-z0-9_]*", name), name
    with _admin() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


# gunicorn ---------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    """One gunicorn master (and its workers) that we started, stopped by its own pid."""

    def __init__(self, name: str, app: str, *, env: dict, workers: int, log_dir: Path,
                 cwd: Path = ROOT, extra: list[str] | None = None):
        self.name = name
        self.port = free_port()
        self.log_path = log_dir / f"{name}-gunicorn.log"
        self.argv = [str(BIN / "gunicorn"), "-w", str(workers), "-b", f"{HOST}:{self.port}",
                     "--error-logfile", str(self.log_path), *(extra or []), app]
        self.env = env
        self.cwd = cwd
        self.proc: subprocess.Popen | None = None

    def start(self, ready_path: str, timeout: float = 60) -> None:
        self.proc = subprocess.Popen(self.argv, cwd=self.cwd, env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name}: gunicorn exited ({self.proc.returncode}); "
                                   f"see {self.log_path}:\n{self.log_tail()}")
            try:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=5)
                conn.request("GET", ready_path)
                status = conn.getresponse().status
                conn.close()
                if status == 200:
                    return
                raise RuntimeError(f"{self.name}: GET {ready_path} answered {status}; "
                                   f"see {self.log_path}:\n{self.log_tail()}")
            except (ConnectionError, OSError):
                time.sleep(0.2)
        raise RuntimeError(f"{self.name}: not ready within {timeout}s:\n{self.log_tail()}")

    def worker_pids(self) -> list[int]:
        return children(self.proc.pid) if self.proc is not None else []

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)  # gunicorn's graceful stop of its workers
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# Where the machine's CPU goes ------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int) -> tuple[str, float] | None:
    """(comm, user+system seconds) of one process, or None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = raw[raw.index("(") + 1:raw.rindex(")")]
    rest = raw[raw.rindex(")") + 2:].split()
    return comm, (int(rest[11]) + int(rest[12])) / _TICK


def _machine() -> tuple[float, float]:
    """Seconds of CPU (all cores, since boot) the machine spent busy, and of that in
    interrupts and softirqs (where loopback TCP is mostly processed, charged to no process).
    Steal time (the hypervisor's) is not counted as busy."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq = fields[:7]
    return (user + nice + system + irq + softirq) / _TICK, (irq + softirq) / _TICK


def children(pid: int) -> list[int]:
    try:
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                             text=True, check=False).stdout
    except OSError:
        return []
    return [int(p) for p in out.split()]


def cpu_snapshot(groups: dict[str, list[int]]) -> dict:
    """CPU seconds so far of our processes (``groups``: name -> pids), of PostgreSQL and
    Redis, and of the whole machine; the difference of two snapshots says who used the
    CPU in between."""
    busy, interrupts = _machine()
    snap: dict = {"machine": busy, "interrupts": interrupts, "postgres": {}, "redis": {},
                  "rest": {}}
    ours = {pid for pids in groups.values() for pid in pids} | {os.getpid()}
    for name, pids in groups.items():
        snap[name] = {}
        for pid in pids:
            got = _proc_cpu(pid)
            if got:
                snap[name][pid] = got[1]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in ours:
            continue
        got = _proc_cpu(int(entry.name))
        if got is None:
            continue
        if got[0] == "postgres":
            snap["postgres"][int(entry.name)] = got[1]
        elif got[0].startswith("redis-server"):
            snap["redis"][int(entry.name)] = got[1]
        else:
            snap["rest"][int(entry.name)] = got
    return snap


def cpu_between(before: dict, after: dict) -> dict[str, float]:
    """Seconds of CPU per group between two snapshots (processes new since ``before``
    count from zero; those gone by ``after`` are lost, which pooled connections avoid)."""
    out = {"machine": after["machine"] - before["machine"],
           "kernel interrupts": after["interrupts"] - before["interrupts"]}
    for group, pids in after.items():
        if group not in ("machine", "interrupts", "rest"):
            out[group] = sum(v - before[group].get(pid, 0.0) for pid, v in pids.items())
    rest: dict[str, float] = {}
    for pid, (comm, cpu) in after["rest"].items():
        used = cpu - before["rest"].get(pid, (comm, 0.0))[1]
        if used > 0:
            rest[comm] = rest.get(comm, 0.0) + used
    out["other processes"] = sum(rest.values())
    out["_top_other"] = sorted(rest.items(), key=lambda kv: -kv[1])[:3]
    return out


# The simulated browser --------------------------------------------------------------------

_CSRF_RE = re.compile(rb'<input[^>]*\bname="csrf_token"[^>]*>')
_VALUE_RE = re.compile(rb'\bvalue="([^"]+)"')
COUNTRIES = ["PK", "CN", "", "DE", "BR", "KE", "IN", "US", "RS", "EG"]
NATIVE = ["王明阳", "", "عائشہ صدیقی", "", "Милица Јовановић"]


def csrf_token(html: bytes) -> str | None:
    tag = _CSRF_RE.search(html)
    if not tag:
        return None
    value = _VALUE_RE.search(tag.group(0))
    return value.group(1).decode() if value else None


class Browser:
    """One HTTP/1.1 connection, kept open when the server allows it, and one cookie jar."""

    def __init__(self, port: int, timeout: float = 15):
        self.port = port
        self.timeout = timeout
        self.conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
        self.cookies: dict[str, str] = {}
        self.reconnects = 0

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict | None = None) -> tuple[int, http.client.HTTPMessage, bytes]:
        hdrs = {"User-Agent": "eventsys-bench/1", "Accept": "text/html",
                "Accept-Language": "en-GB,en;q=0.8"}
        if self.cookies:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        hdrs.update(headers or {})
        reused = self.conn.sock is not None
        try:
            self.conn.request(method, path, body, hdrs)
            resp = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # A kept-alive connection the server closed in between: what a browser does is
            # open a new one and send again. Never for a fresh connection.
            self.conn.close()
            if not reused:
                raise
            self.reconnects += 1
            self.conn.request(method, path, body, hdrs)
            resp = self.conn.getresponse()
        data = resp.read()
        for value in resp.headers.get_all("Set-Cookie") or []:
            pair = value.split(";", 1)[0]
            name, _, val = pair.partition("=")
            if "max-age=0" in value.lower() or "expires=thu, 01 jan 1970" in value.lower():
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = val.strip()
        if resp.will_close:
            self.conn.close()
        return resp.status, resp.headers, data

    def close(self) -> None:
        self.conn.close()


def form_fields(prefix: str, i: int) -> dict[str, str]:
    return {
        "name": f"Bench Person {i}",
        "name_native": NATIVE[i % len(NATIVE)],
        "email": f"{prefix}-{i}@bench.example.org",
        "organisation_name": f"Institute {i % 37}",
        "job_title": "Researcher",
        "country": COUNTRIES[i % len(COUNTRIES)],
        "mode": "in_person",
    }


# One registration = GET the form, POST it; the redirect is not followed -------------------

# (index, get_ms, post_ms, total_ms, get_status, post_status, error, t_end)
Sample = tuple


def _register_once(browser: Browser, path: str, prefix: str, i: int) -> Sample:
    t0 = time.perf_counter()
    get_status = post_status = 0
    get_ms = post_ms = 0.0
    try:
        get_status, _h, html = browser.request("GET", path)
        t1 = time.perf_counter()
        get_ms = (t1 - t0) * 1000
        if get_status != 200:
            return (i, get_ms, 0.0, get_ms, get_status, 0, f"GET {get_status}", t1)
        token = csrf_token(html)
        if token is None:
            return (i, get_ms, 0.0, get_ms, get_status, 0, "no csrf_token in page", t1)
        body = urllib.parse.urlencode({"csrf_token": token, **form_fields(prefix, i)}).encode()
        post_status, headers, _body = browser.request(
            "POST", path, body,
            {"Content-Type": "application/x-www-form-urlencoded",
             "Origin": f"http://{HOST}:{browser.port}",
             "Referer": f"http://{HOST}:{browser.port}{path}"})
        t2 = time.perf_counter()
        post_ms = (t2 - t1) * 1000
        error = None
        if post_status != 302:
            error = f"POST {post_status}"
        elif "/r/" not in (headers.get("Location") or "") and "/done/" not in (
                headers.get("Location") or ""):
            error = f"POST 302 to {headers.get('Location')!r}"
        return (i, get_ms, post_ms, (t2 - t0) * 1000, get_status, post_status, error, t2)
    except Exception as exc:  # timeouts, refused connections: counted, never fatal
        browser.close()
        t = time.perf_counter()
        return (i, get_ms, post_ms, (t - t0) * 1000, get_status, post_status,
                f"{type(exc).__name__}: {exc}", t)


def _load_process(port, path, prefix, total, threads, counter, go, deadline_s, out):
    results: list[Sample] = []
    lock = threading.Lock()
    reconnects = [0]

    def run_thread():
        browser = Browser(port)
        mine: list[Sample] = []
        stop_at = None
        while True:
            with counter.get_lock():
                i = counter.value
                if i >= total:
                    break
                counter.value = i + 1
            if stop_at is None:
                stop_at = time.perf_counter() + deadline_s
            elif time.perf_counter() > stop_at:
                break
            mine.append(_register_once(browser, path, prefix, i))
        browser.close()
        with lock:
            results.extend(mine)
            reconnects[0] += browser.reconnects

    go.wait()
    cpu0 = sum(os.times()[:2])
    workers = [threading.Thread(target=run_thread) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    out.put((results, reconnects[0], sum(os.times()[:2]) - cpu0))


@dataclass
class LoadResult:
    requested: int
    elapsed_s: float
    samples: list[Sample] = field(default_factory=list)
    reconnects: int = 0
    client_cpu_s: float = 0.0

    @property
    def ok(self) -> list[Sample]:
        return [s for s in self.samples if s[6] is None]

    @property
    def errors(self) -> list[Sample]:
        return [s for s in self.samples if s[6] is not None]

    @property
    def per_s(self) -> float:
        return len(self.ok) / self.elapsed_s if self.elapsed_s else 0.0

    def percentile(self, column: int, q: float, ok_only: bool = True) -> float:
        values = sorted(s[column] for s in (self.ok if ok_only else self.samples))
        if not values:
            return float("nan")
        k = max(0, min(len(values) - 1, round(q / 100 * len(values) + 0.5) - 1))
        return values[k]

    def summary(self) -> dict:
        return {
            "registrations": len(self.ok),
            "requested": self.requested,
            "errors": len(self.errors),
            "elapsed_s": round(self.elapsed_s, 2),
            "per_s": round(self.per_s, 1),
            "p50_ms": round(self.percentile(3, 50), 1),
            "p95_ms": round(self.percentile(3, 95), 1),
            "p99_ms": round(self.percentile(3, 99), 1),
            "get_p50_ms": round(self.percentile(1, 50), 1),
            "get_p95_ms": round(self.percentile(1, 95), 1),
            "post_p50_ms": round(self.percentile(2, 50), 1),
            "post_p95_ms": round(self.percentile(2, 95), 1),
        }

    def error_kinds(self) -> dict[str, int]:
        kinds: dict[str, int] = {}
        for s in self.errors:
            kinds[s[6]] = kinds.get(s[6], 0) + 1
        return kinds


def run_load(port: int, path: str, *, prefix: str, total: int, processes: int, threads: int,
             time_limit_s: float) -> LoadResult:
    """Fire ``total`` registrations from ``processes`` x ``threads`` browsers, closed loop,
    and stop early once ``time_limit_s`` has passed."""
    ctx = mp.get_context("fork")
    counter = ctx.Value("q", 0)
    go = ctx.Event()
    out = ctx.Queue()
    procs = [ctx.Process(target=_load_process, daemon=True,
                         args=(port, path, prefix, total, threads, counter, go,
                               time_limit_s, out)) for _ in range(processes)]
    for p in procs:
        p.start()
    time.sleep(0.3)  # let them reach go.wait()
    t0 = time.perf_counter()
    go.set()
    samples: list[Sample] = []
    reconnects = 0
    client_cpu = 0.0
    deadline = time.monotonic() + time_limit_s + 60
    for _ in procs:
        got, rc, cpu = out.get(timeout=max(1.0, deadline - time.monotonic()))
        samples.extend(got)
        reconnects += rc
        client_cpu += cpu
    for p in procs:
        p.join(timeout=10)
    t_end = max((s[7] for s in samples), default=t0)
    return LoadResult(requested=total, elapsed_s=t_end - t0, samples=samples,
                      reconnects=reconnects, client_cpu_s=client_cpu)


# Celery workers ---------------------------------------------------------------------------

class Workers:
    """``n`` worker processes that we started, stopped by their own pids (the benchmarks'
    real workers: ``celery -A workers worker`` on the queues given)."""

    def __init__(self, n: int, env: dict, log: Path, pool: str, concurrency: int, *,
                 queues: str, name: str, include: str | None = None) -> None:
        handle = log.open("wb")
        self.procs = [subprocess.Popen(
            [str(BIN / "celery"), "-A", "workers", "worker", "-Q", queues,
             "--pool", pool, *(["--concurrency", str(concurrency)] if pool != "solo" else []),
             *(["--include", include] if include else []),
             "--loglevel", "WARNING", "-n", f"{name}{i}@%h"],
            cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT) for i in range(n)]
        handle.close()

    def pids(self) -> list[int]:
        found = []
        for proc in self.procs:
            found.append(proc.pid)
            found.extend(children(proc.pid))
        return found

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def wait_for(predicate, seconds: float, every: float = 0.2) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False
