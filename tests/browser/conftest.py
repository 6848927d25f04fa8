"""Browser tests: the real ``eventsys`` commands, the embedded setup, system Chromium.

One server for the session, started the way a user starts it: ``eventsys db upgrade``,
``eventsys seed-demo``, ``eventsys run`` with nothing but ``EVENTSYS_INSTANCE`` (and
``BASE_URL``) set, so it is SQLite, the in-process Celery worker and mail written to files.
Each test gets fresh browser contexts; console errors and failed requests to other hosts
fail the test. The server's output goes to ``server.log`` in the instance directory and is
attached to the report of any failing test.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import require_chromium

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts"
DEMO_PASSWORD = "eventsys-demo"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-background-networking", "--disable-gpu",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
# Settings that would move the app off the embedded setup, or out of development.
NOT_INHERITED = ("DATABASE_URL", "REDIS_URL", "SMTP_URL", "EVENTSYS_ENV", "SECRET_KEY",
                 "FILES_DIR", "SITE_NAME", "MAIL_FROM", "SESSION_COOKIE_SECURE")


_server_log: Path | None = None


def _eventsys_command() -> str:
    script = Path(sys.executable).parent / "eventsys"
    if script.exists():
        return str(script)
    found = shutil.which("eventsys")
    if not found:
        pytest.fail("no eventsys script next to the interpreter or on PATH", pytrace=False)
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _log_text() -> str:
    if _server_log is None or not _server_log.exists():
        return "(no server log)"
    return _server_log.read_text(errors="replace")


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> str:
    global _server_log
    instance = tmp_path_factory.mktemp("eventsys-instance")
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    env.update(EVENTSYS_INSTANCE=str(instance), BASE_URL=base_url, PYTHONUNBUFFERED="1")
    command = _eventsys_command()
    _server_log = instance / "server.log"
    log = _server_log.open("ab")

    for args in (["db", "upgrade"], ["seed-demo"]):
        log.write(f"$ eventsys {' '.join(args)}\n".encode())
        log.flush()
        done = subprocess.run([command, *args], env=env, cwd=REPO_ROOT, stdout=log,
                              stderr=subprocess.STDOUT, timeout=120, check=False)
        if done.returncode != 0:
            log.close()
            pytest.fail(f"eventsys {' '.join(args)} failed ({done.returncode}):\n{_log_text()}",
                        pytrace=False)

    log.write(f"$ eventsys run --port {port}\n".encode())
    log.flush()
    proc = subprocess.Popen([command, "run", "--port", str(port)], env=env, cwd=REPO_ROOT,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"eventsys run exited with {proc.returncode}:\n{_log_text()}",
                            pytrace=False)
            try:
                with urllib.request.urlopen(base_url + "/", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"eventsys run did not answer within 30 s:\n{_log_text()}",
                            pytrace=False)
            time.sleep(0.2)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    executable = require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True,
                                             args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class ConsoleError:
    page: str
    text: str
    source: str = ""  # the script or resource the message is about

    def __str__(self) -> str:
        return f"{self.page}: {self.text}" + (f" [{self.source}]" if self.source else "")


@dataclass
class PageProblems:
    console_errors: list[ConsoleError] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    # Expected console errors (e.g. Chromium's line for a page answered with 400); each
    # allowance is a substring and is used up by one matching error.
    allowed: list[str] = field(default_factory=list)

    def allow_console_error(self, substring: str) -> None:
        self.allowed.append(substring)

    def unexpected_console_errors(self) -> list[ConsoleError]:
        allowed = list(self.allowed)
        left = []
        for error in self.console_errors:
            match = next((a for a in allowed if a in error.text), None)
            if match is None:
                left.append(error)
            else:
                allowed.remove(match)
        return left


@pytest.fixture
def problems() -> PageProblems:
    return PageProblems()


@pytest.fixture
def new_page(browser, server, problems):
    """Open a page in a fresh browser context (``new_page(viewport=...)``); watched for
    console errors and failed requests, all closed at the end of the test."""
    contexts = []

    def watch(page):
        def on_console(msg):
            if msg.type == "error":
                location = msg.location or {}
                problems.console_errors.append(
                    ConsoleError(page.url, msg.text, location.get("url", "")))

        def on_failed(request):
            problems.failed_requests.append(
                f"{request.method} {request.url}: {request.failure} (page {page.url})")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: problems.console_errors.append(
            ConsoleError(page.url, f"uncaught {exc}")))
        page.on("requestfailed", on_failed)

    def make(**context_options):
        context = browser.new_context(base_url=server, **context_options)
        context.set_default_timeout(10_000)
        context.set_default_navigation_timeout(15_000)
        context.on("page", watch)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
    unexpected = problems.unexpected_console_errors()
    elsewhere = [f for f in problems.failed_requests
                 if urlsplit(f.split(" ", 1)[1]).hostname not in LOCAL_HOSTS]
    assert not unexpected, "console errors:\n" + "\n".join(map(str, unexpected))
    assert not elsewhere, "failed requests to other hosts:\n" + "\n".join(elsewhere)
    # Requests to the app that failed are worth seeing too, even if they are not fatal.
    for failed in problems.failed_requests:
        print(f"failed request (local): {failed}")


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def login(page, email: str, password: str = DEMO_PASSWORD):
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and _server_log is not None and "server" in item.fixturenames:
        report.sections.append(("server log (" + str(_server_log) + ")", _log_text()))


# Mail, as the admin reads it in /admin/mail ----------------------------------------------

def find_sent_mail(admin_page, recipient: str, subject: str, timeout: float = 15.0):
    """Reload /admin/mail until the newest message to ``recipient`` whose subject starts
    with ``subject`` is sent; its row."""
    deadline = time.monotonic() + timeout
    last = "(no matching message)"
    while True:
        admin_page.goto("/admin/mail")
        rows = admin_page.locator("table tbody tr").filter(has_text=f"<{recipient}>").filter(
            has=admin_page.get_by_role("link", name=re.compile("^" + re.escape(subject))))
        if rows.count():
            row = rows.first  # newest first
            status = row.locator(".status").inner_text().strip()
            if status == "sent":
                return row
            last = f"newest {subject!r} message to {recipient} has status {status!r}"
        if time.monotonic() > deadline:
            raise AssertionError(f"no sent {subject!r} message within {timeout} s: {last}")
        time.sleep(0.5)
