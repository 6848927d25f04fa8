"""Bad input to the registration pages gets a clear message and a 4xx, and nothing
half-written stays in the database.

Seven groups: CSRF on every POST of the registration area; malformed and oversize fields
on the public form; closed windows, full modes, bad tokens and invitations; organiser input;
who may see the organiser pages; escaping of participants' text wherever it is shown; the
public form with arbitrary text (hypothesis). Tests that check many cases name the failing
one.
"""

from __future__ import annotations

import csv
import io
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlalchemy import select

from eventsys.extensions import db
from eventsys.models import (
    AuditLog,
    Event,
    EventRole,
    Invitation,
    OutboxMessage,
    Registration,
    RegistrationToken,
    utcnow,
)
from eventsys.services import invitations, messaging, questions, tokens
from eventsys.services import registration as reg
from eventsys.services.invitations import InviteeData
from tests.conftest import csrf_from, login, submit, tampered
from tests.web.test_bad_input import (  # noqa: F401  (fixtures are used by name)
    ANY_TEXT,
    CRASHED,
    EXPIRED,
    PAYLOAD,
    PROPERTY,
    _fast_hashing,
    _isolated_clients,
    assert_4xx,
    assert_escaped,
    backend,
    count,
    expired_token,
    page_of,
    snapshot,
)

SLUG = "forum"
MANAGE = f"/manage/events/{SLUG}"
WRITTEN = (Registration, RegistrationToken, OutboxMessage, AuditLog, Invitation)
NOT_ALLOWED_CHARS = "This contains characters that are not allowed."


def written() -> dict[str, int]:
    return {model.__name__: count(model) for model in WRITTEN}


def unique_email() -> str:
    return f"p{uuid.uuid4().hex[:12]}@example.org"


def token_of(location: str) -> str:
    return location.split("/r/", 1)[1].split("?", 1)[0]


@contextmanager
def case(description):
    """Name the case in the failure of a test that checks many."""
    try:
        yield
    except AssertionError as exc:
        raise AssertionError(f"case {description!r}: {exc}") from exc


@pytest.fixture(autouse=True)
def _queue_only(monkeypatch):
    """Mail is queued in the outbox as usual; delivering (and rendering) it after every
    commit would only slow these tests, which are about input handling."""
    monkeypatch.setattr(messaging, "announce", lambda *args: None)


def invite(event_, email: str) -> str:
    """An invitation through the service, with a raw token known to the test (it is only
    ever mailed, and mail is not what these tests read)."""
    token = f"invite-{uuid.uuid4().hex}"
    real = tokens.new_token
    tokens.new_token = lambda: token
    try:
        invitations.invite(event_, InviteeData(email=email, name="Guest"), skip_approval=True,
                           actor=None)
    finally:
        tokens.new_token = real
    return token


# The world: an event with questions, a registration, an invitation, and a second event ------

@dataclass
class World:
    q: dict[str, int]  # question ids by short name
    reg_id: int
    token: str
    other_reg_id: int
    other_question: int
    invitation: str  # the raw token of an open invitation to the forum
    other_invitation: str  # a valid invitation, to the other event

    def form(self, **changes) -> dict:
        """A valid registration form; a value of None removes the field."""
        data = {
            "name": "Aisha Siddiqui", "name_native": "عائشہ صدیقی", "email": unique_email(),
            "organisation_name": "NSTP", "job_title": "Manager", "country": "PK",
            "mode": "in_person", f"q_{self.q['lunch']}": "Halal",
            f"q_{self.q['trips']}": ["Beijing"], f"q_{self.q['agree']}": "y",
            f"q_{self.q['notes']}": "", f"q_{self.q['org']}": "", f"q_{self.q['home']}": "",
        }
        for key, value in changes.items():
            key = self.key(key)
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        return data

    def key(self, name: str) -> str:
        return f"q_{self.q[name]}" if name in self.q else name


