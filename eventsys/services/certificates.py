"""Certificates: who is eligible for each kind and why not, issuing them in bulk, and
revoking or re-issuing one.

Eligibility is a rule per event and kind, kept on the kind's template (``rule``): a
confirmed registration, an attendance rate of at least P %, certain sessions attended, having
spoken in a session (a registration whose address is a programme person's); organiser
certificates go to the event's managers. The organiser may include or exclude anyone over
the rule, with a note (``CertificateOverride``). ``eligibility`` answers for everyone at
once in a constant number of queries.

Issuing is a job (``services/jobs.py``): the request stores the list of holders and
returns; workers render them in batches (``certificate_render.render_batch`` lays out a
batch as one WeasyPrint document and splits it into one PDF per holder), write each file,
and in one transaction per batch insert the certificates with their SHA-256 and queue their
mail. Several workers share one job: each claims the next batch under a lease kept in the
job's payload (``work``), so two processes render at once; a worker that dies leaves its
batch to be taken over once the lease runs out. ``done`` stays the watermark below which
every holder is dealt with, so the jobs sweep can also finish a job whose workers are all
gone (``_issue_chunk``, one batch after another).

Never two valid certificates: the table's partial unique indexes allow one valid
certificate per holder, event and kind, and the insert skips a holder who has one
(``ON CONFLICT DO NOTHING``), so a batch done twice (a worker killed after rendering, a
task delivered twice) issues nobody twice. Never a record without its file: each PDF is
written (atomically) before the transaction that records it commits; a worker killed in
between leaves a file that no record names (its name is a code never stored), which
``sweep_orphans`` removes.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_interval, parse_pattern
from flask import current_app
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from eventsys import tasks
from eventsys.extensions import db
from eventsys.models import (
    AgendaSession,
    Attendance,
    Certificate,
    CertificateOverride,
    CertificateTemplate,
    Event,
    EventRole,
    Job,
    Person,
    Registration,
    SessionPerson,
    User,
    utcnow,
)
from eventsys.models.certificate import CERTIFICATE_KINDS
from eventsys.services import (
    attendance,
    audit,
    certificate_mail,
    certificate_render,
    jobs,
    media,
    messaging,
)
from eventsys.services.attendance import ParticipantRate
from eventsys.services.certificate_render import CertificateData
from eventsys.services.errors import Conflict, NotFound, ServiceError
from eventsys.services.tickets import ALPHABET
from eventsys.services.validation import clean_text

log = logging.getLogger(__name__)

FILES = "certificates"  # under FILES_DIR
KIND_LABELS = {
    "completion": _l("Completion"),
    "participation": _l("Participation"),
    "speaker": _l("Presentation (speakers)"),
    "organiser": _l("Appreciation (organisers)"),
}
NOTE_LIMIT = 300
# A batch is what one WeasyPrint document lays out: large enough that the per-document
# costs (stylesheets, fonts) are shared, small enough that a worker killed mid-batch loses
# little (some 3 s of work) and that memory stays low (bench/certificates.py: 100 did
# better than 25 or 50, and 250 no better). The sweep takes a job's batches as its chunks,
# so the two start at the same places. (CERTIFICATE_BATCH sets it.)
DEFAULT_BATCH = 100
MAX_BATCH = 250
TASK = "eventsys.issue_certificates"


# Verification codes -----------------------------------------------------------------------

CODE_GROUPS = 5
CODE_GROUP_SIZE = 4
CODE_LENGTH = CODE_GROUPS * CODE_GROUP_SIZE  # 20 of 30 symbols: 98 bits


def new_code() -> str:
    """A verification code: 20 characters from the ticket alphabet (no 0/O, 1/I/L, U), about
    98 random bits, in groups of four: "ABCD-EFGH-JKMN-PQRS-TVWX". Far too many to guess, and
    a person reading one from paper cannot confuse two of its characters."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i:i + CODE_GROUP_SIZE] for i in range(0, CODE_LENGTH, CODE_GROUP_SIZE))


def normalise_code(text: str) -> str:
    """What a person typed (any case, spaces or dashes anywhere) as a stored code, or ""
    when it cannot be one."""
    cleaned = "".join(ch for ch in (text or "")[:100].upper() if ch.isascii() and ch.isalnum())
    if len(cleaned) != CODE_LENGTH or any(ch not in ALPHABET for ch in cleaned):
        return ""
    return "-".join(cleaned[i:i + CODE_GROUP_SIZE]
                    for i in range(0, CODE_LENGTH, CODE_GROUP_SIZE))


# Rules ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    """Who gets a certificate of one kind: all conditions set must hold. Organiser
    certificates are for the event's managers, with these conditions on top."""

    # Speakers: only those with a confirmed registration, not every person of the programme.
    # (The other kinds are for participants, always confirmed ones.)
    confirmed: bool = True
    min_rate: int | None = None  # attendance rate, per cent
    sessions: tuple[int, ...] = ()  # each of these sessions attended
    spoke: bool = False  # in a session of the programme (speaker, moderator, panellist...)

    @classmethod
    def of(cls, template: CertificateTemplate) -> Rule:
        stored = template.rule
        if stored is None:
            stored = certificate_render.default_rule(template.kind)
        rate = stored.get("min_rate")
        return cls(confirmed=bool(stored.get("confirmed", template.kind != "speaker")),
                   min_rate=int(rate) if rate else None,
                   sessions=tuple(int(s) for s in stored.get("sessions") or ()),
                   spoke=bool(stored.get("spoke", False)))

    def as_json(self) -> dict:
        return {"confirmed": self.confirmed, "min_rate": self.min_rate,
                "sessions": list(self.sessions), "spoke": self.spoke}


