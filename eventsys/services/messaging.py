"""The outbox: every email is queued in the transaction that causes it and delivered after
commit by a Celery task; a periodic sweep delivers whatever was left behind.

Why this shape: a rolled-back request never mails anyone; a broker that is down delays mail
but never loses it; delivery claims rows with a conditional UPDATE, so a task delivered
twice or a sweep running beside a task sends each message once.
"""

from __future__ import annotations

import base64
import logging
import random
import re
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr
from functools import lru_cache
from urllib.parse import urlsplit

from flask import Flask, current_app
from flask_babel import force_locale
from sqlalchemy import and_, or_, select, true, update
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from eventsys.extensions import db
from eventsys.models import OutboxMessage, utcnow
from eventsys.services import sql
from eventsys.services.mail_transport import (
    Envelope,
    PermanentFailure,
    TemporaryFailure,
    mime_message,
    sender_of,
    transport_from_config,
)
from eventsys.tasks import announce

log = logging.getLogger(__name__)

_PENDING_KEY = "eventsys.outbox_pending"
RETRY_CAP = timedelta(hours=2)
_HEADER_SPACE = re.compile(r"[\s\x00-\x1f\x7f]+")


def one_line(text: str, limit: int) -> str:
    """Header-safe text: CR, LF and other controls become spaces, so user text in a name or
    subject can never start a new header."""
    return _HEADER_SPACE.sub(" ", text).strip()[:limit]


def external_url(endpoint: str, **values) -> str:
    """An absolute link for an email, built from BASE_URL rather than the request's Host.

    What ``url_for(..., _external=True)`` gives inside a request to BASE_URL, with the URL
    map bound to BASE_URL once per app rather than a request context made per link (a
    list of 5,000 invitations makes 5,000 links)."""
    app = current_app._get_current_object()
    base_url = app.config["BASE_URL"]
    bound = app.extensions.get("mail_url_adapter")
    if bound is None or bound[0] != base_url:
        parts = urlsplit(base_url)
        bound = (base_url, app.url_map.bind(parts.netloc, script_name=parts.path or "/",
                                            url_scheme=parts.scheme))
        app.extensions["mail_url_adapter"] = bound
    app.inject_url_defaults(endpoint, values)
    return bound[1].build(endpoint, values, force_external=True)


def mail_event(event) -> dict:
    """What mails say about an event (plain values: the worker renders, not the request)."""
    return {"title": event.title, "slug": event.slug, "start_date": event.start_date,
            "end_date": event.end_date, "timezone": event.timezone, "cities": event.cities}


@lru_cache(maxsize=8)
def _domain_of(mail_from: str) -> str:
    return parseaddr(mail_from)[1].rpartition("@")[2] or "eventsys.localhost"


def _new_message_id() -> str:
    return f"<{secrets.token_hex(16)}@{_domain_of(current_app.config['MAIL_FROM'])}>"


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes

    def as_json(self) -> dict:
        return {"filename": self.filename, "content_type": self.content_type,
                "data": base64.b64encode(self.data).decode()}


ContextBuilder = Callable[[Session, dict], tuple[dict, list[Attachment]]]
_CONTEXT_BUILDERS: dict[str, ContextBuilder] = {}
REMOVED = "[link removed after sending]"


def context_builder(template: str) -> Callable[[ContextBuilder], ContextBuilder]:
    """Register how a template's stored context (ids, plain values) becomes the full
    context and attachments at render time, in the worker."""

    def register(builder: ContextBuilder) -> ContextBuilder:
        _CONTEXT_BUILDERS[template] = builder
        return builder

    return register


def _row(*, kind: str, dedupe_key: str, to_email: str, to_name: str | None, template: str,
         context: dict, locale: str | None, event_id: int | None, job_id: int | None,
         secrets_in_context: tuple[str, ...], now: datetime) -> dict:
    context = dict(context)
    if secrets_in_context:
        context["_secrets"] = [str(context[name]) for name in secrets_in_context
                               if context.get(name)]
    return {
        "dedupe_key": dedupe_key[:200],
        "message_id": _new_message_id(),
        "kind": kind,
        "event_id": event_id,
        "job_id": job_id,
        "to_email": one_line(to_email, 254),
        "to_name": one_line(to_name, 200) if to_name else None,
        "template": template,
        "context": context,
        "locale": locale,
        "status": "pending",
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": now,
    }


