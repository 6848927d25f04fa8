"""SQLAlchemy models, one module per aggregate. Importing this package registers them all."""

from eventsys.models.audit import AuditLog
from eventsys.models.base import UTCDateTime, utcnow
from eventsys.models.event import (
    EVENT_KINDS,
    EVENT_MODES,
    EVENT_STATUSES,
    HOST_ROLES,
    Event,
    EventHost,
    Venue,
)
from eventsys.models.organisation import Organisation
from eventsys.models.outbox import OUTBOX_STATUSES, OutboxMessage
from eventsys.models.user import EVENT_ROLES, EventRole, LoginAttempt, PasswordResetToken, User

__all__ = [
    "EVENT_KINDS",
    "EVENT_MODES",
    "EVENT_ROLES",
    "EVENT_STATUSES",
    "HOST_ROLES",
    "OUTBOX_STATUSES",
    "AuditLog",
    "Event",
    "EventHost",
    "EventRole",
    "LoginAttempt",
    "Organisation",
    "OutboxMessage",
    "PasswordResetToken",
    "UTCDateTime",
    "User",
    "Venue",
    "utcnow",
]
