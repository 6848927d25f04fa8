"""Checks on free text that every entry point (forms, API, import) shares."""

from __future__ import annotations

import re

from flask_babel import gettext as _

from eventsys.services.errors import ServiceError

# C0 controls other than tab, newline and carriage return, and DEL. PostgreSQL refuses NUL
# in text outright; the rest have no business in a name or a title and can break exports.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def has_control_chars(text: str | None) -> bool:
    return bool(text) and _CONTROL.search(text) is not None


def clean_text(value: str | None, limit: int, *, multiline: bool = False) -> str | None:
    """Typed text as stored: spaces collapsed (kept as typed inside multi-line text), None
    when empty; ServiceError for control characters or more than ``limit`` characters."""
    if value is None:
        return None
    if has_control_chars(value):
        raise ServiceError(_("Some text contains characters that are not allowed."))
    value = value.strip() if multiline else " ".join(value.split())
    if len(value) > limit:
        raise ServiceError(_("Some text is too long (at most %(n)d characters).", n=limit))
    return value or None
