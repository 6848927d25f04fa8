"""Mailings: an organiser writes one message to an audience; everyone gets their own copy,
with their own placeholders filled in, in their language where the organiser wrote a
version in it.

Why this shape: the placeholders are a closed list checked before anything is sent (a
typo is an error on the page, not a thousand mails saying "{nmae}"), and they are filled
in by hand, never with ``str.format`` (which would let ``{name.__class__}`` reach Python
objects). The recipients are fixed when the organiser sends (their ids in the job), so the
count they confirmed is the count that goes, and a worker that dies resumes the same list.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from eventsys.extensions import db
from eventsys.i18n import available_locales, date_range
from eventsys.models import (
    ACTIVE_STATUSES,
    ATTENDANCE_MODES,
    REGISTRATION_STATUSES,
    AgendaSession,
    Event,
    Invitation,
    Job,
    Mailing,
    Person,
    Registration,
    SessionPerson,
    User,
)
from eventsys.services import attendance, audit, invitations, jobs, messaging, registration
from eventsys.services.errors import ServiceError
from eventsys.services.validation import has_control_chars

PLACEHOLDERS = {
    "name": _l("the recipient's name"),
    "organisation": _l("their organisation"),
    "event": _l("the event's title"),
    "dates": _l("the event's dates"),
    "place": _l("the event's cities"),
    "personal_link": _l("their personal link: the registration page for registrants, "
                        "the answer page for invitees"),
    "joining_link": _l("the link to join online (online participants only)"),
}
AUDIENCE_KINDS = {"registrants": _l("Registrants"), "invitees": _l("Invitees"),
                  "speakers": _l("Speakers and other people in the programme")}
MAX_SUBJECT, MAX_BODY = 200, 20_000
# Registrants by attendance (services/attendance.py's rule): at least one session that
# counts, or none. Chosen together, or neither, they are everyone.
ATTENDANCE_FILTERS = {"attended": _l("Attended"), "not_attended": _l("Did not attend")}


@dataclass
class Audience:
    """Who gets a mailing. Registrants by status, mode and attendance; invitees by answer
    and role; speakers: everyone with an email in the event's sessions."""

    kind: str
    statuses: list[str] = field(default_factory=list)  # registrants
    modes: list[str] = field(default_factory=list)  # registrants
    answers: list[str] = field(default_factory=list)  # invitees: open, accepted, declined
    roles: list[str] = field(default_factory=list)  # invitees
    attendance: list[str] = field(default_factory=list)  # registrants: ATTENDANCE_FILTERS

    def as_json(self) -> dict:
        return {"kind": self.kind, "statuses": self.statuses, "modes": self.modes,
                "answers": self.answers, "roles": self.roles, "attendance": self.attendance}

    @classmethod
    def from_json(cls, data: dict) -> Audience:
        return cls(**{k: data.get(k, [] if k != "kind" else "") for k in (
            "kind", "statuses", "modes", "answers", "roles", "attendance")})

    def known(self) -> bool:
        """Whether every choice is one of the lists (a form can send anything)."""
        return self.kind in AUDIENCE_KINDS \
            and set(self.statuses) <= set(REGISTRATION_STATUSES) \
            and set(self.modes) <= set(ATTENDANCE_MODES) \
            and set(self.answers) <= {"open", "accepted", "declined"} \
            and set(self.roles) <= set(invitations.ROLES) \
            and set(self.attendance) <= set(ATTENDANCE_FILTERS)

    def placeholders(self) -> set[str]:
        """The placeholders that mean something for everyone in this audience."""
        available = {"name", "organisation", "event", "dates", "place"}
        if self.kind in ("registrants", "invitees"):
            available.add("personal_link")
        # Only confirmed online participants: no statuses chosen means every active one,
        # and the pending and the waiting are not to be let in.
        if self.kind == "registrants" and self.modes == ["online"] \
                and self.statuses == ["confirmed"]:
            available.add("joining_link")
        return available


@dataclass
class Draft:
    audience: Audience
    subject: str
    body: str
    versions: dict[str, dict[str, str]] = field(default_factory=dict)  # locale -> texts


@dataclass(frozen=True)
class Recipient:
    kind: str  # "registration", "invitation" or "person"
    id: int
    email: str
    name: str | None
    organisation: str | None
    locale: str | None
    mode: str | None = None


