import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from eventsys.extensions import db
from eventsys.models import (
    AuditLog,
    Invitation,
    ModeCapacity,
    OutboxMessage,
    Registration,
    RegistrationQuestion,
    utcnow,
)
from eventsys.services import invitations
from eventsys.services import registration as reg
from eventsys.services.errors import NotAllowed, NotFound, ServiceError
from eventsys.services.invitations import InviteeData
from eventsys.services.registration import (
    AlreadyRegistered,
    ModeFull,
    RegistrationClosed,
    RegistrationInput,
)
from tests.conftest import delivered, last_text, tampered, text_of


def person(n=1, mode="in_person", **kw) -> RegistrationInput:
    return RegistrationInput(email=f"p{n}@example.org", name=f"Person {n}", mode=mode, **kw)


def count(model, **where) -> int:
    query = select(func.count()).select_from(model)
    for key, value in where.items():
        query = query.where(getattr(model, key) == value)
    return db.session.scalar(query)


def statuses(event) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in db.session.scalars(select(Registration).where(Registration.event_id == event.id)
                                .order_by(Registration.id)
                                .execution_options(populate_existing=True)):
        out.setdefault(r.status, []).append(r.email)
    return out


def mails(kind=None) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if kind:
        query = query.where(OutboxMessage.kind == kind)
    return list(db.session.scalars(query))


@pytest.fixture
def forum(make_event):
    event = make_event("forum", mode="hybrid")
    reg.set_capacities(event, {"in_person": 2, "online": None}, actor=None)
    return event


def test_open_registration_confirms_until_full_then_waitlists(forum):
    for n in range(1, 4):
        reg.register(forum, person(n))
    reg.register(forum, person(9, mode="online"))
    assert statuses(forum) == {"confirmed": ["p1@example.org", "p2@example.org",
                                             "p9@example.org"],
                               "waitlisted": ["p3@example.org"]}
    capacity = db.session.get(ModeCapacity, (forum.id, "in_person"))
    assert (capacity.capacity, capacity.confirmed) == (2, 2)
    assert [m.to_email for m in mails("registration_confirmed")] == [
        "p1@example.org", "p2@example.org", "p9@example.org"]
    assert [m.to_email for m in mails("registration_waitlisted")] == ["p3@example.org"]


def test_confirmation_mail_carries_calendar_and_ticket(forum):
    outcome = reg.register(forum, person(1))
    [message] = delivered("p1@example.org")
    names = [part.get_filename() for part in message.iter_attachments()]
    assert names == ["event.ics", "ticket.png"]
    assert outcome.registration.ticket_code in text_of(message)
    assert f"/r/{outcome.token}" in text_of(message)
    online = reg.register(forum, person(2, mode="online"))
    [online_mail] = delivered("p2@example.org")
    assert [p.get_filename() for p in online_mail.iter_attachments()] == ["event.ics"]
    assert online.registration.status == "confirmed"


def test_full_mode_without_waiting_list_is_refused_and_nothing_written(forum):
    forum.waitlist_enabled = False
    db.session.commit()
    reg.register(forum, person(1))
    reg.register(forum, person(2))
    before = (count(Registration), count(OutboxMessage), count(AuditLog))
    with pytest.raises(ModeFull):
        reg.register(forum, person(3))
    assert (count(Registration), count(OutboxMessage), count(AuditLog)) == before


def test_cancelling_a_confirmed_place_promotes_the_oldest_waiting_in_that_mode(forum):
    first = reg.register(forum, person(1)).registration
    reg.register(forum, person(2))
    reg.register(forum, person(3))  # waits first
    reg.register(forum, person(4))  # waits second
    reg.cancel(first.id, actor=None, by_participant=True)
    assert statuses(forum) == {"cancelled": ["p1@example.org"],
                               "confirmed": ["p2@example.org", "p3@example.org"],
                               "waitlisted": ["p4@example.org"]}
    assert [m.to_email for m in mails("registration_promoted")] == ["p3@example.org"]
    assert [m.to_email for m in mails("registration_cancelled")] == ["p1@example.org"]
    with pytest.raises(ServiceError):
        reg.cancel(first.id, actor=None, by_participant=True)


def test_raising_capacity_promotes_in_order(forum):
    for n in range(1, 6):
        reg.register(forum, person(n))
    promoted = reg.set_capacities(forum, {"in_person": 4}, actor=None)
    assert [r.email for r in promoted] == ["p3@example.org", "p4@example.org"]
    assert statuses(forum)["waitlisted"] == ["p5@example.org"]


