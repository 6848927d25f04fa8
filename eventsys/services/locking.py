"""What is locked when places are taken, and how.

Places are counted in one row per event and attendance mode (``mode_capacity``). Taking a
place is a single conditional UPDATE on that row (``confirmed < capacity``); releasing one
is the reverse. On PostgreSQL the UPDATE's row lock serialises the writers of one mode and
nothing else: the forum's online places and its room places never wait for each other,
nor do two events. SQLite has one writer at a time, and every SQLite transaction begins
IMMEDIATE (see ``eventsys/__init__.py``), so there the whole transaction is the lock.

The lock is held from the UPDATE to the commit, so callers take the place as late as
possible in their transaction and commit soon after.
"""

from __future__ import annotations

from sqlalchemy import bindparam, or_, update
from sqlalchemy.orm import Session

from eventsys.models import ModeCapacity

_places = ModeCapacity.__table__.c
_TAKE = (
    ModeCapacity.__table__.update()
    .where(_places.event_id == bindparam("p_event"), _places.mode == bindparam("p_mode"),
           or_(_places.capacity.is_(None), _places.confirmed < _places.capacity))
    .values(confirmed=_places.confirmed + 1)
)


def take_place(session: Session, event_id: int, mode: str) -> bool:
    """Take one place in ``mode`` if one is free; False when the mode is full. (A statement
    built once: this runs on every registration.)"""
    result = session.connection().execute(_TAKE, {"p_event": event_id, "p_mode": mode})
    return result.rowcount == 1


def release_place(session: Session, event_id: int, mode: str) -> None:
    session.execute(
        update(ModeCapacity)
        .where(ModeCapacity.event_id == event_id, ModeCapacity.mode == mode,
               ModeCapacity.confirmed > 0)
        .values(confirmed=ModeCapacity.confirmed - 1)
        .execution_options(synchronize_session=False)
    )
