"""Registration: who may register, who gets a place, and the waiting list.

The rules in one place:
- An event takes registrations inside its window (default: from now until its last day
  ends, in the event's time zone), in the attendance modes it offers.
- Invitation-only events take only holders of a valid invitation link.
- Open registration confirms at once while the mode has places; by application, the
  registration waits (``pending``) for an organiser to approve or decline it.
- A full mode puts people on its waiting list when the list is on, and refuses them when
  it is off. A place that frees up goes to the oldest waiting registration of that mode.
- An email address registers once per event.
Places are taken and released through ``services/locking.py``; every change of status is
audited and mailed through the outbox in the same transaction.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, func, select, update

from eventsys.extensions import db
from eventsys.i18n import is_country
from eventsys.models import (
    ATTENDANCE_MODES,
    Event,
    ModeCapacity,
    Registration,
    RegistrationQuestion,
    RegistrationToken,
    User,
    utcnow,
)
from eventsys.services import (
    attendance,
    audit,
    calendar,
    invitations,
    locking,
    messaging,
    sql,
    tickets,
)
from eventsys.services.errors import Conflict, NotAllowed, NotFound, ServiceError
from eventsys.services.tokens import mint, token_hash
from eventsys.services.validation import has_control_chars

MAX_TEXT = {"name": 200, "name_native": 200, "organisation_name": 200, "job_title": 200,
            "email": 254}
MAX_ANSWER = 5000


class RegistrationClosed(NotAllowed):
    pass


class ModeFull(Conflict):
    pass


class AlreadyRegistered(Conflict):
    pass


@dataclass
class RegistrationInput:
    email: str
    name: str
    mode: str
    name_native: str | None = None
    organisation_name: str | None = None
    country: str | None = None
    job_title: str | None = None
    locale: str | None = None
    answers: dict[str, object] = field(default_factory=dict)


@dataclass
class Outcome:
    registration_id: int
    status: str
    token: str  # the raw access token: known only now, and in the emailed link

    @property
    def registration(self) -> Registration:
        return db.session.get(Registration, self.registration_id)


@dataclass(frozen=True)
class QuestionView:
    id: int
    kind: str
    label: str
    help_text: str | None
    required: bool
    choices: tuple[str, ...] | None


@dataclass(frozen=True)
class RegistrationEvent:
    """An event as its registration form sees it, read in one query without the ORM: the
    form is the busiest page of all, and it needs the event, not its object graph.
    ``register`` takes this or an ``Event``."""

    id: int
    slug: str
    title: str
    start_date: date
    end_date: date
    timezone: str
    mode: str
    status: str
    approval: str
    invitation_only: bool
    waitlist_enabled: bool
    registration_opens_at: datetime | None
    registration_closes_at: datetime | None
    questions: tuple[QuestionView, ...]

    @property
    def modes(self) -> tuple[str, ...]:
        return ("in_person", "online") if self.mode == "hybrid" else (self.mode,)


_EVENT_COLUMNS = (Event.id, Event.slug, Event.title, Event.start_date, Event.end_date,
                  Event.timezone, Event.mode, Event.status, Event.approval,
                  Event.invitation_only, Event.waitlist_enabled,
                  Event.registration_opens_at, Event.registration_closes_at)
_QUESTION_COLUMNS = (RegistrationQuestion.id, RegistrationQuestion.kind,
                     RegistrationQuestion.label, RegistrationQuestion.help_text,
                     RegistrationQuestion.required, RegistrationQuestion.choices)


_REGISTRATION_EVENT = (
    select(*_EVENT_COLUMNS, *_QUESTION_COLUMNS)
    .outerjoin(RegistrationQuestion, RegistrationQuestion.event_id == Event.id)
    .where(Event.slug == bindparam("slug"), Event.status == "published")
    .order_by(RegistrationQuestion.position, RegistrationQuestion.id)
)


def registration_event(slug: str) -> RegistrationEvent:
    """The published event ``slug`` with its questions (404 otherwise), one query."""
    rows = db.session.connection().execute(_REGISTRATION_EVENT, {"slug": slug}).all()
    if not rows:
        raise NotFound(_("There is no such event."))
    n = len(_EVENT_COLUMNS)
    questions = tuple(
        QuestionView(*row[n:n + 5], tuple(row[n + 5]) if row[n + 5] else None)
        for row in rows if row[n] is not None)
    return RegistrationEvent(*rows[0][:n], questions=questions)


# The window ------------------------------------------------------------------------------

def registration_closes_at(event: Event | RegistrationEvent) -> datetime:
    if event.registration_closes_at is not None:
        return event.registration_closes_at
    zone = ZoneInfo(event.timezone)
    return datetime.combine(event.end_date + timedelta(days=1), time(0), zone)


def window_state(event: Event | RegistrationEvent, now: datetime | None = None) -> str:
    """``not_yet``, ``open`` or ``closed``."""
    now = now or utcnow()
    if event.status != "published":
        return "closed"
    if event.registration_opens_at is not None and now < event.registration_opens_at:
        return "not_yet"
    if now >= registration_closes_at(event):
        return "closed"
    return "open"


def _check_window(event: Event | RegistrationEvent) -> None:
    state = window_state(event)
    if state == "not_yet":
        raise RegistrationClosed(_("Registration has not opened yet."))
    if state == "closed":
        raise RegistrationClosed(_("Registration for this event is closed."))


# Validation -----------------------------------------------------------------------------

def _clean(value: str | None, limit: int) -> str | None:
    value = " ".join((value or "").split())
    if len(value) > limit:
        raise ServiceError(_("Some answers are too long."))
    return value or None


def validate_answers(questions: Iterable[RegistrationQuestion | QuestionView],
                     answers: dict[str, object]) -> dict[str, object]:
    """Answers keyed by question id (as text), checked against each question's kind."""
    clean: dict[str, object] = {}
    for question in questions:
        key = str(question.id)
        value = answers.get(key)
        if question.kind == "checkbox":
            value = bool(value)
            if question.required and not value:
                raise ServiceError(_("Please tick: %(label)s", label=question.label))
        elif question.kind == "multiple_choice":
            if isinstance(value, str):
                value = [value]
            value = [v for v in (value or []) if isinstance(v, str)]
            if len(value) != len(set(value)) or len(value) > len(question.choices or []):
                raise ServiceError(_("Choose from the options given."))
            if any(v not in (question.choices or []) for v in value):
                raise ServiceError(_("Choose from the options given."))
            if question.required and not value:
                raise ServiceError(_("Please answer: %(label)s", label=question.label))
        else:
            value = value.strip() if isinstance(value, str) else ""
            if len(value) > MAX_ANSWER or has_control_chars(value):
                raise ServiceError(_("An answer is too long or has characters that are not "
                                     "allowed."))
            if question.kind == "single_choice" and value and value not in (question.choices or []):
                raise ServiceError(_("Choose from the options given."))
            if question.kind == "country" and value and not is_country(value):
                raise ServiceError(_("Unknown country code %(code)s.", code=value))
            if question.required and not value:
                raise ServiceError(_("Please answer: %(label)s", label=question.label))
        clean[key] = value
    return clean


