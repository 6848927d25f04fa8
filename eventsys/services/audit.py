from __future__ import annotations

from eventsys.extensions import db
from eventsys.models import AuditLog, User


def record(
    action: str,
    *,
    actor: User | None = None,
    event_id: int | None = None,
    target: object | None = None,
    **data,
) -> AuditLog:
    """Add an audit entry to the current transaction: it commits or rolls back with the
    change it describes."""
    entry = AuditLog(
        action=action,
        actor_id=actor.id if actor is not None else None,
        event_id=event_id,
        target_type=type(target).__name__ if target is not None else None,
        target_id=getattr(target, "id", None),
        data=data or None,
    )
    db.session.add(entry)
    return entry
