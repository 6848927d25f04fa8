"""Invitations: one by one or a whole list at once, each with a personal link to accept or
decline; the organiser sees each one's state and reminds those who have not answered.

Why this shape: a list of thousands is checked in the request (a preview that imports
nothing) and imported by a worker once confirmed (``jobs``), so the organiser's browser
never waits on it; the table's unique (event, email) makes a re-imported list add nobody
twice; the link's token is stored hashed, so a reminder mails a new link (the first one
keeps working) rather than the old one.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select, update

from eventsys.extensions import db
from eventsys.i18n import available_locales, is_country
from eventsys.models import (
    AgendaSession,
    Event,
    Invitation,
    InvitationToken,
    Job,
    OutboxMessage,
    Person,
    Registration,
    SessionPerson,
    User,
    utcnow,
)
from eventsys.services import audit, invitation_import, jobs, media, messaging, sql
from eventsys.services.accounts import normalise_email
from eventsys.services.errors import Conflict, NotAllowed, NotFound, ServiceError
from eventsys.services.tokens import mint, plausible, token_hash
from eventsys.services.validation import clean_text

_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")
ROLES = invitation_import.ROLES
ROLE_LABELS = {"participant": _l("Participant"), "speaker": _l("Speaker"),
               "guest": _l("Guest"), "vip": _l("VIP")}
# What the organiser sees, in the order of the filter: the answer when there is one, else
# where the latest mail is.
STATES = ("queued", "sending", "no_answer", "failed", "accepted", "declined", "withdrawn")
STATE_LABELS = {"queued": _l("Queued"), "sending": _l("Being sent"),
                "no_answer": _l("Delivered, no answer"), "failed": _l("Failed"),
                "accepted": _l("Accepted"), "declined": _l("Declined"),
                "withdrawn": _l("Withdrawn")}


# Links ------------------------------------------------------------------------------------

def expires_at(event: Event) -> datetime:
    """A link works until the end of the event's last day, where it takes place."""
    return datetime.combine(event.end_date + timedelta(days=1), time(0), ZoneInfo(event.timezone))


def _mint(invitation_ids: list[int]) -> dict[int, str]:
    return mint(InvitationToken, "invitation_id", invitation_ids)


def answer_url(token: str) -> str:
    return messaging.external_url("invitations.answer", token=token)


def by_token(token: str | None) -> Invitation:
    """The invitation a link opens; NotFound for a forged or mangled link, NotAllowed for a
    withdrawn or expired one."""
    invitation = db.session.scalar(
        select(Invitation).join(InvitationToken, InvitationToken.invitation_id == Invitation.id)
        .where(InvitationToken.token_hash == token_hash(token))) if plausible(token) else None
    if invitation is None:
        raise NotFound(_("This invitation link is not valid. Check that you copied all of "
                         "it, or ask the organisers for a new one."))
    if invitation.status == "revoked":
        raise NotAllowed(_("This invitation has been withdrawn."))
    if utcnow() >= expires_at(invitation.event):
        raise NotAllowed(_("This invitation has expired: the event is over."))
    return invitation


def valid_invitation(event, token: str | None) -> Invitation:
    """The invitation a link opens, if it is for ``event`` (registration's gate)."""
    try:
        invitation = by_token(token)
    except NotFound:
        invitation = None
    if invitation is None or invitation.event_id != event.id:
        raise NotAllowed(_("This invitation link is not valid for this event."))
    return invitation


# One by one -------------------------------------------------------------------------------

@dataclass
class InviteeData:
    email: str
    name: str | None = None
    organisation: str | None = None
    country: str | None = None
    role: str = "participant"
    locale: str | None = None
    person_id: int | None = None


def _checked(data: InviteeData) -> dict:
    try:
        email = normalise_email(validate_email((data.email or "").strip(),
                                               check_deliverability=False).normalized)
    except EmailNotValidError as exc:
        raise ServiceError(_("Enter a valid email address.")) from exc
    name, organisation = clean_text(data.name, 200), clean_text(data.organisation, 200)
    if len(email) > 254:
        raise ServiceError(_("Some text is too long (at most %(n)d characters).", n=254))
    country = (data.country or "").strip().upper() or None
    if country and not is_country(country):
        raise ServiceError(_("Unknown country code %(code)s.", code=country[:8]))
    if data.role not in ROLES:
        raise ServiceError(_("Unknown role."))
    locale = data.locale if data.locale in available_locales() else None
    if data.person_id is not None and db.session.get(Person, data.person_id) is None:
        raise ServiceError(_("There is no such person in the programme."))
    return {"email": email, "name": name, "organisation_name": organisation,
            "country": country, "role": data.role, "locale": locale,
            "person_id": data.person_id}


