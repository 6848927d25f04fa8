"""A page kept for about a second, per process: the public registration form when a
crowd opens it at once.

The form is the same for every anonymous visitor in a language except for the CSRF token,
so it is rendered once a second and the visitor's token put in; the event's title,
questions and remaining places it shows are at most that old. Nothing is decided from a
cached page: the POST reads the event afresh and takes places in the database. Organisers'
changes in the same process clear it at once (``clear``), other workers' copies expire.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from flask import current_app

_MARKER = "\x00csrf\x00"


class MicroCache:
    def __init__(self, max_entries: int = 512):
        self._pages: dict[tuple, tuple[float, str]] = {}
        self._lock = threading.Lock()
        self._max = max_entries

    def get(self, key: tuple, token: str) -> str | None:
        found = self._pages.get(key)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1].replace(_MARKER, token)

    def put(self, key: tuple, page: str, token: str, ttl: float) -> None:
        """Keep ``page`` (rendered with ``token``) for ``ttl`` seconds, the token left out.
        A page without the token exactly once is not kept."""
        if ttl <= 0 or page.count(token) != 1:
            return
        with self._lock:
            if len(self._pages) >= self._max:
                self._pages.clear()
            self._pages[key] = (time.monotonic() + ttl, page.replace(token, _MARKER))

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()


def registration_forms() -> MicroCache:
    """The current app's cache of registration forms (one per app: tests make many)."""
    return current_app.extensions.setdefault("registration_forms", MicroCache())


class PageCache:
    """Pages of immutable content, kept by a key that names everything they show (a
    published agenda's id, the event's last change, the reader's zone and language): such a
    page never goes stale, so it is kept until pushed out by newer ones (least recently
    used first)."""

    def __init__(self, max_entries: int = 256):
        self._pages: OrderedDict[tuple, str] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_entries

    def get(self, key: tuple) -> str | None:
        with self._lock:
            page = self._pages.get(key)
            if page is not None:
                self._pages.move_to_end(key)
            return page

    def put(self, key: tuple, page: str) -> None:
        with self._lock:
            self._pages[key] = page
            self._pages.move_to_end(key)
            while len(self._pages) > self._max:
                self._pages.popitem(last=False)


def agenda_pages() -> PageCache:
    return current_app.extensions.setdefault("agenda_pages", PageCache())