def update_rule(event: Event, kind: str, rule: Rule, *, enabled: bool = True,
                actor: User | None) -> CertificateTemplate:
    """Save who gets ``kind`` (and whether the event gives it at all); the template is
    stored with its defaults if it was not yet."""
    if rule.min_rate is not None and not 1 <= rule.min_rate <= 100:
        raise ServiceError(_("The attendance rate must be between 1 and 100 %."))
    if rule.sessions:
        known = set(db.session.scalars(select(AgendaSession.id).where(
            AgendaSession.event_id == event.id, AgendaSession.id.in_(rule.sessions))))
        if known != set(rule.sessions):
            raise ServiceError(_("Some of the chosen sessions are not in this event's "
                                 "programme."))
    template = template_of(event, kind)
    if template.id is None:
        db.session.add(template)
    template.rule = Rule(rule.confirmed, rule.min_rate, tuple(sorted(set(rule.sessions))),
                         rule.spoke).as_json()
    template.enabled = enabled
    template.updated_by_id = actor.id if actor else None
    audit.record("certificates.rule", actor=actor, event_id=event.id, kind=kind,
                 enabled=enabled, rule=template.rule)
    db.session.commit()
    return template


def template_of(event: Event, kind: str) -> CertificateTemplate:
    if kind not in CERTIFICATE_KINDS:
        raise NotFound(_("There is no such kind of certificate."))
    return certificate_render.template_for(event, kind)


def describe(rule: Rule, kind: str, sessions: dict[int, str] | None = None) -> str:
    """The rule in one sentence for the organiser."""
    parts = []
    if kind == "organiser":
        parts.append(_("an organiser (manager) of the event"))
    if rule.confirmed:
        parts.append(_("a confirmed registration"))
    if rule.min_rate:
        parts.append(_("an attendance rate of at least %(p)d %%", p=rule.min_rate))
    if rule.sessions:
        titles = [(sessions or {}).get(s, f"#{s}") for s in rule.sessions]
        parts.append(_("attended %(titles)s", titles=", ".join(titles)))
    if rule.spoke:
        parts.append(_("spoke in a session of the programme"))
    if not parts:
        return _("Everyone in the list below.")
    return _("Eligible: %(conditions)s.", conditions="; ".join(parts))


# Eligibility ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Override:
    include: bool
    note: str | None
    by: str | None
    at: datetime


@dataclass(frozen=True)
class Issued:
    """A holder's valid certificate of the kind, as issued."""

    id: int
    code: str
    version: int
    issued_at: datetime
    holder_name: str
    holder_name_native: str | None
    organisation: str | None
    country: str | None


@dataclass
class Candidate:
    """One possible holder: a confirmed participant, or a person of the programme who did
    not register (speaker certificates)."""

    registration_id: int | None
    person_id: int | None
    name: str
    name_native: str | None
    organisation: str | None
    country: str | None
    email: str | None
    locale: str | None = None
    rate: ParticipantRate | None = None
    spoke_in: tuple[str, ...] = ()  # titles of the sessions they spoke in
    manager: bool = False
    by_rule: bool = False
    reasons: list[str] = field(default_factory=list)  # why the rule does not hold
    override: Override | None = None
    certificate: Issued | None = None

    @property
    def key(self) -> str:
        return f"r{self.registration_id}" if self.registration_id else f"p{self.person_id}"

    @property
    def eligible(self) -> bool:
        return self.override.include if self.override is not None else self.by_rule

    @property
    def to_issue(self) -> bool:
        return self.eligible and self.certificate is None

    @property
    def changed(self) -> bool:
        """Whether what would be printed on them now differs from their certificate."""
        c = self.certificate
        return c is not None and (c.holder_name, c.holder_name_native, c.organisation,
                                  c.country) != (self.name, self.name_native,
                                                 self.organisation, self.country)


@dataclass
class Eligibility:
    event: Event
    kind: str
    template: CertificateTemplate
    rule: Rule
    candidates: list[Candidate]
    sessions: dict[int, str]  # every session of the programme: id -> title
    counting_sessions: int  # how many count for attendance
    by_day: bool  # rates are shares of the event's days
    managers_unregistered: list[str]  # managers with no confirmed registration (organiser)

    @property
    def eligible(self) -> list[Candidate]:
        return [c for c in self.candidates if c.eligible]

    @property
    def to_issue(self) -> list[Candidate]:
        return [c for c in self.candidates if c.to_issue]

    @property
    def issued(self) -> list[Candidate]:
        return [c for c in self.candidates if c.certificate is not None]

    def describe(self) -> str:
        return describe(self.rule, self.kind, self.sessions)


def _attended_text(rate: ParticipantRate, by_day: bool, counting: int) -> str:
    if by_day:
        return ngettext("%(attended)d of %(num)d day", "%(attended)d of %(num)d days",
                        rate.total, attended=rate.attended)
    if not counting:
        return ""
    return ngettext("%(attended)d of %(num)d session", "%(attended)d of %(num)d sessions",
                    rate.total, attended=rate.attended)


def rate_summary(rate: ParticipantRate | None, by_day: bool, counting: int) -> str:
    """"attended 8 of 12 sessions (66 %)"."""
    if rate is None:
        return ""
    if not by_day and not counting:
        return _("was there") if rate.attended else _("was not there")
    return _("attended %(what)s (%(p)d %%)", what=_attended_text(rate, by_day, counting),
             p=rate.percent)


