"""Bad input gets a clear message and a 4xx: never a 500, never a half-written record, never
lost data.

Five groups: CSRF on every form, oversize requests and fields, malformed values, property
tests with arbitrary text, and escaping of user text wherever it is shown.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass

import pytest
from argon2 import PasswordHasher
from flask import g, has_app_context
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import func, select

from eventsys.extensions import db
from eventsys.models import Event, LoginAttempt, OutboxMessage, User
from eventsys.services import accounts
from tests.conftest import (
    PASSWORD,
    FreshRequestClient,
    csrf_from,
    last_text,
    login,
    submit,
    tampered,
)

EXPIRED = "The form has expired"
CRASHED = "Something went wrong"
NEW_PASSWORD = "a brand new password 42"


@pytest.fixture(autouse=True)
def _fast_hashing(monkeypatch):
    """argon2id at its production cost takes about a second per hash on a small CI machine;
    these tests are about input handling, not hashing, so they use a cheap hasher."""
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(accounts, "_hasher", cheap)
    monkeypatch.setattr(accounts, "_DUMMY_HASH", cheap.hash("no account has this password"))


class IsolatedClient(FreshRequestClient):
    """The tests' app context is shared by every request, and with it ``g``, where
    Flask-WTF caches the signed CSRF token and its verdict. With two browsers in one test
    the second would be handed the first one's token; a real request never shares ``g``."""

    def open(self, *args, **kwargs):
        if has_app_context():
            for key in ("csrf_token", "csrf_valid"):
                g.pop(key, None)
        return super().open(*args, **kwargs)


@pytest.fixture(autouse=True)
def _isolated_clients(app):
    app.test_client_class = IsolatedClient


# Helpers ---------------------------------------------------------------------------------

def backend() -> str:
    return db.engine.dialect.name


def snapshot() -> dict[str, list[str]]:
    """Every committed row of every table, read on a connection of its own."""
    db.session.remove()  # like the end of a request: nothing pending, nothing cached
    with db.engine.connect() as conn:
        return {
            table.name: sorted(repr(tuple(row)) for row in conn.execute(select(table)))
            for table in db.metadata.sorted_tables
        }


def count(model) -> int:
    db.session.remove()  # end the shared session's transaction (on SQLite: its write lock)
    with db.engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(model))


def page_of(response) -> str:
    return response.get_data(as_text=True)


def assert_4xx(response, *phrases: str, status: int | None = None) -> str:
    page = page_of(response)
    assert 400 <= response.status_code < 500, (response.status_code, page[-3000:])
    if status is not None:
        assert response.status_code == status, (response.status_code, page[-3000:])
    assert CRASHED not in page
    for phrase in phrases:
        assert phrase in page, (phrase, page[-3000:])
    return page


def make_admin(make_user, email="admin@example.org", **kw):
    user = make_user(email, **kw)
    user.is_admin = True
    db.session.commit()
    return user


def admin_client(app, make_user):
    make_admin(make_user)
    client = app.test_client()
    assert login(client, "admin@example.org").status_code == 302
    return client


def unique_email() -> str:
    return f"p{uuid.uuid4().hex[:12]}@example.org"


def unique_slug() -> str:
    return f"p-{uuid.uuid4().hex[:12]}"


