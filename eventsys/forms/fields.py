"""Choices shared by several forms, computed for the reader's language."""

from __future__ import annotations

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from eventsys.i18n import available_locales, country_choices, timezone_names

LOCALE_NAMES = {"en": "English", "zh": "中文"}


def countries(blank: str | None = None) -> list[tuple[str, str]]:
    choices = country_choices(str(get_locale() or "en"))
    return ([("", blank or str(_l("— choose —")))] if blank is not None else []) + choices


def timezones(blank: str | None = None) -> list[tuple[str, str]]:
    choices = [(name, name.replace("_", " ")) for name in timezone_names()]
    return ([("", blank)] if blank is not None else []) + choices


def locales() -> list[tuple[str, str]]:
    return [(code, LOCALE_NAMES.get(code, code)) for code in available_locales()]