def invite(event: Event, data: InviteeData, *, actor: User | None,
           skip_approval: bool = True) -> Invitation:
    """Invite one person now; Conflict when they are invited already."""
    values = _checked(data)
    new_id = _insert_one(event, values, skip_approval)
    if new_id is None:
        db.session.rollback()
        raise Conflict(_("%(email)s is invited already.", email=values["email"]))
    _send(event, [new_id], job_id=None, reminder=False)
    audit.record("invitation.created", actor=actor, event_id=event.id,
                 target_ref=("invitation", new_id))
    db.session.commit()
    return db.session.get(Invitation, new_id)


def _row_defaults(skip_approval: bool) -> dict:
    return {"skip_approval": skip_approval, "status": "open", "reminders": 0,
            "created_at": utcnow()}


def _insert_one(event: Event, values: dict, skip_approval: bool) -> int | None:
    return sql.insert_unless_exists(db.session, Invitation, ("event_id", "email"),
                                    event_id=event.id, **_row_defaults(skip_approval), **values)


def _send(event: Event, invitation_ids: list[int], *, job_id: int | None,
          reminder: bool) -> list[int]:
    """Queue the invitation (or a reminder) for each of ``invitation_ids``, each with a new
    link; the outbox ids queued."""
    if not invitation_ids:
        return []
    rows = db.session.execute(
        select(Invitation.id, Invitation.email, Invitation.name, Invitation.locale,
               Invitation.role).where(Invitation.id.in_(invitation_ids))).all()
    tokens = _mint([row.id for row in rows])
    template = "invitation_reminder" if reminder else "invitation"
    key = (lambda i: f"reminder:{job_id}:{i}") if reminder else (lambda i: f"invitation:{i}")
    queued = messaging.queue_many([
        messaging.Outgoing(
            dedupe_key=key(row.id), to_email=row.email, to_name=row.name, locale=row.locale,
            context={"event_id": event.id, "name": row.name, "role": row.role,
                     "url": answer_url(tokens[row.id])})
        for row in rows], kind=template, template=template, event_id=event.id, job_id=job_id,
        secrets_in_context=("url",))
    by_invitation = {row.id: queued[key(row.id)] for row in rows if key(row.id) in queued}
    if by_invitation:
        now = utcnow()
        changes = [{"id": i, "message_id": m} for i, m in by_invitation.items()]
        if reminder:
            changes = [{**c, "reminded_at": now} for c in changes]
        db.session.execute(update(Invitation), changes)
        if reminder:
            db.session.execute(update(Invitation).where(Invitation.id.in_(list(by_invitation)))
                               .values(reminders=Invitation.reminders + 1)
                               .execution_options(synchronize_session=False))
    return sorted(by_invitation.values())


# A whole list -----------------------------------------------------------------------------

def start_import(event: Event, filename: str, data: bytes, *, actor: User | None) -> Job:
    """Check a list and keep it as a preview: nothing is imported until ``confirm_import``.
    ServiceError when the file cannot be read at all."""
    parsed = invitation_import.parse(filename, data)
    emails = [i.email for i in parsed.invitees]
    invited: set[str] = set()
    for start in range(0, len(emails), 1000):
        invited.update(db.session.scalars(select(Invitation.email).where(
            Invitation.event_id == event.id, Invitation.email.in_(emails[start:start + 1000]))))
    fresh = [i for i in parsed.invitees if i.email not in invited]
    payload = {
        "filename": media.clean_filename(filename),
        "invitees": [asdict(i) for i in fresh],
        "already": [{"line": i.line, "name": i.name, "email": i.email}
                    for i in parsed.invitees if i.email in invited],
        "problems": [{"line": p.line, "values": p.values, "reasons": list(p.reasons)}
                     for p in parsed.problems],
        "columns": parsed.columns,
        "ignored_columns": parsed.ignored_columns,
    }
    job = jobs.create(event, "invitations", payload=payload, total=len(fresh), actor=actor,
                      status="preview")
    audit.record("invitation.import_checked", actor=actor, event_id=event.id, target=job,
                 good=len(fresh), already=len(invited), problems=len(parsed.problems))
    db.session.commit()
    return job


def _preview_job(event: Event, job_id: int) -> Job:
    job = jobs.job_of(event, job_id)
    if job.kind != "invitations":
        raise NotFound(_("There is no such import."))
    return job