def test_by_application(forum):
    forum.approval = "application"
    db.session.commit()
    ids = [reg.register(forum, person(n)).registration.id for n in range(1, 5)]
    assert statuses(forum) == {"pending": [f"p{n}@example.org" for n in range(1, 5)]}
    assert len(mails("registration_received")) == 4
    result = reg.approve(ids[:3], actor=None)
    assert result == {"confirmed": 2, "waitlisted": 1, "full": 0, "skipped": 0}
    assert reg.decline([ids[3]], actor=None, reason="Too many applicants from one park") == 1
    assert "Too many applicants" in last_text("p4@example.org", "could not offer")
    assert reg.approve(ids, actor=None)["skipped"] == 4  # approving twice changes nothing


def test_one_registration_per_email_and_a_fresh_link_instead(forum):
    reg.register(forum, person(1))
    with pytest.raises(AlreadyRegistered):
        reg.register(forum, RegistrationInput(email=" P1@Example.ORG ", name="Again",
                                              mode="online"))
    assert count(Registration) == 1
    assert len(mails("registration_link")) == 1
    assert "/r/" in last_text("p1@example.org", "registered already")


def test_registration_window(forum):
    forum.registration_opens_at = utcnow() + timedelta(hours=1)
    db.session.commit()
    with pytest.raises(RegistrationClosed, match="not opened"):
        reg.register(forum, person(1))
    forum.registration_opens_at = None
    forum.registration_closes_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    with pytest.raises(RegistrationClosed, match="closed"):
        reg.register(forum, person(1))
    assert count(Registration) == 0


def test_invitation_only(forum):
    forum.invitation_only = True
    db.session.commit()
    with pytest.raises(NotAllowed):
        reg.register(forum, person(1))
    with pytest.raises(NotAllowed):
        reg.register(forum, person(1), invitation_token="forged-token-forged-token")
    invitations.invite(forum, InviteeData(email="guest@example.org", name="Guest"),
                       skip_approval=True, actor=None)
    token = last_text("guest@example.org").split("/invitations/")[1].split()[0]
    outcome = reg.register(forum, person(1), invitation_token=token)
    # The invitation is personal: the registration is for the invited address.
    assert outcome.registration.email == "guest@example.org"
    assert db.session.scalar(select(Invitation.status)) == "accepted"


def test_invitation_skips_approval_when_the_organiser_chose_so(forum):
    forum.approval = "application"
    db.session.commit()
    invitations.invite(forum, InviteeData(email="vip@example.org", name="VIP"),
                       skip_approval=True, actor=None)
    token = last_text("vip@example.org").split("/invitations/")[1].split()[0]
    assert reg.register(forum, person(1), invitation_token=token).registration.status == \
        "confirmed"


def test_move_between_modes(forum):
    a = reg.register(forum, person(1)).registration
    reg.register(forum, person(2))
    waiting = reg.register(forum, person(3)).registration
    reg.move_mode(a.id, "online", actor=None)
    assert statuses(forum)["confirmed"] == ["p1@example.org", "p2@example.org",
                                            "p3@example.org"]
    assert db.session.get(Registration, waiting.id).status == "confirmed"  # took a's seat
    with pytest.raises(ModeFull):
        reg.move_mode(a.id, "in_person", actor=None)
    with pytest.raises(ServiceError):
        reg.move_mode(a.id, "telepathy", actor=None)


def test_questions_are_validated_and_stored(forum):
    q1 = RegistrationQuestion(event_id=forum.id, position=1, kind="single_choice",
                              label="Lunch", required=True, choices=["Halal", "Vegetarian"])
    q2 = RegistrationQuestion(event_id=forum.id, position=2, kind="multiple_choice",
                              label="Field trips", choices=["Beijing", "Nanning"])
    q3 = RegistrationQuestion(event_id=forum.id, position=3, kind="checkbox",
                              label="I agree to be photographed", required=True)
    db.session.add_all([q1, q2, q3])
    db.session.commit()
    db.session.refresh(forum)
    with pytest.raises(ServiceError, match="Lunch"):
        reg.register(forum, person(1, answers={str(q3.id): True}))
    with pytest.raises(ServiceError, match="options"):
        reg.register(forum, person(1, answers={str(q1.id): "Pizza", str(q3.id): True}))
    outcome = reg.register(forum, person(1, answers={
        str(q1.id): "Halal", str(q2.id): ["Nanning"], str(q3.id): True}))
    assert outcome.registration.answers == {str(q1.id): "Halal", str(q2.id): ["Nanning"],
                                            str(q3.id): True}


def test_bad_input_writes_nothing(forum):
    for data in (person(1, mode="telepathy"), RegistrationInput(email="x", name="X",
                 mode="online"), RegistrationInput(email="a@b.org", name=" ", mode="online"),
                 person(1, country="XX"), RegistrationInput(email="a@b.org", name="N\x00",
                                                            mode="online"),
                 RegistrationInput(email="a@b.org", name="x" * 201, mode="online")):
        with pytest.raises(ServiceError):
            reg.register(forum, data)
    assert count(Registration) == 0 and count(OutboxMessage) == 0


