"""The production shape, for the tests that need it: PostgreSQL, a Redis broker, separate
``celery -A workers worker`` processes (one also running beat) and a real SMTP server
(aiosmtpd, in this process, so a test can make it slow or failing).

One stack per test module (``running_stack``): worker processes must not outlive the module,
or their periodic sweep would deliver mail that other tests' databases queue.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis as redis_lib

from eventsys import create_app
from eventsys.extensions import db
from tests.conftest import base_config, clean_tables, require_postgres, require_redis
from tests.smtp import SMTPServer

ROOT = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).with_name("celery"))
# What the workers run with unless a test says otherwise: quick retries, a sweep every
# second, and a short lease so that a killed worker's messages are taken over quickly.
WORKER_ENV = {"OUTBOX_RETRY_BASE_SECONDS": "0.5", "OUTBOX_SWEEP_SECONDS": "1",
              "OUTBOX_LEASE_SECONDS": "5"}
DEFAULT_WORKERS = {"w0": {"beat": True}, "w1": {}}


def wait_for(predicate, seconds: float = 30.0, every: float = 0.1) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False


class Stack:
    """The worker processes a test module started, which a test may kill and replace."""

    def __init__(self, tmp_path: Path, database_url: str, redis_url: str,
                 smtp: SMTPServer) -> None:
        self.tmp_path, self.redis_url, self.smtp = tmp_path, redis_url, smtp
        self.database_url = database_url
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "SMTP_URL": smtp.url,
            "EVENTSYS_INSTANCE": str(tmp_path / "worker-instance"),
            "SECRET_KEY": "worker-secret-key-that-is-long-enough-0123",
            "BASE_URL": "http://eventsys.test",
            **WORKER_ENV,
        }
        self.log_path = tmp_path / "worker.log"
        self.workers: dict[str, tuple[subprocess.Popen, dict]] = {}
        self.app = self.make_app()

    def make_app(self, broker: str | None = None):
        """An app like the web server's, on this stack's broker (or on ``broker``)."""
        return create_app(base_config(
            self.tmp_path / "instance", self.database_url, REDIS_URL=broker or self.redis_url,
            SMTP_URL=self.smtp.url, CELERY={"task_always_eager": False},
            ANNOUNCE_DELAY_SECONDS=0.05))  # as in production: coalesced, from a thread

    def start(self, name: str, *, beat: bool = False, **env: str) -> None:
        extra = ["--beat", "-s", str(self.tmp_path / f"beat-{name}")] if beat else []
        with self.log_path.open("ab") as log:
            process = subprocess.Popen(
                [CELERY, "-A", "workers", "worker", "--pool", "solo", "--loglevel", "INFO",
                 "-n", f"{name}@%h", *extra],
                cwd=ROOT, env={**self.env, **env}, stdout=log, stderr=subprocess.STDOUT)
        self.workers[name] = (process, env)

    def wait_ready(self, seconds: float = 60) -> None:
        celery_app = self.app.extensions["celery"]
        wanted = set(self.workers)

        def answering() -> bool:
            replies = celery_app.control.ping(timeout=0.5) or []
            return wanted <= {name.split("@")[0] for reply in replies for name in reply}

        assert wait_for(answering, seconds=seconds), self.log_tail()

    def kill(self, name: str) -> None:
        """SIGKILL: no warm shutdown, no chance to finish or hand back anything."""
        process, _env = self.workers.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop(self, name: str) -> None:
        process, _env = self.workers.pop(name)
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def replace_all(self, workers: dict[str, dict], **env: str) -> None:
        """Stop every worker and start ``workers`` (name -> start's options) with ``env``."""
        for name in list(self.workers):
            self.stop(name)
        for name, options in workers.items():
            self.start(name, **options, **env)
        self.wait_ready()

    def ensure_default(self) -> None:
        """Two workers with the default settings (a test before may have changed them)."""
        if len(self.workers) != len(DEFAULT_WORKERS) or any(
                env for _process, env in self.workers.values()):
            self.replace_all(DEFAULT_WORKERS)

    def close(self) -> None:
        for name in list(self.workers):
            self.stop(name)
        with self.app.app_context():
            db.engine.dispose()

    def log_tail(self, chars: int = 5000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]


@pytest.fixture(scope="module")
def running_stack(database_url, tmp_path_factory):
    require_postgres()
    redis_url = require_redis()
    redis_lib.Redis.from_url(redis_url).flushdb()
    with SMTPServer() as smtp:
        stack = Stack(tmp_path_factory.mktemp("stack"), database_url, redis_url, smtp)
        try:
            for name, options in DEFAULT_WORKERS.items():
                stack.start(name, **options)
            stack.wait_ready()
            yield stack
        finally:
            stack.close()
            redis_lib.Redis.from_url(redis_url).flushdb()


@pytest.fixture
def stack(running_stack):
    """The module's stack with default workers, an app context on it, and clean tables and
    a well-behaved SMTP server afterwards."""
    running_stack.ensure_default()
    with running_stack.app.app_context():
        yield running_stack
        db.session.remove()
        clean_tables()
    running_stack.smtp.handler.reset()
