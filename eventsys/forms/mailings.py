"""The organiser's mailing form: who gets it, the texts, and a version per other language.

The texts are checked by ``mailings.check`` (one place for the rules, shared with sending),
so the form only reads them."""

from __future__ import annotations

from functools import cache

from flask import current_app
from flask_babel import lazy_gettext as _l
from wtforms import Form as PlainForm
from wtforms import FormField, HiddenField, RadioField, StringField, TextAreaField

from eventsys.forms import Form, fields
from eventsys.forms.registration import MODE_CHOICES, MultiCheckboxField
from eventsys.i18n import available_locales
from eventsys.models import REGISTRATION_STATUSES, Event
from eventsys.services.invitations import ROLE_LABELS
from eventsys.services.mailings import ATTENDANCE_FILTERS, AUDIENCE_KINDS, Audience, Draft

STATUS_LABELS = {"pending": _l("Pending"), "confirmed": _l("Confirmed"),
                 "waitlisted": _l("Waiting list"), "declined": _l("Declined"),
                 "cancelled": _l("Cancelled")}
ANSWER_LABELS = {"open": _l("No answer yet"), "accepted": _l("Accepted"),
                 "declined": _l("Declined")}


class VersionForm(PlainForm):
    subject = StringField(_l("Subject"))
    body = TextAreaField(_l("Message"), render_kw={"rows": 8})


class MailingForm(Form):
    kind = RadioField(_l("Who gets it"), default="registrants",
                      choices=fields.choices(AUDIENCE_KINDS.items()))
    statuses = MultiCheckboxField(_l("Registration status"), default=["confirmed"],
                                  choices=fields.choices((s, STATUS_LABELS[s])
                                                         for s in REGISTRATION_STATUSES))
    modes = MultiCheckboxField(_l("Attending"))
    attendance = MultiCheckboxField(_l("Attendance"),
                                    choices=fields.choices(ATTENDANCE_FILTERS.items()))
    answers = MultiCheckboxField(_l("Answer to the invitation"),
                                 choices=fields.choices(ANSWER_LABELS.items()))
    roles = MultiCheckboxField(_l("Invited as"), choices=fields.choices(ROLE_LABELS.items()))
    subject = StringField(_l("Subject"))
    body = TextAreaField(_l("Message"), render_kw={"rows": 12})
    index = HiddenField(default="0")  # the recipient the preview shows
    expected = HiddenField()  # the number of recipients the organiser confirmed

    # version_<locale> fields are added by ``mailing_form`` for each other language.
    version_locales: tuple[str, ...] = ()

    def __init__(self, event: Event, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.modes.choices = fields.choices((m, MODE_CHOICES[m]) for m in event.modes)

    @property
    def versions(self) -> list[tuple[str, FormField]]:
        return [(locale, self[f"version_{locale}"]) for locale in self.version_locales]

    def audience(self) -> Audience:
        return Audience(kind=self.kind.data or "", statuses=list(self.statuses.data or []),
                        modes=list(self.modes.data or []), answers=list(self.answers.data or []),
                        roles=list(self.roles.data or []),
                        attendance=list(self.attendance.data or []))

    def to_draft(self) -> Draft:
        versions = {}
        for locale, field in self.versions:
            subject, body = field.subject.data or "", field.body.data or ""
            if subject.strip() or body.strip():  # a version left empty is no version
                versions[locale] = {"subject": subject, "body": body}
        return Draft(audience=self.audience(), subject=self.subject.data or "",
                     body=self.body.data or "", versions=versions)

    def shown_index(self) -> int:
        text = self.index.data or ""
        return int(text) if text.isascii() and text.isdigit() and len(text) < 7 else 0


@cache
def _form_class(locales: tuple[str, ...]) -> type[MailingForm]:
    if not locales:
        return MailingForm
    attributes = {f"version_{locale}": FormField(VersionForm, label=fields.LOCALE_NAMES.get(
        locale, locale)) for locale in locales}
    return type("MailingFormWithVersions", (MailingForm,),
                {**attributes, "version_locales": locales})


def other_locales() -> tuple[str, ...]:
    """The languages a version can be written in: every one the site speaks but its own."""
    default = current_app.config.get("BABEL_DEFAULT_LOCALE", "en")
    return tuple(locale for locale in available_locales() if locale != default)


def mailing_form(event: Event, **kwargs) -> MailingForm:
    return _form_class(other_locales())(event, **kwargs)