def confirm_import(event: Event, job_id: int, *, actor: User | None,
                   skip_approval: bool = True) -> Job:
    """Import the previewed list (a worker does it); a second confirmation does nothing."""
    job = _preview_job(event, job_id)
    if job.status != "preview":
        return job
    claimed = db.session.execute(
        update(Job).where(Job.id == job.id, Job.status == "preview")
        .values(status="queued", payload={**job.payload, "skip_approval": skip_approval})
        .execution_options(synchronize_session=False)).rowcount
    if not claimed:
        db.session.rollback()
        return job
    audit.record("invitation.import_confirmed", actor=actor, event_id=event.id, target=job,
                 invitees=job.total)
    jobs.start(job)
    db.session.refresh(job)
    return job


def discard_import(event: Event, job_id: int, *, actor: User | None) -> None:
    job = _preview_job(event, job_id)
    if job.status != "preview":
        raise Conflict(_("This list is imported already."))
    job.status, job.payload = "discarded", None
    audit.record("invitation.import_discarded", actor=actor, event_id=event.id, target=job)
    db.session.commit()


@jobs.handler("invitations")
def _import_chunk(job: Job, start: int, stop: int) -> tuple[list[int], int]:
    rows = job.payload["invitees"][start:stop]
    defaults = _row_defaults(job.payload.get("skip_approval", True))
    new = sql.insert_many(db.session, Invitation, [
        {"event_id": job.event_id, "email": r["email"], "name": r["name"],
         "organisation_name": r["organisation"], "country": r["country"], "role": r["role"],
         "locale": r["locale"], "job_id": job.id, **defaults} for r in rows],
        conflict_columns=("event_id", "email"), returning=("id",))
    ids = sorted(row.id for row in new)
    return _send(job.event, ids, job_id=job.id, reminder=False), len(rows) - len(ids)


# Reminders --------------------------------------------------------------------------------

def remind(event: Event, invitation_ids: list[int] | None, *, actor: User | None) -> Job:
    """Remind those of ``invitation_ids`` (None: everyone) who have not answered, each with
    a new link; a worker sends them. Conflict when nobody is left to remind."""
    query = select(Invitation.id).where(Invitation.event_id == event.id,
                                        Invitation.status == "open")
    if invitation_ids is not None:
        chosen = [int(i) for i in invitation_ids if str(i).isdigit()][:50_000]
        query = query.where(Invitation.id.in_(chosen))
    ids = list(db.session.scalars(query.order_by(Invitation.id)))
    if not ids:
        raise Conflict(_("Nobody to remind: everyone chosen has answered."))
    job = jobs.create(event, "reminders", payload={"ids": ids}, total=len(ids), actor=actor)
    audit.record("invitation.reminders", actor=actor, event_id=event.id, target=job,
                 invitations=len(ids))
    jobs.start(job)
    return job


@jobs.handler("reminders")
def _remind_chunk(job: Job, start: int, stop: int) -> tuple[list[int], int]:
    chosen = job.payload["ids"][start:stop]
    still_open = list(db.session.scalars(select(Invitation.id).where(
        Invitation.id.in_(chosen), Invitation.status == "open")))
    return (_send(job.event, still_open, job_id=job.id, reminder=True),
            len(chosen) - len(still_open))


# Answers ----------------------------------------------------------------------------------

def registration_of(invitation: Invitation) -> Registration | None:
    return db.session.scalar(select(Registration).where(
        Registration.invitation_id == invitation.id,
        Registration.status.not_in(("cancelled", "declined"))))


def mark_accepted(invitation: Invitation) -> None:
    """Accepted (by the answer page or by registering with the link): a speaker is
    confirmed on their sessions of this event. In the caller's transaction."""
    now = utcnow()
    if invitation.status != "accepted":
        invitation.status, invitation.answered_at = "accepted", now
    _confirm_speaker(invitation, now)


def _confirm_speaker(invitation: Invitation, when: datetime | None) -> None:
    """Set (or, with None, clear) the speaker's confirmation on their sessions of the
    invitation's event; nothing for an invitation that names nobody in the programme."""
    if invitation.person_id is None and invitation.role == "speaker":
        # An imported list names no profile: the speaker's profile with the same address.
        invitation.person_id = db.session.scalar(
            select(Person.id).where(func.lower(Person.email) == invitation.email)
            .order_by(Person.id).limit(1))
    if invitation.person_id is None:
        return
    sessions = select(AgendaSession.id).where(AgendaSession.event_id == invitation.event_id)
    db.session.execute(
        update(SessionPerson)
        .where(SessionPerson.person_id == invitation.person_id,
               SessionPerson.session_id.in_(sessions),
               SessionPerson.confirmed_at.is_(None) if when else
               SessionPerson.confirmed_at.is_not(None))
        .values(confirmed_at=when).execution_options(synchronize_session=False))