def queue_mail(
    *,
    kind: str,
    dedupe_key: str,
    to_email: str,
    to_name: str | None,
    template: str,
    context: dict,
    locale: str | None = None,
    event_id: int | None = None,
    job_id: int | None = None,
    secrets_in_context: tuple[str, ...] = (),
) -> int | None:
    """Add a message to the current transaction, to be rendered and sent by a worker.

    ``templates/mail/<template>.{subject,txt,html}`` are rendered in the recipient's
    language when the message is delivered, so a request pays for one INSERT, not for
    templates, QR codes and calendar files. ``context`` must be JSON: plain values and ids
    (a context builder registered for the template loads the rest). Values named in
    ``secrets_in_context`` (tokens) are removed from the stored copy once it is sent.
    Returns the new id, or None when this dedupe key was queued already (idempotent)."""
    values = _row(kind=kind, dedupe_key=dedupe_key, to_email=to_email, to_name=to_name,
                  template=template, context=context, locale=locale, event_id=event_id,
                  job_id=job_id, secrets_in_context=secrets_in_context, now=utcnow())
    new_id = sql.insert_unless_exists(db.session, OutboxMessage, ("dedupe_key",), **values)
    if new_id is not None:
        db.session.info.setdefault(_PENDING_KEY, []).append(new_id)
    return new_id


@dataclass(frozen=True)
class Outgoing:
    """One message of a batch (``queue_many``)."""

    dedupe_key: str
    to_email: str
    to_name: str | None
    context: dict
    locale: str | None = None


def queue_many(messages: list[Outgoing], *, kind: str, template: str, event_id: int | None,
               job_id: int | None = None,
               secrets_in_context: tuple[str, ...] = ()) -> dict[str, int]:
    """``queue_mail`` for a batch, in a few statements: dedupe key -> new outbox id, for
    the messages not queued before (a chunk of a job done twice queues nothing twice)."""
    now = utcnow()
    rows = [_row(kind=kind, dedupe_key=m.dedupe_key, to_email=m.to_email, to_name=m.to_name,
                 template=template, context=m.context, locale=m.locale, event_id=event_id,
                 job_id=job_id, secrets_in_context=secrets_in_context, now=now)
            for m in messages]
    new = {key: new_id for new_id, key in sql.insert_many(
        db.session, OutboxMessage, rows, conflict_columns=("dedupe_key",),
        returning=("id", "dedupe_key"))}
    if new:
        db.session.info.setdefault(_PENDING_KEY, []).extend(sorted(new.values()))
    return new


@dataclass
class Rendered:
    subject: str
    body_text: str
    body_html: str | None
    attachments: list[Attachment]


