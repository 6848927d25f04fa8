"""Property-based tests of the registration service (hypothesis).

1. ``register()`` with arbitrary text in every field either succeeds, and then stores exactly
   the cleaned input within the column limits, or raises ServiceError and writes nothing.
2. A random sequence of the operations an event sees (registering in either mode, cancel,
   approve, decline, move, new capacities, waiting list and approval switched on and off)
   keeps the invariants of places, the waiting list, audit and mail after every step.
3. ``update_settings()`` either saves what it was given or refuses it and changes nothing.


"""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from eventsys.extensions import db
from eventsys.i18n import country_choices
from eventsys.models import (
    AuditLog,
    Event,
    Invitation,
    ModeCapacity,
    OutboxMessage,
    Registration,
    RegistrationQuestion,
    RegistrationToken,
)
from eventsys.services import messaging
from eventsys.services import registration as reg
from eventsys.services.errors import Conflict, ServiceError
from eventsys.services.registration import (
    MAX_ANSWER,
    MAX_TEXT,
    ModeFull,
    RegistrationInput,
    RegistrationSettings,
)
from eventsys.services.validation import has_control_chars
from tests.web.test_bad_input import ANY_TEXT

PROPERTY = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
MODES = ("in_person", "online")
_slugs = itertools.count(1)


def unique_slug(prefix: str) -> str:
    return f"{prefix}-{next(_slugs)}-{uuid.uuid4().hex[:6]}"