@pytest.fixture
def world(app, make_user, make_event) -> World:
    manager = make_user("org@example.org", name="Olga Organiser")
    make_user("member@example.org", name="Mem Ber")
    staff = make_user("staff@example.org", name="Check In")
    elsewhere = make_user("elsewhere@example.org", name="Other Organiser")
    forum = make_event(SLUG, mode="hybrid")
    other = make_event("other-forum", mode="hybrid")
    db.session.add_all([
        EventRole(event_id=forum.id, user_id=manager.id, role="manager"),
        EventRole(event_id=forum.id, user_id=staff.id, role="checkin"),
        EventRole(event_id=other.id, user_id=elsewhere.id, role="manager"),
    ])
    db.session.commit()
    reg.set_capacities(forum, {"in_person": 5, "online": None}, actor=None)
    q = {}
    for name, kind, label, required, choices in [
        ("lunch", "single_choice", "Lunch", True, ["Halal", "Vegetarian"]),
        ("trips", "multiple_choice", "Field trips", True, ["Beijing", "Nanning"]),
        ("agree", "checkbox", "I agree to be photographed", True, []),
        ("notes", "long_text", "Notes", False, []),
        ("org", "short_text", "Park", False, []),
        ("home", "country", "Home country", False, []),
    ]:
        q[name] = questions.add_question(forum, kind=kind, label=label, help_text=None,
                                         required=required, choices=choices, actor=None).id
    other_question = questions.add_question(other, kind="short_text", label="Other's",
                                            help_text=None, required=False, choices=[],
                                            actor=None).id
    db.session.refresh(forum)
    outcome = reg.register(forum, reg.RegistrationInput(
        email="first@example.org", name="First Person", mode="in_person",
        answers={str(q["lunch"]): "Halal", str(q["trips"]): ["Nanning"],
                 str(q["agree"]): True}))
    other_outcome = reg.register(other, reg.RegistrationInput(
        email="victim@example.org", name="Victim", mode="online"))
    world = World(q=q, reg_id=outcome.registration.id, token=outcome.token,
                  other_reg_id=other_outcome.registration.id, other_question=other_question,
                  invitation=invite(forum, "guest@example.org"),
                  other_invitation=invite(other, "other-guest@example.org"))
    db.session.remove()
    return world


def manager_client(app, email: str = "org@example.org"):
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def settings_form(**changes) -> dict:
    data = {"opens_at": "", "closes_at": "", "approval": "open", "waitlist_enabled": "y",
            "invitation_only": "", "capacity_in_person": "5", "capacity_online": "",
            "online_url": "https://live.example/room"}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def question_form(**changes) -> dict:
    data = {"label": "Dietary needs", "kind": "single_choice", "help_text": "",
            "required": "y", "choices": "Halal\nVegetarian"}
    data.update(changes)
    return data


# 1. CSRF on every POST of the registration area ---------------------------------------------

@dataclass
class Post:
    url: str
    data: dict
    anonymous: bool = False
    page: str | None = None


POSTS = {
    "register": lambda w: Post(f"/events/{SLUG}/register", w.form(), anonymous=True),
    "cancel": lambda w: Post(f"/r/{w.token}/cancel", {}, anonymous=True),
    "decide": lambda w: Post(f"{MANAGE}/registrations/decide",
                             {"action": "cancel", "reason": "", "ids": [str(w.reg_id)]},
                             page=f"{MANAGE}/registrations"),
    "move": lambda w: Post(f"{MANAGE}/registrations/{w.reg_id}/move", {"mode": "online"},
                           page=f"{MANAGE}/registrations/{w.reg_id}"),
    "settings": lambda w: Post(f"{MANAGE}/registration-settings",
                               settings_form(approval="application")),
    "question-add": lambda w: Post(f"{MANAGE}/questions", question_form()),
    "question-edit": lambda w: Post(f"{MANAGE}/questions/{w.q['notes']}",
                                    question_form(label="Anything else?", kind="long_text",
                                                  choices="")),
    "question-delete": lambda w: Post(f"{MANAGE}/questions/{w.q['notes']}/delete", {},
                                      page=f"{MANAGE}/questions"),
    "question-up": lambda w: Post(f"{MANAGE}/questions/{w.q['trips']}/up", {},
                                  page=f"{MANAGE}/questions"),
    "question-down": lambda w: Post(f"{MANAGE}/questions/{w.q['lunch']}/down", {},
                                    page=f"{MANAGE}/questions"),
    "invitations": lambda w: Post(f"{MANAGE}/invitations",
                                  {"email": "new-guest@example.org", "name": "New guest",
                                   "skip_approval": "y"}),
}


@pytest.mark.parametrize("name", POSTS)
def test_every_registration_post_refuses_a_missing_or_wrong_csrf_token(app, world, name):
    post = POSTS[name](world)
    client = app.test_client() if post.anonymous else manager_client(app)
    page_url = post.page or post.url
    assert client.get(page_url).status_code == 200
    foreign = csrf_from(page_of(app.test_client().get("/login")))  # another browser's
    wrong = {"missing": None, "empty": "", "garbage": "not-a-token", "foreign": foreign,
             "tampered": tampered(foreign, 4), "expired": expired_token(app, client)}

    before = snapshot()
    for variant, token in wrong.items():
        data = dict(post.data)
        if token is not None:
            data["csrf_token"] = token
        response = client.post(post.url, data=data)
        assert_4xx(response, EXPIRED, "reload the page", status=400)
        assert snapshot() == before, f"{name}: a POST with a {variant} token changed data"

    # With the page's own token the same POST goes through: the token was refused, not
    # the data.
    response = submit(client, post.url, post.data, page=page_url)
    assert response.status_code == 302, page_of(response)[-2000:]
    assert snapshot() != before, f"{name}: the control request changed nothing"


# 2. Malformed and oversize fields on the public form ----------------------------------------

