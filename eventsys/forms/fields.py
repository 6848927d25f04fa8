"""Choices shared by several forms, computed for the reader's language."""

from __future__ import annotations

import unicodedata
from functools import cache

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from wtforms import IntegerField, SelectField, ValidationError
from wtforms.fields.choices import SelectChoice
from wtforms.validators import StopValidation
from wtforms.widgets import TextInput

from eventsys.i18n import available_locales, country_choices, is_country, timezone_names

LOCALE_NAMES = {"en": "English", "zh": "中文"}


def choices(pairs, blank: str | None = None) -> list[SelectChoice]:
    """WTForms' SelectChoice list from (value, label) pairs, with an optional empty first."""
    head = [SelectChoice("", str(blank))] if blank is not None else []
    return head + [SelectChoice(value, label) for value, label in pairs]


class CountryField(SelectField):
    """A country by its ISO code (or nothing), checked against a set of codes rather than
    by walking some 250 choices on every submission."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("choices", [])
        super().__init__(*args, **kwargs)

    def pre_validate(self, form):
        if self.data and not is_country(self.data):
            raise ValidationError(self.gettext("Not a valid choice."))


def countries(blank: str | None = None) -> list[SelectChoice]:
    return list(_countries(str(get_locale() or "en"), blank))


@cache
def _countries(locale: str, blank: str | None) -> tuple[SelectChoice, ...]:
    return tuple(choices(country_choices(locale), blank))


@cache
def _country_options(locale: str) -> str:
    return "".join(f'<option value="{code}">{escape(name)}</option>'
                   for code, name in country_choices(locale))


def country_options(selected: str | None = None) -> Markup:
    """The country <option>s, rendered once per language: 250 options through WTForms'
    widget were the largest cost of the registration page."""
    html = '<option value=""></option>' + _country_options(str(get_locale() or "en"))
    if selected and len(selected) == 2 and selected.isalpha():
        html = html.replace(f'value="{selected}"', f'value="{selected}" selected', 1)
    return Markup(html)  # noqa: S704 (names escaped above; codes from CLDR; selected checked)


def timezones(blank: str | None = None) -> list[SelectChoice]:
    return choices(((name, name.replace("_", " ")) for name in timezone_names()), blank)


def locales(blank: str | None = None) -> list[SelectChoice]:
    return choices(((c, LOCALE_NAMES.get(c, c)) for c in available_locales()), blank)


class WholeNumberField(IntegerField):
    """A whole number typed as digits only. Any script's digits count, as an input method
    gives them: full-width "30" from a Chinese keyboard, "٣٠" or "३०" are 30. ``int()`` alone would
    also take "1_0", "+5" and " 5 " inside other text; those are refused.

    Drawn as a text box with a numeric keyboard, not ``type="number"``: Chromium keeps
    full-width digits there but turns "٣٠" or "३०" into an empty value, which a form
    without browser validation sends as "no minimum", losing what was typed."""

    widget = TextInput()

    def __init__(self, *args, message=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.message = message

    def process_formdata(self, valuelist):
        self.data = None
        if not valuelist:
            return
        text = valuelist[0].strip()
        if not text:
            return
        if not (text.isdecimal() and len(text) <= 10):
            raise ValueError(self.message or _l("Enter a whole number."))
        self.data = int("".join(str(unicodedata.decimal(c)) for c in text))

    def pre_validate(self, form) -> None:
        # What could not be read is said once: the range validators would add a second
        # message about a value that is not there.
        if self.process_errors:
            raise StopValidation()
