"""Statements for the busiest writes, built once per process.

The ORM builds, coerces and compiles a statement for every call; on the registration form,
which writes five rows per request, that cost more than the database did. These are plain
Core statements made once (per database dialect) and executed with their parameters, on
the session's connection and so inside its transaction. They bypass the session's identity
map and autoflush: use them for rows the request does not also hold as objects.
"""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


@lru_cache(maxsize=64)
def _insert(dialect: str, table: Table, conflict_columns: tuple[str, ...]):
    if not conflict_columns:
        return table.insert().returning(table.c.id)
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (insert(table).on_conflict_do_nothing(index_elements=list(conflict_columns))
            .returning(table.c.id))


def insert_row(session: Session, model: type, **values) -> int:
    """INSERT one row; its new id."""
    connection = session.connection()
    statement = _insert(connection.dialect.name, model.__table__, ())
    return connection.execute(statement, values).scalar_one()


def insert_unless_exists(session: Session, model: type, conflict_columns: tuple[str, ...],
                         **values) -> int | None:
    """``INSERT .. ON CONFLICT (..) DO NOTHING RETURNING id``: one statement that says
    whether the row is new, where a SELECT first would race a concurrent insert. The new
    id, or None when a row with these unique values exists."""
    connection = session.connection()
    statement = _insert(connection.dialect.name, model.__table__, conflict_columns)
    return connection.execute(statement, values).scalar()


def insert_many(session: Session, model: type, rows: list[dict], *,
                conflict_columns: tuple[str, ...] = (),
                returning: tuple[str, ...] = ("id",)) -> list:
    """INSERT many rows in a few statements (executemany with RETURNING), skipping those
    that conflict on ``conflict_columns``: the ``returning`` columns of the rows that are
    new, in no promised order (return a unique column to tell them apart)."""
    if not rows:
        return []
    connection = session.connection()
    table = model.__table__
    statement = table.insert()
    if conflict_columns:
        insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
        statement = insert(table).on_conflict_do_nothing(index_elements=list(conflict_columns))
    statement = statement.returning(*(table.c[name] for name in returning))
    return list(connection.execute(statement, rows).all())


def contains(text: str) -> str:
    """A LIKE pattern (with ``escape="\\"``) that matches ``text`` anywhere, its ``%`` and
    ``_`` taken literally: a search for "100%" finds "100%", not everything."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