LIMIT_200 = "Field cannot be longer than 200 characters."
BAD_FIELDS = {
    "oversize": [
        ({"name": "x" * 201}, LIMIT_200),
        ({"name": "Ŋ" * 5000}, LIMIT_200),
        ({"name_native": "名" * 201}, LIMIT_200),
        ({"organisation_name": "o" * 201}, LIMIT_200),
        ({"job_title": "j" * 201}, LIMIT_200),
        ({"email": "a" * 243 + "@example.org"}, "Field cannot be longer than 254 characters."),
        ({"notes": "n" * 5001}, "Field cannot be longer than 5000 characters."),
        ({"org": "s" * 501}, "Field cannot be longer than 500 characters."),
    ],
    "malformed": [
        ({"email": "not-an-email"}, "Enter a valid email address."),
        ({"email": "a@b@example.org"}, "Enter a valid email address."),
        ({"email": "a@example.org\r\nBcc: x@example.org"}, "Enter a valid email address."),
        ({"email": ""}, "This field is required."),
        ({"name": "   "}, "This field is required."),
        ({"country": "XX"}, "Not a valid choice."),
        ({"country": "pk"}, "Not a valid choice."),
        ({"country": "Pakistan"}, "Not a valid choice."),
        ({"mode": "telepathy"}, "Not a valid choice."),
        ({"mode": None}, "This field is required."),
        ({"home": "ZZ"}, "Not a valid choice."),
    ],
    "control-characters": [
        ({"name": "Nul\x00Byte"}, NOT_ALLOWED_CHARS),
        ({"name_native": "Del\x7f"}, NOT_ALLOWED_CHARS),
        ({"organisation_name": "Bell\x07"}, NOT_ALLOWED_CHARS),
        ({"job_title": "Esc\x1b[31mred"}, NOT_ALLOWED_CHARS),
        ({"notes": "Vertical\x0btab"}, NOT_ALLOWED_CHARS),
        ({"org": "\x01"}, NOT_ALLOWED_CHARS),
    ],
    "not-an-option": [
        ({"lunch": "Pizza"}, "Not a valid choice."),
        ({"trips": ["Pizza"]}, "is not a valid choice"),
        ({"trips": ["Beijing", "Mars"]}, "is not a valid choice"),
        ({"trips": ["", "Mars"]}, "Choose from the options given."),
        ({"trips": [f"x{i}" for i in range(5000)]}, "are not valid choices"),
    ],
    "required-left-empty": [
        ({"lunch": ""}, "This field is required."),
        ({"lunch": None}, "This field is required."),
        ({"trips": None}, "Please answer: Field trips"),
        ({"agree": None}, "Please tick this box."),
    ],
}


@pytest.mark.parametrize("group", BAD_FIELDS)
def test_bad_fields_are_400_with_a_message_and_write_nothing(app, world, group):
    client = app.test_client()
    before = snapshot()
    for changes, message in BAD_FIELDS[group]:
        with case(changes):
            response = submit(client, f"/events/{SLUG}/register", world.form(**changes))
            assert_4xx(response, message, status=400)
            assert snapshot() == before


def test_fields_at_their_limits_are_stored_whole(app, world):
    email = "a" * 64 + "@" + ".".join(["b" * 63] * 2) + "." + "c" * 57 + ".org"
    assert len(email) == 254
    form = world.form(name="名" * 199 + "😀", name_native="ß" * 200,
                      organisation_name="o" * 200, job_title="j" * 200, email=email,
                      notes="n" * 5000, org="s" * 500)
    response = submit(app.test_client(), f"/events/{SLUG}/register", form)
    assert response.status_code == 302, page_of(response)[-2000:]
    stored = db.session.scalar(select(Registration).where(Registration.email == email))
    assert (stored.name, stored.name_native, stored.organisation_name, stored.job_title) == (
        form["name"], form["name_native"], form["organisation_name"], form["job_title"])
    assert stored.answers[str(world.q["notes"])] == "n" * 5000


def test_mode_not_offered_by_the_event_is_400(app, make_event):
    make_event("room-only", mode="in_person")
    before = snapshot()
    response = submit(app.test_client(), "/events/room-only/register", {
        "name": "A", "email": unique_email(), "country": "", "mode": "online"})
    assert_4xx(response, "Not a valid choice.", status=400)
    assert snapshot() == before


def test_answers_to_another_events_questions_are_never_stored(app, world):
    foreign = f"q_{world.other_question}"
    # Only the other event's question answered, this event's required ones left empty.
    before = snapshot()
    response = submit(app.test_client(), f"/events/{SLUG}/register",
                      world.form(lunch=None, trips=None, agree=None, **{foreign: "Injected"}))
    assert_4xx(response, "This field is required.", status=400)
    assert snapshot() == before
    # With this event's answers the registration goes through, and the stray field is
    # ignored: the form has no such question.
    form = world.form(**{foreign: "Injected"})
    response = submit(app.test_client(), f"/events/{SLUG}/register", form)
    assert response.status_code == 302, page_of(response)[-2000:]
    stored = db.session.scalar(select(Registration).where(
        Registration.email == form["email"]))
    assert set(stored.answers) == {str(i) for i in world.q.values()}
    assert "Injected" not in repr(stored.answers)


