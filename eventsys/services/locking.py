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

from sqlalchemy import update
from sqlalchemy.orm import Session

from eventsys.models import ModeCapacity


def take_place(session: Session, event_id: int, mode: str) -> bool:
    """Take one place in ``mode`` if one is free; False when the mode is full."""
    result = session.execute(
        update(ModeCapacity)
        .where(
            ModeCapacity.event_id == event_id,
            ModeCapacity.mode == mode,
            (ModeCapacity.capacity.is_(None)) | (ModeCapacity.confirmed < ModeCapacity.capacity),
        )
        .values(confirmed=ModeCapacity.confirmed + 1)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def release_place(session: Session, event_id: int, mode: str) -> None:
    session.execute(
        update(ModeCapacity)
        .where(ModeCapacity.event_id == event_id, ModeCapacity.mode == mode,
               ModeCapacity.confirmed > 0)
        .values(confirmed=ModeCapacity.confirmed - 1)
        .execution_options(synchronize_session=False)
    )
