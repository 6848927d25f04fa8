"""Organiser forms for registration: settings, questions, decisions."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import URL, DataRequired, Length, NumberRange, Optional

from eventsys.forms import Form, fields
from eventsys.models import Event
from eventsys.services.registration import DetailsInput, RegistrationSettings

APPROVAL_LABELS = {"open": _l("Open: confirmed at once while places last"),
                   "application": _l("By application: organisers approve or decline")}
QUESTION_KIND_LABELS = {
    "short_text": _l("Short text"), "long_text": _l("Long text"),
    "single_choice": _l("One of several options"),
    "multiple_choice": _l("Several of several options"), "checkbox": _l("Tick box"),
    "country": _l("Country"), "organisation": _l("Organisation"),
}


def _local(value: datetime | None, tz: str) -> datetime | None:
    return value.astimezone(ZoneInfo(tz)).replace(tzinfo=None) if value else None


def _utc(value: datetime | None, tz: str) -> datetime | None:
    return value.replace(tzinfo=ZoneInfo(tz)) if value else None


class RegistrationSettingsForm(Form):
    opens_at = DateTimeLocalField(_l("Registration opens"), validators=[Optional()],
                                  description=_l("In the event's time zone. Empty: open now."))
    closes_at = DateTimeLocalField(_l("Registration closes"), validators=[Optional()],
                                   description=_l("Empty: when the event ends."))
    approval = SelectField(_l("Who gets a place"),
                           choices=fields.choices(APPROVAL_LABELS.items()))
    invitation_only = BooleanField(_l("By invitation only"))
    waitlist_enabled = BooleanField(_l("Waiting list when full"))
    # Whole-number fields: a browser's number input would send "٣٠" as nothing, which
    # here means no limit at all.
    capacity_in_person = fields.WholeNumberField(
        _l("Places in person"), validators=[Optional(), NumberRange(0, 1_000_000)],
        message=_l("Enter the places as a whole number, for example 60."),
        description=_l("Empty: no limit."), render_kw={"inputmode": "numeric"})
    capacity_online = fields.WholeNumberField(
        _l("Places online"), validators=[Optional(), NumberRange(0, 1_000_000)],
        message=_l("Enter the places as a whole number, for example 60."),
        description=_l("Empty: no limit."), render_kw={"inputmode": "numeric"})
    online_url = StringField(_l("Joining link for online participants"),
                             validators=[Optional(), Length(max=500),
                                         URL(message=_l("Enter a web address (https://...)."))])

    @classmethod
    def for_event(cls, event: Event, capacities: dict[str, int | None]) -> RegistrationSettingsForm:
        return cls(data={
            "opens_at": _local(event.registration_opens_at, event.timezone),
            "closes_at": _local(event.registration_closes_at, event.timezone),
            "approval": event.approval, "invitation_only": event.invitation_only,
            "waitlist_enabled": event.waitlist_enabled, "online_url": event.online_url,
            "capacity_in_person": capacities.get("in_person"),
            "capacity_online": capacities.get("online"),
        })

    def to_settings(self, event: Event) -> RegistrationSettings:
        capacities = {}
        for mode in event.modes:
            capacities[mode] = getattr(self, f"capacity_{mode}").data
        return RegistrationSettings(
            opens_at=_utc(self.opens_at.data, event.timezone),
            closes_at=_utc(self.closes_at.data, event.timezone),
            approval=self.approval.data, invitation_only=self.invitation_only.data,
            waitlist_enabled=self.waitlist_enabled.data, online_url=self.online_url.data,
            capacities=capacities,
        )


class QuestionForm(Form):
    label = StringField(_l("Question"), validators=[DataRequired(), Length(max=300)])
    kind = SelectField(_l("Kind of answer"), choices=fields.choices(QUESTION_KIND_LABELS.items()))
    help_text = StringField(_l("Help text"), validators=[Optional(), Length(max=500)])
    required = BooleanField(_l("An answer is required"))
    choices = TextAreaField(_l("Options, one per line"), validators=[Optional(), Length(max=12000)],
                            description=_l("For the kinds with options."))

    def choice_list(self) -> list[str]:
        return (self.choices.data or "").splitlines()


class DecisionForm(Form):
    action = SelectField(_l("Action"), choices=fields.choices([
        ("approve", _l("Approve")), ("decline", _l("Decline")), ("cancel", _l("Cancel")),
    ]))
    reason = TextAreaField(_l("Reason (sent to declined participants)"),
                           validators=[Optional(), Length(max=1000)])


class MoveForm(Form):
    mode = SelectField(_l("Attending"), choices=fields.choices(
        [("in_person", _l("In person")), ("online", _l("Online"))]))


class DetailsForm(Form):
    """An organiser's correction of a participant's details (their certificate prints them)."""

    name = StringField(_l("Full name (Latin letters)"),
                       validators=[DataRequired(), Length(max=200)],
                       description=_l("As badges and certificates print it."))
    name_native = StringField(_l("Full name in own script"),
                              validators=[Optional(), Length(max=200)])
    organisation_name = StringField(_l("Organisation"), validators=[Optional(), Length(max=200)])
    job_title = StringField(_l("Job title"), validators=[Optional(), Length(max=200)])
    country = fields.CountryField(_l("Country"), validators=[Optional()])

    @classmethod
    def of(cls, registration, **kwargs) -> DetailsForm:
        form = cls(obj=registration, **kwargs)
        form.country.choices = fields.countries(blank="")
        return form

    def to_input(self) -> DetailsInput:
        return DetailsInput(name=self.name.data or "", name_native=self.name_native.data,
                            organisation_name=self.organisation_name.data,
                            job_title=self.job_title.data, country=self.country.data or None)