def test_a_huge_list_of_valid_options_is_refused(app, world):
    before = snapshot()
    response = submit(app.test_client(), f"/events/{SLUG}/register",
                      world.form(trips=["Beijing"] * 10_000))
    assert_4xx(response, status=400)
    assert snapshot() == before


# 3. Closed windows, full modes, tokens and invitations -------------------------------------

def _set(**values) -> None:
    event_ = db.session.scalar(select(Event).where(Event.slug == SLUG))
    for key, value in values.items():
        setattr(event_, key, value)
    db.session.commit()
    db.session.remove()


WINDOWS = [
    ({"registration_opens_at": timedelta(days=1)}, "Registration opens on"),
    ({"registration_closes_at": -timedelta(minutes=1)},
     "Registration for this event is closed."),
    ({"registration_opens_at": -timedelta(days=2),
      "registration_closes_at": -timedelta(days=1)}, "Registration for this event is closed."),
]


def test_outside_the_window_is_403_and_writes_nothing(app, world):
    client = app.test_client()
    for values, message in WINDOWS:
        with case(values):
            _set(**{"registration_opens_at": None, "registration_closes_at": None,
                    **{k: utcnow() + v for k, v in values.items()}})
            assert_4xx(client.get(f"/events/{SLUG}/register"), message, status=403)
            before = snapshot()
            response = submit(client, f"/events/{SLUG}/register", world.form(),
                              page="/login")
            assert_4xx(response, message, status=403)
            assert snapshot() == before


def test_an_unpublished_event_is_404(app, world):
    client = app.test_client()
    for status in ("draft", "archived"):
        with case(status):
            _set(status=status)
            assert_4xx(client.get(f"/events/{SLUG}/register"), "There is no such event.",
                       status=404)
            before = snapshot()
            response = submit(client, f"/events/{SLUG}/register", world.form(),
                              page="/login")
            assert_4xx(response, "There is no such event.", status=404)
            assert snapshot() == before


def test_a_full_mode_without_waiting_list_is_409(app, world):
    _set(waitlist_enabled=False)
    forum = db.session.scalar(select(Event).where(Event.slug == SLUG))
    reg.set_capacities(forum, {"in_person": 1}, actor=None)  # the first person has it
    before = snapshot()
    response = submit(app.test_client(), f"/events/{SLUG}/register", world.form())
    page = assert_4xx(response, "no places left", status=409)
    assert "attending in person" in page
    assert snapshot() == before
    # The other mode still has places.
    response = submit(app.test_client(), f"/events/{SLUG}/register",
                      world.form(mode="online"))
    assert response.status_code == 302


BAD_TOKENS = {
    "unknown": "A" * 32,
    "short": "x",
    "5000-chars": "x" * 5000,
    "nul": "%00" + "a" * 31,
    "nul-inside": "abcdefghij%00klmnopqrstuvwxyz0123",
    "bad-utf8": "%FF%FE" + "a" * 30,
    "unicode": "é" * 40,
}


def test_bad_registration_tokens_are_404(app, world):
    client = app.test_client()
    message = "This registration link is not valid."
    before = snapshot()
    for name, token in BAD_TOKENS.items():
        with case(name):
            for url in (f"/r/{token}", f"/r/{token}/calendar.ics", f"/r/{token}/cancel"):
                assert_4xx(client.get(url), message, status=404)
            response = submit(client, f"/r/{token}/cancel", {}, page="/login")
            assert_4xx(response, message, status=404)
            assert snapshot() == before


@pytest.mark.parametrize("how", ["cancelled", "declined"])
def test_a_closed_registration_shows_its_status_and_cannot_be_cancelled(app, world, how):
    if how == "cancelled":
        reg.cancel(world.reg_id, actor=None, by_participant=True)
        token, label = world.token, "Cancelled"
    else:
        outcome = _pending_registration(world)
        reg.decline([outcome.registration.id], actor=None, reason="Sorry")
        token, label = outcome.token, "Declined"
    client = app.test_client()
    response = client.get(f"/r/{token}")
    assert response.status_code == 200
    page = page_of(response)
    assert label in page
    assert "Cancel my registration" not in page
    assert f"/r/{token}/cancel" not in page
    # The "are you sure?" page offers no button either, and a replayed POST is refused.
    page = page_of(client.get(f"/r/{token}/cancel"))
    assert "This registration is not active." in page and "Yes, cancel it" not in page
    before = snapshot()
    response = submit(client, f"/r/{token}/cancel", {}, page="/login")
    assert_4xx(response, "cancelled already", status=409)
    assert snapshot() == before