def render(message: OutboxMessage, session: Session) -> Rendered:
    """The message as its recipient will read it. ``session`` is the one the caller reads
    with (the worker's own, or the request's for a preview)."""
    context = {k: v for k, v in (message.context or {}).items() if k != "_secrets"}
    attachments: list[Attachment] = []
    builder = _CONTEXT_BUILDERS.get(message.template or "")
    if builder is not None:
        context, attachments = builder(session, context)
    # Straight through Jinja, not flask.render_template: a mail has nothing to do with the
    # request that may be under way (its context processors would load the current user).
    env = current_app.jinja_env
    with force_locale(message.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        subject, body_text, body_html = (
            env.get_template(f"mail/{message.template}.{suffix}").render(**context)
            for suffix in ("subject.txt", "txt", "html")
        )
    return Rendered(one_line(subject, 300), body_text, body_html, attachments)


def _stored(message: OutboxMessage) -> Rendered:
    """A message rendered before: one that failed for good and that an admin sends again
    (``retry_now``), as it was kept, its links removed."""
    return Rendered(message.subject or "", message.body_text or "", message.body_html,
                    [Attachment(a["filename"], a["content_type"], base64.b64decode(a["data"]))
                     for a in message.attachments or ()])


def _without(text: str, secret: str) -> str:
    """``text`` with every whitespace-delimited word that contains ``secret`` replaced."""
    while (found := text.find(secret)) >= 0:
        start, end = found, found + len(secret)
        while start > 0 and not text[start - 1].isspace():
            start -= 1
        while end < len(text) and not text[end].isspace():
            end += 1
        text = text[:start] + REMOVED + text[end:]
    return text


def _kept(message: OutboxMessage, rendered: Rendered | None) -> dict:
    """What stays in the database once a message is settled (sent, or failed for good):
    what it said, with no live tokens, and no context to render it again."""
    values: dict = {"context": None}
    if rendered is None:
        return values
    texts = {"subject": rendered.subject, "body_text": rendered.body_text,
             "body_html": rendered.body_html}
    for secret in (message.context or {}).get("_secrets", []):
        for name, text in texts.items():
            if text and secret in text:
                texts[name] = _without(text, secret)
    return {**values, **texts,
            "attachments": [a.as_json() for a in rendered.attachments] or None}


def init_app(app: Flask) -> None:
    """Announce queued messages to the workers only once their transaction has committed.

    The listeners hang on the session class, so they are installed once per process however
    many apps (tests) are created."""
    session_class = db.session.session_factory.class_
    if sa_event.contains(session_class, "after_commit", _after_commit):
        return
    sa_event.listen(session_class, "after_commit", _after_commit)
    sa_event.listen(session_class, "after_rollback", _after_rollback)


def _after_commit(session) -> None:
    ids = session.info.pop(_PENDING_KEY, None)
    if ids:
        announce("eventsys.deliver_outbox", ids)


def _after_rollback(session) -> None:
    session.info.pop(_PENDING_KEY, None)


@dataclass
class DeliveryReport:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    retrying: int = 0

    def count(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    def add(self, other: DeliveryReport) -> None:
        for key, value in asdict(other).items():
            setattr(self, key, getattr(self, key) + value)

    def as_dict(self) -> dict:
        return asdict(self)


def _deliverable(now: datetime):
    return or_(
        and_(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now),
        and_(OutboxMessage.status == "sending", OutboxMessage.lease_until < now),
    )


def _claim(session: Session, ids: list[int], lease_until: datetime) -> list[OutboxMessage]:
    """Take the messages of ``ids`` that are due, in one statement: another deliverer (a
    duplicate task, the sweep) finds them leased and skips them."""
    claimed = session.scalars(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), _deliverable(utcnow()))
        .values(status="sending", lease_until=lease_until,
                attempts=OutboxMessage.attempts + 1)
        .returning(OutboxMessage)
        .execution_options(synchronize_session=False)
    ).all()
    session.commit()
    return sorted(claimed, key=lambda message: message.id)


def _renew(session: Session, ids: list[int], lease_until: datetime,
           new_until: datetime) -> set[int]:
    """Extend our lease on the messages not sent yet; those whose lease ran out and were
    taken by another deliverer meanwhile are theirs now, and left out."""
    table = OutboxMessage.__table__
    held = session.connection().execute(
        table.update()
        .where(table.c.id.in_(ids), table.c.status == "sending",
               table.c.lease_until == lease_until)
        .values(lease_until=new_until)
        .returning(table.c.id)
    ).scalars().all()
    session.commit()
    return set(held)


def mail_file_name(message: OutboxMessage) -> str:
    """The file a message is written to in the embedded setup: sortable, one per message."""
    return f"{message.created_at:%Y%m%dT%H%M%S}-{message.id:08d}.eml"


def envelope(message: OutboxMessage, rendered: Rendered, mail_from: str) -> Envelope:
    """The message as it goes out. Its Message-ID was fixed when it was queued, so a copy
    sent again after a crash can be recognised by the receiver."""
    content, smtputf8 = mime_message(
        mail_from=mail_from, to_email=message.to_email, to_name=message.to_name,
        subject=rendered.subject, message_id=message.message_id, date=message.created_at,
        text=rendered.body_text, html=rendered.body_html,
        attachments=[(a.filename, a.content_type, a.data) for a in rendered.attachments])
    return Envelope(sender_of(mail_from)[1], message.to_email, content,
                    mail_file_name(message), smtputf8)


