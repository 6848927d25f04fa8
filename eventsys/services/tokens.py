"""Secret links: 192 random bits, kept only as a SHA-256 hash, so a copy of the database
opens no registration and no invitation."""

from __future__ import annotations

import hashlib
import re
import secrets

from eventsys.extensions import db
from eventsys.models import utcnow
from eventsys.services import sql

_SHAPE = re.compile(r"[A-Za-z0-9_-]{10,100}")  # what token_urlsafe makes, with room to grow


def new_token() -> str:
    return secrets.token_urlsafe(24)  # 192 bits


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def mint(model: type, owner_column: str, owner_ids: list[int]) -> dict[int, str]:
    """A new token for each owner, in one statement, in the current transaction: owner id
    -> the token, which is never stored (``model`` keeps its hash in ``token_hash``)."""
    tokens = {owner_id: new_token() for owner_id in owner_ids}
    now = utcnow()
    sql.insert_many(db.session, model, [
        {owner_column: owner_id, "token_hash": token_hash(token), "created_at": now}
        for owner_id, token in tokens.items()])
    return tokens


def plausible(token: str | None) -> bool:
    """Cheap shape check before a lookup: a forged token of a megabyte, or one with
    characters no token has (which need not even encode), costs nothing."""
    return isinstance(token, str) and _SHAPE.fullmatch(token) is not None