def eligibility(event: Event, kind: str, *, template: CertificateTemplate | None = None,
                holders: Iterable[tuple[int | None, int | None]] | None = None) -> Eligibility:
    """Everyone who could hold a certificate of ``kind``, whether the rule holds for them
    and if not why, the organiser's word over it, and their valid certificate if any. A
    fixed number of queries whatever the numbers; ``holders`` ((registration id, person
    id) pairs) narrows it to some (a batch being issued)."""
    template = template if template is not None else template_of(event, kind)
    rule = Rule.of(template)
    registration_ids = person_ids = None
    if holders is not None:
        pairs = list(holders)
        registration_ids = sorted({r for r, _p in pairs if r})
        person_ids = sorted({p for r, p in pairs if p and not r})

    sessions = list(db.session.scalars(select(AgendaSession).where(
        AgendaSession.event_id == event.id).order_by(
        AgendaSession.starts_at, AgendaSession.position, AgendaSession.id)))
    titles = {s.id: s.title for s in sessions}
    counting = sum(1 for s in sessions if s.counts_for_attendance)
    rules = attendance.Rules.of(event)
    by_day = rules.unit == "day"

    rates = {r.registration_id: r for r in attendance.rates(event, registration_ids)}
    r = Registration.__table__.c
    query = select(r.id, r.email, r.name_native, r.locale, r.user_id).where(
        r.event_id == event.id, r.status == "confirmed")
    if registration_ids is not None:
        query = query.where(r.id.in_(registration_ids))
    details = {row.id: row for row in db.session.execute(query)}

    candidates: dict[str, Candidate] = {}
    for rid, rate in rates.items():
        row = details.get(rid)
        if row is None:
            continue
        candidate = Candidate(rid, None, rate.name, row.name_native, rate.organisation,
                              rate.country, row.email, row.locale, rate=rate)
        candidates[candidate.key] = candidate
    by_email = {c.email.lower(): c for c in candidates.values() if c.email}

    # The programme: who spoke where (matched to participants by address).
    registered_person: dict[int, Candidate] = {}  # person id -> their registration
    needs_programme = rule.spoke or kind == "speaker"
    if needs_programme:
        spoke: dict[int, list[str]] = defaultdict(list)
        people: dict[int, tuple] = {}
        for row in db.session.execute(
                select(SessionPerson.person_id, SessionPerson.session_id, Person.name,
                       Person.name_native, Person.organisation_name, Person.country,
                       Person.email)
                .join(Person, Person.id == SessionPerson.person_id)
                .join(AgendaSession, AgendaSession.id == SessionPerson.session_id)
                .where(AgendaSession.event_id == event.id)
                .order_by(AgendaSession.starts_at, AgendaSession.position, SessionPerson.id)):
            title = titles.get(row.session_id, "")
            if title not in spoke[row.person_id]:
                spoke[row.person_id].append(title)
            people[row.person_id] = row
        for person_id, row in sorted(people.items(), key=lambda item: item[1].name.lower()):
            participant = by_email.get((row.email or "").lower()) if row.email else None
            if participant is not None:
                registered_person[person_id] = participant
                participant.spoke_in = (*participant.spoke_in,
                                        *(t for t in spoke[person_id]
                                          if t not in participant.spoke_in))
            elif kind == "speaker" and (person_ids is None or person_id in person_ids):
                candidate = Candidate(None, person_id, row.name, row.name_native,
                                      row.organisation_name, row.country, row.email,
                                      spoke_in=tuple(spoke[person_id]))
                candidates[candidate.key] = candidate

    managers_unregistered: list[str] = []
    if kind == "organiser":
        for user_id, email, name in db.session.execute(
                select(User.id, User.email, User.name).join(
                    EventRole, EventRole.user_id == User.id)
                .where(EventRole.event_id == event.id, EventRole.role == "manager")
                .order_by(User.name)):
            found = [c for c in candidates.values()
                     if c.registration_id and (details[c.registration_id].user_id == user_id
                                               or (c.email or "").lower() == email.lower())]
            for candidate in found:
                candidate.manager = True
            if not found and holders is None:
                managers_unregistered.append(name)

    # Sessions the rule requires: attended by the event's rule for each presence.
    attended_required: dict[int, set[int]] = defaultdict(set)
    if rule.sessions:
        by_id = {s.id: s for s in sessions}
        a = Attendance.__table__.c
        presence = select(a.registration_id, a.session_id, a.mode, a.left_at, a.minutes).where(
            a.event_id == event.id, a.session_id.in_(rule.sessions))
        if registration_ids is not None:
            presence = presence.where(a.registration_id.in_(registration_ids))
        for row in db.session.execute(presence):
            session = by_id.get(row.session_id)
            if session is not None and attendance.counts(
                    rules, session, mode=row.mode, left_at=row.left_at, minutes=row.minutes):
                attended_required[row.registration_id].add(row.session_id)

    overrides: dict[int, Override] = {}
    for item, by in db.session.execute(
            select(CertificateOverride, User.name)
            .outerjoin(User, User.id == CertificateOverride.by_user_id)
            .where(CertificateOverride.event_id == event.id,
                   CertificateOverride.kind == kind)):
        overrides[item.registration_id] = Override(item.include, item.note, by,
                                                   item.created_at)

    issued = db.session.execute(
        select(Certificate.id, Certificate.registration_id, Certificate.person_id,
               Certificate.code, Certificate.version, Certificate.issued_at,
               Certificate.holder_name, Certificate.holder_name_native,
               Certificate.organisation, Certificate.country)
        .where(Certificate.event_id == event.id, Certificate.kind == kind,
               Certificate.status == "valid")).all()
    for row in issued:
        key = f"r{row.registration_id}" if row.registration_id else f"p{row.person_id}"
        # A speaker who was given theirs as a person of the programme and registered since
        # holds it still: not a second one for the registration.
        holder = candidates.get(key) or registered_person.get(row.person_id or 0)
        if holder is not None and holder.certificate is None:
            holder.certificate = Issued(
                row.id, row.code, row.version, row.issued_at, row.holder_name,
                row.holder_name_native, row.organisation, row.country)

    for candidate in candidates.values():
        _judge(candidate, rule, kind, by_day, counting, titles, attended_required)
        if candidate.registration_id in overrides:
            candidate.override = overrides[candidate.registration_id]
    return Eligibility(event, kind, template, rule, list(candidates.values()), titles,
                       counting, by_day, managers_unregistered)


