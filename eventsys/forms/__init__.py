"""Flask-WTF forms: every POST carries a CSRF token, every field a length limit, and no
field lets control characters (NUL and friends) through to the database."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from babel import support
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Field, FieldList, FormField, PasswordField
from wtforms.i18n import messages_path

from eventsys.services.validation import has_control_chars


def _leaves(fields) -> Iterator[Field]:
    for field in fields:
        if isinstance(field, FormField):
            yield from _leaves(field.form)
        elif isinstance(field, FieldList):
            yield from _leaves(field.entries)
        else:
            yield field


@lru_cache(maxsize=64)
def _wtforms_messages(locale: str) -> support.NullTranslations:
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


class Form(FlaskForm):
    """The base of every form of the site."""

    class Meta(FlaskForm.Meta):
        def get_translations(self, form):
            """WTForms' own messages in the request's language, read from disk once per
            process (Flask-WTF reads the catalogue again for every request)."""
            return _wtforms_messages(str(get_locale() or "en"))

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        for field in _leaves(self):
            if isinstance(field, PasswordField):  # hashed, never stored or shown as text
                continue
            if isinstance(field.data, str) and has_control_chars(field.data):
                field.errors = [*field.errors, _l("This contains characters that are not allowed.")]
                ok = False
        return ok


class RowList(FieldList):
    """A FieldList that reads only plain row numbers (0-9999) from the submitted names:
    WTForms' own parser takes any Unicode digit ("²") or a 5,000-digit number and fails."""

    def _extract_indices(self, prefix, formdata):
        offset = len(prefix) + 1
        for key in formdata:
            if key.startswith(prefix):
                index = key[offset:].split(self._field_separator, 1)[0]
                if index.isascii() and index.isdigit() and len(index) <= 4:
                    yield int(index)


class ActionForm(Form):
    """A form with no fields: a CSRF-protected button (log out, publish, retry)."""
