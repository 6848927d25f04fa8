"""Organiser forms for meeting platforms' attendance reports: the upload, with the session
the report is for and the time zone of its times."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField

from eventsys.forms import Form, fields
from eventsys.services.agenda import to_local
from eventsys.services.tables import MAX_BYTES

SPLIT = "split"


class UploadForm(Form):
    file = FileField(_l("Attendance report (CSV or Excel)"),
                     validators=[FileRequired(_l("Choose a file."))],
                     description=_l("As Zoom, Tencent Meeting, Teams or the live-stream "
                                    "platform exports it: name, email, join and leave times, "
                                    "duration. At most %(mb)d MB. Nothing counts before you "
                                    "confirm.", mb=MAX_BYTES // (1024 * 1024)))
    session = SelectField(_l("The report is for"), default=SPLIT)
    timezone = SelectField(_l("Time zone of the times in the file"),
                           description=_l("Times that carry their own offset (+08:00, UTC) "
                                          "keep it."))

    def __init__(self, event, sessions, *args, **kwargs):
        kwargs.setdefault("timezone", event.timezone)
        super().__init__(*args, **kwargs)
        split = (_l("Split by times across the sessions that count for attendance")
                 if any(s.counts_for_attendance for s in sessions)
                 else _l("The whole event (by the times in the file)"))
        self.session.choices = [(SPLIT, split)] + [
            (str(s.id), f"{_when(s, event.timezone)} · {s.title}") for s in sessions]
        self.timezone.choices = fields.timezones()

    @property
    def session_id(self) -> int | None:
        return None if self.session.data == SPLIT else int(self.session.data)


def _when(session, timezone: str) -> str:
    start, end = to_local(session.starts_at, timezone), to_local(session.ends_at, timezone)
    return f"{start:%Y-%m-%d %H:%M}–{end:%H:%M}"