def _judge(candidate: Candidate, rule: Rule, kind: str, by_day: bool, counting: int,
           titles: dict[int, str], attended_required: dict[int, set[int]]) -> None:
    reasons = candidate.reasons
    registered = candidate.registration_id is not None
    if kind == "organiser" and not candidate.manager:
        reasons.append(_("not an organiser (manager) of this event"))
    if rule.confirmed and not registered:
        reasons.append(_("has no confirmed registration"))
    if rule.min_rate:
        rate = candidate.rate
        if rate is None:
            reasons.append(_("no attendance (not registered), needs %(p)d %%", p=rule.min_rate))
        elif rate.percent < rule.min_rate:
            reasons.append(_("%(summary)s, needs %(p)d %%",
                             summary=rate_summary(rate, by_day, counting), p=rule.min_rate))
    if rule.sessions:
        seen = attended_required.get(candidate.registration_id or 0, set())
        missed = [titles.get(s, f"#{s}") for s in rule.sessions if s not in seen]
        if missed:
            reasons.append(_("did not attend %(titles)s", titles=", ".join(missed)))
    if (rule.spoke or kind == "speaker") and not candidate.spoke_in:
        reasons.append(_("did not speak in any session (matched by email address)"))
    candidate.by_rule = not reasons


# Overrides --------------------------------------------------------------------------------

def set_override(event: Event, kind: str, registration_id: int, include: bool | None,
                 note: str | None, *, actor: User | None) -> None:
    """The organiser's word on one participant over the rule: include (True), exclude
    (False), or back to the rule (None); with a note saying why."""
    if kind not in CERTIFICATE_KINDS:
        raise NotFound(_("There is no such kind of certificate."))
    note = clean_text(note, NOTE_LIMIT)
    registration = db.session.get(Registration, registration_id)
    if registration is None or registration.event_id != event.id \
            or registration.status != "confirmed":
        raise ServiceError(_("Only confirmed participants of this event can be included "
                             "or excluded."))
    existing = db.session.scalar(select(CertificateOverride).where(
        CertificateOverride.event_id == event.id, CertificateOverride.kind == kind,
        CertificateOverride.registration_id == registration_id))
    if include is None:
        if existing is not None:
            db.session.delete(existing)
    elif existing is None:
        db.session.add(CertificateOverride(
            event_id=event.id, kind=kind, registration_id=registration_id, include=include,
            note=note, by_user_id=actor.id if actor else None, created_at=utcnow()))
    else:
        existing.include, existing.note = include, note
        existing.by_user_id, existing.created_at = (actor.id if actor else None), utcnow()
    audit.record("certificates.override", actor=actor, event_id=event.id,
                 target_ref=("Registration", registration_id), kind=kind,
                 include=include, note=note)
    db.session.commit()


# What is printed --------------------------------------------------------------------------

_ABBREVIATED_MONTH = re.compile(r"(?<![ML])([ML])\1\1(?![ML])")


def event_dates(event: Event) -> str:
    """"7 December 2021", "12–23 August 2019", "28 July – 3 August 2019": the locale's
    interval with the month in full. CLDR gives intervals with abbreviated months and says
    to widen them for a skeleton asking for more; Babel does not, so it is done here."""
    locale = Locale.parse(certificate_render.print_locale())
    start, end = event.start_date, event.end_date
    if start == end:
        return format_date(start, "long", locale=locale)
    formats = locale.interval_formats.get("yMMMd")
    greatest = "y" if start.year != end.year else "M" if start.month != end.month else "d"
    if not formats or greatest not in formats:
        return format_interval(start, end, skeleton="yMMMMd", locale=locale)
    return "".join(
        parse_pattern(_ABBREVIATED_MONTH.sub(r"\1\1\1\1", pattern)).apply(
            datetime.combine(day, datetime.min.time()), locale)
        for pattern, day in zip(formats[greatest], (start, end), strict=True))


def issue_day(event: Event, moment: datetime | None = None) -> date:
    return attendance.local_day(event, moment or utcnow())


def printed(found: Eligibility, candidate: Candidate, *, code: str,
            issue_date: date) -> CertificateData:
    """What a certificate of ``found.kind`` prints for ``candidate``: in the certificates'
    language, whoever asks (a worker, or an organiser re-issuing in their own language),
    so that a re-issue reads like the rest of the batch."""
    with force_locale(certificate_render.print_locale()):
        return _printed(found, candidate, code=code, issue_date=issue_date)


def _printed(found: Eligibility, candidate: Candidate, *, code: str,
             issue_date: date) -> CertificateData:
    """``printed``, in the locale already chosen. (Each ``force_locale`` makes the next
    translation load its catalogue again: once per batch, not once per holder.)"""
    event, kind = found.event, found.kind
    attended = ""
    if kind in ("completion", "participation") and candidate.rate is not None:
        attended = _attended_text(candidate.rate, found.by_day, found.counting_sessions)
    return CertificateData(
        code=code, verify_url=messaging.external_url("verify.certificate", code=code),
        holder_name=candidate.name, holder_name_native=candidate.name_native,
        organisation=candidate.organisation, country=candidate.country, kind=kind,
        event_title=event.title, dates=event_dates(event), cities=", ".join(event.cities),
        attended=attended,
        issue_date=format_date(issue_date, "long", locale=certificate_render.print_locale()),
        sessions=candidate.spoke_in if kind == "speaker" else ())


def glyph_warnings(found: Eligibility) -> list[tuple[str, str]]:
    """Names of those about to get a certificate that the fonts cannot draw in full:
    (name, the characters that would print as boxes)."""
    items = [CertificateData(code="", verify_url="", holder_name=c.name,
                             holder_name_native=c.name_native, organisation=c.organisation,
                             country=c.country, kind=found.kind, event_title="", dates="",
                             cities="", attended="", issue_date="")
             for c in found.candidates if c.eligible]
    return certificate_render.missing_glyph_names(items)