def signup_form(**changes) -> dict:
    form = {"name": "New Person", "email": "new@example.org", "country": "",
            "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    form.update(changes)
    return form


def event_form(**changes) -> dict:
    form = {
        "title": "Bad Input Forum", "slug": "bad-input-forum", "kind": "forum",
        "theme": "Robustness", "description": "Two days.", "start_date": "2031-05-10",
        "end_date": "2031-05-11", "timezone": "Europe/Lisbon", "mode": "hybrid",
        "status": "published",
        "venues-0-name": "Hall", "venues-0-city": "Lisbon", "venues-0-country": "PT",
        "venues-0-address": "",
        "hosts-0-name": "Robustness Institute", "hosts-0-country": "PT", "hosts-0-role": "host",
    }
    form.update(changes)
    return form


# 1. CSRF on every form -------------------------------------------------------------------

@dataclass
class World:
    event_slug: str
    draft_slug: str
    role_id: int
    message_id: int
    reset_token: str


@pytest.fixture
def world(app, make_user, make_event) -> World:
    admin = make_admin(make_user, name="Ada Admin")
    make_user("member@example.org", name="Mem Ber")
    make_user("reset@example.org", name="Re Set")
    event = make_event(slug="csrf-forum", creator=admin)
    make_event(slug="draft-forum", creator=admin, status="draft")
    role = accounts.grant_event_role(event, "member@example.org", "checkin", actor=admin)
    accounts.request_password_reset("reset@example.org")
    message = db.session.scalar(select(OutboxMessage))
    token = re.search(r"/password/reset/([\w-]+)", last_text("reset@example.org")).group(1)
    message.status = "failed"  # so that "send again" has something to do
    db.session.commit()
    return World("csrf-forum", "draft-forum", role.id, message.id, token)


@dataclass
class Form:
    url: str
    data: dict
    anonymous: bool = False
    field: str = "csrf_token"
    page: str | None = None


CSRF_FORMS = {
    "login": lambda w: Form("/login", {"email": "member@example.org", "password": PASSWORD},
                            anonymous=True),
    "signup": lambda w: Form("/signup", signup_form(), anonymous=True),
    "forgot": lambda w: Form("/password/forgot", {"email": "member@example.org"},
                             anonymous=True),
    "reset": lambda w: Form(f"/password/reset/{w.reset_token}",
                            {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
                            anonymous=True),
    "account-profile": lambda w: Form(
        "/account", {"profile-name": "Changed Name", "profile-country": "FR",
                     "profile-locale": "", "profile-timezone": "Europe/Paris"},
        field="profile-csrf_token"),
    "account-password": lambda w: Form(
        "/account", {"pw-current": PASSWORD, "pw-password": NEW_PASSWORD,
                     "pw-confirm": NEW_PASSWORD},
        field="pw-csrf_token"),
    "logout": lambda w: Form("/logout", {}),
    "event-new": lambda w: Form("/manage/events/new", event_form()),
    "event-edit": lambda w: Form(f"/manage/events/{w.event_slug}/edit",
                                 event_form(slug=w.event_slug, title="Renamed")),
    "event-status": lambda w: Form(f"/manage/events/{w.draft_slug}/status/published", {},
                                   page=f"/manage/events/{w.draft_slug}/"),
    "team-add": lambda w: Form(f"/manage/events/{w.event_slug}/team",
                               {"email": "reset@example.org", "role": "manager"}),
    "team-remove": lambda w: Form(f"/manage/events/{w.event_slug}/team/{w.role_id}/remove", {},
                                  page=f"/manage/events/{w.event_slug}/team"),
    "mail-retry": lambda w: Form(f"/admin/mail/{w.message_id}/retry", {},
                                 page=f"/admin/mail/{w.message_id}"),
}


def expired_token(app, client, age: int | None = None) -> str:
    """This browser's own token, signed ``age`` seconds ago: by default a minute longer ago
    than WTF_CSRF_TIME_LIMIT allows."""
    with client.session_transaction() as session:
        raw = session["csrf_token"]
    then = int(time.time()) - (app.config["WTF_CSRF_TIME_LIMIT"] + 60 if age is None else age)

    class PastSigner(TimestampSigner):
        def get_timestamp(self):
            return then

    return URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token",
                                  signer=PastSigner).dumps(raw)


@pytest.mark.parametrize("name", CSRF_FORMS)
def test_every_form_refuses_a_missing_or_wrong_csrf_token(app, world, name):
    form = CSRF_FORMS[name](world)
    client = app.test_client()
    if not form.anonymous:
        assert login(client, "admin@example.org").status_code == 302
    page_url = form.page or form.url
    assert client.get(page_url).status_code == 200
    other = app.test_client()
    foreign = csrf_from(page_of(other.get("/login")))  # valid, but another browser's
    wrong_tokens = {"missing": None, "empty": "", "garbage": "not-a-token",
                    "foreign": foreign, "tampered": tampered(foreign, 4),
                    "expired": expired_token(app, client)}

    before = snapshot()
    for variant, token in wrong_tokens.items():
        assert client.get(page_url).status_code == 200  # the session has a token of its own
        data = dict(form.data)
        if token is not None:
            data[form.field] = token
        response = client.post(form.url, data=data)
        assert_4xx(response, EXPIRED, "reload the page", status=400)
        assert snapshot() == before, f"{name}: a POST with a {variant} token changed data"
    if name == "logout":
        assert client.get("/account").status_code == 200, "logged out without a token"

    # The same form with the page's own token goes through: the refusals above were the
    # token's doing, not the data's.
    response = submit(client, form.url, form.data, page=page_url, field=form.field)
    assert response.status_code in (200, 302), page_of(response)[-2000:]
    if name == "logout":
        assert client.get("/account").status_code == 302
    else:
        assert snapshot() != before, f"{name}: the control request changed nothing"


def test_the_expired_token_differs_from_a_good_one_only_by_its_age(app, client, make_user):
    make_user()
    login(client, "someone@example.org")
    client.get("/logout")
    response = client.post("/logout", data={"csrf_token": expired_token(app, client)})
    assert_4xx(response, EXPIRED, status=400)
    assert client.get("/account").status_code == 200
    response = client.post("/logout", data={"csrf_token": expired_token(app, client, age=5)})
    assert response.status_code == 302
    assert client.get("/account").status_code == 302


def test_account_page_refuses_a_post_with_fields_of_both_forms_and_no_token(client,
                                                                            make_user):
    """The account page holds two forms with prefixed tokens; a POST with neither token is
    refused whichever form's fields it carries."""
    make_user()
    login(client, "someone@example.org")
    before = snapshot()
    response = client.post("/account", data={"profile-name": "X", "pw-current": PASSWORD})
    assert_4xx(response, EXPIRED, status=400)
    assert snapshot() == before


# 2. Oversize -----------------------------------------------------------------------------

def test_body_above_max_content_length_is_413_with_a_clear_page(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 10_000
    before = count(User)
    response = submit(client, "/signup", signup_form(name="x" * 20_000))
    page = assert_4xx(response, "too large", status=413)
    assert "Error 413" in page
    assert count(User) == before


def test_event_form_above_max_content_length_is_413(app, make_user):
    client = admin_client(app, make_user)
    app.config["MAX_CONTENT_LENGTH"] = 10_000
    response = submit(client, "/manage/events/new", event_form(description="d" * 50_000))
    assert_4xx(response, "too large", status=413)
    assert count(Event) == 0


def test_multipart_field_above_max_form_memory_size_is_413(app, client):
    app.config["MAX_FORM_MEMORY_SIZE"] = 10_000
    response = submit(client, "/signup", signup_form(name="n" * 20_000),
                      content_type="multipart/form-data")
    assert_4xx(response, "too large", status=413)
    assert count(User) == 0


def test_a_body_that_is_not_a_form_is_400(client):
    client.get("/signup")
    response = client.post("/signup", data=b"\xff\xfe\x00garbage",
                           content_type="application/x-www-form-urlencoded")
    assert_4xx(response, EXPIRED, status=400)
    response = client.post("/signup", data="{}", content_type="application/json")
    assert_4xx(response, status=400)
    assert count(User) == 0


@pytest.mark.parametrize(
    ("field", "limit"),
    [("name", 200), ("email", 254), ("password", 256)],
)
def test_signup_field_over_its_length_is_400(client, field, limit):
    value = "x" * (limit + 1) if field != "email" else "a" * (limit - 11) + "@example.org"
    changes = {field: value}
    if field == "password":
        changes["confirm"] = value
    response = submit(client, "/signup", signup_form(**changes))
    assert_4xx(response, f"{limit} characters", status=400)
    assert count(User) == 0


def test_signup_name_of_5000_characters_is_400(client):
    response = submit(client, "/signup", signup_form(name="Ŋ" * 5000))
    assert_4xx(response, "Field cannot be longer than 200 characters", status=400)
    assert count(User) == 0


def test_signup_fields_at_their_length_limits_are_stored_whole(client):
    """Multi-byte characters at the form's limits fit the columns on every database."""
    name = "名" * 199 + "😀"
    email = "a" * 64 + "@" + ".".join(["b" * 63] * 2) + "." + "c" * 57 + ".org"
    assert len(email) == 254
    response = submit(client, "/signup", signup_form(name=name, email=email))
    assert response.status_code == 302, page_of(response)[-2000:]
    user = db.session.scalar(select(User))
    assert (user.name, user.email) == (name, email)


EVENT_LIMITS = [("title", 200), ("slug", 80), ("theme", 300), ("description", 20_000),
                ("venues-0-name", 200), ("venues-0-city", 100), ("venues-0-address", 300),
                ("hosts-0-name", 200)]


@pytest.mark.parametrize(("field", "limit"), EVENT_LIMITS, ids=[f for f, _ in EVENT_LIMITS])
def test_event_field_over_its_length_is_400(app, make_user, field, limit):
    client = admin_client(app, make_user)
    response = submit(client, "/manage/events/new", event_form(**{field: "a" * (limit + 1)}))
    assert_4xx(response, f"{limit} characters", status=400)
    assert count(Event) == 0


def test_event_title_of_1000_characters_is_400(app, make_user):
    client = admin_client(app, make_user)
    response = submit(client, "/manage/events/new", event_form(title="T" * 1000))
    assert_4xx(response, "Field cannot be longer than 200 characters", status=400)
    assert count(Event) == 0


def test_event_fields_at_their_length_limits_are_stored_whole(app, make_user):
    client = admin_client(app, make_user)
    values = {field: ("ä" * limit if field != "slug" else "a" * limit)
              for field, limit in EVENT_LIMITS}
    response = submit(client, "/manage/events/new", event_form(**values))
    assert response.status_code == 302, page_of(response)[-2000:]
    event = db.session.scalar(select(Event))
    assert (len(event.title), len(event.theme), len(event.description)) == (200, 300, 20_000)
    assert event.venues[0].city == "ä" * 100
    assert event.hosts[0].organisation.name == "ä" * 200


def test_an_edit_over_the_limit_keeps_the_event_as_it_was(app, make_user, make_event):
    client = admin_client(app, make_user)
    make_event(slug="keep-me", title="Keep Me")
    before = snapshot()
    response = submit(client, "/manage/events/keep-me/edit",
                      event_form(slug="keep-me", title="K" * 201, theme="changed"))
    assert_4xx(response, "200 characters", status=400)
    assert snapshot() == before
    # The page sent back keeps what the organiser typed, so nothing they wrote is lost.
    assert 'value="changed"' in page_of(response)


def test_a_two_megabyte_field_is_refused_with_a_message(app, make_user):
    client = admin_client(app, make_user)
    response = submit(client, "/manage/events/new", event_form(description="d" * 2_000_000))
    assert_4xx(response, "20000 characters", status=400)
    assert count(Event) == 0


# 3. Malformed values ---------------------------------------------------------------------

@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"email": "not-an-email"}, "Enter a valid email address."),
        ({"email": "a@"}, "Enter a valid email address."),
        ({"email": "@example.org"}, "Enter a valid email address."),
        ({"email": "a b@example.org"}, "Enter a valid email address."),
        ({"email": "a@b@example.org"}, "Enter a valid email address."),
        ({"email": "a@%FF.org"}, "Enter a valid email address."),
        ({"email": "a\x00b@example.org"}, "Enter a valid email address."),
        ({"email": "a@example.org\r\nBcc: x@example.org"}, "Enter a valid email address."),
        ({"email": ""}, "This field is required."),
        ({"name": ""}, "This field is required."),
        ({"name": "   \t "}, "This field is required."),
        ({"country": "XX"}, "Not a valid choice"),
        ({"country": "Narnia"}, "Not a valid choice"),
        ({"country": "cn"}, "Not a valid choice"),
        ({"country": "ZZ"}, "Not a valid choice"),
        ({"password": "short", "confirm": "short"}, "between 10 and 256"),
        ({"confirm": "something else"}, "The two passwords differ."),
    ],
    ids=lambda v: repr(v)[:40] if isinstance(v, dict) else None,
)
def test_signup_malformed_values_are_400_with_a_message(client, changes, message):
    response = submit(client, "/signup", signup_form(**changes))
    assert_4xx(response, message, status=400)
    assert count(User) == 0


