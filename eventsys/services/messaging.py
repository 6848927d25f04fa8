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
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr

from flask import Flask, current_app, url_for
from flask_babel import force_locale
from sqlalchemy import and_, or_, select, true, update
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from eventsys.extensions import db
from eventsys.models import OutboxMessage, utcnow
from eventsys.services import sql
from eventsys.services.mail_transport import (
    PermanentFailure,
    TemporaryFailure,
    transport_from_config,
)
from eventsys.tasks import announce

log = logging.getLogger(__name__)

_PENDING_KEY = "eventsys.outbox_pending"
LEASE = timedelta(minutes=5)
RETRY_CAP = timedelta(hours=2)
_HEADER_SPACE = re.compile(r"[\s\x00-\x1f\x7f]+")


def one_line(text: str, limit: int) -> str:
    """Header-safe text: CR, LF and other controls become spaces, so user text in a name or
    subject can never start a new header."""
    return _HEADER_SPACE.sub(" ", text).strip()[:limit]


def external_url(endpoint: str, **values) -> str:
    """An absolute link for an email, built from BASE_URL rather than the request's Host."""
    with current_app.test_request_context(base_url=current_app.config["BASE_URL"]):
        return url_for(endpoint, _external=True, **values)


def mail_event(event) -> dict:
    """What mails say about an event (plain values: the worker renders, not the request)."""
    return {"title": event.title, "slug": event.slug, "start_date": event.start_date,
            "end_date": event.end_date, "timezone": event.timezone, "cities": event.cities}


def _new_message_id() -> str:
    _name, address = parseaddr(current_app.config["MAIL_FROM"])
    domain = address.rpartition("@")[2] or "eventsys.localhost"
    return f"<{secrets.token_hex(16)}@{domain}>"


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


def _scrubbed(message: OutboxMessage) -> dict:
    """What stays in the database once a message is sent: no live tokens."""
    values: dict = {"context": None}
    for secret in (message.context or {}).get("_secrets", []):
        for name in ("subject", "body_text", "body_html"):
            text = values.get(name, getattr(message, name))
            if text and secret in text:
                values[name] = re.sub(rf"\S*{re.escape(secret)}\S*", REMOVED, text)
    return values


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


def _claim(session: Session, ids: list[int], now: datetime) -> list[int]:
    claimed = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), _deliverable(now))
        .values(status="sending", lease_until=now + LEASE, attempts=OutboxMessage.attempts + 1)
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    ).scalars().all()
    session.commit()
    return sorted(claimed)


def build_email(message: OutboxMessage, mail_from: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = mail_from
    email["To"] = formataddr((message.to_name or "", message.to_email))
    email["Subject"] = message.subject
    email["Message-ID"] = message.message_id
    email["Date"] = format_datetime(message.created_at)
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(message.body_text)
    if message.body_html:
        email.add_alternative(message.body_html, subtype="html")
    for item in message.attachments or ():
        maintype, _slash, subtype = item["content_type"].partition("/")
        email.add_attachment(base64.b64decode(item["data"]), maintype=maintype,
                             subtype=subtype, filename=item["filename"])
    return email


def mail_file_name(message: OutboxMessage) -> str:
    """The file a message is written to in the embedded setup: sortable, one per message."""
    return f"{message.created_at:%Y%m%dT%H%M%S}-{message.id:08d}.eml"


def _retry_delay(attempts: int) -> timedelta:
    base = timedelta(seconds=current_app.config["OUTBOX_RETRY_BASE_SECONDS"])
    delay = min(base * (2 ** max(0, attempts - 1)), RETRY_CAP)
    return delay * random.uniform(0.5, 1.5)  # jitter spreads retries after an outage


def _mark(session: Session, message_id: int, **values) -> None:
    session.execute(
        update(OutboxMessage).where(OutboxMessage.id == message_id).values(**values)
        .execution_options(synchronize_session=False)
    )
    session.commit()


def _retry_or_fail(session: Session, message: OutboxMessage, error: str) -> str:
    now = utcnow()
    if message.attempts >= current_app.config["OUTBOX_MAX_ATTEMPTS"]:
        _mark(session, message.id, status="failed", lease_until=None,
              last_error=f"gave up after {message.attempts} attempts: {error}"[:2000],
              **_scrubbed(message))
        return "failed"
    _mark(session, message.id, status="pending", lease_until=None,
          next_attempt_at=now + _retry_delay(message.attempts), last_error=error[:2000])
    return "retrying"


def deliver(message_ids: list[int]) -> DeliveryReport:
    """Send the given outbox messages that are still due, over one connection.

    Each outcome is committed as soon as it is known, so a worker that dies mid-batch
    leaves at most the one message it was sending to be sent again (same Message-ID)."""
    report = DeliveryReport()
    if not message_ids:
        return report
    config = current_app.config
    with Session(db.engine, expire_on_commit=False) as session:
        claimed = _claim(session, list(message_ids), utcnow())
        report.claimed = len(claimed)
        if not claimed:
            return report
        messages = session.scalars(
            select(OutboxMessage).where(OutboxMessage.id.in_(claimed)).order_by(OutboxMessage.id)
        ).all()
        for message in messages:
            if message.body_text is None:
                rendered = render(message, session)
                message.subject, message.body_text = rendered.subject, rendered.body_text
                message.body_html = rendered.body_html
                message.attachments = [a.as_json() for a in rendered.attachments] or None
        # End the read before talking to the mail server: no transaction stays open across
        # network I/O, and on SQLite each outcome below starts as a fresh write.
        session.commit()
        try:
            connection = transport_from_config(config).open()
        except TemporaryFailure as exc:
            for message in messages:
                report_key = _retry_or_fail(session, message, str(exc))
                setattr(report, report_key, getattr(report, report_key) + 1)
            return report
        try:
            for index, message in enumerate(messages):
                try:
                    connection.send(build_email(message, config["MAIL_FROM"]),
                                    mail_file_name(message))
                except PermanentFailure as exc:
                    _mark(session, message.id, status="failed", lease_until=None,
                          last_error=str(exc)[:2000], **_scrubbed(message))
                    report.failed += 1
                except TemporaryFailure as exc:
                    outcome = _retry_or_fail(session, message, str(exc))
                    setattr(report, outcome, getattr(report, outcome) + 1)
                    if exc.connection_lost:
                        for rest in messages[index + 1 :]:
                            outcome = _retry_or_fail(session, rest, f"not sent: {exc}")
                            setattr(report, outcome, getattr(report, outcome) + 1)
                        break
                else:
                    _mark(session, message.id, status="sent", sent_at=utcnow(),
                          lease_until=None, last_error=None, **_scrubbed(message))
                    report.sent += 1
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