def _pending_registration(world: World) -> reg.Outcome:
    forum = db.session.scalar(select(Event).where(Event.slug == SLUG))
    forum.approval = "application"
    db.session.commit()
    return reg.register(forum, reg.RegistrationInput(
        email=unique_email(), name="Applicant", mode="online",
        answers={str(world.q["lunch"]): "Halal", str(world.q["trips"]): ["Beijing"],
                 str(world.q["agree"]): True}))


@pytest.mark.parametrize("invitation_only", [True, False], ids=["invitation-only", "open"])
def test_bad_invitations_are_403_and_write_nothing(app, world, invitation_only):
    _set(invitation_only=invitation_only)
    not_valid = "This invitation link is not valid for this event."
    kinds = [("forged", "F" * 32, not_valid), ("other-event", world.other_invitation, not_valid),
             ("too-long", "i" * 5000, not_valid), ("nul", "abcdefghij\x00klmnopqrst", not_valid),
             ("empty-but-given", " ", not_valid),
             ("revoked", world.invitation, "This invitation has been withdrawn.")]
    client = app.test_client()
    url = f"/events/{SLUG}/register"
    for kind, token, message in kinds:
        with case(kind):
            if kind == "revoked":
                invitation = db.session.scalar(select(Invitation).where(
                    Invitation.email == "guest@example.org"))
                invitation.status = "revoked"
                db.session.commit()
            assert_4xx(client.get(url, query_string={"invitation": token}), message,
                       status=403)
            before = snapshot()
            response = submit(client, url, world.form(email="guest@example.org",
                                                      invitation=token), page="/login")
            assert_4xx(response, message, status=403)
            assert snapshot() == before


def test_invitation_only_without_an_invitation_is_403(app, world):
    _set(invitation_only=True)
    client = app.test_client()
    assert_4xx(client.get(f"/events/{SLUG}/register"), "by invitation only", status=403)
    before = snapshot()
    response = submit(client, f"/events/{SLUG}/register", world.form(), page="/login")
    assert_4xx(response, "by invitation only", status=403)
    assert snapshot() == before


# 4. Organiser input -------------------------------------------------------------------------

def registrations_table() -> list[str]:
    return snapshot()["registration"]


ODD_IDS = {
    "text": ["abc"], "decimal": ["1.5"], "negative": ["-1"], "superscript": ["²"],
    "exponent": ["1e3"], "huge": ["9" * 30], "nul": ["1\x00"], "space": [" 1"],
    "zero": ["0"], "empty": [""], "none": [],
}


def test_decide_with_ids_that_are_not_ids_changes_nothing(app, world):
    client = manager_client(app)
    before = snapshot()
    for action in ("cancel", "decline", "approve"):
        for name, ids in ODD_IDS.items():
            with case((action, name)):
                response = submit(client, f"{MANAGE}/registrations/decide",
                                  {"action": action, "reason": "", "ids": ids},
                                  page=f"{MANAGE}/registrations")
                assert response.status_code == 302, page_of(response)[-2000:]
                if name != "zero":  # "0" is a number, of no registration
                    assert "Tick the registrations first." in page_of(
                        client.get(response.location))
                assert snapshot() == before


def test_decide_with_ids_of_another_event_leaves_them_alone(app, world):
    client = manager_client(app)
    before = registrations_table()
    many = [str(world.other_reg_id)] + [str(i) for i in range(10_000, 16_000)]
    for action in ("cancel", "decline", "approve"):
        for ids in ([str(world.other_reg_id)], many):
            with case((action, len(ids))):
                response = submit(client, f"{MANAGE}/registrations/decide",
                                  {"action": action, "reason": "", "ids": ids},
                                  page=f"{MANAGE}/registrations")
                assert response.status_code == 302, page_of(response)[-2000:]
                assert registrations_table() == before
    assert db.session.get(Registration, world.other_reg_id).status == "confirmed"


BAD_DECISIONS = [{"action": "delete"}, {"action": ""}, {"action": "approve\x00"},
                 {"action": "decline", "reason": "r" * 1001},
                 {"action": "decline", "reason": "No\x00"}]


def test_decide_with_a_bad_action_or_reason_is_400(app, world):
    client = manager_client(app)
    before = snapshot()
    for data in BAD_DECISIONS:
        with case(data):
            response = submit(client, f"{MANAGE}/registrations/decide",
                              {"reason": "", **data, "ids": [str(world.reg_id)]},
                              page=f"{MANAGE}/registrations")
            assert_4xx(response, status=400)
            assert snapshot() == before


BAD_MOVES = [
    ("{own}", "telepathy", 400), ("{own}", "", 400), ("{own}", "online\x00", 400),
    ("{other}", "online", 404), ("abc", "online", 404), ("-1", "online", 404),
    ("0", "online", 404), ("9" * 20, "online", 404), ("%00", "online", 404),
]


