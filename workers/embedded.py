"""The embedded worker: a real Celery worker in a thread of the web process.

With no ``REDIS_URL`` the broker is Celery's in-memory transport, which only reaches
consumers in the same process; ``eventsys run`` therefore starts a solo-pool worker thread
next to the web server, plus a timer that plays Celery beat's part (the outbox sweep).
Same tasks, same services: only the transport differs.
"""

from __future__ import annotations

import logging
import threading

from celery import Celery
from celery.worker import WorkController

log = logging.getLogger(__name__)


class EmbeddedWorker:
    def __init__(self, celery_app: Celery, sweep_seconds: float) -> None:
        self.celery_app = celery_app
        self.sweep_seconds = sweep_seconds
        self._stop = threading.Event()
        self._controller: WorkController | None = None

    def start(self) -> None:
        self.celery_app.loader.import_default_modules()
        self._controller = WorkController(
            app=self.celery_app,
            pool="solo",
            concurrency=1,
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
            loglevel="WARNING",
        )
        threading.Thread(target=self._controller.start, name="celery-embedded", daemon=True).start()
        threading.Thread(target=self._beat, name="celery-embedded-beat", daemon=True).start()

    def _beat(self) -> None:
        sweep = self.celery_app.tasks["eventsys.sweep_outbox"]
        # A first sweep at start delivers whatever a previous run left queued.
        while not self._stop.is_set():
            try:
                sweep.apply_async()
            except Exception:
                log.exception("embedded beat could not enqueue the outbox sweep")
            self._stop.wait(self.sweep_seconds)

    def stop(self) -> None:
        self._stop.set()
        if self._controller is not None:
            self._controller.stop(in_sighandler=False)