# Issuing ----------------------------------------------------------------------------------

def running_job(event: Event, kind: str) -> Job | None:
    """The job issuing ``kind`` now, if there is one."""
    for job in db.session.scalars(select(Job).where(
            Job.event_id == event.id, Job.kind == "certificates",
            Job.status.in_(("queued", "running"))).order_by(Job.id)):
        if (job.payload or {}).get("kind") == kind:
            return job
    return None


def _batch_size() -> int:
    size = int(current_app.config.get("CERTIFICATE_BATCH", DEFAULT_BATCH))
    return size if 1 <= size <= MAX_BATCH and jobs.CHUNK % size == 0 else DEFAULT_BATCH


def issue(event: Event, kind: str, *, actor: User | None) -> Job:
    """Issue ``kind`` to everyone eligible who has no valid certificate of it yet: a job
    that workers do (``work``); the organiser follows its progress. A second click while it
    runs returns the same job. ServiceError when there is nobody to issue to."""
    template = template_of(event, kind)
    if not template.enabled:
        raise Conflict(_("This kind of certificate is switched off for this event."))
    # Two clicks at once must not make two jobs (each rendering everything): the event's
    # row is held until this job is committed, so the second click finds it running. (On
    # SQLite every write transaction is serialised already.)
    db.session.execute(select(Event.id).where(Event.id == event.id).with_for_update())
    running = running_job(event, kind)
    if running is not None:
        return running
    found = eligibility(event, kind, template=template)
    holders = [[c.registration_id, c.person_id] for c in found.to_issue]
    if not holders:
        if found.eligible:
            raise Conflict(_("Nothing to issue: everyone eligible has this certificate "
                             "already."))
        raise Conflict(_("Nothing to issue: nobody is eligible by the rule. Change the "
                         "rule or include people by hand."))
    job = jobs.create(event, "certificates", total=len(holders), actor=actor, payload={
        "kind": kind, "holders": holders, "batch": _batch_size(),
        "issue_date": issue_day(event).isoformat(), "leases": {}, "finished": []})
    # The workers announced below hold the job; the jobs sweep takes it over only if none
    # of them renews this (the broker was down, or they all died).
    job.lease_until = utcnow() + jobs.LEASE
    audit.record("certificates.issue", actor=actor, event_id=event.id, target=job,
                 kind=kind, holders=len(holders))
    job_id = job.id
    db.session.commit()
    for _worker in range(max(1, int(current_app.config.get("CERTIFICATE_WORKERS", 4)))):
        tasks.enqueue(TASK, job_id)
    return db.session.get(Job, job_id)


def _batch_lease() -> timedelta:
    return timedelta(seconds=float(current_app.config.get("CERTIFICATE_BATCH_LEASE_SECONDS",
                                                          30)))


@contextmanager
def _objects_kept() -> Iterator[None]:
    """Commits that leave loaded objects loaded, so a batch renders with no transaction
    open (on SQLite an open transaction is the database's write lock)."""
    session = db.session()
    before = session.expire_on_commit
    session.expire_on_commit = False
    try:
        yield
    finally:
        session.expire_on_commit = before


def work(job_id: int) -> dict:
    """Do batches of a certificates job until none is left; several workers run this for
    one job at once. Idempotent: a worker that finds the job finished, cancelled or all
    its batches taken returns."""
    made = batches = 0
    while True:
        claim = _claim(job_id)
        if claim is None:
            break
        if isinstance(claim, float):  # another worker holds the last batches: wait
            time.sleep(claim)
            continue
        start, stop = claim
        try:
            made += _work_batch(job_id, start, stop)
        except Exception as exc:
            db.session.rollback()
            log.exception("certificates job %s: batch %s-%s failed", job_id, start, stop)
            _record_error(job_id, exc)
            raise
        batches += 1
    if made:
        try:
            sweep_orphans()
        except Exception:  # housekeeping: never fails the job
            db.session.rollback()
            log.exception("could not sweep orphaned certificate files")
    return {"job": job_id, "made": made, "batches": batches}


def _record_error(job_id: int, exc: Exception) -> None:
    # The batch's lease is left to run out, so another worker (or the sweep) tries again;
    # meanwhile the organiser's page says why.
    job = db.session.get(Job, job_id)
    if job is not None:
        job.error = f"{type(exc).__name__}: {exc}"[:2000]
        db.session.commit()


def _payload_state(job: Job) -> tuple[dict, dict[int, datetime], set[int]]:
    payload = dict(job.payload or {})
    leases = {int(k): datetime.fromisoformat(v) for k, v in (payload.get("leases") or {}).items()
              if int(k) >= job.done}
    finished = {int(s) for s in payload.get("finished") or () if int(s) >= job.done}
    return payload, leases, finished


def _save_state(job: Job, payload: dict, leases: dict[int, datetime],
                finished: set[int]) -> None:
    job.payload = {**payload, "leases": {str(k): v.isoformat() for k, v in leases.items()},
                   "finished": sorted(finished)}


def _claim(job_id: int) -> tuple[int, int] | float | None:
    """Take the next batch of the job nobody holds: (start, stop) of its holders; seconds
    to wait when other workers hold every batch left; None when there is nothing to do."""
    job = db.session.scalar(select(Job).where(Job.id == job_id).with_for_update()
                            .execution_options(populate_existing=True))
    if job is None or job.status not in ("queued", "running") or job.kind != "certificates":
        db.session.commit()
        return None
    now = utcnow()
    if job.done >= job.total:
        _finish(job, now)
        db.session.commit()
        return None
    payload, leases, finished = _payload_state(job)
    size = _batch_of(job)
    for start in range(job.done, job.total, size):
        if start in finished or (start in leases and leases[start] > now):
            continue
        leases[start] = now + _batch_lease()
        _save_state(job, payload, leases, finished)
        job.status = "running"
        job.started_at = job.started_at or now
        job.lease_until = max(job.lease_until or now, now + jobs.LEASE)
        db.session.commit()
        return start, min(start + size, job.total)
    job.lease_until = max(job.lease_until or now, now + jobs.LEASE)
    wait = min(leases.values()) - now if leases else timedelta(seconds=1)
    db.session.commit()
    return min(1.0, max(0.05, wait.total_seconds()))


