"""Countries, time zones and locales: the lists every form and service validates against.

Country names come from Babel's CLDR data (already a dependency of Flask-Babel), so they are
translated wherever a catalogue is added, and codes are ISO 3166-1 alpha-2.
"""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime
from babel.dates import format_interval
from babel.dates import format_time as babel_format_time
from flask import Flask
from flask_babel import format_date, format_datetime, get_locale

TRANSLATIONS_DIR = Path(__file__).parent / "translations"

# CLDR lists some codes that are not countries (regions, "Unknown", pseudo-locales).
_NOT_COUNTRIES = {"AC", "CP", "DG", "EA", "EU", "EZ", "IC", "QO", "TA", "UN", "XA", "XB", "ZZ"}


@cache
def _territories(locale: str) -> tuple[tuple[str, str], ...]:
    names = Locale.parse(locale).territories
    return tuple(
        sorted(
            ((code, name) for code, name in names.items()
             if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES),
            key=lambda item: item[1],
        )
    )


def country_choices(locale: str = "en") -> list[tuple[str, str]]:
    return list(_territories(locale))


@cache
def _country_codes() -> frozenset[str]:
    return frozenset(code for code, _name in _territories("en"))


def is_country(code: str | None) -> bool:
    return bool(code) and code in _country_codes()


def country_name(code: str | None, locale: str | None = None) -> str:
    if not code:
        return ""
    return dict(_territories(locale or "en")).get(code, code)


@cache
def timezone_names() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def is_timezone(name: str | None) -> bool:
    return bool(name) and name in timezone_names()


@cache
def _locales_on_disk() -> tuple[str, ...]:
    found = ["en"]
    if TRANSLATIONS_DIR.is_dir():
        found += sorted(p.name for p in TRANSLATIONS_DIR.iterdir() if (p / "LC_MESSAGES").is_dir())
    return tuple(found)


def available_locales() -> list[str]:
    """The languages the site speaks (catalogues ship with the package: read once)."""
    return list(_locales_on_disk())


def date_range(start: date, end: date) -> str:
    """CLDR knows each language's way: "Aug 12 – 23, 2019", "2019年8月12日至23日"."""
    if start == end:
        return format_date(start, "long")
    return format_interval(start, end, skeleton="yMMMd", locale=get_locale() or "en")


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS_DIR))

    def _country(code):
        return country_name(code, str(get_locale() or "en"))

    def _datetime(value: datetime, fmt: str = "medium") -> str:
        return format_datetime(value, fmt)

    app.jinja_env.globals["get_locale"] = get_locale
    from eventsys.forms.fields import country_options

    app.jinja_env.globals["country_options"] = country_options
    def _datetime_in(value: datetime, tz: str, fmt: str | None = None) -> str:
        """A moment as the clock shows it in ``tz`` (the event's zone, not the reader's):
        date and minutes in the reader's language, or Babel's ``fmt`` ('short'...)."""
        locale = get_locale() or "en"
        if fmt is None:
            local = value.astimezone(ZoneInfo(tz))
            return (f"{babel_format_date(local, 'medium', locale=locale)} "
                    f"{babel_format_time(local, 'short', tzinfo=local.tzinfo, locale=locale)}")
        return babel_format_datetime(value, fmt, tzinfo=ZoneInfo(tz), locale=locale)

    app.jinja_env.filters["datetime_in"] = _datetime_in
    app.jinja_env.filters["country"] = _country
    app.jinja_env.filters["date_range"] = date_range
    app.jinja_env.filters["datetime"] = _datetime
    app.jinja_env.filters["date"] = lambda value, fmt="long": format_date(value, fmt)
