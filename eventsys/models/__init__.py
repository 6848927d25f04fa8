"""SQLAlchemy models, one module per aggregate. Importing this package registers them all."""

from eventsys.models.agenda import (
    KINDS_WITH_SPEAKERS,
    SESSION_KINDS,
    SESSION_MODES,
    SESSION_ROLES,
    AgendaMark,
    AgendaPublication,
    AgendaSession,
    Person,
    SessionMaterial,
    SessionPerson,
)
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
from eventsys.models.mailing import JOB_KINDS, JOB_STATUSES, InvitationToken, Job, Mailing
from eventsys.models.organisation import Organisation
from eventsys.models.outbox import OUTBOX_STATUSES, OutboxMessage
from eventsys.models.registration import (
    ACTIVE_STATUSES,
    APPROVAL_MODES,
    ATTENDANCE_MODES,
    INVITATION_STATUSES,
    QUESTION_KINDS,
    REGISTRATION_STATUSES,
    Invitation,
    ModeCapacity,
    Registration,
    RegistrationQuestion,
    RegistrationToken,
)
from eventsys.models.user import EVENT_ROLES, EventRole, LoginAttempt, PasswordResetToken, User

__all__ = [
    "ACTIVE_STATUSES",
    "APPROVAL_MODES",
    "ATTENDANCE_MODES",
    "EVENT_KINDS",
    "EVENT_MODES",
    "EVENT_ROLES",
    "EVENT_STATUSES",
    "HOST_ROLES",
    "INVITATION_STATUSES",
    "JOB_KINDS",
    "JOB_STATUSES",
    "KINDS_WITH_SPEAKERS",
    "OUTBOX_STATUSES",
    "QUESTION_KINDS",
    "REGISTRATION_STATUSES",
    "SESSION_KINDS",
    "SESSION_MODES",
    "SESSION_ROLES",
    "AgendaMark",
    "AgendaPublication",
    "AgendaSession",
    "AuditLog",
    "Event",
    "EventHost",
    "EventRole",
    "Invitation",
    "InvitationToken",
    "Job",
    "LoginAttempt",
    "Mailing",
    "ModeCapacity",
    "Organisation",
    "OutboxMessage",
    "PasswordResetToken",
    "Person",
    "Registration",
    "RegistrationQuestion",
    "RegistrationToken",
    "SessionMaterial",
    "SessionPerson",
    "UTCDateTime",
    "User",
    "Venue",
    "utcnow",
]