def rows(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


WRITTEN = (Registration, RegistrationToken, OutboxMessage, AuditLog, Invitation)


def written() -> dict[str, int]:
    """How many rows the tables a registration writes to hold (read after the service's
    transaction ended: its commit, or the rollback a request does after an error)."""
    return {model.__name__: rows(model) for model in WRITTEN}


# 1. register() with arbitrary text ----------------------------------------------------------

CHOICES = ["Halal", "Vegetarian", "None of these"]
TRIPS = ["Beijing", "Nanning"]
COUNTRIES = [code for code, _name in country_choices()]


@pytest.fixture
def fuzz_event(make_event):
    """An event with both modes, no limit on places and one question of every kind."""
    event = make_event(unique_slug("fuzz"), mode="hybrid")
    kinds = [("short_text", None), ("long_text", None), ("single_choice", CHOICES),
             ("multiple_choice", TRIPS), ("checkbox", None), ("country", None),
             ("organisation", None)]
    for position, (kind, choices) in enumerate(kinds, start=1):
        db.session.add(RegistrationQuestion(event_id=event.id, position=position, kind=kind,
                                            label=f"Question {kind}", choices=choices))
    db.session.commit()
    return event.id  # each example reads it again: examples end with session.remove()


def _maybe(good, bad=ANY_TEXT):
    return st.one_of(st.just(good), bad)


ANSWER = {
    "short_text": _maybe("A short answer"),
    "long_text": _maybe("A long\nanswer"),
    "single_choice": st.one_of(st.sampled_from(["", *CHOICES]), ANY_TEXT),
    "multiple_choice": st.one_of(st.lists(st.sampled_from(TRIPS), max_size=3),
                                 st.lists(st.one_of(st.sampled_from(TRIPS), ANY_TEXT),
                                          max_size=3),
                                 ANY_TEXT),
    "checkbox": st.one_of(st.booleans(), ANY_TEXT),
    "country": st.one_of(st.sampled_from(["", "PK", "TH"]), ANY_TEXT),
    "organisation": _maybe("NSTP"),
}
EMAIL = st.one_of(
    ANY_TEXT,
    st.builds(lambda a, b: f"{a}@{b}", ANY_TEXT, ANY_TEXT),
    st.builds(lambda a: f" {a.upper()}@Example.ORG ", st.text(min_size=1, max_size=30)),
)
GOOD_PERSON = {"name": "Aisha Siddiqui", "name_native": None, "organisation_name": "NSTP",
               "job_title": None, "country": None, "mode": "in_person",
               "email": None}  # None: a fresh, valid address
GOOD_ANSWERS = {"short_text": "A short answer", "long_text": "A long\nanswer",
                "single_choice": "Halal", "multiple_choice": ["Nanning"], "checkbox": True,
                "country": "TH", "organisation": "NSTP"}
FUZZ = {
    "name": ANY_TEXT, "name_native": ANY_TEXT, "organisation_name": ANY_TEXT,
    "job_title": ANY_TEXT,
    "country": st.one_of(st.sampled_from(["PK", "th", "cn", "", "ß"]), ANY_TEXT),
    "mode": st.one_of(st.sampled_from([*MODES, "telepathy", "In_Person"]), ANY_TEXT),
    "email": EMAIL,
    **{f"answer:{kind}": strategy for kind, strategy in ANSWER.items()},
}


@st.composite
def registrations(draw):
    """A good registration with up to four of its fields replaced by arbitrary values, so
    that both outcomes are common."""
    person, answers = dict(GOOD_PERSON), dict(GOOD_ANSWERS)
    for key in draw(st.lists(st.sampled_from(sorted(FUZZ)), max_size=4, unique=True)):
        value = draw(FUZZ[key])
        if key.startswith("answer:"):
            answers[key.removeprefix("answer:")] = value
        else:
            person[key] = value
    return person, answers


def expected_answer(kind: str, value):
    """What validate_answers should store for an accepted answer."""
    if kind == "checkbox":
        return bool(value)
    if kind == "multiple_choice":
        return [v for v in (value or []) if isinstance(v, str)]
    return value.strip() if isinstance(value, str) else ""


@PROPERTY
@given(case=registrations())
def test_register_stores_the_cleaned_input_or_writes_nothing(fuzz_event, queue_only, case):
    person, answers = case
    event_ = db.session.get(Event, fuzz_event)
    questions = {q.kind: q for q in event_.questions}
    email = person.pop("email")
    if email is None:
        email = f"fresh-{uuid.uuid4().hex}@example.org"
    by_id = {str(questions[kind].id): value for kind, value in answers.items()}
    data = RegistrationInput(email=email, locale="en", answers=dict(by_id), **person)
    clean_email = email.strip().lower()
    registered_before = db.session.scalar(select(Registration).where(
        Registration.event_id == event_.id, Registration.email == clean_email))
    before = written()

    try:
        outcome = reg.register(event_, data)
    except ServiceError as exc:
        db.session.rollback()  # what the request does after an error
        event(f"refused: {type(exc).__name__}")
        note(f"refused with {exc.message!r}")
        after = written()
        if isinstance(exc, reg.AlreadyRegistered):
            # The one refusal that writes: a fresh link for the address's owner, by mail.
            assert registered_before is not None
            assert after["Registration"] == before["Registration"]
            assert after["RegistrationToken"] == before["RegistrationToken"] + 1
            assert after["AuditLog"] == before["AuditLog"]
        else:
            assert after == before, "a refused registration left rows behind"
        return

    event("registered")
    db.session.expire_all()
    stored = db.session.get(Registration, outcome.registration.id)
    assert registered_before is None
    assert stored.email == clean_email and 0 < len(stored.email) <= MAX_TEXT["email"]
    assert "@" in stored.email
    for field in ("name", "name_native", "organisation_name", "job_title"):
        value = getattr(stored, field)
        cleaned = " ".join((person[field] or "").split()) or None
        assert value == cleaned, field
        assert value is None or len(value) <= MAX_TEXT[field]
        assert not has_control_chars(value)
    assert stored.name
    assert stored.country == ((person["country"] or "").upper() or None)
    assert stored.country is None or stored.country in COUNTRIES
    assert stored.mode == person["mode"] and stored.mode in event_.modes
    assert stored.status == "confirmed"  # open registration, no limit
    for kind, question in questions.items():
        value = stored.answers[str(question.id)]
        if kind == "multiple_choice" and not isinstance(answers[kind], list):
            # Text where a list belongs is read as its characters, each an option or refused.
            assert all(v in TRIPS for v in value)
            continue
        assert value == expected_answer(kind, answers[kind]), kind
        if isinstance(value, str):
            assert len(value) <= MAX_ANSWER and not has_control_chars(value)
        if kind == "single_choice" and value:
            assert value in CHOICES
        if kind == "country" and value:
            assert value in COUNTRIES
        if kind == "multiple_choice":
            assert set(value) <= set(TRIPS)
    assert set(stored.answers) == {str(q.id) for q in questions.values()}
    after = written()
    assert after == {**before, "Registration": before["Registration"] + 1,
                     "RegistrationToken": before["RegistrationToken"] + 1,
                     "OutboxMessage": before["OutboxMessage"] + 1,
                     "AuditLog": before["AuditLog"] + 1}
    assert reg.registration_by_token(outcome.token).id == stored.id
    db.session.remove()


# 2. Random sequences of operations keep the invariants ------------------------------------

# Who may move from which status to which (besides registering again after cancelling).
ALLOWED = {
    "pending": {"confirmed", "waitlisted", "declined", "cancelled"},
    "waitlisted": {"confirmed", "declined", "cancelled"},
    "confirmed": {"cancelled"},
    "cancelled": set(),
    "declined": set(),
}
CAPACITY = st.sampled_from([None, 0, 1, 1, 2, 2, 3])  # small: modes fill up quickly


class State:
    """Everything an operation may change, read from the database."""

    def __init__(self, event_id: int):
        db.session.expire_all()
        self.event = db.session.get(Event, event_id)
        self.regs = {r.id: r for r in db.session.scalars(
            select(Registration).where(Registration.event_id == event_id))}
        self.status = {i: r.status for i, r in self.regs.items()}
        self.mode = {i: r.mode for i, r in self.regs.items()}
        self.order = {i: (r.created_at, r.id) for i, r in self.regs.items()}
        self.places = {c.mode: (c.capacity, c.confirmed) for c in db.session.scalars(
            select(ModeCapacity).where(ModeCapacity.event_id == event_id))}
        self.outbox = db.session.scalar(select(func.max(OutboxMessage.id))) or 0
        self.audit = db.session.scalar(select(func.max(AuditLog.id))) or 0
        self.waitlist = self.event.waitlist_enabled
        self.approval = self.event.approval

    def capacity(self, mode: str) -> int | None:
        return self.places[mode][0]

    def confirmed(self, mode: str) -> int:
        return sum(1 for i, s in self.status.items() if s == "confirmed"
                   and self.mode[i] == mode)

    def has_place(self, mode: str) -> bool:
        capacity = self.capacity(mode)
        return capacity is None or self.places[mode][1] < capacity


class RegistrationMachine(RuleBasedStateMachine):
    """One small event per run; every rule is one service call, checked against the state
    before and after it."""

    make_event = None  # set by the test: the fixture's factory

    def __init__(self):
        super().__init__()
        self.event_id: int | None = None
        self.statuses: dict[int, str] = {}  # as of the last step, for the preconditions
        self.people = itertools.count(1)

    # Set-up and rules ---------------------------------------------------------------------

    @initialize(in_person=CAPACITY, online=CAPACITY,
                waitlist=st.sampled_from([True, True, False]),
                application=st.sampled_from([False, False, True]))
    def open_event(self, in_person, online, waitlist, application):
        event_ = type(self).make_event(unique_slug("machine"), mode="hybrid")
        event_.waitlist_enabled = waitlist
        event_.approval = "application" if application else "open"
        db.session.commit()
        reg.set_capacities(event_, {"in_person": in_person, "online": online}, actor=None)
        self.event_id = event_.id
        self.verify_invariants(State(self.event_id))

    def _pick(self, state: State, index: int) -> int:
        ids = sorted(state.status)
        return ids[index % len(ids)]

    def has(self, *statuses: str) -> bool:
        return any(s in statuses for s in self.statuses.values())

    @rule(modes=st.lists(st.sampled_from(MODES), min_size=1, max_size=3))
    def register(self, modes):
        for mode in modes:
            self.register_one(mode)

    @precondition(lambda self: self.statuses)
    @rule(index=st.integers(0, 50), mode=st.sampled_from(MODES))
    def register_again(self, index, mode):
        """Someone registered already registers again: a cancelled registration comes back
        (the same row, at the back of the list); any other is told, and mailed its link."""
        before = State(self.event_id)
        target = self._pick(before, index)
        if before.status[target] == "cancelled":
            event("registers again after cancelling")
            self.register_one(mode, email=before.regs[target].email)
            return
        try:
            reg.register(before.event, RegistrationInput(
                email=before.regs[target].email.upper(), name="Again", mode=mode))
        except reg.AlreadyRegistered:
            pass
        else:
            raise AssertionError(f"{before.status[target]} registration registered twice")
        after = State(self.event_id)
        assert (after.status, after.mode, after.places, after.order) == \
            (before.status, before.mode, before.places, before.order)
        assert after.audit == before.audit
        sent = list(db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.id > before.outbox)))
        # One link per address and quarter of an hour.
        assert [(m.to_email, m.kind) for m in sent] in (
            [], [(before.regs[target].email, "registration_link")])
        self.verify_invariants(after)

    def register_one(self, mode: str, email: str | None = None) -> None:
        before = State(self.event_id)
        email = email or f"person{next(self.people)}-{uuid.uuid4().hex[:6]}@example.org"
        try:
            outcome = reg.register(before.event, RegistrationInput(
                email=email, name="Some Body", mode=mode))
        except ModeFull:
            self.refused(before, "register")
            assert before.approval == "open" and not before.has_place(mode) \
                and not before.waitlist, "refused a registration that had a place or a list"
            return
        after = State(self.event_id)
        new = outcome.registration.id
        if before.approval == "application":
            expected = "pending"
        elif before.has_place(mode):
            expected = "confirmed"
        else:
            assert before.waitlist, "accepted a registration into a full mode with no list"
            expected = "waitlisted"
        assert after.status[new] == expected
        assert after.mode[new] == mode
        # A new registration, or one that comes back, goes to the back of the list.
        assert all(after.order[new] > after.order[i] for i in after.status if i != new)
        self.compare(before, after, "register", target=new)

    @precondition(lambda self: self.statuses)
    @rule(index=st.integers(0, 50), by_participant=st.booleans())
    def cancel(self, index, by_participant):
        before = State(self.event_id)
        target = self._pick(before, index)
        try:
            reg.cancel(target, actor=None, by_participant=by_participant)
        except Conflict:
            self.refused(before, "cancel")
            assert before.status[target] in ("cancelled", "declined")
            return
        after = State(self.event_id)
        assert after.status[target] == "cancelled"
        self.compare(before, after, "cancel", target=target)

    @precondition(lambda self: self.has("pending"))
    @rule(indexes=st.lists(st.integers(0, 50), min_size=1, max_size=4))
    def approve(self, indexes):
        before = State(self.event_id)
        targets = {self._pick(before, i) for i in indexes}
        result = reg.approve(targets, actor=None)
        after = State(self.event_id)
        for target in targets:
            if before.status[target] != "pending":
                assert after.status[target] == before.status[target]
        assert result["skipped"] == sum(1 for t in targets if before.status[t] != "pending")
        self.compare(before, after, "approve", targets=targets)

    @precondition(lambda self: self.has("pending", "waitlisted"))
    @rule(indexes=st.lists(st.integers(0, 50), min_size=1, max_size=3))
    def decline(self, indexes):
        before = State(self.event_id)
        targets = {self._pick(before, i) for i in indexes}
        n = reg.decline(targets, actor=None, reason="Sorry")
        after = State(self.event_id)
        for target in targets:
            declinable = before.status[target] in ("pending", "waitlisted")
            assert after.status[target] == ("declined" if declinable
                                            else before.status[target])
        assert n == sum(1 for t in targets if before.status[t] in ("pending", "waitlisted"))
        self.compare(before, after, "decline", targets=targets)

    @precondition(lambda self: self.statuses)
    @rule(index=st.integers(0, 50), mode=st.sampled_from(MODES))
    def move(self, index, mode):
        before = State(self.event_id)
        target = self._pick(before, index)
        was = before.status[target]
        try:
            reg.move_mode(target, mode, actor=None)
        except ModeFull:
            self.refused(before, "move")
            assert was == "confirmed" and not before.has_place(mode)
            return
        after = State(self.event_id)
        moved = mode != before.mode[target]
        assert after.mode[target] == mode
        gets_place = moved and was == "waitlisted" and before.has_place(mode)
        assert after.status[target] == ("confirmed" if gets_place else was)
        self.compare(before, after, "move", target=target, moved=moved)

    @precondition(lambda self: self.statuses)
    @rule(in_person=CAPACITY, online=CAPACITY, both=st.booleans())
    def set_capacities(self, in_person, online, both):
        before = State(self.event_id)
        capacities = {"in_person": in_person, "online": online} if both \
            else {"in_person": in_person}
        reg.set_capacities(before.event, capacities, actor=None)
        after = State(self.event_id)
        for mode, capacity in capacities.items():
            assert after.capacity(mode) == capacity
        self.compare(before, after, "capacities")

    @precondition(lambda self: self.statuses)
    @rule(switch=st.sampled_from(["waitlist", "approval"]))
    def settings(self, switch):
        """The organiser's settings page: one switch flipped, the places as they are."""
        before = State(self.event_id)
        waitlist = before.waitlist != (switch == "waitlist")
        approval = before.approval
        if switch == "approval":
            approval = "open" if approval == "application" else "application"
        reg.update_settings(before.event, RegistrationSettings(
            opens_at=None, closes_at=None, approval=approval, invitation_only=False,
            waitlist_enabled=waitlist, online_url=None,
            capacities={m: before.capacity(m) for m in MODES}), actor=None)
        after = State(self.event_id)
        assert (after.waitlist, after.approval) == (waitlist, approval)
        self.compare(before, after, "settings")

    # Checks ---------------------------------------------------------------------------------

    def refused(self, before: State, what: str) -> None:
        """A refused operation leaves everything as it was: no status, place, mail or
        audit entry."""
        db.session.rollback()
        event(f"refused: {what}")
        after = State(self.event_id)
        assert (after.status, after.mode, after.places) == \
            (before.status, before.mode, before.places), f"refused {what} changed data"
        assert (after.outbox, after.audit) == (before.outbox, before.audit), \
            f"refused {what} mailed or audited"
        self.verify_invariants(after)

    def compare(self, before: State, after: State, op: str, *, target: int | None = None,
                targets: set[int] = frozenset(), moved: bool = False) -> None:
        # Places: nothing but the organiser's new capacity takes a mode over its limit.
        for mode in MODES:
            capacity = after.capacity(mode)
            if capacity is not None:
                assert after.places[mode][1] <= max(before.places[mode][1], capacity), \
                    f"{op} confirmed beyond the capacity of {mode}"

        # Statuses move only forwards; others than the targets only by promotion.
        changed = {i for i in after.status if before.status.get(i) != after.status[i]}
        promoted = set()
        for i in changed:
            if op == "register" and i == target:
                assert before.status.get(i) in (None, "cancelled")  # new, or back again
                continue
            assert i in before.status
            assert after.status[i] in ALLOWED[before.status[i]], \
                (op, before.status[i], after.status[i])
            if i != target and i not in targets:
                assert (before.status[i], after.status[i]) == ("waitlisted", "confirmed"), \
                    f"{op} changed registration {i} it was not about"
                promoted.add(i)
        if op == "register":
            assert set(after.status) - set(before.status) <= {target}
            assert target in changed
        else:
            assert set(after.status) == set(before.status)

        # Promotion goes to those who wait longest, in the mode that has the place.
        if promoted:
            event(f"{op}: promoted from the waiting list")
        for i in promoted:
            still_waiting = [j for j, s in after.status.items()
                             if s == "waitlisted" and after.mode[j] == after.mode[i]]
            assert all(after.order[i] < after.order[j] for j in still_waiting), \
                f"{op} promoted a younger registration first"

        # Mail: one message per change of status, of the matching kind, and nothing else.
        expected: Counter[tuple[int, str]] = Counter()
        for i in changed:
            old, new = before.status.get(i), after.status[i]
            if i == target and op == "move":
                continue  # the moved registration's mail is below
            if op == "register" and i == target:
                kind = {"pending": "received", "confirmed": "confirmed",
                        "waitlisted": "waitlisted"}[new]
            elif new in ("cancelled", "declined"):
                kind = new
            elif old == "pending":
                kind = new  # approved: confirmed, or waitlisted
            else:
                kind = "promoted"
            expected[(i, f"registration_{kind}")] += 1
        if op == "move" and moved and after.status[target] in ("confirmed", "waitlisted"):
            # A change of mode is mailed as such; one that gives a waiting registration a
            # place is a promotion, and mailed as one (with the ticket).
            promoted = (before.status.get(target) == "waitlisted"
                        and after.status[target] == "confirmed")
            expected[(target, "registration_promoted" if promoted
                      else "registration_moved")] += 1
        by_email = {r.email: i for i, r in after.regs.items()}
        sent = Counter(
            (by_email.get(m.to_email), m.kind) for m in db.session.scalars(
                select(OutboxMessage).where(OutboxMessage.id > before.outbox)))
        assert sent == expected, (op, dict(sent), dict(expected))

        # Audit: every change of status has an entry about that registration.
        audited = set(db.session.scalars(select(AuditLog.target_id).where(
            AuditLog.id > before.audit, AuditLog.target_type == "Registration")))
        assert changed <= audited, f"{op}: changes without an audit entry"
        self.verify_invariants(after)

    def verify_invariants(self, state: State) -> None:
        self.statuses = dict(state.status)
        for mode in MODES:
            capacity, confirmed = state.places[mode]
            assert confirmed == state.confirmed(mode), \
                f"mode_capacity.confirmed of {mode} is {confirmed}, " \
                f"{state.confirmed(mode)} are confirmed"
            waiting = [i for i, s in state.status.items()
                       if s == "waitlisted" and state.mode[i] == mode]
            if waiting and (capacity is None or confirmed < capacity):
                raise AssertionError(f"{len(waiting)} wait for {mode}, which has a free "
                                     f"place (waiting list {'on' if state.waitlist else 'off'})")


