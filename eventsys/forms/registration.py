"""The public registration form: fixed fields plus the event's own questions."""

from __future__ import annotations

from functools import lru_cache

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from eventsys.forms import Form, fields
from eventsys.models import Event, RegistrationQuestion
from eventsys.services.registration import MAX_ANSWER, RegistrationInput

MODE_CHOICES = {"in_person": _l("In person"), "online": _l("Online")}


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class RegistrationForm(Form):
    name = StringField(_l("Full name (Latin letters)"),
                       validators=[DataRequired(), Length(max=200)],
                       description=_l("As it should appear on your badge and certificate."),
                       render_kw={"autocomplete": "name"})
    name_native = StringField(_l("Full name in your own script"),
                              validators=[Optional(), Length(max=200)],
                              description=_l("For example 王明阳, عائشہ صدیقی or Милица Јовановић. "
                                             "Leave empty if it is the same."))
    email = EmailField(_l("Email"),
                       validators=[DataRequired(), Length(max=254),
                                   Email(message=_l("Enter a valid email address."))],
                       render_kw={"autocomplete": "email"})
    organisation_name = StringField(_l("Organisation"), validators=[Optional(), Length(max=200)],
                                    render_kw={"autocomplete": "organization"})
    job_title = StringField(_l("Job title"), validators=[Optional(), Length(max=200)],
                            render_kw={"autocomplete": "organization-title"})
    country = fields.CountryField(_l("Country"), validators=[Optional()])
    mode = RadioField(_l("How will you attend?"), validators=[InputRequired()])
    invitation = HiddenField()

    question_fields: list[tuple[RegistrationQuestion, str]]

    def to_input(self, locale: str | None) -> RegistrationInput:
        answers: dict[str, object] = {}
        for question, name in self.question_fields:
            answers[str(question.id)] = self[name].data
        return RegistrationInput(
            email=self.email.data, name=self.name.data, name_native=self.name_native.data,
            organisation_name=self.organisation_name.data, country=self.country.data or None,
            job_title=self.job_title.data, mode=self.mode.data, locale=locale, answers=answers,
        )


def _question_field(question: RegistrationQuestion):
    required = [InputRequired()] if question.required else [Optional()]
    kw = {"description": question.help_text or ""}
    choices = fields.choices((c, c) for c in (question.choices or []))
    match question.kind:
        case "long_text":
            return TextAreaField(question.label, validators=[*required, Length(max=MAX_ANSWER)],
                                 **kw)
        case "single_choice":
            return SelectField(question.label, choices=fields.choices(
                ((c, c) for c in (question.choices or [])), blank=""),
                validators=required if question.required else [Optional()], **kw)
        case "multiple_choice":
            return MultiCheckboxField(question.label, choices=choices,
                                      validators=[Optional()], **kw)
        case "checkbox":
            return BooleanField(question.label,
                                validators=[DataRequired(message=_l("Please tick this box."))]
                                if question.required else [], **kw)
        case "country":
            return fields.CountryField(question.label, choices=fields.countries(blank=""),
                               validators=required if question.required else [Optional()], **kw)
        case _:  # short_text, organisation
            return StringField(question.label, validators=[*required, Length(max=500)], **kw)


@lru_cache(maxsize=256)
def _form_class(signature: tuple) -> type[RegistrationForm]:
    """One form class per set of questions (and their wording): built once, not per
    request. ``signature`` holds everything the fields are made from."""
    attrs = {}
    for question_id, kind, label, help_text, required, choices in signature:
        question = RegistrationQuestion(id=question_id, kind=kind, label=label,
                                        help_text=help_text, required=required,
                                        choices=list(choices) if choices else None)
        attrs[f"q_{question_id}"] = _question_field(question)
    return type("EventRegistrationForm", (RegistrationForm,), attrs)


def registration_form(event: Event, **kwargs) -> RegistrationForm:
    """The form for this event (its modes and questions)."""
    signature = tuple(
        (q.id, q.kind, q.label, q.help_text, q.required, tuple(q.choices or ()))
        for q in event.questions)
    form = _form_class(signature)(**kwargs)
    form.question_fields = [(q, f"q_{q.id}") for q in event.questions]
    form.country.choices = fields.countries(blank="")
    form.mode.choices = fields.choices((m, MODE_CHOICES[m]) for m in event.modes)
    if len(event.modes) == 1 and not form.mode.data:
        form.mode.data = event.modes[0]
    return form