def _retry_delay(attempts: int) -> timedelta:
    base = timedelta(seconds=current_app.config["OUTBOX_RETRY_BASE_SECONDS"])
    delay = min(base * (2 ** max(0, attempts - 1)), RETRY_CAP)
    return delay * random.uniform(0.5, 1.5)  # jitter spreads retries after an outage


def _mark(session: Session, message_id: int, **values) -> None:
    """Record one outcome and commit it: the commit per message is what bounds the copies
    a crash can cause (see ``deliver``). A plain Core UPDATE, as the ORM's bookkeeping
    for it cost more than the statement."""
    table = OutboxMessage.__table__
    session.connection().execute(table.update().where(table.c.id == message_id), values)
    session.commit()


def _retry_or_fail(session: Session, message: OutboxMessage, rendered: Rendered | None,
                   error: str) -> str:
    if message.attempts >= current_app.config["OUTBOX_MAX_ATTEMPTS"]:
        _mark(session, message.id, status="failed", lease_until=None,
              last_error=f"gave up after {message.attempts} attempts: {error}"[:2000],
              **_kept(message, rendered))
        return "failed"
    # Nothing of the rendering is kept: the next attempt renders again from the context.
    _mark(session, message.id, status="pending", lease_until=None,
          next_attempt_at=utcnow() + _retry_delay(message.attempts), last_error=error[:2000])
    return "retrying"


def _render_all(session: Session, messages: list[OutboxMessage],
                report: DeliveryReport) -> list[tuple[OutboxMessage, Rendered]]:
    """Render a batch; a message that cannot be rendered is retried later (and given up
    after the last attempt), the others go on."""
    # Objects the context builders load stay in the identity map for the whole batch
    # (it holds them weakly otherwise), so a hundred invitations to one event load it
    # once, not once each.
    loaded: list = []

    def keep(_session, instance) -> None:
        loaded.append(instance)

    sa_event.listen(session, "loaded_as_persistent", keep)
    rendered: list[tuple[OutboxMessage, Rendered]] = []
    failed: list[tuple[OutboxMessage, str]] = []
    try:
        for message in messages:
            try:
                rendered.append((message, _stored(message) if message.body_text is not None
                                 else render(message, session)))
            except Exception as exc:  # a template or builder bug: this message waits
                log.exception("could not render outbox message %s", message.id)
                failed.append((message, f"could not render: {exc}"))
    finally:
        sa_event.remove(session, "loaded_as_persistent", keep)
    for message, error in failed:
        report.count(_retry_or_fail(session, message, None, error))
    session.commit()  # SQLite's reads begin IMMEDIATE (eventsys/__init__.py): end them
    return rendered


@contextmanager
def _batch_connection() -> Iterator[Connection]:
    """One database connection for a whole batch, checked out of the pool once (with its
    pre-ping) rather than once per outcome. Every statement of a batch stands alone (claim,
    renewal, each outcome), so it runs in autocommit: an outcome is one round trip, its
    UPDATE committing itself. On PostgreSQL those commits are asynchronous.

    Why asynchronous: a commit per message is what keeps a dying worker from sending more
    than one message twice, and a durable commit waits for the disk (2-5 ms on a small
    server: more than everything else a message costs). An asynchronous commit is as
    visible and as atomic; it only waits for PostgreSQL's WAL writer, which writes it to
    disk within ``3 x wal_writer_delay`` (0.6 s by default). A worker that dies loses
    nothing by it; a database server that crashes may forget the outcomes of that last
    fraction of a second, and those messages are sent again, with the same Message-ID."""
    # Autocommit also means that no transaction stays open while the mail server is
    # talked to.
    with db.engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT")  # undone on check-in
        postgres = (connection.dialect.name == "postgresql"
                    and not current_app.config.get("OUTBOX_DURABLE_OUTCOMES"))
        if postgres:
            connection.exec_driver_sql("SET synchronous_commit = off")
        try:
            yield connection
        finally:
            if postgres and not connection.invalidated:
                try:  # never hand the pool a connection with our setting
                    connection.exec_driver_sql("RESET synchronous_commit")
                except Exception:
                    connection.invalidate()


