"""What the admin mail view reads: the outbox, and the messages as delivered to files."""

from __future__ import annotations

from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select

from eventsys.extensions import db
from eventsys.models import OUTBOX_STATUSES, OutboxMessage
from eventsys.services.errors import NotFound
from eventsys.services.messaging import mail_file_name, render

PAGE_SIZE = 50


@dataclass
class Listing:
    messages: list[OutboxMessage]
    page: int
    pages: int
    total: int
    counts: dict[str, int]


def list_messages(status: str | None = None, page: int = 1) -> Listing:
    query = select(OutboxMessage)
    count_query = select(func.count()).select_from(OutboxMessage)
    if status in OUTBOX_STATUSES:
        query = query.where(OutboxMessage.status == status)
        count_query = count_query.where(OutboxMessage.status == status)
    total = db.session.scalar(count_query) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(page, pages)
    messages = db.session.scalars(
        query.order_by(OutboxMessage.id.desc()).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    ).all()
    counts = dict(
        db.session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        ).all()
    )
    return Listing(list(messages), page, pages, total, counts)


@dataclass
class ShownMessage:
    message: OutboxMessage
    headers: list[tuple[str, str]]
    text: str
    html: str | None
    from_file: bool


def _read_file(message: OutboxMessage) -> EmailMessage | None:
    path = Path(current_app.config["MAIL_DIR"]) / mail_file_name(message)
    if not path.is_file():
        return None
    with path.open("rb") as handle:
        return BytesParser(policy=policy.default).parse(handle)


def show_message(message_id: int) -> ShownMessage:
    message = db.session.get(OutboxMessage, message_id)
    if message is None:
        raise NotFound(_("There is no such message."))
    parsed = _read_file(message) if message.status == "sent" else None
    if parsed is None:
        subject, text, html = message.subject, message.body_text, message.body_html
        if text is None:  # not rendered yet: show what it will be
            rendered = render(message, db.session)
            subject, text, html = rendered.subject, rendered.body_text, rendered.body_html
        return ShownMessage(
            message=message,
            headers=[("To", message.to_email), ("Subject", subject or ""),
                     ("Message-ID", message.message_id)],
            text=text,
            html=html,
            from_file=False,
        )
    text_part = parsed.get_body(preferencelist=("plain",))
    html_part = parsed.get_body(preferencelist=("html",))
    return ShownMessage(
        message=message,
        headers=[(k, str(parsed[k])) for k in ("From", "To", "Subject", "Date", "Message-ID")
                 if parsed[k]],
        text=text_part.get_content() if text_part else "",
        html=html_part.get_content() if html_part else None,
        from_file=True,
    )
