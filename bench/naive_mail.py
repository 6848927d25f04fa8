"""The path most Flask apps take, for ``bench/mail.py`` to compare with: one Celery task per
message, each opening its own SMTP connection (as Flask-Mail's ``mail.send`` does).

To be fair it does the same work per message as the outbox: loads the row, renders the
same invitation templates in the recipient's language (``messaging.render``), builds the
message with the standard library's ``EmailMessage`` and records the outcome with one
UPDATE. Loaded by the bench's workers with ``--include bench.naive_mail``.
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from urllib.parse import urlsplit

from celery import shared_task
from flask import current_app
from sqlalchemy import update

from eventsys.extensions import db
from eventsys.models import OutboxMessage, utcnow
from eventsys.services import messaging


@shared_task(name="bench.naive_invitation")
def send_invitation(message_id: int) -> None:
    message = db.session.get(OutboxMessage, message_id)
    rendered = messaging.render(message, db.session)
    email = EmailMessage()
    email["From"] = current_app.config["MAIL_FROM"]
    email["To"] = formataddr((message.to_name or "", message.to_email))
    email["Subject"] = rendered.subject
    email["Message-ID"] = message.message_id
    email["Date"] = format_datetime(message.created_at)
    email.set_content(rendered.body_text)
    email.add_alternative(rendered.body_html, subtype="html")
    url = urlsplit(current_app.config["SMTP_URL"])
    with smtplib.SMTP(url.hostname, url.port, timeout=30) as smtp:
        smtp.send_message(email)
    db.session.execute(update(OutboxMessage).where(OutboxMessage.id == message_id)
                       .values(status="sent", sent_at=utcnow(), attempts=1))
    db.session.commit()