def test_signup_existing_email_is_409_and_keeps_the_first_account(client, make_user):
    make_user("taken@example.org", name="First")
    before = snapshot()
    response = submit(client, "/signup", signup_form(email="TAKEN@Example.org"))
    assert_4xx(response, "exists already", status=409)
    assert snapshot() == before


def test_signup_name_with_a_nul_byte_is_400(request, client):
    before = snapshot()
    response = submit(client, "/signup", signup_form(name="Nul\x00Byte"))
    assert_4xx(response, status=400)
    assert snapshot() == before


def test_percent_encodings_that_are_not_utf8_arrive_as_visible_text(client):
    """%FF is not UTF-8: the form sees the characters '%FF', never mojibake or a crash."""
    token = csrf_from(page_of(client.get("/signup")))
    body = (f"csrf_token={token}&name=Ren%FF%FEe&email=renee%40example.org&country="
            f"&password=a+long+password&confirm=a+long+password")
    response = client.post("/signup", data=body,
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 302, page_of(response)[-2000:]
    assert db.session.scalar(select(User.name)) == "Ren%FF%FEe"


def test_invalid_utf8_in_a_multipart_field_is_replaced_not_a_crash(client):
    token = csrf_from(page_of(client.get("/signup")))
    boundary = "b0undary"
    parts = {"csrf_token": token.encode(), "name": b"Bad \xff\xfe bytes",
             "email": b"bytes@example.org", "country": b"",
             "password": b"a long password", "confirm": b"a long password"}
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n'.encode() + v
        + b"\r\n" for k, v in parts.items()) + f"--{boundary}--\r\n".encode()
    response = client.post("/signup", data=body,
                           content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 302, page_of(response)[-2000:]
    assert db.session.scalar(select(User.name)) == "Bad \ufffd\ufffd bytes"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"start_date": ""}, "This field is required."),
        ({"start_date": "1066-10-14", "end_date": "1066-10-14"}, "out of range"),
        ({"start_date": "9999-12-30", "end_date": "9999-12-31"}, "out of range"),
        ({"start_date": "2031-01-01", "end_date": "2033-01-01"}, "a year at most"),
        ({"end_date": "2031-05-01"}, "cannot come before"),
        ({"timezone": "Mars/Olympus_Mons"}, "Not a valid choice"),
        ({"timezone": "../../etc/passwd"}, "Not a valid choice"),
        ({"timezone": "utc"}, "Not a valid choice"),
        ({"timezone": ""}, "This field is required."),
        ({"kind": "conference"}, "Not a valid choice"),
        ({"mode": "telepathy"}, "Not a valid choice"),
        ({"status": "deleted"}, "Not a valid choice"),
        ({"venues-0-country": "XX"}, "Not a valid choice"),
        ({"venues-0-country": "pt"}, "Not a valid choice"),
        ({"hosts-0-country": "ZZ"}, "Not a valid choice"),
        ({"hosts-0-country": "EU"}, "Not a valid choice"),
        ({"hosts-0-role": "owner"}, "Not a valid choice"),
        ({"venues-0-city": ""}, "Give both the venue and its city."),
        ({"title": ""}, "This field is required."),
        ({"title": " \t "}, "This field is required."),
        ({"slug": "Bad Slug"}, "Use lower-case letters, digits and dashes."),
        ({"slug": "a--b"}, "Use lower-case letters, digits and dashes."),
        ({"slug": "-a"}, "Use lower-case letters, digits and dashes."),
        ({"slug": "ünïcode"}, "Use lower-case letters, digits and dashes."),
        ({"slug": "a/b"}, "Use lower-case letters, digits and dashes."),
        ({"slug": "a\x00b"}, "Use lower-case letters, digits and dashes."),
        ({"slug": "new"}, "That short name is reserved."),
        ({"slug": "admin"}, "That short name is reserved."),
    ],
    ids=lambda v: repr(v)[:48] if isinstance(v, dict) else None,
)
def test_event_malformed_values_are_400_with_a_message(app, make_user, changes, message):
    client = admin_client(app, make_user)
    before = snapshot()
    response = submit(client, "/manage/events/new", event_form(**changes))
    page = assert_4xx(response, status=400)
    assert message in page, (message, page[-3000:])
    assert snapshot() == before


