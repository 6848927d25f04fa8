"""The production shape end to end: a request queues a mail, a ``celery -A workers worker``
process on Redis renders it and sends it to a real SMTP server (tests/workers/conftest.py).

What happens when parts fail (broker down, a task twice, a worker killed, the server busy
or refusing, a rate limit) is in test_mail_reliability.py."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from eventsys.extensions import db
from eventsys.models import OutboxMessage
from eventsys.services import accounts
from tests.conftest import PASSWORD, submit
from tests.workers.conftest import wait_for

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def _statuses() -> dict[str, int]:
    db.session.expire_all()
    return dict(db.session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())


def test_reset_mail_goes_through_redis_worker_and_smtp(stack):
    smtp = stack.smtp
    accounts.create_user("nino@example.org", "Nino", PASSWORD)
    db.session.commit()
    client = stack.app.test_client()
    response = submit(client, "/password/forgot", {"email": "nino@example.org"})
    assert response.status_code == 200
    assert wait_for(lambda: len(smtp.handler.messages) == 1)
    [received] = smtp.handler.messages
    assert received["To"] == "Nino <nino@example.org>"
    link = re.search(r"http://eventsys\.test/password/reset/\S+", received.get_body(
        ("plain",)).get_content())
    assert link is not None
    assert wait_for(lambda: _statuses() == {"sent": 1})
    stored = db.session.scalar(select(OutboxMessage.message_id))
    assert received["Message-ID"] == stored
