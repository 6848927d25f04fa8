"""The Celery app, configured from Flask's config, and how the app enqueues work.

Tasks themselves live in ``workers/`` (loaded by name through ``imports``), so the
application package never imports the worker package: services ask for a task by name.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from celery import Celery, Task
from flask import Flask, current_app

log = logging.getLogger(__name__)


def init_celery(app: Flask) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(app.config["CELERY"])
    celery_app.conf.beat_schedule = {
        "sweep-outbox": {
            "task": "eventsys.sweep_outbox",
            "schedule": float(app.config["OUTBOX_SWEEP_SECONDS"]),
        }
    }
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app


def enqueue(task_name: str, *args) -> bool:
    """Send a task; False (and a log line) when the broker is unreachable.

    Callers only enqueue work whose state is already committed, so a lost announcement is
    picked up by the periodic sweep rather than lost.
    """
    celery_app: Celery = current_app.extensions["celery"]
    if celery_app.conf.task_always_eager and task_name not in celery_app.tasks:
        celery_app.loader.import_default_modules()  # once, to run the task in-process
    return _send(celery_app, task_name, *args)


def _send(celery_app: Celery, task_name: str, *args) -> bool:
    try:
        if celery_app.conf.task_always_eager:
            celery_app.tasks[task_name].apply_async(args=args)  # runs here and now
        else:
            celery_app.send_task(task_name, args=args)
    except Exception:  # broker down, DNS, timeouts: all mean "the sweep will do it"
        log.warning("could not enqueue %s; the periodic sweep will pick it up", task_name,
                    exc_info=True)
        return False
    return True


class Announcer:
    """Sends one task for the ids that many commits queued within ``delay`` seconds, from a
    background thread, so a request pays for appending to a list rather than for a
    round trip to the broker. Ids it never sent (the process died in between) are
    committed work, which the periodic sweep delivers."""

    def __init__(self, celery_app: Celery, task_name: str, *, delay: float, chunk: int):
        self.celery_app, self.task_name = celery_app, task_name
        self.delay, self.chunk = delay, chunk
        self._ids: list[int] = []
        self._wake = threading.Condition()
        self._pid: int | None = None

    def add(self, ids: list[int]) -> None:
        with self._wake:
            if self._pid != os.getpid():  # first use in this process (or after a fork)
                self._pid, self._ids = os.getpid(), []
                threading.Thread(target=self._run, name="outbox-announcer",
                                 daemon=True).start()
            self._ids.extend(ids)
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._ids:
                    self._wake.wait()
            time.sleep(self.delay)  # let the commits of the next moments join this task
            with self._wake:
                ids, self._ids = self._ids, []
            for start in range(0, len(ids), self.chunk):
                _send(self.celery_app, self.task_name, ids[start:start + self.chunk])


def announce(task_name: str, ids: list[int]) -> None:
    """Enqueue ``task_name(ids)`` for committed rows, coalescing with other requests' ids
    when ``ANNOUNCE_DELAY_SECONDS`` is above 0 (and Celery is not eager)."""
    app = current_app._get_current_object()
    celery_app: Celery = app.extensions["celery"]
    delay = app.config.get("ANNOUNCE_DELAY_SECONDS", 0)
    if delay <= 0 or celery_app.conf.task_always_eager:
        enqueue(task_name, ids)
        return
    announcers = app.extensions.setdefault("announcers", {})
    if task_name not in announcers:
        announcers[task_name] = Announcer(celery_app, task_name, delay=delay,
                                          chunk=app.config.get("OUTBOX_BATCH_SIZE", 100))
    announcers[task_name].add(ids)
