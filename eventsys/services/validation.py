"""Checks on free text that every entry point (forms, API, import) shares."""

from __future__ import annotations

import re

# C0 controls other than tab, newline and carriage return, and DEL. PostgreSQL refuses NUL
# in text outright; the rest have no business in a name or a title and can break exports.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def has_control_chars(text: str | None) -> bool:
    return bool(text) and _CONTROL.search(text) is not None