BAD_DATES = [("start_date", "2031-13-45"), ("start_date", "yesterday"),
             ("end_date", "2031-02-30"), ("start_date", "10/05/2031"),
             ("start_date", "99999-01-01"), ("start_date", "0000-01-01"),
             ("end_date", "2031-05-10T10:00"), ("start_date", "\x00")]


@pytest.mark.parametrize(("field", "value"), BAD_DATES)
def test_event_impossible_dates_are_400_and_write_nothing(app, make_user, field, value):
    client = admin_client(app, make_user)
    before = snapshot()
    response = submit(client, "/manage/events/new", event_form(**{field: value}))
    page = assert_4xx(response, status=400)
    assert f'id="{field}-help" class="field-error"' in page  # the date field is flagged
    assert snapshot() == before


@pytest.mark.parametrize(("field", "value"), BAD_DATES[:2])
def test_event_impossible_dates_are_named_as_such(request, app, make_user, field, value):
    client = admin_client(app, make_user)
    response = submit(client, "/manage/events/new", event_form(**{field: value}))
    assert_4xx(response, "Not a valid date value", status=400)


def test_event_slug_taken_by_another_event_is_400(app, make_user, make_event):
    client = admin_client(app, make_user)
    make_event(slug="taken")
    before = snapshot()
    response = submit(client, "/manage/events/new", event_form(slug="taken"))
    assert_4xx(response, "Another event uses this short name already.", status=400)
    assert snapshot() == before