def _finish(job: Job, now: datetime) -> None:
    if job.status == "running" or job.status == "queued":
        job.status, job.finished_at, job.lease_until, job.error = "done", now, None, None


def _work_batch(job_id: int, start: int, stop: int) -> int:
    """One claimed batch, rendered with no transaction open, stored in one transaction
    that also moves the job on. How many certificates it made."""
    with _objects_kept():
        job = db.session.get(Job, job_id)
        db.session.refresh(job)
        prepared = _prepare(job, job.payload["holders"][start:stop])
        db.session.commit()  # nothing is held while WeasyPrint works
        pdfs = _render(prepared)
    # Locked first, as the sweep's path does, so the two never wait on each other in
    # opposite orders.
    job = db.session.scalar(select(Job).where(Job.id == job_id).with_for_update()
                            .execution_options(populate_existing=True))
    if job.status != "running":  # cancelled meanwhile: nothing of this batch is kept
        db.session.rollback()
        _remove([name for name, _data in pdfs.values()])
        return 0
    stored = _store(job, prepared, pdfs)
    payload, leases, finished = _payload_state(job)
    leases.pop(start, None)
    if start >= job.done:
        finished.add(start)
    size = _batch_of(job)
    while job.done in finished:
        finished.discard(job.done)
        job.done = min(job.done + size, job.total)
    _save_state(job, payload, leases, finished)
    job.queued += len(stored.messages)
    job.skipped += prepared.skipped + stored.lost
    now = utcnow()
    job.lease_until = now + jobs.LEASE
    job.error = None
    if job.done >= job.total:
        _finish(job, now)
    db.session.commit()
    return len(stored.certificates)


def _batch_of(job: Job) -> int:
    return int(job.payload.get("batch") or DEFAULT_BATCH)


@jobs.handler("certificates", chunk=_batch_of)
def _issue_chunk(job: Job, start: int, stop: int) -> tuple[list[int], int]:
    """The sweep's way through a job whose workers are gone: a batch at a time, each in a
    transaction of the sweep's that holds the job and commits with the batch (so SQLite's
    other writers wait for one batch, not for five). Holders dealt with by a worker
    meanwhile are passed over."""
    size = _batch_of(job)
    messages: list[int] = []
    skipped = 0
    for first in range(start, stop, size):
        prepared = _prepare(job, job.payload["holders"][first:min(first + size, stop)])
        stored = _store(job, prepared, _render(prepared))
        messages += stored.messages
        skipped += prepared.skipped + stored.lost
    return messages, skipped


@dataclass
class _Prepared:
    event: Event
    template: CertificateTemplate
    kind: str
    items: list[tuple[Candidate, CertificateData, int]]  # with the version it will be
    skipped: int  # no longer eligible, or a valid certificate from elsewhere
    actor_id: int | None
    issue_date: date  # as printed: the verification page shows the same day


def _prepare(job: Job, holders: list) -> _Prepared:
    event = db.session.get(Event, job.event_id)
    kind = job.payload["kind"]
    template = template_of(event, kind)
    pairs = [(r, None) if r else (None, p) for r, p in holders]
    found = eligibility(event, kind, template=template, holders=pairs)
    by_key = {c.key: c for c in found.candidates}
    # Holders this job has issued already (a batch done again) are neither made nor
    # skipped again: they were counted when they were made.
    mine = {(r, p) for r, p in db.session.execute(
        select(Certificate.registration_id, Certificate.person_id).where(
            Certificate.job_id == job.id, Certificate.status == "valid",
            _holders_filter(pairs)))}
    versions = _next_versions(event, kind, pairs)
    issue_date = date.fromisoformat(job.payload["issue_date"])
    items, skipped = [], 0
    with force_locale(certificate_render.print_locale()):
        for r, p in pairs:
            if (r, p) in mine:
                continue
            candidate = by_key.get(f"r{r}" if r else f"p{p}")
            if candidate is None or not candidate.to_issue:
                skipped += 1
                continue
            data = _printed(found, candidate, code=new_code(), issue_date=issue_date)
            items.append((candidate, data, versions.get((r, p), 1)))
    return _Prepared(event, template, kind, items, skipped, job.created_by_id, issue_date)


def _holders_filter(pairs: list[tuple[int | None, int | None]]):
    registrations = [r for r, _p in pairs if r]
    people = [p for r, p in pairs if p and not r]
    return or_(Certificate.registration_id.in_(registrations or [-1]),
               Certificate.person_id.in_(people or [-1]) & Certificate.registration_id.is_(None))


def _next_versions(event: Event, kind: str,
                   pairs: list[tuple[int | None, int | None]]) -> dict[tuple, int]:
    """The version each holder's next certificate of ``kind`` gets: one more than their
    latest, valid or revoked."""
    found: dict[tuple, int] = {}
    for r, p, latest in db.session.execute(
            select(Certificate.registration_id, Certificate.person_id,
                   func.max(Certificate.version))
            .where(Certificate.event_id == event.id, Certificate.kind == kind,
                   _holders_filter(pairs))
            .group_by(Certificate.registration_id, Certificate.person_id)):
        key = (r, None) if r else (None, p)
        found[key] = max(found.get(key, 0), latest + 1)
    return found