def test_tokens(forum):
    outcome = reg.register(forum, person(1))
    assert reg.registration_by_token(outcome.token).id == outcome.registration.id
    for bad in ("", "short", "x" * 5000, tampered(outcome.token)):
        with pytest.raises(NotFound):
            reg.registration_by_token(bad)
    assert len(outcome.token) >= 32  # 192 bits, URL-safe


def test_counts(forum):
    for n in range(1, 4):
        reg.register(forum, person(n))
    reg.register(forum, person(7, mode="online"))
    rows = {c.mode: c for c in reg.counts(forum)}
    assert (rows["in_person"].capacity, rows["in_person"].confirmed,
            rows["in_person"].waitlisted, rows["in_person"].free) == (2, 2, 1, 0)
    assert (rows["online"].capacity, rows["online"].confirmed) == (None, 1)


def _fire(url, tmp_path, event_id, n, mode="in_person"):
    """n registrations at once, each on its own thread and database connection, through an
    app of their own whose pool has a connection for every thread."""
    from eventsys import create_app
    from eventsys.models import Event
    from tests.conftest import base_config

    # Mail is queued, not delivered, here: the outbox rows are what this test counts.
    # PostgreSQL allows 100 connections: 200 threads share 60, as many requests share the
    # pools of a few gunicorn workers.
    app = create_app(base_config(tmp_path / "rush", url, SQLALCHEMY_ENGINE_OPTIONS={
        "pool_size": min(n, 60), "max_overflow": 0, "pool_timeout": 60},
        CELERY={"task_always_eager": False, "broker_url": "memory://localhost/"}))
    barrier = threading.Barrier(n, timeout=60)
    errors: list[Exception] = []

    def one(i):
        with app.app_context():
            try:
                barrier.wait()
                event = db.session.get(Event, event_id)
                reg.register(event, RegistrationInput(email=f"rush{i}@example.org",
                                                      name=f"Rush {i}", mode=mode))
            except ModeFull:
                pass
            except Exception as exc:  # anything else is a failure of the test
                errors.append(exc)
                barrier.abort()
            finally:
                db.session.remove()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with app.app_context():
        db.engine.dispose()
    return errors


@pytest.mark.parametrize("waitlist", [True, False])
def test_capacity_is_never_exceeded_under_concurrency(app, make_event, database_url, tmp_path,
                                                      waitlist):
    """The last ten seats, two hundred people pressing "register" in the same second."""
    event = make_event("rush", mode="in_person")
    reg.set_capacities(event, {"in_person": 10}, actor=None)
    event.waitlist_enabled = waitlist
    db.session.commit()
    n = 200
    event_id = event.id
    db.session.commit()  # no transaction of ours open: on SQLite it would hold the write lock
    errors = _fire(database_url, tmp_path, event_id, n)
    assert errors == []
    db.session.rollback()  # end this session's snapshot: read what the threads committed
    result = statuses(event)
    assert len(result["confirmed"]) == 10
    assert len(result.get("waitlisted", [])) == (n - 10 if waitlist else 0)
    assert count(Registration, event_id=event.id) == (n if waitlist else 10)
    assert db.session.get(ModeCapacity, (event.id, "in_person")).confirmed == 10
    assert count(OutboxMessage, kind="registration_confirmed") == 10


def test_cancelled_participant_can_register_again_at_the_back_of_the_list(forum):
    first = reg.register(forum, person(1)).registration
    reg.register(forum, person(2))
    reg.register(forum, person(3))  # waiting
    reg.cancel(first.id, actor=None, by_participant=True)  # p3 promoted
    again = reg.register(forum, person(1, mode="in_person")).registration
    assert again.id == first.id and again.status == "waitlisted"
    assert [m.to_email for m in mails("registration_waitlisted")] == [
        "p3@example.org", "p1@example.org"]
    with pytest.raises(AlreadyRegistered):
        reg.register(forum, person(1))


def test_answers_are_replaced_when_registering_again_and_kept_when_refused(forum):
    lunch = RegistrationQuestion(event_id=forum.id, position=1, kind="single_choice",
                                 label="Lunch", required=False, choices=["Halal", "Vegetarian"])
    db.session.add(lunch)
    db.session.commit()
    db.session.refresh(forum)
    first = reg.register(forum, person(1, answers={str(lunch.id): "Halal"})).registration
    with pytest.raises(AlreadyRegistered):
        reg.register(forum, person(1, answers={str(lunch.id): "Vegetarian"}))
    db.session.refresh(first)
    assert first.answers == {str(lunch.id): "Halal"}
    reg.cancel(first.id, actor=None, by_participant=True)
    again = reg.register(forum, person(1, answers={str(lunch.id): "Vegetarian"})).registration
    assert again.id == first.id and again.answers == {str(lunch.id): "Vegetarian"}
    reg.cancel(first.id, actor=None, by_participant=True)
    db.session.expire_all()
    assert reg.register(forum, person(1)).registration.answers == {str(lunch.id): ""}
