"""The embedded default: a real Celery worker thread on the in-memory broker, as
``eventsys run`` starts it, delivering to files."""

import time
from pathlib import Path

from sqlalchemy import select

from eventsys import create_app
from eventsys.extensions import db
from eventsys.models import OutboxMessage
from eventsys.services import accounts
from tests.conftest import PASSWORD, base_config, clean_tables
from workers.embedded import EmbeddedWorker


def _wait_for(predicate, seconds=15.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _status() -> str | None:
    """Read and end the transaction at once: on SQLite an open one holds the write lock
    the worker needs to record the delivery."""
    status = db.session.scalar(select(OutboxMessage.status))
    db.session.rollback()
    return status


def test_embedded_worker_delivers_mail_to_files(database_url, tmp_path):
    app = create_app(base_config(tmp_path / "instance", database_url,
                                 CELERY={"task_always_eager": False, "broker_url": "memory://"}))
    worker = EmbeddedWorker(app.extensions["celery"], sweep_seconds=0.5)
    with app.app_context():
        try:
            worker.start()
            accounts.create_user("nino@example.org", "Nino", PASSWORD)
            db.session.commit()
            accounts.request_password_reset("nino@example.org")
            mail_dir = Path(app.config["MAIL_DIR"])
            assert _wait_for(lambda: any(mail_dir.glob("*.eml"))), "no mail file written"
            [path] = list(mail_dir.glob("*.eml"))
            assert b"/password/reset/" in path.read_bytes()
            assert _wait_for(lambda: _status() == "sent")
        finally:
            worker.stop()
            db.session.remove()
            clean_tables()
            db.engine.dispose()