def test_move_with_bad_input_is_4xx_and_changes_nothing(app, world):
    client = manager_client(app)
    before = snapshot()
    for path, mode, status in BAD_MOVES:
        with case((path, mode)):
            rid = path.format(own=world.reg_id, other=world.other_reg_id)
            response = submit(client, f"{MANAGE}/registrations/{rid}/move", {"mode": mode},
                              page=f"{MANAGE}/registrations")
            assert_4xx(response, status=status)
            assert snapshot() == before


def test_move_to_a_mode_the_event_does_not_offer_is_refused(app, make_user, make_event):
    user = make_user("org@example.org")
    event_ = make_event("room-only", mode="in_person")
    db.session.add(EventRole(event_id=event_.id, user_id=user.id, role="manager"))
    db.session.commit()
    rid = reg.register(event_, reg.RegistrationInput(email="a@example.org", name="A",
                                                     mode="in_person")).registration.id
    client = manager_client(app)
    before = snapshot()
    response = submit(client, f"/manage/events/room-only/registrations/{rid}/move",
                      {"mode": "online"}, page=f"/manage/events/room-only/registrations/{rid}",
                      follow_redirects=True)
    assert response.status_code < 500
    assert "This event does not offer that way of attending." in page_of(response)
    assert snapshot() == before


BAD_SETTINGS = [
    ({"opens_at": "2031-01-02T10:00", "closes_at": "2031-01-01T10:00"},
     "Registration must close after it opens."),
    ({"opens_at": "2031-01-01T10:00", "closes_at": "2031-01-01T10:00"},
     "Registration must close after it opens."),
    ({"opens_at": "2031-13-45T10:00"}, "Not a valid datetime value."),
    ({"closes_at": "tomorrow"}, "Not a valid datetime value."),
    ({"capacity_in_person": "-3"}, "Enter the places as a whole number, for example 60."),
    ({"capacity_online": "1000001"}, "Number must be between 0 and 1000000."),
    ({"capacity_in_person": "9" * 30}, "Enter the places as a whole number, for example 60."),
    ({"capacity_in_person": "ten"}, "Enter the places as a whole number, for example 60."),
    ({"capacity_online": "1.5"}, "Enter the places as a whole number, for example 60."),
    ({"capacity_online": "1e3"}, "Enter the places as a whole number, for example 60."),
    ({"capacity_online": "1_0"}, "Enter the places as a whole number, for example 60."),
    ({"capacity_online": "+5"}, "Enter the places as a whole number, for example 60."),
    ({"approval": "first-come"}, "Not a valid choice."),
    ({"online_url": "javascript:alert(1)"}, "Enter a web address (https://...)."),
    ({"online_url": "JavaScript:alert(1)//https://x.example"},
     "Enter a web address (https://...)."),
    ({"online_url": "https://live.example/a b"},
     "The joining link must be a web address (https://...)."),
    ({"online_url": " https://live.example/ a"},
     "The joining link must be a web address (https://...)."),
    ({"online_url": "ftp://files.example/x"}, "Enter a web address (https://...)."),
    ({"online_url": "https://live.example/\x00"}, ""),
    ({"online_url": "https://live.example/" + "x" * 500}, "500 characters"),
]


def test_bad_settings_are_400_and_change_nothing(app, world):
    client = manager_client(app)
    before = snapshot()
    for changes, message in BAD_SETTINGS:
        with case(changes):
            response = submit(client, f"{MANAGE}/registration-settings",
                              settings_form(**{"approval": "application",
                                               "invitation_only": "y", **changes}))
            assert_4xx(response, message, status=400)
            assert snapshot() == before


@pytest.mark.parametrize(("timezone", "changes"), [
    ("Asia/Shanghai", {"opens_at": "0001-01-01T00:00"}),
    ("America/Los_Angeles", {"closes_at": "9999-12-31T23:59"}),
], ids=["year-1-east-of-utc", "year-9999-west-of-utc"])
def test_settings_with_a_date_at_the_end_of_time_is_400(app, world, timezone, changes):
    _set(timezone=timezone)
    client = manager_client(app)
    before = snapshot()
    response = submit(client, f"{MANAGE}/registration-settings", settings_form(**changes))
    assert_4xx(response, status=400)
    assert snapshot() == before


OPTIONS = "Give between 2 and 50 options, one per line."
DIFFERENT = "Options must be different and at most 200 characters each."
BAD_QUESTIONS = [
    ({"kind": "file_upload"}, "Not a valid choice."),
    ({"kind": ""}, "Not a valid choice."),
    ({"choices": "Only one"}, OPTIONS),
    ({"choices": "Only one\n\n   \n"}, OPTIONS),
    ({"kind": "multiple_choice", "choices": ""}, OPTIONS),
    ({"choices": "\n".join(f"Option {n}" for n in range(51))}, OPTIONS),
    ({"choices": "Halal\nHalal"}, DIFFERENT),
    ({"choices": "Halal\n  Halal  \nVegetarian"}, DIFFERENT),
    ({"choices": "Halal\n" + "v" * 201}, DIFFERENT),
    ({"choices": "Halal\nVege\x00tarian"}, NOT_ALLOWED_CHARS),
    ({"choices": "x\n" * 6001}, "12000 characters"),
    ({"label": ""}, "This field is required."),
    ({"label": " \t "}, "This field is required."),
    ({"label": "L" * 301}, "Field cannot be longer than 300 characters."),
    ({"label": "Bell\x07"}, NOT_ALLOWED_CHARS),
    ({"help_text": "h" * 501}, "Field cannot be longer than 500 characters."),
]


