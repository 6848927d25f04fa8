"""Accounts: sign-up, login with throttling, password reset by emailed link, roles.

Passwords are hashed with argon2id at the parameters the OWASP Password Storage Cheat Sheet
recommends (m=19 MiB, t=2, p=1): about 30 ms on one core of a small server. argon2-cffi's
own default (m=64 MiB, t=3, p=4) costs five times that and gains nothing on a 2-core
machine serving many logins at once. Hashes made with other parameters are re-made at the
next successful login.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, func, select

from eventsys.extensions import db
from eventsys.models import (
    EVENT_ROLES,
    Event,
    EventRole,
    LoginAttempt,
    PasswordResetToken,
    User,
    utcnow,
)
from eventsys.models.user import new_session_token
from eventsys.services import audit, messaging
from eventsys.services.errors import Conflict, NotFound, ServiceError, Throttled
from eventsys.services.validation import has_control_chars

_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verifying against this when no account matches keeps response times equal, so timing
# does not reveal which addresses have accounts.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256


def normalise_email(email: str) -> str:
    return email.strip().lower()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ServiceError(
            _("Choose a password of at least %(n)d characters.", n=MIN_PASSWORD_LENGTH)
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ServiceError(_("That password is too long."))


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


def create_user(
    email: str,
    name: str,
    password: str,
    *,
    is_admin: bool = False,
    locale: str | None = None,
    timezone: str | None = None,
    country: str | None = None,
) -> User:
    check_password_rules(password)
    email = normalise_email(email)
    if has_control_chars(name) or has_control_chars(email):
        raise ServiceError(_("Some text contains characters that are not allowed."))
    if find_user(email) is not None:
        raise Conflict(_("An account with this email address exists already."))
    user = User(
        email=email,
        name=name.strip(),
        password_hash=hash_password(password),
        is_admin=is_admin,
        locale=locale,
        timezone=timezone,
        country=country,
    )
    db.session.add(user)
    db.session.flush()
    audit.record("user.created", target=user, admin=is_admin)
    return user


def sign_up(email: str, name: str, password: str, **profile) -> User:
    user = create_user(email, name, password, **profile)
    db.session.commit()
    return user


def create_admin(email: str, name: str, password: str) -> User:
    """Create a site admin, or promote an existing account (and set its password)."""
    user = find_user(email)
    if user is None:
        user = create_user(email, name, password, is_admin=True)
    else:
        check_password_rules(password)
        user.is_admin = True
        user.password_hash = hash_password(password)
        user.session_token = new_session_token()
        audit.record("user.promoted_admin", target=user)
    db.session.commit()
    return user


def load_user_from_session(session_id: str) -> User | None:
    """Flask-Login's loader: the cookie holds ``id:session_token``."""
    user_id, _sep, token = session_id.partition(":")
    if not user_id.isdigit() or not token:
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not secrets.compare_digest(user.session_token, token):
        return None
    return user


@dataclass(frozen=True)
class LoginPolicy:
    window: timedelta
    per_account: int
    per_ip: int

    @classmethod
    def from_config(cls) -> LoginPolicy:
        cfg = current_app.config
        return cls(
            window=timedelta(minutes=cfg["LOGIN_WINDOW_MINUTES"]),
            per_account=cfg["LOGIN_MAX_FAILURES_PER_ACCOUNT"],
            per_ip=cfg["LOGIN_MAX_FAILURES_PER_IP"],
        )


def _failures_since(column, value: str, since: datetime) -> tuple[int, datetime | None]:
    count, oldest = db.session.execute(
        select(func.count(), func.min(LoginAttempt.at)).where(
            column == value, LoginAttempt.at >= since, LoginAttempt.succeeded.is_(False)
        )
    ).one()
    return count, oldest


def _check_throttle(email: str, ip: str, policy: LoginPolicy, now: datetime) -> None:
    since = now - policy.window
    for column, value, limit in (
        (LoginAttempt.email, email, policy.per_account),
        (LoginAttempt.ip, ip, policy.per_ip),
    ):
        count, oldest = _failures_since(column, value, since)
        if count >= limit:
            oldest = oldest.replace(tzinfo=now.tzinfo) if oldest.tzinfo is None else oldest
            retry_after = max(1, int((oldest + policy.window - now).total_seconds()))
            raise Throttled(
                _(
                    "Too many failed attempts. Please wait %(minutes)d minutes, or reset "
                    "your password.",
                    minutes=max(1, (retry_after + 59) // 60),
                ),
                retry_after=retry_after,
            )


def authenticate(email: str, password: str, ip: str) -> User:
    """Return the user for valid credentials, or raise ServiceError (wrong) / Throttled."""
    email = normalise_email(email)
    now = utcnow()
    policy = LoginPolicy.from_config()
    _check_throttle(email, ip, policy, now)
    user = find_user(email)
    ok = False
    try:
        ok = _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    ok = ok and user is not None and user.active
    db.session.add(LoginAttempt(email=email[:254], ip=ip[:64], at=now, succeeded=ok))
    if not ok:
        db.session.commit()
        raise ServiceError(_("Wrong email address or password."))
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now
    # Old attempts are only useful inside the throttling window.
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - 4 * policy.window))
    db.session.commit()
    return user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def request_password_reset(email: str) -> None:
    """Email a reset link if the account exists; say nothing either way, so the form cannot
    be used to find out who has an account."""
    user = find_user(email)
    if user is None or not user.active:
        return
    token = secrets.token_urlsafe(32)  # 256 bits
    now = utcnow()
    reset = PasswordResetToken(
        user_id=user.id,
        token_hash=_token_hash(token),
        created_at=now,
        expires_at=now + timedelta(hours=current_app.config["PASSWORD_RESET_HOURS"]),
    )
    db.session.add(reset)
    db.session.flush()
    messaging.queue_mail(
        kind="password_reset",
        dedupe_key=f"password_reset:{reset.id}",
        to_email=user.email,
        to_name=user.name,
        template="password_reset",
        locale=user.locale,
        context={
            "user_name": user.name,
            "reset_url": messaging.external_url("auth.reset_password", token=token),
            "hours": current_app.config["PASSWORD_RESET_HOURS"],
        },
        secrets_in_context=("reset_url",),
    )
    audit.record("user.password_reset_requested", target=user)
    db.session.commit()