def deliver(message_ids: list[int]) -> DeliveryReport:
    """Send the given outbox messages that are still due, over one connection.

    Never twice: the messages are claimed with a lease (``OUTBOX_LEASE_SECONDS``), renewed
    once half of it has passed, so no other deliverer takes a message while this one may
    still send it. Never lost: each outcome is committed as soon as it is known, before
    the next message goes. So a worker that dies mid-batch leaves at most the one message
    it was sending (accepted by the server, outcome not committed) to be sent again, with
    the same Message-ID, once the lease has run out; the rest of its batch is sent once.
    (A connection lost while the server was accepting a message leaves the same doubt
    about that one message, and it is sent again too.)"""
    report = DeliveryReport()
    if not message_ids:
        return report
    config = current_app.config
    lease = timedelta(seconds=config["OUTBOX_LEASE_SECONDS"])
    with _batch_connection() as bound, Session(bind=bound, expire_on_commit=False) as session:
        lease_until = utcnow() + lease
        renew_at = time.monotonic() + lease.total_seconds() / 2
        messages = _claim(session, list(message_ids), lease_until)
        report.claimed = len(messages)
        if not messages:
            return report
        batch = _render_all(session, messages, report)
        try:
            connection = transport_from_config(config).open()
        except TemporaryFailure as exc:
            for message, rendered in batch:
                report.count(_retry_or_fail(session, message, rendered, str(exc)))
            return report
        held: set[int] | None = None  # after a renewal: the messages still ours
        try:
            for index, (message, rendered) in enumerate(batch):
                if time.monotonic() >= renew_at:
                    new_until = utcnow() + lease
                    held = _renew(session, [m.id for m, _r in batch[index:]], lease_until,
                                  new_until)
                    lease_until = new_until
                    renew_at = time.monotonic() + lease.total_seconds() / 2
                if held is not None and message.id not in held:
                    continue
                try:
                    connection.send(envelope(message, rendered, config["MAIL_FROM"]))
                except PermanentFailure as exc:
                    _mark(session, message.id, status="failed", lease_until=None,
                          last_error=str(exc)[:2000], **_kept(message, rendered))
                    report.count("failed")
                except TemporaryFailure as exc:
                    report.count(_retry_or_fail(session, message, rendered, str(exc)))
                    if exc.connection_lost:
                        for rest, rest_rendered in batch[index + 1:]:
                            if held is None or rest.id in held:
                                report.count(_retry_or_fail(session, rest, rest_rendered,
                                                            f"not sent: {exc}"))
                        break
                else:
                    _mark(session, message.id, status="sent", sent_at=utcnow(),
                          lease_until=None, last_error=None, **_kept(message, rendered))
                    report.count("sent")
        finally:
            connection.close()
    return report


def sweep(max_batches: int = 50) -> DeliveryReport:
    """Deliver everything due: messages whose announcement was lost (broker down), retries
    whose time has come, and messages whose worker died holding them (lease expired)."""
    report = DeliveryReport()
    batch_size = current_app.config["OUTBOX_BATCH_SIZE"]
    seen: set[int] = set()
    for _ in range(max_batches):
        with Session(db.engine) as session:
            ids = session.scalars(
                select(OutboxMessage.id)
                .where(_deliverable(utcnow()), OutboxMessage.id.not_in(seen) if seen else true())
                .order_by(OutboxMessage.id)
                .limit(batch_size)
            ).all()
        if not ids:
            break
        seen.update(ids)
        report.add(deliver(list(ids)))
    return report


def retry_now(message_id: int) -> None:
    """An admin's "send again" for a failed message."""
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == "failed")
        .values(status="pending", next_attempt_at=utcnow(), attempts=0)
    )
    db.session.info.setdefault(_PENDING_KEY, []).append(message_id)
    db.session.commit()
