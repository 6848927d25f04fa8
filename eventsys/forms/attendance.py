"""Attendance forms: the event's rule, and the sheets.

A sheet's rows are as many as the participants, so its fields are not WTForms fields but
plain names read here, strictly: ids are ASCII digits of a sane length, anything else is
"not understood" (a 400) rather than a guess. The form object itself carries the CSRF token
and the button pressed."""

from __future__ import annotations

from collections.abc import Iterable

from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict
from wtforms import SelectField
from wtforms.validators import NumberRange, Optional

from eventsys.forms import Form, fields
from eventsys.models import ID_MAX, Event
from eventsys.services.attendance import UNIT_LABELS, UNITS
from eventsys.services.attendance_stats import DayChanges, SheetChanges

# The notes offered with one tap on a sheet; any other text may be typed.
NOTE_CHOICES = (_l("excused"), _l("late"), _l("left early"))


class RulesForm(Form):
    unit = SelectField(_l("A participant's rate is the share of"), default="session",
                       description=_l("Days suit a forum, whose door is its register; "
                                      "sessions suit a workshop that takes attendance at "
                                      "every lecture."))
    min_minutes = fields.WholeNumberField(
        _l("Online: at least this many minutes"),
        validators=[Optional(), NumberRange(1, 24 * 60, message=_l(
            "Minutes online must be between %(min)d and %(max)d (a whole day)."))],
        message=_l("Enter the minutes as a whole number, for example 30."),
        description=_l("Leave empty if joining is enough."),
        render_kw={"inputmode": "numeric"})
    min_percent = fields.WholeNumberField(
        _l("Online: at least this share of the session (%)"),
        validators=[Optional(), NumberRange(1, 100, message=_l(
            "The share of the session must be between %(min)d and %(max)d %%."))],
        message=_l("Enter the share as a whole number of per cent, for example 50."),
        description=_l("With both set, either one is enough."),
        render_kw={"inputmode": "numeric"})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.unit.choices = fields.choices((u, UNIT_LABELS[u]) for u in UNITS)

    @classmethod
    def for_event(cls, event: Event) -> RulesForm:
        return cls(formdata=None, data={"min_minutes": event.attendance_min_minutes,
                                        "min_percent": event.attendance_min_percent,
                                        "unit": event.attendance_unit or "session"})


class BadSheet(ValueError):
    """The sheet's fields are not what the page sends."""


def _id(text: str) -> int:
    text = text.strip()
    if not (text.isascii() and text.isdigit() and 0 < len(text) <= 10):
        raise BadSheet(text)
    value = int(text)
    if not 0 < value <= ID_MAX:
        raise BadSheet(text)
    return value


def _ids(values: Iterable[str]) -> set[int]:
    found: set[int] = set()
    for value in values:
        for part in value.split(","):
            if part.strip():
                found.add(_id(part))
    return found


def _pairs(values: Iterable[str]) -> set[tuple[int, int]]:
    found: set[tuple[int, int]] = set()
    for value in values:
        for part in value.split(","):
            if part.strip():
                session, sep, person = part.partition("-")
                if not sep:
                    raise BadSheet(part)
                found.add((_id(session), _id(person)))
    return found


def _shown(formdata: MultiDict) -> set[int] | None:
    """``shown``: the rows a name search left on the page (sheets' script sends it only
    while a search is active; empty when it matches nobody)."""
    if "shown" not in formdata:
        return None
    return _ids(formdata.getlist("shown"))


class SessionSheetForm(Form):
    """A session's sheet. Besides the CSRF token it sends ``listed`` (the people on the
    page), ``was`` (those shown in the room), ``present`` (ticked now), ``out`` (to check
    out), ``note-<id>`` and ``note_was-<id>``, and the button pressed as ``action``."""

    ACTIONS = ("save", "all_present", "all_out")

    def changes(self, formdata: MultiDict) -> SheetChanges:
        action = formdata.get("action", "save")
        if action not in self.ACTIONS:
            raise BadSheet(action)
        listed = _ids(formdata.getlist("listed"))
        was = _ids(formdata.getlist("was")) & listed
        ticked = _ids(formdata.getlist("present"))
        notes = {}
        for rid in listed:
            text = formdata.get(f"note-{rid}")
            if text is None:
                continue
            if text != formdata.get(f"note_was-{rid}", ""):  # as drawn: unchanged
                notes[rid] = text
        return SheetChanges(listed=listed, present=ticked - was, absent=was - ticked,
                            out=_ids(formdata.getlist("out")), notes=notes,
                            all_present=action == "all_present", all_out=action == "all_out",
                            shown=_shown(formdata))


class DaySheetForm(Form):
    """A day's grid: ``listed``, ``was`` and ``present`` as "<session id>-<person id>",
    and ``action``: save, ``day-<person id>`` or ``session-<session id>``."""

    def changes(self, formdata: MultiDict) -> DayChanges:
        listed = _ids(formdata.getlist("listed"))
        was = _pairs(formdata.getlist("was"))
        ticked = _pairs(formdata.getlist("present"))
        changes = DayChanges(listed=listed, present=ticked - was, absent=was - ticked,
                             shown=_shown(formdata))
        action = formdata.get("action", "save")
        what, _, value = action.partition("-")
        if what == "day" and value:
            changes.whole_day.add(_id(value))
        elif what == "session" and value:
            changes.whole_session.add(_id(value))
        elif action != "save":
            raise BadSheet(action)
        return changes
