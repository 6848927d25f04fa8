import re

from sqlalchemy import select

from eventsys.extensions import db
from eventsys.models import User
from tests.conftest import PASSWORD, last_text, login, submit


def test_signup_logs_in_and_shows_account(client):
    response = submit(client, "/signup", {
        "name": "Nino Beridze", "email": "nino@example.org", "country": "GE",
        "password": PASSWORD, "confirm": PASSWORD,
    })
    assert response.status_code == 302 and response.location.endswith("/account")
    page = client.get("/account").get_data(as_text=True)
    assert "nino@example.org" in page


def test_signup_with_taken_address_is_told_so(client, make_user):
    make_user("nino@example.org")
    response = submit(client, "/signup", {
        "name": "Other", "email": "NINO@example.org", "password": PASSWORD, "confirm": PASSWORD,
    })
    assert response.status_code == 409
    assert "exists already" in response.get_data(as_text=True)


def test_login_and_logout(client, make_user):
    make_user()
    response = login(client, "someone@example.org")
    assert response.status_code == 302
    assert client.get("/account").status_code == 200
    # Logging out takes a POST with a CSRF token; a GET only asks.
    assert client.get("/logout").status_code == 200
    assert client.get("/account").status_code == 200
    submit(client, "/logout", {})
    assert client.get("/account").status_code == 302


def test_wrong_password_is_a_400_with_a_message(client, make_user):
    make_user()
    response = login(client, "someone@example.org", "wrong password")
    assert response.status_code == 400
    assert "Wrong email address or password" in response.get_data(as_text=True)


def test_throttled_login_is_a_429(client, app, make_user):
    make_user()
    for _ in range(app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]):
        login(client, "someone@example.org", "wrong password")
    response = login(client, "someone@example.org")
    assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0
    assert "Too many failed attempts" in response.get_data(as_text=True)


def test_session_cookie_flags(client, make_user):
    make_user()
    response = login(client, "someone@example.org")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_next_parameter_cannot_send_users_elsewhere(client, make_user):
    make_user()
    html = client.get("/login").get_data(as_text=True)
    from tests.conftest import csrf_from

    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = client.post(f"/login?next={target}", data={
            "email": "someone@example.org", "password": PASSWORD, "csrf_token": csrf_from(html)})
        assert response.location in ("/", "http://localhost/")
    response = client.post("/login?next=/account", data={
        "email": "someone@example.org", "password": PASSWORD, "csrf_token": csrf_from(html)})
    assert response.location.endswith("/account")


def test_forgot_and_reset_password_through_the_pages(client, make_user):
    make_user()
    response = submit(client, "/password/forgot", {"email": "someone@example.org"})
    assert response.status_code == 200 and "Check your email" in response.get_data(as_text=True)
    # The same answer for an unknown address.
    other = submit(client, "/password/forgot", {"email": "nobody@example.org"})
    assert "Check your email" in other.get_data(as_text=True)
    url = re.search(r"http://eventsys\.test(/password/reset/\S+)",
                    last_text("someone@example.org")).group(1)
    assert client.get(url).status_code == 200
    response = submit(client, url, {"password": "fresh password 1", "confirm": "fresh password 1"})
    assert response.status_code == 302 and response.location.endswith("/login")
    assert login(client, "someone@example.org", "fresh password 1").status_code == 302
    # The link works once.
    assert client.get(url).status_code == 404


def test_reset_rejects_mismatched_passwords(client, make_user):
    from eventsys.services import accounts

    make_user()
    accounts.request_password_reset("someone@example.org")
    url = re.search(r"(/password/reset/\S+)", last_text("someone@example.org")).group(1)
    response = submit(client, url, {"password": "fresh password 1", "confirm": "different one"})
    assert response.status_code == 400 and "differ" in response.get_data(as_text=True)


def test_password_reset_logs_out_other_sessions(app, make_user):
    from eventsys.services import accounts

    make_user()
    other_device = app.test_client()
    login(other_device, "someone@example.org")
    assert other_device.get("/account").status_code == 200
    accounts.request_password_reset("someone@example.org")
    token = re.search(r"/password/reset/(\S+)", last_text("someone@example.org")).group(1)
    accounts.reset_password(token, "fresh password 1")
    assert other_device.get("/account").status_code == 302


def test_change_password_on_account_page(client, make_user):
    make_user()
    login(client, "someone@example.org")
    response = submit(client, "/account", {
        "pw-current": PASSWORD, "pw-password": "another password 2",
        "pw-confirm": "another password 2"}, field="pw-csrf_token")
    assert response.status_code == 302
    assert client.get("/account").status_code == 200  # this session stays
    user = db.session.scalar(select(User))
    from eventsys.services import accounts

    assert accounts.authenticate(user.email, "another password 2", "1.2.3.4")


def test_profile_update(client, make_user):
    make_user()
    login(client, "someone@example.org")
    response = submit(client, "/account", {
        "profile-name": "Some One Else", "profile-country": "PK",
        "profile-locale": "", "profile-timezone": "Asia/Karachi"}, field="profile-csrf_token")
    assert response.status_code == 302
    user = db.session.scalar(select(User))
    db.session.refresh(user)
    assert (user.name, user.country, user.timezone) == ("Some One Else", "PK", "Asia/Karachi")