def _render(prepared: _Prepared) -> dict[str, tuple[str, bytes]]:
    """Each holder's PDF written to its file: code -> (stored name, bytes). A batch that
    cannot be laid out (one text too long for its page, say) is rendered one by one, so
    one holder's problem does not hold up the others: theirs is left out (and logged),
    and counted as skipped."""
    items = [data for _candidate, data, _version in prepared.items]
    if not items:
        return {}
    try:
        pdfs = certificate_render.render_batch(prepared.event, prepared.template, items)
    except OSError:
        raise  # a disk or a file that may be back: the batch is tried again
    except Exception:
        log.exception("a batch of %d certificates failed; rendering them one by one",
                      len(items))
        pdfs = [_render_one(prepared, item) for item in items] if len(items) > 1 else [None]
    written: dict[str, tuple[str, bytes]] = {}
    for item, pdf in zip(items, pdfs, strict=True):
        if pdf is None:
            continue
        name = stored_name(item.code)
        media.write_file(FILES, name, pdf)
        written[item.code] = (name, pdf)
    return written


def _render_one(prepared: _Prepared, item: CertificateData) -> bytes | None:
    try:
        return certificate_render.render_batch(prepared.event, prepared.template, [item])[0]
    except Exception:
        log.exception("certificate for %r could not be rendered", item.holder_name)
        return None


def stored_name(code: str) -> str:
    return f"{code}.pdf"


def _remove(names: Iterable[str]) -> None:
    for name in names:
        path = media.stored_file(FILES, name)
        if path is not None:
            path.unlink(missing_ok=True)


@dataclass
class _Stored:
    certificates: list[int]
    messages: list[int]
    lost: int  # rendered, but the holder had a valid certificate by then (or unrendered)


def _insert_certificates(rows: list[dict]) -> dict[str, int]:
    """INSERT .. ON CONFLICT DO NOTHING with no conflict target, so that the partial
    unique indexes (one valid certificate per holder) turn a second one into nothing:
    code -> id of the rows that went in."""
    if not rows:
        return {}
    connection = db.session.connection()
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    table = Certificate.__table__
    statement = insert(table).on_conflict_do_nothing().returning(table.c.id, table.c.code)
    return {code: certificate_id for certificate_id, code in connection.execute(statement, rows)}


def _store(job: Job | None, prepared: _Prepared,
           pdfs: dict[str, tuple[str, bytes]]) -> _Stored:
    """Record the rendered certificates and queue their mail, in the caller's transaction."""
    now = utcnow()
    rows = []
    for candidate, data, version in prepared.items:
        if data.code not in pdfs:
            continue
        name, pdf = pdfs[data.code]
        rows.append({
            "event_id": prepared.event.id, "kind": prepared.kind,
            "registration_id": candidate.registration_id,
            "person_id": None if candidate.registration_id else candidate.person_id,
            "version": version, "code": data.code, "holder_name": data.holder_name,
            "holder_name_native": data.holder_name_native, "organisation": data.organisation,
            "country": data.country, "stored_name": name,
            "data": {**_printed_json(data), "issued_on": prepared.issue_date.isoformat()},
            "sha256": hashlib.sha256(pdf).hexdigest(), "size": len(pdf), "status": "valid",
            "issued_at": now, "revoked_at": None, "revoked_reason": None,
            "job_id": job.id if job else None, "message_id": None})
    new = _insert_certificates(rows)
    # Someone else's certificate for the same holder went in first: ours was never recorded.
    _remove(name for code, (name, _pdf) in pdfs.items() if code not in new)
    lost = len(prepared.items) - len(new)
    if lost and job is not None:
        # Those this job made by another way (a worker whose batch lease ran out, finishing
        # after all) were counted when they were made: not skipped.
        beaten = [(c.registration_id, c.person_id) for c, data, _v in prepared.items
                  if data.code not in new]
        lost -= db.session.scalar(select(func.count()).select_from(Certificate).where(
            Certificate.job_id == job.id, Certificate.status == "valid",
            _holders_filter(beaten)))
    if not new:
        return _Stored([], [], lost)
    certificates = list(db.session.scalars(select(Certificate).where(
        Certificate.id.in_(list(new.values()))).order_by(Certificate.id)))
    messages = certificate_mail.queue_many(certificates, job_id=job.id if job else None)
    actor = db.session.get(User, prepared.actor_id) if prepared.actor_id else None
    audit.record("certificates.issued", actor=actor, event_id=prepared.event.id,
                 target=job, kind=prepared.kind, certificates=sorted(new.values()))
    return _Stored(sorted(new.values()), sorted(messages.values()), lost)


def _printed_json(data: CertificateData) -> dict:
    values = asdict(data)
    values["sessions"] = list(data.sessions)
    return values


# One certificate: revoke, re-issue ------------------------------------------------------

def certificate_of(event: Event, certificate_id: int) -> Certificate:
    certificate = db.session.get(Certificate, certificate_id)
    if certificate is None or certificate.event_id != event.id:
        raise NotFound(_("There is no such certificate."))
    return certificate


def revoke(certificate: Certificate, reason: str, *, actor: User | None) -> None:
    """Revoke a valid certificate, saying why; its mail is withdrawn if not sent yet.
    Verification shows it as revoked from now on."""
    reason = clean_text(reason, NOTE_LIMIT)
    if not reason:
        raise ServiceError(_("Say why the certificate is revoked: the verification page "
                             "shows it."))
    revoked = db.session.execute(
        Certificate.__table__.update()
        .where(Certificate.__table__.c.id == certificate.id,
               Certificate.__table__.c.status == "valid")
        .values(status="revoked", revoked_at=utcnow(), revoked_reason=reason)).rowcount
    if not revoked:
        db.session.rollback()
        raise Conflict(_("This certificate is revoked already."))
    certificate_mail.withdraw(certificate)
    audit.record("certificates.revoked", actor=actor, event_id=certificate.event_id,
                 target=certificate, code=certificate.code, reason=reason)
    db.session.commit()
    db.session.refresh(certificate)


