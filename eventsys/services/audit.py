from __future__ import annotations

from eventsys.extensions import db
from eventsys.models import AuditLog, User, utcnow
from eventsys.services import sql


def record(
    action: str,
    *,
    actor: User | None = None,
    event_id: int | None = None,
    target: object | None = None,
    target_ref: tuple[str, int] | None = None,
    **data,
) -> None:
    """Add an audit entry to the current transaction: it commits or rolls back with the
    change it describes. ``target`` is a model instance, or ``target_ref`` its class name
    and id where the caller wrote it without the ORM.

    One INSERT, sent now rather than at the next flush: the registration form writes an
    entry per request and the unit of work costs more than the statement."""
    if target is not None:
        if getattr(target, "id", None) is None:
            db.session.flush()  # a new target gets its id
        target_ref = (type(target).__name__, target.id)
    values = {
        "at": utcnow(), "action": action,
        "actor_id": actor.id if actor is not None else None, "event_id": event_id,
        "target_type": target_ref[0] if target_ref else None,
        "target_id": target_ref[1] if target_ref else None,
    }
    if data:  # no data is SQL NULL, not JSON null
        values["data"] = data
    sql.insert_row(db.session, AuditLog, **values)
