"""Secret links: 192 random bits, kept only as a SHA-256 hash, so a copy of the database
opens no registration and no invitation."""

from __future__ import annotations

import hashlib
import re
import secrets

_SHAPE = re.compile(r"[A-Za-z0-9_-]{10,100}")  # what token_urlsafe makes, with room to grow


def new_token() -> str:
    return secrets.token_urlsafe(24)  # 192 bits


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def plausible(token: str | None) -> bool:
    """Cheap shape check before a lookup: a forged token of a megabyte, or one with
    characters no token has (which need not even encode), costs nothing."""
    return isinstance(token, str) and _SHAPE.fullmatch(token) is not None
