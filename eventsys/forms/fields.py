"""Choices shared by several forms, computed for the reader's language."""

from __future__ import annotations

from flask_babel import get_locale
from wtforms.fields.choices import SelectChoice

from eventsys.i18n import available_locales, country_choices, timezone_names

LOCALE_NAMES = {"en": "English", "zh": "中文"}


def choices(pairs, blank: str | None = None) -> list[SelectChoice]:
    """WTForms' SelectChoice list from (value, label) pairs, with an optional empty first."""
    head = [SelectChoice("", str(blank))] if blank is not None else []
    return head + [SelectChoice(value, label) for value, label in pairs]


def countries(blank: str | None = None) -> list[SelectChoice]:
    return choices(country_choices(str(get_locale() or "en")), blank)


def timezones(blank: str | None = None) -> list[SelectChoice]:
    return choices(((name, name.replace("_", " ")) for name in timezone_names()), blank)


def locales(blank: str | None = None) -> list[SelectChoice]:
    return choices(((c, LOCALE_NAMES.get(c, c)) for c in available_locales()), blank)
