"""The Celery app, configured from Flask's config, and how the app enqueues work.

Tasks themselves live in ``workers/`` (loaded by name through ``imports``), so the
application package never imports the worker package: services ask for a task by name.
"""

from __future__ import annotations

import logging

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
    if task_name not in celery_app.tasks:  # the task modules load once, not per call
        celery_app.loader.import_default_modules()
    try:
        celery_app.tasks[task_name].apply_async(args=args)
    except Exception:  # broker down, DNS, timeouts: all mean "the sweep will do it"
        log.warning("could not enqueue %s; the periodic sweep will pick it up", task_name,
                    exc_info=True)
        return False
    return True