MACHINE = settings(max_examples=25, stateful_step_count=20, deadline=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture,
                                          HealthCheck.too_slow])


@pytest.fixture
def queue_only(monkeypatch):
    """Mail is queued in the outbox, which is what these tests read; delivering it after
    every commit (the test config's eager task) would only slow the examples down."""
    monkeypatch.setattr(messaging, "announce", lambda *args: None)


def test_random_operations_keep_places_waiting_list_and_mail_consistent(app, make_event,
                                                                        queue_only):
    RegistrationMachine.make_event = staticmethod(make_event)
    try:
        run_state_machine_as_test(RegistrationMachine, settings=MACHINE)
    finally:
        RegistrationMachine.make_event = None
        db.session.remove()


# 3. update_settings() saves or changes nothing ------------------------------------------

LOCAL = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 12, 31))
URLS = st.one_of(st.none(), st.just(""), st.just("https://live.example/room"),
                 st.sampled_from(["javascript:alert(1)", "https://a.example/a b",
                                  "http://x.example/\x00", "ftp://x.example",
                                  "https://" + "x" * 500]),
                 ANY_TEXT)
SETTINGS = st.fixed_dictionaries({
    "opens_at": st.one_of(st.none(), LOCAL),
    "closes_at": st.one_of(st.none(), LOCAL),
    "approval": st.one_of(st.sampled_from(["open", "application"]), ANY_TEXT),
    "invitation_only": st.booleans(),
    "waitlist_enabled": st.booleans(),
    "online_url": URLS,
    # What the settings form can send: 0 to 1,000,000 or empty. Values outside it are
    # test_update_settings_refuses_a_bad_capacity_before_saving_anything's (a known bug).
    "capacities": st.fixed_dictionaries({m: st.one_of(st.none(), st.integers(0, 1_000_000))
                                         for m in MODES}),
})


