"""Reading the audit log: what happened to one thing, newest first."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from eventsys.extensions import db
from eventsys.models import AuditLog


def of_target(target_type: str, target_id: int, limit: int = 100) -> list[AuditLog]:
    return list(db.session.scalars(
        select(AuditLog).where(AuditLog.target_type == target_type,
                               AuditLog.target_id == target_id)
        .options(selectinload(AuditLog.actor))
        .order_by(AuditLog.at.desc(), AuditLog.id.desc()).limit(limit)))