def reissue(certificate: Certificate, *, actor: User | None,
            reason: str | None = None) -> Certificate:
    """A new version of a valid certificate with what is to be printed on its holder now
    (a corrected name, say), mailed to them; the old one is revoked, saying it was
    replaced. Both in one transaction: there is always exactly one valid certificate."""
    if certificate.status != "valid":
        raise Conflict(_("Only a valid certificate can be re-issued; issue the kind again "
                         "to give its holder a new one."))
    reason = clean_text(reason, NOTE_LIMIT)
    event, kind, old_id = certificate.event, certificate.kind, certificate.id
    holder = ((certificate.registration_id, None) if certificate.registration_id
              else (None, certificate.person_id))
    found = eligibility(event, kind, holders=[holder])
    candidate = next(iter(found.candidates), None)
    if candidate is None:
        raise Conflict(_("Its holder is no longer a participant (or in the programme), so "
                         "there is nothing to print on a new version. Revoke it instead."))
    version = _next_versions(event, kind, [holder]).get(holder, certificate.version + 1)
    issue_date = issue_day(event)
    data = printed(found, candidate, code=new_code(), issue_date=issue_date)
    prepared = _Prepared(event, found.template, kind, [(candidate, data, version)], 0,
                         actor.id if actor else None, issue_date)
    with _objects_kept():
        db.session.commit()  # nothing held while WeasyPrint works
        pdfs = _render(prepared)
    if data.code not in pdfs:
        raise ServiceError(_("The new version could not be laid out (logged for the "
                             "administrator). Check the design's preview for this person: "
                             "a text may be too long for the page."))
    old = db.session.scalar(select(Certificate).where(Certificate.id == old_id)
                            .with_for_update().execution_options(populate_existing=True))
    if old is None or old.status != "valid":
        db.session.rollback()
        _remove(name for name, _pdf in pdfs.values())
        raise Conflict(_("This certificate was revoked or replaced meanwhile."))
    changed = [label for label, before, after in (
        (_("name"), old.holder_name, data.holder_name),
        (_("name in native script"), old.holder_name_native, data.holder_name_native),
        (_("organisation"), old.organisation, data.organisation),
        (_("country"), old.country, data.country)) if before != after]
    old.status, old.revoked_at = "revoked", utcnow()
    old.revoked_reason = (reason or (
        _("Replaced by version %(v)d (%(what)s corrected).", v=version,
          what=", ".join(changed)) if changed
        else _("Replaced by version %(v)d.", v=version)))[:NOTE_LIMIT]
    certificate_mail.withdraw(old)
    db.session.flush()  # the old one is no longer valid before the new one is
    stored = _store(None, prepared, pdfs)
    if not stored.certificates:
        db.session.rollback()
        raise Conflict(_("This certificate was revoked or replaced meanwhile."))
    audit.record("certificates.reissued", actor=actor, event_id=event.id,
                 target_ref=("Certificate", stored.certificates[0]), replaces=old_id,
                 version=version, changed=changed)
    new_id = stored.certificates[0]
    db.session.commit()
    return db.session.get(Certificate, new_id)


# Overview ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class KindSummary:
    kind: str
    enabled: bool
    stored: bool  # the organiser has saved a template or rule
    issued: int  # valid certificates
    revoked: int


def summaries(event: Event) -> list[KindSummary]:
    """Each kind with its counts, in two queries."""
    templates = {t.kind: t for t in db.session.scalars(select(CertificateTemplate).where(
        CertificateTemplate.event_id == event.id))}
    counts: dict[tuple[str, str], int] = {
        (kind, status): n for kind, status, n in db.session.execute(
            select(Certificate.kind, Certificate.status, func.count())
            .where(Certificate.event_id == event.id)
            .group_by(Certificate.kind, Certificate.status))}
    return [KindSummary(kind, templates[kind].enabled if kind in templates else True,
                        kind in templates, counts.get((kind, "valid"), 0),
                        counts.get((kind, "revoked"), 0)) for kind in CERTIFICATE_KINDS]


def valid_without_candidate(found: Eligibility, limit: int = 200) -> list[Certificate]:
    """Valid certificates of ``found.kind`` whose holder is no longer among the candidates
    (a registration cancelled after the certificate was issued, a speaker taken off the
    programme): still valid for anyone who checks, so the organiser must see them to
    decide whether to revoke."""
    held = {c.key for c in found.candidates}
    return [c for c in db.session.scalars(select(Certificate).where(
        Certificate.event_id == found.event.id, Certificate.kind == found.kind,
        Certificate.status == "valid").order_by(Certificate.holder_name, Certificate.id))
        if (f"r{c.registration_id}" if c.registration_id else f"p{c.person_id}")
        not in held][:limit]


def revoked_of(event: Event, kind: str, limit: int = 200) -> list[Certificate]:
    return list(db.session.scalars(select(Certificate).where(
        Certificate.event_id == event.id, Certificate.kind == kind,
        Certificate.status == "revoked").order_by(Certificate.revoked_at.desc()).limit(limit)))


# Housekeeping -----------------------------------------------------------------------------

def sweep_orphans(older_than: timedelta = timedelta(hours=1)) -> int:
    """Delete certificate files that no record names, left by a worker killed between
    writing a batch's files and committing them (or by a batch that lost a race). Only
    files older than ``older_than``, so a batch being stored right now keeps its own."""
    directory = Path(current_app.config["FILES_DIR"]) / FILES
    if not directory.is_dir():
        return 0
    cutoff = time.time() - older_than.total_seconds()
    candidates = {path.name: path for path in directory.glob("*.pdf")
                  if path.stat().st_mtime < cutoff}
    removed = 0
    names = sorted(candidates)
    for start in range(0, len(names), 1000):
        part = names[start:start + 1000]
        known = set(db.session.scalars(select(Certificate.stored_name).where(
            Certificate.stored_name.in_(part))))
        for name in part:
            if name not in known:
                candidates[name].unlink(missing_ok=True)
                removed += 1
    db.session.commit()
    return removed