@pytest.mark.parametrize(
    "field", ["title", "theme", "description", "venues-0-name", "venues-0-city",
              "venues-0-address", "hosts-0-name"])
def test_event_text_with_a_nul_byte_is_400(request, app, make_user, field):
    client = admin_client(app, make_user)
    before = snapshot()
    response = submit(client, "/manage/events/new", event_form(**{field: "Nul\x00Byte"}))
    assert_4xx(response, status=400)
    assert snapshot() == before


@pytest.mark.parametrize(
    "key", ["venues-²-name", "venues-" + "9" * 5000 + "-name"], ids=["superscript", "huge"])
def test_odd_row_numbers_in_field_names_are_not_a_crash(request, app, make_user, key):
    client = admin_client(app, make_user)
    response = submit(client, "/manage/events/new", event_form(**{key: "Side Hall"}))
    assert response.status_code < 500, page_of(response)[-2000:]


@pytest.mark.parametrize(
    ("changes", "message", "status"),
    [
        ({"email": "nobody"}, "Invalid email address.", 400),
        ({"email": ""}, "This field is required.", 400),
        ({"role": "owner"}, "Not a valid choice", 400),
        ({"role": ""}, "Not a valid choice", 400),
        ({"email": "unknown@example.org"}, "No account uses unknown@example.org", 404),
    ],
    ids=["bad-email", "no-email", "bad-role", "no-role", "unknown-user"],
)
def test_team_form_malformed_values(app, make_user, make_event, changes, message, status):
    client = admin_client(app, make_user)
    make_user("member@example.org")
    make_event(slug="team-forum")
    before = snapshot()
    data = {"email": "member@example.org", "role": "checkin", **changes}
    response = submit(client, "/manage/events/team-forum/team", data)
    assert_4xx(response, message, status=status)
    assert snapshot() == before


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"profile-timezone": "Mars/Base"}, "Not a valid choice"),
        ({"profile-locale": "xx"}, "Not a valid choice"),
        ({"profile-country": "XX"}, "Not a valid choice"),
        ({"profile-name": ""}, "This field is required."),
        ({"profile-name": "n" * 201}, "200 characters"),
    ],
    ids=["timezone", "locale", "country", "no-name", "long-name"],
)
def test_profile_malformed_values(client, make_user, changes, message):
    make_user()
    login(client, "someone@example.org")
    before = snapshot()
    data = {"profile-name": "Some One", "profile-country": "", "profile-locale": "",
            "profile-timezone": "", **changes}
    response = submit(client, "/account", data, field="profile-csrf_token")
    assert_4xx(response, message, status=400)
    assert snapshot() == before


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"pw-current": "not my password"}, "Your current password is not right."),
        ({"pw-confirm": "something else"}, "The two passwords differ."),
        ({"pw-password": "short", "pw-confirm": "short"}, "between 10 and 256"),
    ],
    ids=["wrong-current", "mismatch", "short"],
)
def test_change_password_malformed_values(client, make_user, changes, message):
    make_user()
    login(client, "someone@example.org")
    before = snapshot()
    data = {"pw-current": PASSWORD, "pw-password": NEW_PASSWORD, "pw-confirm": NEW_PASSWORD,
            **changes}
    response = submit(client, "/account", data, field="pw-csrf_token")
    assert_4xx(response, message, status=400)
    assert snapshot() == before


