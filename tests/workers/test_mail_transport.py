"""What a worker puts on the wire and how fast: the MIME writer (read back by the standard
library's parser, as a mail client would), the SMTP rate limit in one process and shared
through Redis, and the delivery lease that a long batch renews."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from email import message_from_bytes, policy
from itertools import pairwise

import pytest
import redis as redis_lib
from flask import url_for
from sqlalchemy import select

from eventsys.extensions import db
from eventsys.models import OutboxMessage
from eventsys.services import messaging
from eventsys.services.mail_transport import RateLimit, mime_message
from tests.conftest import require_redis
from tests.smtp import SMTPServer

FROM = "eventsys <no-reply@eventsys.localhost>"


def _mime(**overrides) -> tuple[bytes, bool]:
    values = {"mail_from": FROM, "to_email": "ana@example.org", "to_name": "Ana",
              "subject": "You are invited", "message_id": "<abc@eventsys.localhost>",
              "date": datetime(2030, 5, 1, 8, 30, tzinfo=UTC), "text": "Hello\n",
              "html": "<p>Hello</p>", "attachments": []}
    return mime_message(**{**values, **overrides})


def _parsed(raw: bytes):
    assert b"\n" not in raw.replace(b"\r\n", b""), "a bare LF: SMTP wants CRLF lines"
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    # As a mail client reads it, with its own line ends.
    return message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=policy.default)


def test_message_reads_back_as_it_was_written():
    text = "Dear Wang,\n\n" + "A long line that goes on " * 20 + "\n.\nA dot line above.\n"
    html = '<p style="margin:0">你好 — <a href="http://x/i/T?a=1&b=2">link</a></p>'
    raw, smtputf8 = _mime(text=text, html=html)
    message = _parsed(raw)
    assert not smtputf8
    assert message["From"] == FROM and message["To"] == "Ana <ana@example.org>"
    assert message["Subject"] == "You are invited"
    assert message["Message-ID"] == "<abc@eventsys.localhost>"
    assert message["Date"].datetime == datetime(2030, 5, 1, 8, 30, tzinfo=UTC)
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    assert message.get_body(("plain",)).get_content() == text
    assert message.get_body(("html",)).get_content() == html


def test_names_and_subjects_in_any_script_and_text_that_looks_encoded():
    raw, _ = _mime(to_name="王明阳", subject="邀请函 科技园区论坛 " * 12, text="你好\n" * 40,
                   html=None)
    message = _parsed(raw)
    assert message["To"].addresses[0].display_name == "王明阳"
    assert str(message["Subject"]) == "邀请函 科技园区论坛 " * 12
    assert message.get_content_type() == "text/plain"
    # Base64 carries text in its canonical form, with CRLF line ends.
    assert message.get_content().replace("\r\n", "\n") == "你好\n" * 40
    # Text that looks like an RFC 2047 word is encoded, so it is read as the user wrote it.
    raw, _ = _mime(to_name='Eve "=?utf-8?q?Boss?=" \\', subject="=?utf-8?q?Urgent?=")
    message = _parsed(raw)
    assert message["To"].addresses[0].display_name == 'Eve "=?utf-8?q?Boss?=" \\'
    assert str(message["Subject"]) == "=?utf-8?q?Urgent?="


def test_attachments_and_an_international_address():
    raw, smtputf8 = _mime(attachments=[("ticket.pdf", "application/pdf", b"%PDF-1.7" * 50),
                                       ("议程.ics", "text/calendar", b"BEGIN:VCALENDAR")])
    message = _parsed(raw)
    assert not smtputf8 and message.get_content_type() == "multipart/mixed"
    assert message.get_body(("html",)).get_content() == "<p>Hello</p>"
    files = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
    assert files == {"ticket.pdf": b"%PDF-1.7" * 50, "议程.ics": "BEGIN:VCALENDAR"}
    raw, smtputf8 = _mime(to_email="王@例子.中国")
    assert smtputf8 and "王@例子.中国".encode() in raw


def test_rate_limit_in_one_process_spaces_messages_evenly():
    limit = RateLimit(f"test:{time.monotonic()}", 50, None)
    times: list[float] = []

    def send(n: int) -> None:
        for _ in range(n):
            limit.wait()
            times.append(time.monotonic())

    threads = [threading.Thread(target=send, args=(10,)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    times.sort()
    assert times[-1] - times[0] >= 19 * 0.02 - 0.005
    assert min(b - a for a, b in pairwise(times)) >= 0.015


def test_rate_limit_is_shared_through_redis_and_survives_its_absence():
    url = require_redis()
    key = f"test:{time.monotonic()}"
    limits = [RateLimit(key, 40, url), RateLimit(key, 40, url)]  # as two processes would
    started = time.monotonic()
    for n in range(12):
        limits[n % 2].wait()
    assert time.monotonic() - started >= 11 * 0.025 - 0.01
    redis_lib.Redis.from_url(url).delete(f"eventsys:smtp-rate:{key}")
    try:
        dead = RateLimit(key, 20, "redis://127.0.0.1:1/0")
        started = time.monotonic()
        for _ in range(3):  # counted here rather than stopping the mail, and Redis is not
            dead.wait()     # asked again before each message
        assert 0.1 - 0.01 <= time.monotonic() - started < 1
        assert RateLimit._redis_down_until > time.monotonic()
    finally:
        RateLimit._redis_down_until = 0.0


def test_links_in_mails_are_what_url_for_makes_for_base_url(app):
    for base_url in ("http://eventsys.test", "https://example.org/events"):
        app.config["BASE_URL"] = base_url
        for endpoint, values in (("public.event", {"slug": "forum"}),
                                 ("invitations.answer", {"token": "a b/é"}),
                                 ("public.event", {"slug": "forum", "lang": "zh"})):
            with app.test_request_context(base_url=base_url):
                expected = url_for(endpoint, _external=True, **values)
            assert messaging.external_url(endpoint, **values) == expected


@pytest.fixture
def slow_smtp(app):
    app.extensions["celery"].conf.task_always_eager = False  # deliver by hand
    app.extensions["celery"].conf.broker_url = "memory://"
    with SMTPServer() as server:
        app.config["SMTP_URL"] = server.url
        yield server
    app.extensions["celery"].conf.task_always_eager = True


def test_a_long_batch_renews_its_lease_so_the_sweep_never_takes_it_over(app, slow_smtp,
                                                                         monkeypatch):
    """A lease of 0.3 s and a batch that takes about a second: without renewal the sweep
    running beside it would take the rest of the batch and send it a second time."""
    app.config["OUTBOX_LEASE_SECONDS"] = 0.3
    slow_smtp.handler.delay = 0.08
    ids = []
    for n in range(12):
        ids.append(messaging.queue_mail(
            kind="password_reset", dedupe_key=f"k{n}", to_email=f"p{n}@example.org",
            to_name=None, template="password_reset",
            context={"user_name": "P", "reset_url": "http://x/reset/abc", "hours": 2}))
        db.session.commit()
    flask_app = app
    claimed, done = threading.Event(), threading.Event()
    render_all = messaging._render_all

    def render_all_once_claimed(*args):
        claimed.set()
        return render_all(*args)

    monkeypatch.setattr(messaging, "_render_all", render_all_once_claimed)

    def sweep_meanwhile() -> None:
        claimed.wait(10)
        with flask_app.app_context():
            while not done.is_set():
                messaging.sweep()
                time.sleep(0.05)

    sweeper = threading.Thread(target=sweep_meanwhile)
    sweeper.start()
    try:
        report = messaging.deliver(ids)
    finally:
        done.set()
        sweeper.join()
    assert report.sent == 12
    received = slow_smtp.handler.message_ids()
    assert len(received) == 12 == len(set(received))
    assert set(db.session.scalars(select(OutboxMessage.status))) == {"sent"}
