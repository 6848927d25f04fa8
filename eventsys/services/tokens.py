"""Secret links: 192 random bits, kept only as a SHA-256 hash, so a copy of the database
opens no registration and no invitation."""

from __future__ import annotations

import hashlib
import secrets


def new_token() -> str:
    return secrets.token_urlsafe(24)  # 192 bits


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def plausible(token: str | None) -> bool:
    """Cheap shape check before a lookup: a forged token of a megabyte costs nothing."""
    return bool(token) and 10 <= len(token) <= 100