def test_profile_name_with_a_nul_byte_is_400(request, client, make_user):
    make_user()
    login(client, "someone@example.org")
    before = snapshot()
    data = {"profile-name": "Nul\x00Byte", "profile-country": "", "profile-locale": "",
            "profile-timezone": ""}
    response = submit(client, "/account", data, field="profile-csrf_token")
    assert_4xx(response, status=400)
    assert snapshot() == before


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "not-an-email", "password": PASSWORD}, "Enter a valid email address."),
        ({"email": "someone@example.org\x00", "password": PASSWORD},
         "Enter a valid email address."),
        ({"email": "someone@example.org", "password": ""}, "This field is required."),
        ({"email": "someone@example.org", "password": "p" * 257}, "256 characters"),
    ],
    ids=["bad-email", "nul-email", "no-password", "long-password"],
)
def test_login_malformed_values_are_400_and_not_counted(client, make_user, data, message):
    make_user()
    response = submit(client, "/login", data)
    assert_4xx(response, message, status=400)
    assert count(LoginAttempt) == 0


def test_login_wrong_password_is_400_with_a_message(client, make_user):
    make_user()
    response = submit(client, "/login", {"email": "someone@example.org",
                                         "password": "wrong\x00\u202epassword"})
    assert_4xx(response, "Wrong email address or password.", status=400)


@pytest.mark.parametrize("email", ["not-an-email", "", "x@y\x00.org"])
def test_forgot_password_malformed_email_is_400(client, make_user, email):
    make_user()
    response = submit(client, "/password/forgot", {"email": email})
    assert_4xx(response, status=400)
    assert count(OutboxMessage) == 0


@pytest.mark.parametrize(
    "token",
    ["garbage", "x" * 10_000, "%00", "%FF%FE", "..%5C..%5Cetc", "a%20b", "é" * 50],
    ids=["garbage", "10000-chars", "nul", "bad-utf8", "dots", "space", "unicode"],
)
def test_bad_reset_tokens_are_404_with_a_message(client, make_user, token):
    make_user()
    response = client.get(f"/password/reset/{token}")
    assert_4xx(response, "invalid, used or expired", status=404)
    before = snapshot()
    html = page_of(client.get("/password/forgot"))
    response = client.post(f"/password/reset/{token}",
                           data={"csrf_token": csrf_from(html), "password": NEW_PASSWORD,
                                 "confirm": NEW_PASSWORD})
    assert_4xx(response, "invalid, used or expired", status=404)
    assert snapshot() == before


def test_unknown_event_slug_is_404(app, make_user):
    client = admin_client(app, make_user)
    for url in ("/manage/events/no-such-event/edit", "/manage/events/no-such-event/",
                "/manage/events/no-such-event/team", "/events/no-such-event"):
        assert_4xx(client.get(url), "There is no such event.", status=404)
    # Addresses no short name can have never reach the database: the routing says 404.
    for url in ("/manage/events/%FF/edit", "/events/" + "x" * 5000, "/events/UPPER"):
        assert_4xx(client.get(url), "There is no page at this address.", status=404)
    response = submit(client, "/manage/events/no-such-event/edit", event_form(),
                      page="/manage/events/new")
    assert_4xx(response, "There is no such event.", status=404)
    assert count(Event) == 0


@pytest.mark.parametrize("url", ["/events/%00", "/manage/events/%00/edit",
                                 "/manage/events/a%00b/team"])
def test_a_nul_byte_in_an_event_address_is_404(request, app, make_user, url):
    client = admin_client(app, make_user)
    response = client.get(url)
    assert_4xx(response, status=404)


def test_unknown_status_is_400_and_keeps_the_status(app, make_user, make_event):
    client = admin_client(app, make_user)
    make_event(slug="status-forum", status="draft")
    before = snapshot()
    response = submit(client, "/manage/events/status-forum/status/deleted", {},
                      page="/manage/events/status-forum/")
    assert_4xx(response, "Unknown status.", status=400)
    assert snapshot() == before


@pytest.mark.parametrize("role_id", ["abc", "-1", "1.5", "%00", "1e3"])
def test_non_numeric_role_id_is_404(app, make_user, make_event, role_id):
    client = admin_client(app, make_user)
    make_event(slug="role-forum")
    before = snapshot()
    response = submit(client, f"/manage/events/role-forum/team/{role_id}/remove", {},
                      page="/manage/events/role-forum/team")
    assert_4xx(response, status=404)
    assert snapshot() == before


def test_role_id_of_another_event_is_refused_and_kept(app, make_user, make_event):
    client = admin_client(app, make_user)
    admin = db.session.scalar(select(User))
    make_user("member@example.org")
    make_event(slug="one-forum")
    other = make_event(slug="other-forum")
    grant_id = accounts.grant_event_role(other, "member@example.org", "checkin",
                                         actor=admin).id
    before = snapshot()
    response = submit(client, f"/manage/events/one-forum/team/{grant_id}/remove", {},
                      page="/manage/events/one-forum/team", follow_redirects=True)
    assert "That role does not exist." in page_of(response)
    assert snapshot() == before


