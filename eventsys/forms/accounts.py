from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional

from eventsys.forms import Form, fields
from eventsys.services.accounts import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH

_email = [DataRequired(), Length(max=254), Email(message=_l("Enter a valid email address."))]


def _new_password():
    return PasswordField(
        _l("New password"),
        validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH)],
        description=_l("At least %(n)d characters.", n=MIN_PASSWORD_LENGTH),
        render_kw={"autocomplete": "new-password"},
    )


def _confirm(field: str):
    return PasswordField(
        _l("Repeat the password"),
        validators=[DataRequired(), EqualTo(field, message=_l("The two passwords differ."))],
        render_kw={"autocomplete": "new-password"},
    )


class LoginForm(Form):
    email = EmailField(_l("Email"), validators=_email, render_kw={"autocomplete": "username"})
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )
    remember = BooleanField(_l("Keep me signed in on this device"))


class SignupForm(Form):
    name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=200)],
                       render_kw={"autocomplete": "name"})
    email = EmailField(_l("Email"), validators=_email, render_kw={"autocomplete": "email"})
    country = fields.CountryField(_l("Country"), validators=[Optional()])
    password = _new_password()
    confirm = _confirm("password")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.country.choices = fields.countries(blank="")


class ForgotPasswordForm(Form):
    email = EmailField(_l("Email"), validators=_email, render_kw={"autocomplete": "email"})


class ResetPasswordForm(Form):
    password = _new_password()
    confirm = _confirm("password")


class ProfileForm(Form):
    name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=200)])
    country = fields.CountryField(_l("Country"), validators=[Optional()])
    locale = SelectField(_l("Language"), validators=[Optional()])
    timezone = SelectField(_l("Time zone"), validators=[Optional()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.country.choices = fields.countries(blank="")
        self.locale.choices = fields.locales(blank=_l("As my browser says"))
        self.timezone.choices = fields.timezones(blank="")


class ChangePasswordForm(Form):
    current = PasswordField(
        _l("Current password"),
        validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )
    password = _new_password()
    confirm = _confirm("password")