def _validated(event: Event | RegistrationEvent, data: RegistrationInput) -> RegistrationInput:
    if data.mode not in event.modes:
        raise ServiceError(_("This event does not offer that way of attending."))
    email = (data.email or "").strip().lower()
    if not email or "@" not in email or len(email) > MAX_TEXT["email"]:
        raise ServiceError(_("Enter a valid email address."))
    texts = {k: getattr(data, k) for k in ("name", "name_native", "organisation_name",
                                            "job_title")}
    if any(has_control_chars(v) for v in (*texts.values(), email)):
        raise ServiceError(_("Some text contains characters that are not allowed."))
    cleaned = {k: _clean(v, MAX_TEXT[k]) for k, v in texts.items()}
    if not cleaned["name"]:
        raise ServiceError(_("Please give your name."))
    country = (data.country or "").upper() or None
    if country and not is_country(country):
        raise ServiceError(_("Unknown country code %(code)s.", code=country))
    return RegistrationInput(
        email=email, mode=data.mode, country=country, locale=data.locale,
        answers=validate_answers(event.questions, data.answers or {}), **cleaned,
    )


# Tokens and invitations -------------------------------------------------------------------

def mint_token(registration_id: int) -> str:
    return mint_tokens([registration_id])[registration_id]


def mint_tokens(registration_ids: list[int]) -> dict[int, str]:
    """Links for many registrations at once (a mail to each of them): one statement."""
    return mint(RegistrationToken, "registration_id", registration_ids)