def test_a_role_id_too_large_for_the_database_is_404(request, app, make_user, make_event):
    client = admin_client(app, make_user)
    make_event(slug="role-forum")
    response = submit(client, "/manage/events/role-forum/team/99999999999999999999/remove",
                      {}, page="/manage/events/role-forum/team")
    assert response.status_code < 500, page_of(response)[-2000:]


@pytest.mark.parametrize("method_url", [
    ("GET", "/admin/mail/99999999999999999999"),
    ("GET", "/admin/mail/99999999999999999999/html"),
    ("POST", "/admin/mail/99999999999999999999/retry"),
], ids=["show", "html", "retry"])
def test_a_message_id_too_large_for_the_database_is_404(request, app, make_user, method_url):
    method, url = method_url
    client = admin_client(app, make_user)
    get = method == "GET"
    response = client.get(url) if get else submit(client, url, {}, page="/admin/mail")
    assert response.status_code < 500, page_of(response)[-2000:]


@pytest.mark.parametrize("query", ["page=abc", "page=-5", "page=99999999999999999999999",
                                   "status=%00", "status=<script>"])
def test_admin_mail_listing_odd_query_strings(app, make_user, query):
    client = admin_client(app, make_user)
    response = client.get(f"/admin/mail?{query}")
    assert response.status_code == 200
    assert "<script>" not in page_of(response).split("<main", 1)[1]


@pytest.mark.parametrize("message_id", ["abc", "-1", "%00"])
def test_admin_mail_non_numeric_ids_are_404(app, make_user, message_id):
    client = admin_client(app, make_user)
    assert_4xx(client.get(f"/admin/mail/{message_id}"), status=404)


def test_an_unexpected_database_error_still_gets_the_error_page(request, app, make_user,
                                                                  monkeypatch):
    """Not bad input as such, but what every 500 above turns into: the friendly page."""
    from eventsys.web import manage

    def failing_create_event(data, *, creator):
        db.session.add(Event())  # NOT NULL columns left empty: the flush fails
        db.session.flush()

    client = admin_client(app, make_user)
    monkeypatch.setattr(manage.events, "create_event", failing_create_event)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production
    response = submit(client, "/manage/events/new", event_form())
    assert response.status_code == 500
    assert CRASHED in page_of(response)


def test_admin_mail_retry_of_an_unknown_message_is_not_a_crash(app, make_user):
    client = admin_client(app, make_user)
    before = snapshot()
    response = submit(client, "/admin/mail/424242/retry", {}, page="/admin/mail")
    assert response.status_code < 500, page_of(response)[-2000:]
    assert snapshot() == before


# 4. Property tests -----------------------------------------------------------------------

_CONTROL = st.characters(categories=["Cc"])
_RTL = st.one_of(st.characters(min_codepoint=0x0590, max_codepoint=0x08FF),
                 st.sampled_from("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2069"))
_EMOJI = st.one_of(st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF),
                   st.characters(min_codepoint=0x1F1E6, max_codepoint=0x1F1FF),
                   st.sampled_from("\u200d\ufe0f\u20e3"))
_NASTY = st.sampled_from(["<script>alert(1)</script>", "{{7*7}}", "' OR 1=1 --", "%00",
                          "%FF", "\r\nX-Injected: 1", "\\", "../", "\ufeff", "\u2028",
                          "İ", "ß", "ﬃ"])
_MIXED = st.lists(
    st.one_of(st.text(max_size=8), st.text(_CONTROL, max_size=4), st.text(_RTL, max_size=8),
              st.text(_EMOJI, max_size=6), _NASTY),
    max_size=12,
).map("".join)
_LONG = st.builds(lambda piece, times: piece * times,
                  st.text(min_size=1, max_size=4), st.integers(50, 3000))
ANY_TEXT = st.one_of(st.text(), _MIXED, _LONG)

PROPERTY = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


@pytest.fixture
def admin_http(app, make_user):
    """Made once per test function, shared by its examples (hence the health check)."""
    return admin_client(app, make_user)


@pytest.fixture
def someone(make_user):
    return make_user("someone@example.org")


SIGNUP_FIELDS = ["name", "email", "country", "password", "confirm", "password+confirm"]


@PROPERTY
@given(changes=st.dictionaries(st.sampled_from(SIGNUP_FIELDS), ANY_TEXT,
                               min_size=1, max_size=3))
def test_signup_never_crashes_nor_half_writes(app, changes):
    if "password+confirm" in changes:
        both = changes.pop("password+confirm")
        changes.update(password=both, confirm=both)
    form = {**signup_form(email=unique_email()), **changes}
    users = count(User)
    rows = snapshot()
    response = submit(app.test_client(), "/signup", form)
    assert response.status_code < 500, page_of(response)[-2000:]
    event(f"HTTP {response.status_code}")
    if response.status_code == 302:
        assert count(User) == users + 1
        created = db.session.scalar(select(User).order_by(User.id.desc()).limit(1))
        assert created.name == form["name"].strip()
        assert created.email == form["email"].strip().lower()
    else:
        assert 400 <= response.status_code < 500
        assert snapshot() == rows
    db.session.remove()