# Checking ---------------------------------------------------------------------------------

# Doubled braces, a braced field (whatever is inside), or a brace on its own. Checking and
# filling read a text with this one pattern, so what the check let through is what is filled.
_BRACES = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_NAME = re.compile(r"[a-z_]{1,30}")


def _fields(text: str) -> list[str]:
    """The placeholders in ``text``; ServiceError for braces that are not one (``str.format``
    syntax such as ``{0}``, ``{name!r}``, ``{name:}`` or ``{name.attr}`` included)."""
    found = []
    for match in _BRACES.finditer(text):
        token, name = match.group(0), match.group(1)
        if token in ("{{", "}}"):
            continue
        if name is None:
            raise ServiceError(_("A brace is not closed: placeholders look like {name}; write "
                                 "{{ and }} for braces themselves."))
        if not _NAME.fullmatch(name):
            raise ServiceError(_("“{%(field)s}” is not a placeholder. Placeholders look "
                                 "like {name}; write {{ and }} for braces themselves.",
                                 field=name[:40]))
        found.append(name)
    return found


def check(event: Event, draft: Draft) -> list[str]:
    """What is wrong with a draft, in words for the organiser; empty when it can go."""
    problems: list[str] = []
    audience = draft.audience
    if audience.kind not in AUDIENCE_KINDS:
        return [_("Choose who gets the message.")]
    if not audience.known():
        problems.append(_("Choose the audience from the lists."))
    texts = [(None, draft.subject, draft.body)] + [
        (locale, v.get("subject", ""), v.get("body", "")) for locale, v in draft.versions.items()]
    allowed = audience.placeholders()
    for locale, subject, body in texts:
        where = f" ({locale})" if locale else ""
        if locale is not None and locale not in available_locales():
            problems.append(_("There is no language %(code)s.", code=str(locale)[:10]))
            continue
        if not subject.strip() or not body.strip():
            problems.append(_("Write a subject and a message%(where)s.", where=where))
            continue
        if len(subject) > MAX_SUBJECT or len(body) > MAX_BODY:
            problems.append(_("The subject or the message is too long%(where)s.", where=where))
        if "\n" in subject or "\r" in subject or has_control_chars(subject) \
                or has_control_chars(body):
            problems.append(_("The subject must be one line, and the text may not contain "
                              "control characters%(where)s.", where=where))
            continue
        try:
            names = _fields(subject) + _fields(body)
        except ServiceError as exc:
            problems.append(exc.message + where)
            continue
        for name in dict.fromkeys(names):
            if name not in PLACEHOLDERS:
                problems.append(_("{%(name)s} is not a placeholder%(where)s. Known ones: "
                                  "%(known)s.", name=name, where=where,
                                  known=", ".join(f"{{{p}}}" for p in PLACEHOLDERS)))
            elif name not in allowed:
                problems.append(_("{%(name)s} cannot be filled in for this audience%(where)s.",
                                  name=name, where=where) + (
                    " " + _("The joining link is for confirmed online participants: choose "
                            "only those.") if name == "joining_link" else ""))
            elif name == "joining_link" and not event.online_url:
                problems.append(_("The event has no joining link yet: add it to the event "
                                  "before sending it."))
    return problems


def fill(text: str, values: dict[str, str]) -> str:
    """``text`` with its placeholders replaced; ``{{``/``}}`` become braces. Plain string
    replacement, never ``str.format``; for a text that is not checked (a preview while the
    organiser types) it does not raise, and leaves what is not a placeholder as it is."""

    def replace(match: re.Match) -> str:
        token, name = match.group(0), match.group(1)
        if token in ("{{", "}}"):
            return token[0]
        if name is not None and _NAME.fullmatch(name):
            return values.get(name, "")
        return token

    return _BRACES.sub(replace, text)


# Recipients -------------------------------------------------------------------------------

def _registrants(event: Event, audience: Audience):
    statuses = audience.statuses or list(ACTIVE_STATUSES)
    query = select(Registration.id, Registration.email, Registration.name,
                   Registration.organisation_name, Registration.locale, Registration.mode
                   ).where(Registration.event_id == event.id,
                           Registration.status.in_(statuses))
    if audience.modes:
        query = query.where(Registration.mode.in_(audience.modes))
    if len(set(audience.attendance)) == 1:
        attended = [p.registration_id for p in attendance.rates(event) if p.attended]
        chosen = Registration.id.in_(attended)
        query = query.where(chosen if "attended" in audience.attendance else ~chosen)
    return query.order_by(Registration.id)