@pytest.mark.parametrize("where", ["add", "edit"])
def test_bad_questions_are_400_and_change_nothing(app, world, where):
    client = manager_client(app)
    url = f"{MANAGE}/questions" + (f"/{world.q['lunch']}" if where == "edit" else "")
    before = snapshot()
    for changes, message in BAD_QUESTIONS:
        with case(changes):
            response = submit(client, url, question_form(**changes))
            assert_4xx(response, message, status=400)
            assert snapshot() == before


def test_questions_of_another_event_or_no_event_are_404(app, world):
    client = manager_client(app)
    before = snapshot()
    for qid in ("{other}", "abc", "0", "9" * 20, "%00"):
        qid = qid.format(other=world.other_question)
        with case(qid):
            assert_4xx(client.get(f"{MANAGE}/questions/{qid}"), status=404)
            for what in ("", "/delete", "/up", "/down"):
                response = submit(client, f"{MANAGE}/questions/{qid}{what}",
                                  question_form(), page=f"{MANAGE}/questions")
                assert_4xx(response, status=404)
            assert snapshot() == before
    response = submit(client, f"{MANAGE}/questions/{world.q['lunch']}/sideways", {},
                      page=f"{MANAGE}/questions")
    assert_4xx(response, status=404)
    assert snapshot() == before


BAD_ORGANISER_INVITATIONS = [
    ({"email": "not-an-email"}, "Invalid email address.", 400),
    ({"email": "a@example.org\x00"}, "", 400),
    ({"email": "guest@example.org"}, "is invited already", 409),
    ({"email": "GUEST@Example.org"}, "is invited already", 409),
    ({"email": "x@example.org", "name": "N" * 201}, "200 characters", 400),
    ({"email": "x@example.org", "name": "Bell\x07"}, NOT_ALLOWED_CHARS, 400),
]


def test_bad_invitations_from_the_organiser_are_4xx(app, world):
    client = manager_client(app)
    before = snapshot()
    for data, message, status in BAD_ORGANISER_INVITATIONS:
        with case(data):
            response = submit(client, f"{MANAGE}/invitations", data)
            assert_4xx(response, message, status=status)
            assert snapshot() == before


LISTS = (f"{MANAGE}/registrations", f"{MANAGE}/registrations.csv",
         f"{MANAGE}/registrations.xlsx")


def test_odd_filters_on_the_list_and_exports_are_not_a_crash(app, world):
    client = manager_client(app)
    for query in ("q=" + "x" * 5000, "status=%00&mode=%00", "status=<b>&mode=online%00",
                  "page=abc", "page=-5", "page=" + "9" * 30, "q=%25%5F%5C",
                  "country=pakistan", "q=%FF%FE"):
        for url in LISTS:
            with case(f"{url}?{query}"):
                response = client.get(f"{url}?{query}")
                assert response.status_code == 200, page_of(response)[-2000:]


def test_a_nul_in_the_search_or_country_filter_is_not_a_crash(request, app, world):
    client = manager_client(app)
    for query in ("q=%00", "q=a%00b", "country=%00"):
        for url in LISTS:
            with case(f"{url}?{query}"):
                response = client.get(f"{url}?{query}")
                assert response.status_code == 200, page_of(response)[-2000:]


# 5. Who may see the organiser pages ---------------------------------------------------------

def organiser_gets(world: World) -> list[str]:
    return [f"{MANAGE}/registrations", f"{MANAGE}/registrations?status=confirmed",
            f"{MANAGE}/registrations/{world.reg_id}", f"{MANAGE}/registrations.csv",
            f"{MANAGE}/registrations.xlsx", f"{MANAGE}/registration-settings",
            f"{MANAGE}/questions", f"{MANAGE}/questions/{world.q['lunch']}",
            f"{MANAGE}/invitations"]


ORGANISER_POSTS = [name for name in POSTS if name not in ("register", "cancel")]


@pytest.mark.parametrize("who", ["member", "checkin-staff", "other-events-manager",
                                 "anonymous"])