def token_for_owner(user: User, registration_id: int) -> str:
    """A fresh link for a registration made while logged in to this account. Registrations
    are not matched by email: account addresses are not verified, registrations' are."""
    registration = db.session.get(Registration, registration_id)
    if registration is None or registration.user_id != user.id:
        raise NotFound(_("There is no such registration."))
    token = mint_token(registration.id)
    db.session.commit()
    return token


def registration_by_token(token: str) -> Registration:
    found = db.session.scalar(
        select(RegistrationToken).where(RegistrationToken.token_hash == token_hash(token))
    ) if 10 <= len(token) <= 100 else None
    if found is None:
        raise NotFound(_("This registration link is not valid. Check that you copied all of "
                         "it, or register again to be sent a new one."))
    return found.registration


# Registering ------------------------------------------------------------------------------

def register(event: Event | RegistrationEvent, data: RegistrationInput, *,
             user: User | None = None, invitation_token: str | None = None) -> Outcome:
    """Register one person. Raises AlreadyRegistered (after mailing them a fresh link),
    RegistrationClosed, ModeFull or ServiceError; on any error nothing is written.

    The busiest write of all, so it is a handful of plain statements: take the place (the
    row lock is held from here to the COMMIT), insert the registration with its final
    status, its token, the audit entry and the mail."""
    _check_window(event)
    invitation = None
    if event.invitation_only or invitation_token:
        invitation = invitations.valid_invitation(event, invitation_token)
        data.email = invitation.email  # an invitation is personal
    data = _validated(event, data)
    needs_approval = event.approval == "application" and not (
        invitation is not None and invitation.skip_approval)
    if needs_approval:
        status = "pending"
    elif locking.take_place(db.session, event.id, data.mode):
        status = "confirmed"
    elif event.waitlist_enabled:
        status = "waitlisted"
    else:
        db.session.rollback()
        existing = _registration_of(event.id, data.email)
        if existing is not None and existing.status != "cancelled":
            _already_registered(existing)  # the truer answer, and it mails them their link
        raise ModeFull(_("Sorry, there are no places left for %(mode)s.",
                         mode=mode_label(data.mode)))
    now = utcnow()
    details = {
        "user_id": user.id if user else None,
        "invitation_id": invitation.id if invitation else None,
        "name": data.name, "name_native": data.name_native,
        "organisation_name": data.organisation_name, "country": data.country,
        "job_title": data.job_title, "locale": data.locale, "mode": data.mode,
        "status": status, "decision_reason": None,
        # A new round: the back of the waiting list, and its own emails (dedupe keys).
        "created_at": now, "updated_at": now,
    }
    if data.answers:  # none is SQL NULL, not JSON null
        details["answers"] = data.answers
    registration_id = sql.insert_unless_exists(
        db.session, Registration, ("event_id", "email"), event_id=event.id, email=data.email,
        ticket_code=tickets.new_ticket_code(), **details)
    if registration_id is None:  # this address registered before: again only if cancelled
        registration_id = db.session.execute(
            update(Registration)
            .where(Registration.event_id == event.id, Registration.email == data.email,
                   Registration.status == "cancelled")
            .values({"answers": None, **details}).returning(Registration.id)
            .execution_options(synchronize_session=False)).scalar()
    if registration_id is None:
        db.session.rollback()  # and with it the place
        _already_registered(_registration_of(event.id, data.email))
    if invitation is not None:
        invitations.mark_accepted(invitation)
    token = mint_token(registration_id)
    audit.record("registration.created", actor=user, event_id=event.id,
                 target_ref=("Registration", registration_id), status=status, mode=data.mode)
    _queue_status_mail(
        {"pending": "received", "confirmed": "confirmed", "waitlisted": "waitlisted"}[status],
        registration_id=registration_id, event_id=event.id, email=data.email,
        name=data.name, locale=data.locale, mode=data.mode, created_at=now, token=token)
    db.session.commit()
    return Outcome(registration_id, status, token)


def _registration_of(event_id: int, email: str) -> Registration | None:
    return db.session.scalar(select(Registration).where(
        Registration.event_id == event_id, Registration.email == email))


