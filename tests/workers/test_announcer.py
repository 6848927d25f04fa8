"""Announcing new mail from a background thread: many commits' ids go to the broker (real
Redis) as few tasks, every id exactly once, and a broker that is down loses nothing the
sweep cannot deliver."""

from __future__ import annotations

import base64
import json
import threading
import time

import redis as redis_lib
from celery import Celery

from eventsys.tasks import Announcer
from tests.conftest import require_redis

QUEUE = "celery"


def _celery(url: str) -> Celery:
    app = Celery("announcer-test", broker=url, set_as_current=False)
    app.conf.broker_connection_timeout = 1
    app.conf.task_publish_retry_policy = {"max_retries": 0}
    return app  # no worker: the test reads the tasks in the broker's queue


def _published(client) -> list[list[int]]:
    """The id lists of the tasks waiting in the broker's queue, oldest first."""
    tasks = []
    for raw in reversed(client.lrange(QUEUE, 0, -1)):
        body = json.loads(base64.b64decode(json.loads(raw)["body"]))
        tasks.append(body[0][0])
    return tasks


def _wait_for(predicate, seconds=5.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_many_commits_become_few_tasks_with_every_id_once():
    url = require_redis()
    client = redis_lib.Redis.from_url(url)
    client.delete(QUEUE)
    announcer = Announcer(_celery(url), "eventsys.deliver_outbox", delay=0.1, chunk=100)
    ids = list(range(1, 301))

    def request_thread(part):
        for i in part:
            announcer.add([i])
            time.sleep(0.001)

    threads = [threading.Thread(target=request_thread, args=(ids[n::4],)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert _wait_for(lambda: sorted(i for task in _published(client) for i in task) == ids)
    tasks = _published(client)
    assert len(tasks) <= 20, f"{len(tasks)} tasks for 300 commits"
    assert all(len(task) <= 100 for task in tasks)
    client.delete(QUEUE)


def test_a_broker_that_is_down_costs_the_announcement_only():
    announcer = Announcer(_celery("redis://127.0.0.1:1/0"), "eventsys.deliver_outbox",
                          delay=0.01, chunk=100)
    started = time.monotonic()
    announcer.add([1, 2, 3])  # the request returns at once whatever the broker does
    assert time.monotonic() - started < 0.05
    time.sleep(0.2)
    url = require_redis()
    client = redis_lib.Redis.from_url(url)
    client.delete(QUEUE)
    working = Announcer(_celery(url), "eventsys.deliver_outbox", delay=0.01, chunk=100)
    working.add([4])  # the thread that failed does not stop later announcements
    assert _wait_for(lambda: _published(client) == [[4]])
    client.delete(QUEUE)
