"""An event's own registration questions: added, edited, reordered, removed.

Answers are stored by question id, so editing a question's words keeps its answers, and
removing a question keeps the answers in the registrations (they only stop showing)."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import func, select

from eventsys.extensions import db
from eventsys.models import QUESTION_KINDS, Event, RegistrationQuestion, User
from eventsys.services import audit
from eventsys.services.errors import NotFound, ServiceError
from eventsys.services.validation import has_control_chars

CHOICE_KINDS = ("single_choice", "multiple_choice")


def _check(kind: str, label: str, help_text: str | None, choices: list[str]) -> list[str]:
    if kind not in QUESTION_KINDS:
        raise ServiceError(_("Unknown kind of question."))
    if not label.strip() or len(label) > 300 or len(help_text or "") > 500:
        raise ServiceError(_("A question needs a label of at most 300 characters."))
    choices = [" ".join(c.split()) for c in choices if c.strip()]
    if kind in CHOICE_KINDS and not 2 <= len(choices) <= 50:
        raise ServiceError(_("Give between 2 and 50 options, one per line."))
    if any(len(c) > 200 for c in choices) or len(set(choices)) != len(choices):
        raise ServiceError(_("Options must be different and at most 200 characters each."))
    if any(has_control_chars(t) for t in (label, help_text, *choices)):
        raise ServiceError(_("Some text contains characters that are not allowed."))
    return choices if kind in CHOICE_KINDS else []


def add_question(event: Event, *, kind: str, label: str, help_text: str | None,
                 required: bool, choices: list[str], actor: User | None) -> RegistrationQuestion:
    choices = _check(kind, label, help_text, choices)
    position = (db.session.scalar(select(func.max(RegistrationQuestion.position)).where(
        RegistrationQuestion.event_id == event.id)) or 0) + 1
    question = RegistrationQuestion(event_id=event.id, position=position, kind=kind,
                                    label=label.strip(), help_text=(help_text or "").strip()
                                    or None, required=required, choices=choices or None)
    db.session.add(question)
    db.session.flush()
    audit.record("question.added", actor=actor, event_id=event.id, target=question)
    db.session.commit()
    return question


def question_of(event: Event, question_id: int) -> RegistrationQuestion:
    question = db.session.get(RegistrationQuestion, question_id)
    if question is None or question.event_id != event.id:
        raise NotFound(_("There is no such question."))
    return question


def update_question(event: Event, question_id: int, *, kind: str, label: str,
                    help_text: str | None, required: bool, choices: list[str],
                    actor: User | None) -> RegistrationQuestion:
    question = question_of(event, question_id)
    choices = _check(kind, label, help_text, choices)
    question.kind, question.label = kind, label.strip()
    question.help_text = (help_text or "").strip() or None
    question.required, question.choices = required, choices or None
    audit.record("question.updated", actor=actor, event_id=event.id, target=question)
    db.session.commit()
    return question


def delete_question(event: Event, question_id: int, *, actor: User | None) -> None:
    question = question_of(event, question_id)
    db.session.delete(question)
    audit.record("question.deleted", actor=actor, event_id=event.id, label=question.label)
    db.session.commit()


def move_question(event: Event, question_id: int, direction: int, *,
                  actor: User | None) -> None:
    """Swap a question with its neighbour above (-1) or below (+1)."""
    ordered = list(db.session.scalars(select(RegistrationQuestion).where(
        RegistrationQuestion.event_id == event.id).order_by(
        RegistrationQuestion.position, RegistrationQuestion.id)))
    index = next((i for i, q in enumerate(ordered) if q.id == question_id), None)
    if index is None:
        raise NotFound(_("There is no such question."))
    other = index + (1 if direction > 0 else -1)
    if 0 <= other < len(ordered):
        ordered[index], ordered[other] = ordered[other], ordered[index]
    for position, question in enumerate(ordered, start=1):
        question.position = position
    db.session.commit()