def _valid_reset(token: str) -> PasswordResetToken:
    reset = db.session.scalar(
        select(PasswordResetToken).where(PasswordResetToken.token_hash == _token_hash(token))
    )
    if reset is None or reset.used_at is not None or reset.expires_at <= utcnow():
        raise NotFound(
            _("This password reset link is invalid, used or expired. Please ask for a new one.")
        )
    return reset


def check_reset_token(token: str) -> User:
    return _valid_reset(token).user


def reset_password(token: str, new_password: str) -> User:
    """Single use: the token row is locked and marked used in the same transaction that sets
    the password, and every other session of the account is logged out."""
    check_password_rules(new_password)
    reset = _valid_reset(token)
    locked = db.session.execute(
        PasswordResetToken.__table__.update()
        .where(PasswordResetToken.id == reset.id, PasswordResetToken.used_at.is_(None))
        .values(used_at=utcnow())
    )
    if locked.rowcount != 1:
        db.session.rollback()
        raise NotFound(_("This password reset link has been used already."))
    user = reset.user
    user.password_hash = hash_password(new_password)
    user.session_token = new_session_token()
    # Other outstanding links for this account die with this reset.
    db.session.execute(
        PasswordResetToken.__table__.update()
        .where(PasswordResetToken.user_id == user.id, PasswordResetToken.used_at.is_(None))
        .values(used_at=utcnow())
    )
    audit.record("user.password_reset", target=user)
    db.session.commit()
    return user


def change_password(user: User, current: str, new: str) -> None:
    try:
        _hasher.verify(user.password_hash, current)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        raise ServiceError(_("Your current password is not right.")) from None
    check_password_rules(new)
    user.password_hash = hash_password(new)
    user.session_token = new_session_token()
    audit.record("user.password_changed", target=user, actor=user)
    db.session.commit()


def update_profile(user: User, *, name: str, locale: str | None, timezone: str | None,
                   country: str | None) -> None:
    user.name = name.strip()
    user.locale = locale or None
    user.timezone = timezone or None
    user.country = country or None
    db.session.commit()


# Roles ----------------------------------------------------------------------------------

def has_event_role(user: User | None, event: Event, *roles: str) -> bool:
    """The one authorisation rule for per-event pages: admins may do everything."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.is_admin:
        return True
    return any(r.event_id == event.id and r.role in roles for r in user.event_roles)


def can_manage(user: User | None, event: Event) -> bool:
    return has_event_role(user, event, "manager")


def can_check_in(user: User | None, event: Event) -> bool:
    return has_event_role(user, event, "manager", "checkin")


def can_create_events(user: User | None) -> bool:
    """Site admins and anyone who already organises an event may start a new one."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return user.is_admin or any(r.role == "manager" for r in user.event_roles)


def manages_any_event(user: User | None) -> bool:
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return any(r.role == "manager" for r in user.event_roles)


def can_edit_people(user: User | None) -> bool:
    """Speaker profiles are shared by all events: anyone who organises one may edit them."""
    return can_create_events(user) or manages_any_event(user)


def grant_event_role(event: Event, email: str, role: str, *, actor: User | None) -> EventRole:
    if role not in EVENT_ROLES:
        raise ServiceError(_("Unknown role."))
    user = find_user(email)
    if user is None:
        raise NotFound(
            _("No account uses %(email)s. Ask them to sign up first.", email=email.strip())
        )
    existing = db.session.scalar(
        select(EventRole).where(
            EventRole.event_id == event.id, EventRole.user_id == user.id, EventRole.role == role
        )
    )
    if existing is not None:
        return existing
    grant = EventRole(event_id=event.id, user_id=user.id, role=role)
    db.session.add(grant)
    audit.record("event.role_granted", actor=actor, event_id=event.id, target=user, role=role)
    db.session.commit()
    return grant


def revoke_event_role(event: Event, role_id: int, *, actor: User | None) -> None:
    grant = db.session.get(EventRole, role_id)
    if grant is None or grant.event_id != event.id:
        raise NotFound(_("That role does not exist."))
    managers = [r for r in event.roles if r.role == "manager"]
    if grant.role == "manager" and len(managers) == 1 and not (actor and actor.is_admin):
        raise ServiceError(_("An event needs at least one manager."))
    db.session.delete(grant)
    audit.record("event.role_revoked", actor=actor, event_id=event.id, target=grant.user,
                 role=grant.role)
    db.session.commit()