def test_organiser_pages_are_refused_to_everyone_but_managers(app, world, who):
    client = app.test_client()
    email = {"member": "member@example.org", "checkin-staff": "staff@example.org",
             "other-events-manager": "elsewhere@example.org"}.get(who)
    if email:
        assert login(client, email).status_code == 302
    before = snapshot()
    for url in organiser_gets(world):
        response = client.get(url)
        if who == "anonymous":
            assert response.status_code == 302 and "/login" in response.location, url
        else:
            assert_4xx(response, "You do not have permission", status=403)
    token = csrf_from(page_of(client.get("/login" if who == "anonymous" else "/account")))
    for name in ORGANISER_POSTS:
        post = POSTS[name](world)
        response = client.post(post.url, data={**post.data, "csrf_token": token})
        if who == "anonymous":
            assert response.status_code == 302 and "/login" in response.location, name
        else:
            assert_4xx(response, status=403)
    assert snapshot() == before


# 6. Participants' text is escaped wherever it is shown --------------------------------------

def test_participant_text_is_escaped_on_every_page_and_inert_in_exports(app, world):
    form = world.form(name=PAYLOAD, name_native=PAYLOAD, organisation_name=PAYLOAD,
                      job_title=PAYLOAD, notes=PAYLOAD + "\n" + PAYLOAD, org=PAYLOAD)
    participant = app.test_client()
    response = submit(participant, f"/events/{SLUG}/register", form)
    assert response.status_code == 302, page_of(response)[-2000:]
    token = token_of(response.location)
    rid = db.session.scalar(select(Registration.id).where(
        Registration.email == form["email"]))
    assert_escaped(page_of(participant.get(f"/r/{token}")))

    organiser = manager_client(app)
    for url in (f"{MANAGE}/registrations", f"{MANAGE}/registrations/{rid}",
                f"{MANAGE}/registrations?q=XSS", f"{MANAGE}/registrations?q={PAYLOAD}"):
        response = organiser.get(url)
        assert response.status_code == 200, url
        assert_escaped(page_of(response))

    # CSV: data, never markup: a download (not a page), as the participant wrote it, with
    # nothing evaluated.
    response = organiser.get(f"{MANAGE}/registrations.csv")
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    text = response.data.decode("utf-8-sig")
    assert "T49END" not in text
    header, *rows = list(csv.reader(io.StringIO(text)))
    [row] = [r for r in rows if r[0] == str(rid)]
    for column in ("Name", "Name in own script", "Organisation", "Job title", "Park"):
        assert row[header.index(column)] == PAYLOAD, column
    assert row[header.index("Notes")] == PAYLOAD + "\n" + PAYLOAD
    xlsx = organiser.get(f"{MANAGE}/registrations.xlsx")
    assert xlsx.headers["Content-Disposition"].startswith("attachment")
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    cells = [c for r in sheet.iter_rows(min_row=2) for c in r if c.value == PAYLOAD]
    assert cells and all(c.data_type == "s" for c in cells)


def test_a_decision_reason_is_escaped_for_the_participant_and_in_the_history(app, world):
    outcome = _pending_registration(world)
    organiser = manager_client(app)
    response = submit(organiser, f"{MANAGE}/registrations/decide",
                      {"action": "decline", "reason": PAYLOAD,
                       "ids": [str(outcome.registration.id)]},
                      page=f"{MANAGE}/registrations")
    assert response.status_code == 302
    assert_escaped(page_of(app.test_client().get(f"/r/{outcome.token}")))
    detail = page_of(organiser.get(f"{MANAGE}/registrations/{outcome.registration.id}"))
    assert_escaped(detail, expect_text=False)
    assert "XSS" in detail


def test_rejected_registration_input_is_echoed_escaped(app, world):
    response = submit(app.test_client(), f"/events/{SLUG}/register",
                      world.form(name=PAYLOAD, organisation_name=PAYLOAD, email="bad",
                                 notes=PAYLOAD))
    page = assert_4xx(response, "Enter a valid email address.", status=400)
    assert_escaped(page)


# 7. The public form with arbitrary text -----------------------------------------------------

FORM_FIELDS = ["name", "name_native", "email", "organisation_name", "job_title", "country",
               "mode", "lunch", "trips", "notes", "org", "home", "agree"]


@PROPERTY
@given(changes=st.dictionaries(st.sampled_from(FORM_FIELDS), ANY_TEXT, min_size=1,
                               max_size=3))
def test_the_form_never_crashes_nor_half_writes(app, world, changes):
    form = world.form(**changes)
    before = written()
    response = submit(app.test_client(), f"/events/{SLUG}/register", form)
    assert response.status_code < 500, page_of(response)[-2000:]
    assert CRASHED not in page_of(response)
    event(f"HTTP {response.status_code}")
    after = written()
    if response.status_code == 409:  # an address registered already: mailed its link
        assert after["Registration"] == before["Registration"]
    elif response.status_code == 302:
        assert after["Registration"] == before["Registration"] + 1
        stored = db.session.scalar(select(Registration).order_by(
            Registration.id.desc()).limit(1))
        assert stored.name == " ".join(form["name"].split())
        assert stored.email == form["email"].strip().lower()
        assert len(stored.name) <= 200 and len(stored.email) <= 254
    else:
        assert 400 <= response.status_code < 500
        assert after == before
    db.session.remove()
