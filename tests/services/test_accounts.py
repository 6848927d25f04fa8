import re
from datetime import timedelta

import pytest
from argon2 import extract_parameters
from sqlalchemy import func, select

from eventsys.extensions import db
from eventsys.models import LoginAttempt, OutboxMessage, PasswordResetToken, User, utcnow
from eventsys.services import accounts
from eventsys.services.errors import Conflict, NotFound, ServiceError, Throttled
from tests.conftest import PASSWORD, delivered, last_text, text_of


def test_passwords_are_hashed_with_argon2id_at_owasp_strength(make_user):
    user = make_user()
    assert user.password_hash.startswith("$argon2id$")
    params = extract_parameters(user.password_hash)
    # OWASP Password Storage Cheat Sheet: argon2id, m >= 19 MiB, t >= 2, p >= 1.
    assert params.memory_cost >= 19 * 1024
    assert params.time_cost >= 2
    assert PASSWORD not in user.password_hash


def test_email_is_unique_without_regard_to_case(make_user):
    make_user(email="Someone@Example.org")
    with pytest.raises(Conflict):
        make_user(email="someone@example.ORG ")


def test_short_password_refused(app):
    with pytest.raises(ServiceError):
        accounts.create_user("a@example.org", "A", "short")
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_authenticate_right_and_wrong(make_user):
    make_user()
    assert accounts.authenticate("SOMEONE@example.org", PASSWORD, "10.0.0.1").email == \
        "someone@example.org"
    with pytest.raises(ServiceError) as wrong:
        accounts.authenticate("someone@example.org", "not the password", "10.0.0.1")
    with pytest.raises(ServiceError) as unknown:
        accounts.authenticate("nobody@example.org", "not the password", "10.0.0.1")
    # The same words for a wrong password and an unknown address: no account enumeration.
    assert wrong.value.message == unknown.value.message


def test_login_throttled_per_account_then_released(app, make_user):
    make_user()
    for _ in range(app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]):
        with pytest.raises(ServiceError):
            accounts.authenticate("someone@example.org", "wrong password!", "10.0.0.2")
    # Even the right password is refused while throttled, from any address.
    with pytest.raises(Throttled) as throttled:
        accounts.authenticate("someone@example.org", PASSWORD, "10.9.9.9")
    assert 0 < throttled.value.retry_after <= 15 * 60
    # When the window has passed, the account opens again.
    db.session.execute(
        LoginAttempt.__table__.update().values(at=utcnow() - timedelta(minutes=16))
    )
    db.session.commit()
    assert accounts.authenticate("someone@example.org", PASSWORD, "10.0.0.2")


def test_login_throttled_per_ip(app, make_user):
    app.config["LOGIN_MAX_FAILURES_PER_IP"] = 3
    make_user()
    for n in range(3):
        with pytest.raises(ServiceError):
            accounts.authenticate(f"guess{n}@example.org", "whatever!!", "10.0.0.3")
    with pytest.raises(Throttled):
        accounts.authenticate("someone@example.org", PASSWORD, "10.0.0.3")
    assert accounts.authenticate("someone@example.org", PASSWORD, "10.0.0.4")


def _reset_links() -> list[str]:
    """The tokens of the reset links delivered so far, oldest first."""
    return [re.search(r"/password/reset/(\S+)", text_of(m)).group(1) for m in delivered()
            if "/password/reset/" in text_of(m)]


def test_password_reset_is_emailed_single_use_and_stored_hashed(make_user):
    user = make_user()
    old_session = user.session_token
    accounts.request_password_reset("someone@example.org")
    message = db.session.scalar(select(OutboxMessage))
    assert message.kind == "password_reset" and message.to_email == "someone@example.org"
    # The link is built from BASE_URL, never from a request's Host header.
    assert "http://eventsys.test/password/reset/" in last_text("someone@example.org")
    [token] = _reset_links()
    # Once sent, the stored copy no longer holds the live link.
    db.session.refresh(message)
    assert token not in (message.body_text or "") and "link removed" in message.body_text
    assert len(token) >= 43  # 32 random bytes, base64
    stored = db.session.scalar(select(PasswordResetToken))
    assert token not in stored.token_hash and len(stored.token_hash) == 64

    accounts.reset_password(token, "a brand new password")
    assert accounts.authenticate("someone@example.org", "a brand new password", "1.1.1.1")
    db.session.refresh(user)
    assert user.session_token != old_session  # every other session is logged out
    with pytest.raises(NotFound):
        accounts.reset_password(token, "yet another password")


def test_password_reset_expires(app, make_user):
    make_user()
    accounts.request_password_reset("someone@example.org")
    [token] = _reset_links()
    db.session.execute(PasswordResetToken.__table__.update().values(
        expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    with pytest.raises(NotFound):
        accounts.check_reset_token(token)


def test_new_reset_link_kills_older_ones_when_used(make_user):
    make_user()
    accounts.request_password_reset("someone@example.org")
    accounts.request_password_reset("someone@example.org")
    first, second = _reset_links()
    accounts.reset_password(second, "a brand new password")
    with pytest.raises(NotFound):
        accounts.reset_password(first, "another new password")


def test_reset_for_unknown_address_sends_nothing(app):
    accounts.request_password_reset("nobody@example.org")
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_roles(app, make_user, make_event):
    organiser = make_user("org@example.org")
    staff = make_user("staff@example.org")
    outsider = make_user("out@example.org")
    event = make_event(creator=organiser)
    accounts.grant_event_role(event, "staff@example.org", "checkin", actor=organiser)
    db.session.refresh(staff)
    assert accounts.can_manage(organiser, event) and accounts.can_check_in(organiser, event)
    assert accounts.can_check_in(staff, event) and not accounts.can_manage(staff, event)
    assert not accounts.can_check_in(outsider, event)
    assert accounts.can_create_events(organiser) and not accounts.can_create_events(staff)
    with pytest.raises(NotFound):
        accounts.grant_event_role(event, "ghost@example.org", "manager", actor=organiser)
    manager_role = next(r for r in event.roles if r.role == "manager")
    with pytest.raises(ServiceError):  # the last manager stays
        accounts.revoke_event_role(event, manager_role.id, actor=organiser)