def event_settings(event_: Event) -> tuple:
    db.session.expire_all()
    event_ = db.session.get(Event, event_.id)
    places = {c.mode: c.capacity for c in db.session.scalars(
        select(ModeCapacity).where(ModeCapacity.event_id == event_.id))}
    return (event_.registration_opens_at, event_.registration_closes_at, event_.approval,
            event_.invitation_only, event_.waitlist_enabled, event_.online_url, places)


@PROPERTY
@given(values=SETTINGS)
def test_update_settings_saves_exactly_or_changes_nothing(make_event, queue_only, values):
    event_ = make_event(unique_slug("settings"), mode="hybrid")
    for n in range(2):
        reg.register(event_, RegistrationInput(email=f"s{n}@example.org", name="S",
                                               mode="online"))
    zone = ZoneInfo(event_.timezone)
    for key in ("opens_at", "closes_at"):
        if values[key] is not None:
            values[key] = values[key].replace(tzinfo=zone)
    before = event_settings(event_)
    counts_before = written()
    try:
        reg.update_settings(event_, RegistrationSettings(**values), actor=None)
    except ServiceError as exc:
        db.session.rollback()
        event(f"refused: {exc.message}")
        assert event_settings(event_) == before, "refused settings were partly saved"
        assert written() == counts_before
        return
    event("saved")
    opens, closes, approval, invitation_only, waitlist, url, places = event_settings(event_)
    assert approval in ("open", "application") and approval == values["approval"]
    assert (opens, closes) == (values["opens_at"], values["closes_at"])
    assert opens is None or closes is None or opens < closes
    assert (invitation_only, waitlist) == (values["invitation_only"],
                                           values["waitlist_enabled"])
    assert url == ((values["online_url"] or "").strip() or None)
    assert url is None or (url.startswith(("https://", "http://")) and " " not in url
                           and len(url) <= 500 and not has_control_chars(url))
    assert places == values["capacities"]
    db.session.remove()


