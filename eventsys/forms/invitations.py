"""Organiser forms for invitations: one person, a list to import, the import's confirmation."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, EmailField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length, Optional

from eventsys.forms import Form, fields
from eventsys.services.invitation_import import MAX_BYTES
from eventsys.services.invitations import ROLE_LABELS, InviteeData

SKIP_APPROVAL = _l("Confirm their registration without approval")


class InviteForm(Form):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254), Email()])
    name = StringField(_l("Name"), validators=[Optional(), Length(max=200)])
    organisation = StringField(_l("Organisation"), validators=[Optional(), Length(max=200)])
    country = fields.CountryField(_l("Country"), validators=[Optional()])
    role = SelectField(_l("Invited as"), default="participant")
    language = SelectField(_l("Language of the mail"), validators=[Optional()],
                           description=_l("Empty: the event's language."))
    skip_approval = BooleanField(SKIP_APPROVAL, default=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.country.choices = fields.countries(blank="")
        self.role.choices = fields.choices(ROLE_LABELS.items())
        self.language.choices = fields.locales(blank="")

    def to_data(self) -> InviteeData:
        return InviteeData(email=self.email.data, name=self.name.data or None,
                           organisation=self.organisation.data or None,
                           country=self.country.data or None, role=self.role.data,
                           locale=self.language.data or None)


class ImportForm(Form):
    file = FileField(_l("List of people (CSV or Excel)"),
                     validators=[FileRequired(_l("Choose a file."))],
                     description=_l("One person a row, with a header row: email (required), "
                                    "name, organisation, country, role, language. At most "
                                    "%(mb)d MB. Nothing is sent before you confirm.",
                                    mb=MAX_BYTES // (1024 * 1024)))


class ConfirmImportForm(Form):
    skip_approval = BooleanField(SKIP_APPROVAL, default=True)