EVENT_FIELDS = list(event_form())
EVENT_STORED = {"title", "theme", "description", "venues-0-name", "venues-0-city",
                "venues-0-address", "hosts-0-name"}


@PROPERTY
@given(changes=st.dictionaries(st.sampled_from(EVENT_FIELDS), ANY_TEXT,
                               min_size=1, max_size=3))
def test_event_form_never_crashes_nor_half_writes(admin_http, changes):
    form = {**event_form(slug=unique_slug()), **changes}
    events = count(Event)
    rows = snapshot()
    response = submit(admin_http, "/manage/events/new", form)
    assert response.status_code < 500, page_of(response)[-2000:]
    event(f"HTTP {response.status_code}")
    if response.status_code == 302:
        assert count(Event) == events + 1
        created = db.session.scalar(select(Event).order_by(Event.id.desc()).limit(1))
        assert created.title == form["title"].strip()
        assert created.slug == form["slug"].strip()
    else:
        assert 400 <= response.status_code < 500
        assert snapshot() == rows
    db.session.remove()


LOGIN_FIELDS = ["email", "password", "remember"]


@PROPERTY
@given(changes=st.dictionaries(st.sampled_from(LOGIN_FIELDS), ANY_TEXT,
                               min_size=1, max_size=3))
def test_login_never_crashes_nor_writes_accounts(app, someone, changes):
    form = {"email": "someone@example.org", "password": PASSWORD, **changes}
    users = snapshot()["user_account"]
    response = submit(app.test_client(), "/login", form)
    assert response.status_code < 500, page_of(response)[-2000:]
    event(f"HTTP {response.status_code}")
    if response.status_code != 302:
        assert 400 <= response.status_code < 500
        assert snapshot()["user_account"] == users
    else:
        assert count(User) == 1
    db.session.remove()


# 5. Rendering is escaped -----------------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"
PAYLOAD = f"XSS{SCRIPT}T{{{{7*7}}}}END"  # XSS<script>alert(1)</script>T{{7*7}}END


def assert_escaped(page: str, *, expect_text: bool = True) -> None:
    assert SCRIPT not in page
    assert "<script" not in page.lower()
    assert "T49END" not in page, "template injection: {{7*7}} was evaluated"
    if expect_text:
        assert "&lt;script&gt;alert(1)&lt;/script&gt;T{{7*7}}END" in page


def test_event_text_is_escaped_on_every_page(app, make_user):
    client = admin_client(app, make_user)
    form = event_form(slug="xss-forum", title=PAYLOAD, theme=PAYLOAD,
                      description=PAYLOAD + "\n\n" + PAYLOAD,
                      **{"venues-0-name": PAYLOAD, "venues-0-address": PAYLOAD,
                         "hosts-0-name": PAYLOAD})
    response = submit(client, "/manage/events/new", form)
    assert response.status_code == 302, page_of(response)[-2000:]
    for url in ("/events/xss-forum", "/", "/manage/", "/manage/events/xss-forum/",
                "/manage/events/xss-forum/team", "/manage/events/xss-forum/edit"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_escaped(page_of(response))


def test_user_names_are_escaped_in_team_pages_flashes_and_mail(app, make_user, make_event):
    client = admin_client(app, make_user)
    admin = db.session.scalar(select(User))
    make_user("mallory@example.org", name=PAYLOAD)
    event = make_event(slug="team-xss", title=PAYLOAD)
    accounts.grant_event_role(event, "mallory@example.org", "checkin", actor=admin)
    assert_escaped(page_of(client.get("/manage/events/team-xss/team")))

    accounts.request_password_reset("mallory@example.org")
    message = db.session.scalar(select(OutboxMessage))
    assert_escaped(page_of(client.get("/admin/mail")))
    assert_escaped(page_of(client.get(f"/admin/mail/{message.id}")))
    html = client.get(f"/admin/mail/{message.id}/html")
    assert html.headers["Content-Security-Policy"].startswith("sandbox")
    assert_escaped(page_of(html))


def test_signup_welcome_flash_escapes_the_name(client):
    response = submit(client, "/signup", signup_form(name=PAYLOAD), follow_redirects=True)
    assert response.status_code == 200
    page = page_of(response)
    assert "Welcome, XSS&lt;script&gt;" in page
    assert_escaped(page)


def test_rejected_input_is_echoed_escaped(app, make_user):
    client = admin_client(app, make_user)
    response = submit(client, "/manage/events/new",
                      event_form(title=PAYLOAD, slug="Bad Slug", theme=PAYLOAD))
    assert_4xx(response, status=400)
    assert_escaped(page_of(response))
    response = submit(client, "/signup", signup_form(name=PAYLOAD, email="bad"))
    assert_4xx(response, status=400)
    assert_escaped(page_of(response))