def _already_registered(existing: Registration) -> None:
    """Mail the address a fresh link (once per quarter hour) and say so: this is the one
    thing the form reveals about an address, and only to its owner's inbox."""
    token = mint_token(existing.id)
    bucket = int(utcnow().timestamp() // 900)
    messaging.queue_mail(
        kind="registration_link", dedupe_key=f"registration:{existing.id}:link:{bucket}",
        to_email=existing.email, to_name=existing.name, template="registration_link",
        locale=existing.locale, event_id=existing.event_id,
        context={"registration_id": existing.id, "token": token},
        secrets_in_context=("token",),
    )
    db.session.commit()
    raise AlreadyRegistered(_("This email address is registered for this event already. "
                              "We have emailed it a link to the registration."))


def mode_label(mode: str) -> str:
    return {"in_person": _("attending in person"), "online": _("attending online")}[mode]


# Changes of status ----------------------------------------------------------------------

def _locked(registration_id: int) -> Registration:
    query = select(Registration).where(Registration.id == registration_id)
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    registration = db.session.scalar(query.execution_options(populate_existing=True))
    if registration is None:
        raise NotFound(_("There is no such registration."))
    return registration


def promote_from_waitlist(event_id: int, mode: str) -> list[Registration]:
    """Give free places of ``mode`` to the oldest waiting registrations, and mail them.
    Runs inside the caller's write transaction."""
    promoted = []
    while True:
        query = (
            select(Registration)
            .where(Registration.event_id == event_id, Registration.mode == mode,
                   Registration.status == "waitlisted")
            .order_by(Registration.created_at, Registration.id)
            .limit(1)
        )
        if db.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        candidate = db.session.scalar(query)
        if candidate is None or not locking.take_place(db.session, event_id, mode):
            return promoted
        candidate.status = "confirmed"
        audit.record("registration.promoted", event_id=event_id, target=candidate)
        _mail_status(candidate, mint_token(candidate.id), "promoted")
        promoted.append(candidate)


def is_over(event: Event) -> bool:
    """Whether the event's last day has ended where it takes place."""
    return attendance.local_day(event, utcnow()) > event.end_date


def cancel(registration_id: int, *, actor: User | None, by_participant: bool,
           reason: str | None = None) -> Registration:
    """Cancel a registration. A participant cannot once the event is over: there is no
    place left to give back, and what they attended (and the certificate it earned) stands.
    Organisers still can (a certificate issued stays valid until they revoke it)."""
    registration = _locked(registration_id)
    if registration.status in ("cancelled", "declined"):
        db.session.rollback()
        raise Conflict(_("This registration is cancelled already."))
    if by_participant and is_over(registration.event):
        db.session.rollback()
        raise Conflict(_("The event is over, so there is nothing to cancel."))
    was = registration.status
    registration.status = "cancelled"
    registration.decision_reason = _clean(reason, 1000)
    audit.record("registration.cancelled", actor=actor, event_id=registration.event_id,
                 target=registration, before=was, by_participant=by_participant)
    _mail_status(registration, None, "cancelled")
    if was == "confirmed":
        locking.release_place(db.session, registration.event_id, registration.mode)
        promote_from_waitlist(registration.event_id, registration.mode)
    db.session.commit()
    return registration


def approve(registration_ids: Iterable[int], *, actor: User | None) -> dict[str, int]:
    """Approve pending registrations: confirmed while places last, then waitlisted (or
    left pending when the list is off)."""
    counts = {"confirmed": 0, "waitlisted": 0, "full": 0, "skipped": 0}
    for registration_id in sorted(set(registration_ids)):
        registration = _locked(registration_id)
        if registration.status != "pending":
            counts["skipped"] += 1
            continue
        event = registration.event
        if locking.take_place(db.session, event.id, registration.mode):
            registration.status = "confirmed"
            _mail_status(registration, mint_token(registration.id), "confirmed")
        elif event.waitlist_enabled:
            registration.status = "waitlisted"
            _mail_status(registration, mint_token(registration.id), "waitlisted")
        else:
            counts["full"] += 1
            continue
        counts[registration.status] += 1
        audit.record("registration.approved", actor=actor, event_id=event.id,
                     target=registration, status=registration.status)
    db.session.commit()
    return counts


def decline(registration_ids: Iterable[int], *, actor: User | None,
            reason: str | None = None) -> int:
    reason = _clean(reason, 1000)
    if has_control_chars(reason):
        raise ServiceError(_("Some text contains characters that are not allowed."))
    declined = 0
    for registration_id in sorted(set(registration_ids)):
        registration = _locked(registration_id)
        if registration.status not in ("pending", "waitlisted"):
            continue
        registration.status = "declined"
        registration.decision_reason = reason
        audit.record("registration.declined", actor=actor, event_id=registration.event_id,
                     target=registration, reason=reason)
        _mail_status(registration, None, "declined")
        declined += 1
    db.session.commit()
    return declined


@dataclass
class DetailsInput:
    """What an organiser may correct of what a participant typed."""

    name: str
    name_native: str | None = None
    organisation_name: str | None = None
    job_title: str | None = None
    country: str | None = None


DETAIL_LABELS = {"name": _l("name"), "name_native": _l("name in own script"),
                 "organisation_name": _l("organisation"), "job_title": _l("job title"),
                 "country": _l("country")}


def correct_details(registration: Registration, details: DetailsInput, *,
                    actor: User | None) -> list[str]:
    """An organiser corrects a participant's details (a misspelt name, say, before their
    certificate is re-issued): checked as at registration, recorded in the history with
    the old values. The fields changed (empty: nothing was)."""
    texts = {k: getattr(details, k) for k in ("name", "name_native", "organisation_name",
                                              "job_title")}
    if any(has_control_chars(v) for v in texts.values() if v):
        raise ServiceError(_("Some text contains characters that are not allowed."))
    cleaned: dict[str, str | None] = {k: _clean(v, MAX_TEXT[k]) for k, v in texts.items()}
    if not cleaned["name"]:
        raise ServiceError(_("A registration needs a name."))
    country = (details.country or "").strip().upper() or None
    if country and not is_country(country):
        raise ServiceError(_("Unknown country code %(code)s.", code=country[:10]))
    cleaned["country"] = country
    changed = {k: (getattr(registration, k), v) for k, v in cleaned.items()
               if getattr(registration, k) != v}
    if not changed:
        return []
    for key, (_old, new) in changed.items():
        setattr(registration, key, new)
    audit.record("registration.corrected", actor=actor, event_id=registration.event_id,
                 target=registration, **{k: {"was": old, "now": new}
                                         for k, (old, new) in changed.items()})
    db.session.commit()
    return list(changed)


def move_mode(registration_id: int, mode: str, *, actor: User | None) -> Registration:
    """Move a registration to the other attendance mode, keeping or queueing its place."""
    registration = _locked(registration_id)
    event = registration.event
    if mode not in event.modes or mode not in ATTENDANCE_MODES:
        db.session.rollback()
        raise ServiceError(_("This event does not offer that way of attending."))
    old, was = registration.mode, registration.status
    if mode == old:
        db.session.rollback()
        return registration
    if was == "confirmed":
        if not locking.take_place(db.session, event.id, mode):
            db.session.rollback()
            raise ModeFull(_("Sorry, there are no places left for %(mode)s.",
                             mode=mode_label(mode)))
        locking.release_place(db.session, event.id, old)
    elif was == "waitlisted" and locking.take_place(db.session, event.id, mode):
        registration.status = "confirmed"
    registration.mode = mode
    audit.record("registration.moved", actor=actor, event_id=event.id, target=registration,
                 before=old, after=mode, status=registration.status)
    if was == "waitlisted" and registration.status == "confirmed":
        _mail_status(registration, mint_token(registration.id), "promoted")
    elif registration.status in ("confirmed", "waitlisted"):
        _mail_status(registration, mint_token(registration.id), "moved")
    if was == "confirmed":  # the place it left goes to whoever waits longest there
        promote_from_waitlist(event.id, old)
    db.session.commit()
    return registration


def set_capacities(event: Event, capacities: dict[str, int | None], *,
                   actor: User | None) -> list[Registration]:
    """Change places per mode. Lowering below the places taken keeps everyone confirmed
    (nobody loses a place they were given) and simply stops new confirmations."""
    _check_capacities(event, capacities)
    event_id = event.id
    promoted: list[Registration] = []
    for mode, capacity in capacities.items():
        ensure_capacity_rows(event_id, (mode,))
        db.session.execute(update(ModeCapacity).where(
            ModeCapacity.event_id == event_id, ModeCapacity.mode == mode
        ).values(capacity=capacity).execution_options(synchronize_session=False))
        promoted += promote_from_waitlist(event_id, mode)
    audit.record("event.capacities", actor=actor, event_id=event_id, capacities=capacities)
    db.session.commit()
    return promoted


def _check_capacities(event: Event, capacities: dict[str, int | None]) -> None:
    for mode, capacity in capacities.items():
        if mode not in event.modes or (capacity is not None and not 0 <= capacity <= 1_000_000):
            raise ServiceError(_("Places must be a number from 0, or empty for no limit."))


def ensure_capacity_rows(event_id: int, modes: Iterable[str]) -> None:
    have = set(db.session.scalars(select(ModeCapacity.mode).where(
        ModeCapacity.event_id == event_id)))
    for mode in modes:
        if mode not in have:
            db.session.add(ModeCapacity(event_id=event_id, mode=mode, capacity=None,
                                        confirmed=0))
    db.session.flush()


# Numbers --------------------------------------------------------------------------------

@dataclass
class ModeCount:
    mode: str
    capacity: int | None
    confirmed: int = 0
    pending: int = 0
    waitlisted: int = 0
    cancelled: int = 0
    declined: int = 0

    @property
    def free(self) -> int | None:
        return None if self.capacity is None else max(0, self.capacity - self.confirmed)


_PLACES = select(ModeCapacity.mode, ModeCapacity.capacity, ModeCapacity.confirmed).where(
    ModeCapacity.event_id == bindparam("event_id"))


def places(event: Event | RegistrationEvent) -> list[ModeCount]:
    """Places per mode from the counters alone (one small query): what the public form
    shows. ``counts`` adds the other statuses for organisers."""
    rows = db.session.connection().execute(_PLACES, {"event_id": event.id})
    by_mode = {mode: ModeCount(mode, capacity, confirmed=n) for mode, capacity, n in rows}
    return [by_mode[m] for m in ATTENDANCE_MODES if m in by_mode and m in event.modes]


def counts(event: Event) -> list[ModeCount]:
    result = {c.mode: ModeCount(c.mode, c.capacity) for c in db.session.scalars(
        select(ModeCapacity).where(ModeCapacity.event_id == event.id)
        .order_by(ModeCapacity.mode))}
    for mode, status, n in db.session.execute(
        select(Registration.mode, Registration.status, func.count())
        .where(Registration.event_id == event.id)
        .group_by(Registration.mode, Registration.status)
    ):
        row = result.setdefault(mode, ModeCount(mode, None))
        setattr(row, status, n)
    return [result[m] for m in sorted(result, key=ATTENDANCE_MODES.index)]


def of_event(event: Event, registration_id: int) -> Registration:
    found = db.session.get(Registration, registration_id)
    if found is None or found.event_id != event.id:
        raise NotFound(_("There is no such registration."))
    return found


def ids_of_event(event: Event, ids: Iterable[int]) -> list[int]:
    """Keep only ids that belong to this event: a form can be edited to name any id."""
    ids = list(ids)[:5000]
    return list(db.session.scalars(select(Registration.id).where(
        Registration.event_id == event.id, Registration.id.in_(ids))))


def cancel_many(registration_ids: Iterable[int], *, actor: User | None,
                reason: str | None = None) -> int:
    done = 0
    for registration_id in sorted(set(registration_ids)):
        try:
            cancel(registration_id, actor=actor, by_participant=False, reason=reason)
        except Conflict:
            continue
        done += 1
    return done


def registrations_of(user: User) -> list[Registration]:
    return list(db.session.scalars(
        select(Registration).where(Registration.user_id == user.id)
        .order_by(Registration.created_at.desc())))


# Mail -----------------------------------------------------------------------------------
# Queued here with ids only; rendered by the worker (messaging.render) through the context
# builders below, so a registration request pays for one INSERT, not for templates, a QR
# code and a calendar file.

REGISTRATION_MAILS = ("received", "confirmed", "promoted", "waitlisted", "moved", "declined",
                      "cancelled", "link")


def _mail_status(registration: Registration, token: str | None, what: str) -> None:
    _queue_status_mail(
        what, registration_id=registration.id, event_id=registration.event_id,
        email=registration.email, name=registration.name, locale=registration.locale,
        mode=registration.mode, created_at=registration.created_at, token=token)


def _queue_status_mail(what: str, *, registration_id: int, event_id: int, email: str,
                       name: str, locale: str | None, mode: str, created_at: datetime,
                       token: str | None) -> None:
    """One email per change of status; the dedupe key makes each one unique."""
    suffix = f":{mode}:{secrets.token_hex(4)}" if what == "moved" else ""
    round_ = int(created_at.timestamp() * 1000)  # a new round after re-registering
    messaging.queue_mail(
        kind=f"registration_{what}",
        dedupe_key=f"registration:{registration_id}:{round_}:{what}{suffix}",
        to_email=email, to_name=name, template=f"registration_{what}", locale=locale,
        event_id=event_id, context={"registration_id": registration_id, "token": token},
        secrets_in_context=("token",),
    )


def _registration_mail(session, stored: dict) -> tuple[dict, list[messaging.Attachment]]:
    registration = session.get(Registration, stored["registration_id"])
    event = registration.event
    token = stored.get("token")
    event_url = messaging.external_url("public.event", slug=event.slug)
    context = {
        "event": messaging.mail_event(event), "name": registration.name, "mode": registration.mode,
        "ticket_code": registration.ticket_code, "reason": registration.decision_reason,
        "online_url": event.online_url, "event_url": event_url,
        "join_url": attendance.join_url(registration.id)
        if event.online_url and registration.status == "confirmed" else None,
        "url": messaging.external_url("registration.page", token=token) if token else None,
    }
    attachments = []
    if registration.status == "confirmed" and stored.get("with_ticket", True):
        attachments.append(messaging.Attachment(
            "event.ics", "text/calendar", calendar.event_calendar(event, url=event_url)))
        if registration.mode == "in_person":
            attachments.append(messaging.Attachment(
                "ticket.png", "image/png", tickets.qr_png(registration.ticket_code)))
    return context, attachments


def _registration_mail_without_ticket(session, stored: dict):
    return _registration_mail(session, {**stored, "with_ticket": False})


for _what in REGISTRATION_MAILS:
    messaging.context_builder(f"registration_{_what}")(
        _registration_mail if _what in ("confirmed", "promoted", "moved")
        else _registration_mail_without_ticket)


# Settings -------------------------------------------------------------------------------

@dataclass
class RegistrationSettings:
    opens_at: datetime | None
    closes_at: datetime | None
    approval: str
    invitation_only: bool
    waitlist_enabled: bool
    online_url: str | None
    capacities: dict[str, int | None]


def update_settings(event: Event, settings: RegistrationSettings, *,
                    actor: User | None) -> list[Registration]:
    """Save the registration settings; places added by a larger capacity go to those
    waiting, at once."""
    if settings.approval not in ("open", "application"):
        raise ServiceError(_("Unknown kind of registration."))
    for moment in (settings.opens_at, settings.closes_at):
        if moment is not None and not 2000 <= moment.year <= 2200:
            raise ServiceError(_("Those dates are out of range."))
    _check_capacities(event, settings.capacities)
    if settings.opens_at and settings.closes_at and settings.closes_at <= settings.opens_at:
        raise ServiceError(_("Registration must close after it opens."))
    url = (settings.online_url or "").strip() or None
    if url and (not url.startswith(("https://", "http://")) or len(url) > 500
                or has_control_chars(url) or " " in url):
        raise ServiceError(_("The joining link must be a web address (https://...)."))
    event.registration_opens_at = settings.opens_at
    event.registration_closes_at = settings.closes_at
    event.approval = settings.approval
    event.invitation_only = settings.invitation_only
    event.waitlist_enabled = settings.waitlist_enabled
    event.online_url = url
    audit.record("event.registration_settings", actor=actor, event_id=event.id,
                 approval=settings.approval, invitation_only=settings.invitation_only,
                 waitlist=settings.waitlist_enabled)
    db.session.flush()
    db.session.commit()
    return set_capacities(event, settings.capacities, actor=actor)