def answer(token: str, *, accept: bool) -> Invitation:
    """Accept or decline; the same answer twice changes nothing. Declining after
    registering is refused: the registration page is where one cancels."""
    invitation = by_token(token)
    if accept:
        if invitation.status != "accepted":
            mark_accepted(invitation)
            audit.record("invitation.accepted", actor=None, event_id=invitation.event_id,
                         target=invitation)
    else:
        if registration_of(invitation) is not None:
            raise Conflict(_("You are registered for this event. To withdraw, cancel your "
                             "registration from the link in your confirmation email."))
        if invitation.status != "declined":
            invitation.status, invitation.answered_at = "declined", utcnow()
            _confirm_speaker(invitation, None)  # a speaker who accepted, then cannot come
            audit.record("invitation.declined", actor=None, event_id=invitation.event_id,
                         target=invitation)
    db.session.commit()
    return invitation


# What the organiser sees ------------------------------------------------------------------

def state_of(status: str, message_status: str | None) -> str:
    if status == "accepted":
        return "accepted"
    if status == "declined":
        return "declined"
    if status == "revoked":
        return "withdrawn"
    return {"pending": "queued", "sending": "sending", "sent": "no_answer",
            "failed": "failed", "cancelled": "failed"}.get(message_status or "", "queued")


@dataclass(frozen=True)
class InvitationRow:
    id: int
    email: str
    name: str | None
    organisation: str | None
    country: str | None
    role: str
    state: str
    answered_at: datetime | None
    reminders: int
    reminded_at: datetime | None
    error: str | None
    created_at: datetime


def _state_sql():
    return case(
        (Invitation.status == "accepted", "accepted"),
        (Invitation.status == "declined", "declined"),
        (Invitation.status == "revoked", "withdrawn"),
        (OutboxMessage.status == "sending", "sending"),
        (OutboxMessage.status == "sent", "no_answer"),
        (OutboxMessage.status.in_(("failed", "cancelled")), "failed"),
        else_="queued")


def listing(event: Event, state: str | None = None, search: str | None = None,
            limit: int = 1000) -> list[InvitationRow]:
    """The event's invitations with their states, in one query."""
    state_expr = _state_sql()
    query = (select(Invitation.id, Invitation.email, Invitation.name,
                    Invitation.organisation_name, Invitation.country, Invitation.role,
                    state_expr, Invitation.answered_at, Invitation.reminders,
                    Invitation.reminded_at, OutboxMessage.last_error, Invitation.created_at)
             .outerjoin(OutboxMessage, OutboxMessage.id == Invitation.message_id)
             .where(Invitation.event_id == event.id))
    if state in STATES:
        query = query.where(state_expr == state)
    # Controls out: PostgreSQL refuses a NUL in a parameter outright.
    search = " ".join(_CONTROLS.sub("", search or "").split())[:100].lower()
    if search:
        like = sql.contains(search)
        query = query.where(func.lower(Invitation.email).like(like, escape="\\")
                            | func.lower(func.coalesce(Invitation.name, "")).like(like, escape="\\")
                            | func.lower(func.coalesce(Invitation.organisation_name, ""))
                            .like(like, escape="\\"))
    rows = db.session.execute(query.order_by(Invitation.id.desc()).limit(limit)).all()
    return [InvitationRow(*row) for row in rows]


def counts(event: Event) -> dict[str, int]:
    """Invitations by state (every state present, zero or not), and "total"."""
    state_expr = _state_sql()
    found = dict(db.session.execute(
        select(state_expr, func.count())
        .select_from(Invitation)
        .outerjoin(OutboxMessage, OutboxMessage.id == Invitation.message_id)
        .where(Invitation.event_id == event.id).group_by(state_expr)).all())
    result = {state: found.get(state, 0) for state in STATES}
    result["total"] = sum(found.values())
    return result


def imports_of(event: Event) -> list[Job]:
    return jobs.jobs_of(event, "invitations")


@messaging.context_builder("invitation")
def _invitation_mail(session, stored: dict) -> tuple[dict, list[messaging.Attachment]]:
    event = session.get(Event, stored["event_id"])
    return {"event": messaging.mail_event(event), "name": stored.get("name"),
            "role": stored.get("role", "participant"), "url": stored["url"],
            "expires_on": event.end_date}, []


messaging.context_builder("invitation_reminder")(_invitation_mail)