def _invitees(event: Event, audience: Audience):
    query = select(Invitation.id, Invitation.email, Invitation.name,
                   Invitation.organisation_name, Invitation.locale
                   ).where(Invitation.event_id == event.id, Invitation.status != "revoked")
    if audience.answers:
        query = query.where(Invitation.status.in_(audience.answers))
    if audience.roles:
        query = query.where(Invitation.role.in_(audience.roles))
    return query.order_by(Invitation.id)


def _speakers(event: Event):
    in_event = select(SessionPerson.person_id).join(
        AgendaSession, AgendaSession.id == SessionPerson.session_id).where(
        AgendaSession.event_id == event.id)
    return select(Person.id, Person.email, Person.name, Person.organisation_name).where(
        Person.id.in_(in_event), Person.email.is_not(None)).order_by(Person.id)


def recipients(event: Event, audience: Audience, ids: list[int] | None = None
               ) -> list[Recipient]:
    """The audience now (or those of ``ids`` still in it), in a stable order; nobody for
    an audience not made of the lists' choices (which the database need not even accept:
    PostgreSQL refuses a NUL)."""
    if not audience.known():
        return []
    if audience.kind == "registrants":
        query = _registrants(event, audience)
        if ids is not None:
            query = query.where(Registration.id.in_(ids))
        return [Recipient("registration", *row) for row in db.session.execute(query)]
    if audience.kind == "invitees":
        query = _invitees(event, audience)
        if ids is not None:
            query = query.where(Invitation.id.in_(ids))
        return [Recipient("invitation", *row) for row in db.session.execute(query)]
    query = _speakers(event)
    if ids is not None:
        query = query.where(Person.id.in_(ids))
    return [Recipient("person", *row, None) for row in db.session.execute(query)]


def count(event: Event, audience: Audience) -> int:
    """How many ``recipients`` there are, counted by the database (the live count beside
    the audience choice asks on every change)."""
    if not audience.known():
        return 0
    if audience.kind == "registrants":
        query = _registrants(event, audience)
    elif audience.kind == "invitees":
        query = _invitees(event, audience)
    else:
        query = _speakers(event)
    return db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))


def _values(event: Event, recipient: Recipient, personal_link: str | None) -> dict[str, str]:
    return {
        "name": recipient.name or "",
        "organisation": recipient.organisation or "",
        "event": event.title,
        "dates": date_range(event.start_date, event.end_date),
        "place": ", ".join(event.cities),
        "personal_link": personal_link or "",
        "joining_link": attendance.join_url(recipient.id)
        if recipient.kind == "registration" and recipient.mode == "online" else "",
    }


def _texts(mailing: Mailing | Draft, locale: str | None) -> tuple[str, str]:
    version = (mailing.versions or {}).get(locale) if locale else None
    if version:
        return version["subject"], version["body"]
    return mailing.subject, mailing.body


# Preview, test, send ----------------------------------------------------------------------

@dataclass(frozen=True)
class Preview:
    recipient: Recipient | None
    subject: str  # filled in, before the mail's frame is put around the body
    body: str
    body_text: str  # the whole mail, as sent
    body_html: str


def preview(event: Event, draft: Draft, index: int = 0) -> Preview:
    """The message as the ``index``-th recipient would get it (with a sample link: the
    preview mints no real one)."""
    found = recipients(event, draft.audience)
    recipient = found[min(max(index, 0), len(found) - 1)] if found else None
    sample = recipient or Recipient("person", 0, "someone@example.org", _("Participant"),
                                    _("Organisation"), None, "online")
    link = messaging.external_url("public.event", slug=event.slug) + "…"
    subject, body = _texts(draft, sample.locale)
    values = _values(event, sample, link)
    subject, body = messaging.one_line(fill(subject, values), 300), fill(body, values)
    context = {"subject": subject, "body": body, "event": messaging.mail_event(event)}
    env = current_app.jinja_env
    return Preview(recipient, subject, body,
                   env.get_template("mail/mailing.txt").render(**context),
                   env.get_template("mail/mailing.html").render(**context))