# Known bugs ----------------------------------------------------------------------------

def test_update_settings_refuses_a_bad_capacity_before_saving_anything(make_event):
    event_ = make_event(unique_slug("half"), mode="hybrid")
    before = event_settings(event_)
    with pytest.raises(ServiceError):
        reg.update_settings(event_, RegistrationSettings(
            opens_at=None, closes_at=None, approval="application", invitation_only=True,
            waitlist_enabled=False, online_url="https://live.example/x",
            capacities={"in_person": -1, "online": None}), actor=None)
    db.session.rollback()
    assert event_settings(event_) == before, "half-written: settings saved, capacity refused"


def test_a_move_that_gives_a_waiting_registration_a_place_is_mailed_as_such(make_event):
    event_ = make_event(unique_slug("move"), mode="hybrid")
    reg.set_capacities(event_, {"in_person": 1, "online": None}, actor=None)
    reg.register(event_, RegistrationInput(email="first@example.org", name="F",
                                           mode="in_person"))
    waiting = reg.register(event_, RegistrationInput(email="second@example.org", name="S",
                                                     mode="in_person")).registration
    assert waiting.status == "waitlisted"
    last = db.session.scalar(select(func.max(OutboxMessage.id)))
    moved = reg.move_mode(waiting.id, "online", actor=None)
    assert moved.status == "confirmed"
    kinds = list(db.session.scalars(select(OutboxMessage.kind).where(
        OutboxMessage.id > last)))
    assert set(kinds) & {"registration_confirmed", "registration_promoted"}, kinds