def send_test(event: Event, draft: Draft, *, actor: User) -> None:
    """The message as the first recipient would get it, to the organiser themselves."""
    problems = check(event, draft)
    if problems:
        raise ServiceError(problems[0])
    shown = preview(event, draft)
    messaging.queue_mail(
        kind="mailing_test", dedupe_key=f"mailing-test:{secrets.token_hex(8)}",
        to_email=actor.email, to_name=actor.name, template="mailing",
        context={"event_id": event.id, "subject": "[TEST] " + shown.subject,
                 "body": shown.body}, event_id=event.id)
    audit.record("mailing.test", actor=actor, event_id=event.id)
    db.session.commit()


def send(event: Event, draft: Draft, *, actor: User | None) -> Mailing:
    """Store the mailing and its recipients and hand it to a worker; ServiceError with the
    first problem when the draft cannot go, or when nobody is in the audience."""
    problems = check(event, draft)
    if problems:
        raise ServiceError(problems[0])
    ids = [r.id for r in recipients(event, draft.audience)]
    if not ids:
        raise ServiceError(_("Nobody is in this audience."))
    mailing = Mailing(event_id=event.id, audience=draft.audience.as_json(),
                      subject=draft.subject.strip(), body=draft.body,
                      versions=draft.versions or None,
                      created_by_id=actor.id if actor else None)
    db.session.add(mailing)
    db.session.flush()
    job = jobs.create(event, "mailing", payload={"mailing_id": mailing.id, "ids": ids},
                      total=len(ids), actor=actor)
    mailing.job_id = job.id
    audit.record("mailing.sent", actor=actor, event_id=event.id, target=mailing,
                 recipients=len(ids), audience=draft.audience.kind)
    jobs.start(job)
    return mailing


@jobs.handler("mailing")
def _mailing_chunk(job: Job, start: int, stop: int) -> tuple[list[int], int]:
    mailing = db.session.get(Mailing, job.payload["mailing_id"])
    event = job.event
    chosen = job.payload["ids"][start:stop]
    audience = Audience.from_json(mailing.audience)
    # Those still in the audience (a registration cancelled since is left out).
    found = recipients(event, audience, chosen)
    links: dict[int, str] = {}
    needs_link = any("personal_link" in _fields(text) for text in _all_texts(mailing))
    if needs_link and audience.kind == "registrants":
        minted = registration.mint_tokens([r.id for r in found])  # one INSERT, not one each
        links = {i: messaging.external_url("registration.page", token=t)
                 for i, t in minted.items()}
    elif needs_link and audience.kind == "invitees":
        tokens = invitations._mint([r.id for r in found])
        links = {i: invitations.answer_url(t) for i, t in tokens.items()}
    queued = messaging.queue_many([
        messaging.Outgoing(
            dedupe_key=f"mailing:{mailing.id}:{r.kind}:{r.id}", to_email=r.email,
            to_name=r.name, locale=r.locale,
            context={"mailing_id": mailing.id, "locale": r.locale,
                     "values": _values(event, r, links.get(r.id)),
                     "link": links.get(r.id)})
        for r in found], kind="mailing", template="mailing", event_id=event.id,
        job_id=job.id, secrets_in_context=("link",))
    return sorted(queued.values()), len(chosen) - len(found)


def _all_texts(mailing: Mailing) -> list[str]:
    texts = [mailing.subject, mailing.body]
    for version in (mailing.versions or {}).values():
        texts += [version["subject"], version["body"]]
    return texts


@messaging.context_builder("mailing")
def _mailing_mail(session, stored: dict) -> tuple[dict, list[messaging.Attachment]]:
    event = session.get(Event, stored["event_id"]) if "event_id" in stored else None
    if "mailing_id" not in stored:  # a test send: the texts are in the message itself
        return {"subject": stored["subject"], "body": stored["body"],
                "event": messaging.mail_event(event) if event else None}, []
    mailing = session.get(Mailing, stored["mailing_id"])
    event = session.get(Event, mailing.event_id)
    subject, body = _texts(mailing, stored.get("locale"))
    values = stored["values"]
    return {"subject": fill(subject, values), "body": fill(body, values),
            "event": messaging.mail_event(event)}, []


def mailings_of(event: Event) -> list[Mailing]:
    return list(db.session.scalars(select(Mailing).where(Mailing.event_id == event.id)
                                   .options(selectinload(Mailing.job))
                                   .order_by(Mailing.id.desc()).limit(100)))
