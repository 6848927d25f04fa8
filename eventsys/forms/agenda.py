"""Organiser forms for the programme: a session with its people, a material, publishing,
and a speaker's profile."""

from __future__ import annotations

import re
from datetime import datetime

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    EmailField,
    FormField,
    SelectField,
    StringField,
    TextAreaField,
    URLField,
    ValidationError,
)
from wtforms import Form as PlainForm
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional, Regexp
from wtforms.widgets import DateTimeLocalInput

from eventsys.forms import Form, RowList, fields
from eventsys.models import (
    SESSION_KINDS,
    SESSION_MODES,
    SESSION_ROLES,
    AgendaSession,
    Event,
    Person,
)
from eventsys.services.agenda import PersonData, SessionData, kind_label, role_label, to_local

MODE_LABELS = {"in_person": _l("In person"), "online": _l("Online"), "hybrid": _l("Hybrid")}
MAX_ROWS = 50  # the service's MAX_PEOPLE_PER_SESSION
BLANK_ROWS = 3

# What a browser's <input type="datetime-local"> sends: ASCII digits only (strptime alone
# takes "2031-8-1T9:0" and Unicode digits), seconds optional.
_LOCAL_TIME = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2})?$")


class LocalDateTimeField(StringField):
    """A wall-clock time as typed in an ``<input type="datetime-local">``, strictly: a
    well-formed date and time between the years 2000 and 2200, or a field error."""

    widget = DateTimeLocalInput()

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return self.data.strftime("%Y-%m-%dT%H:%M") if isinstance(self.data, datetime) else ""

    def process_formdata(self, valuelist):
        self.data = None
        if not valuelist or not valuelist[0]:
            return
        text = valuelist[0].strip()
        try:
            if not _LOCAL_TIME.match(text):
                raise ValueError
            moment = datetime.fromisoformat(text.replace(" ", "T"))
        except ValueError as exc:
            raise ValueError(_l("Enter a date and time, for example 2031-08-11 09:30.")) from exc
        if not 2000 <= moment.year <= 2200:
            raise ValueError(_l("Enter a year between 2000 and 2200."))
        self.data = moment


class IdChoiceField(SelectField):
    """A select of database ids (or nothing), checked against a set of the offered ids."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("choices", [])
        kwargs.setdefault("validate_choice", False)
        super().__init__(*args, **kwargs)
        self.allowed: set[str] = set()

    def offer(self, choices, allowed: set[str]) -> None:
        self.choices, self.allowed = choices, allowed

    def pre_validate(self, form):
        if self.data and self.data not in self.allowed:
            raise ValidationError(self.gettext("Not a valid choice."))

    @property
    def id_value(self) -> int | None:
        return int(self.data) if self.data else None


class SessionPersonForm(PlainForm):
    person = IdChoiceField(_l("Person"), validators=[Optional()])
    role = SelectField(_l("Role"), default="speaker")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.role.choices = fields.choices((r, role_label(r)) for r in SESSION_ROLES)


class SessionForm(Form):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=300)])
    kind = SelectField(_l("Kind"), default="talk")
    starts = LocalDateTimeField(_l("Starts"), validators=[InputRequired()])
    ends = LocalDateTimeField(_l("Ends"), validators=[InputRequired()])
    venue = IdChoiceField(_l("Venue"), validators=[Optional()])
    room = StringField(_l("Room"), validators=[Optional(), Length(max=120)])
    mode = SelectField(_l("How people attend"), default="in_person")
    stream_url = URLField(_l("Stream link"), validators=[
        Optional(), Length(max=500),
        Regexp(r"^https?://\S+$", message=_l("Give a web address (https://...)."))])
    track = StringField(_l("Track"), validators=[Optional(), Length(max=120)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=10000)])
    counts_for_attendance = BooleanField(
        _l("Counts for attendance"), default=True,
        description=_l("Checked-in participants get credit for it (certificates)."))
    needs_checkout = BooleanField(
        _l("Needs check-out"),
        description=_l("In the room, attended means checked in and checked out again "
                       "(a field trip, an exam)."))
    people = RowList(FormField(SessionPersonForm), min_entries=0, max_entries=MAX_ROWS)

    def __init__(self, event: Event, people: list[Person], *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind.choices = fields.choices((k, kind_label(k)) for k in SESSION_KINDS)
        self.mode.choices = fields.choices((m, MODE_LABELS[m]) for m in SESSION_MODES)
        self.venue.offer(fields.choices(((str(v.id), f"{v.name}, {v.city}") for v in event.venues),
                                        blank=_l("None (online)")),
                         {str(v.id) for v in event.venues})
        self._people = fields.choices(
            ((str(p.id), p.display_name + (f" · {p.organisation_name}"
                                           if p.organisation_name else "")) for p in people),
            blank="")
        self._people_ids = {str(p.id) for p in people}
        for row in self.people:
            row.form.person.offer(self._people, self._people_ids)
        zone = event.timezone.replace("_", " ")
        self.starts.description = self.ends.description = _l("Times in %(zone)s", zone=zone)

    @classmethod
    def from_session(cls, event: Event, people: list[Person],
                     session: AgendaSession) -> SessionForm:
        return cls(event, people, data={
            "title": session.title, "kind": session.kind,
            "starts": to_local(session.starts_at, event.timezone).replace(tzinfo=None),
            "ends": to_local(session.ends_at, event.timezone).replace(tzinfo=None),
            "venue": str(session.venue_id) if session.venue_id else "",
            "room": session.room, "mode": session.mode, "stream_url": session.stream_url,
            "track": session.track, "description": session.description,
            "counts_for_attendance": session.counts_for_attendance,
            "needs_checkout": session.needs_checkout,
            "people": [{"person": str(sp.person_id), "role": sp.role}
                       for sp in session.people],
        })

    def add_blank_rows(self, rows: int = BLANK_ROWS) -> None:
        """Empty rows to fill in: the form works without JavaScript."""
        blank = sum(1 for row in self.people if not row.form.person.data)
        for _ in range(rows - blank):
            if len(self.people) < self.people.max_entries:
                self.people.append_entry()
                self.people[-1].form.person.offer(self._people, self._people_ids)

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if self.starts.data and self.ends.data and self.ends.data <= self.starts.data:
            self.ends.errors.append(_l("A session must end after it starts."))
            ok = False
        seen: set[str] = set()
        for row in self.people:
            person = row.form.person
            if person.data and person.data in seen:
                person.errors.append(_l("This person is already in the session."))
                ok = False
            seen.add(person.data)
        return ok

    def to_data(self) -> SessionData:
        return SessionData(
            title=self.title.data, kind=self.kind.data, starts_local=self.starts.data,
            ends_local=self.ends.data, venue_id=self.venue.id_value, room=self.room.data,
            mode=self.mode.data, stream_url=self.stream_url.data or None,
            track=self.track.data, description=self.description.data,
            counts_for_attendance=self.counts_for_attendance.data,
            needs_checkout=self.needs_checkout.data,
            people=[(row.form.person.id_value, row.form.role.data) for row in self.people
                    if row.form.person.data],
        )


class MaterialForm(Form):
    title = StringField(_l("Title"), validators=[Optional(), Length(max=200)],
                        description=_l("For example: Slides. Leave empty to use the file name."))
    file = FileField(_l("File"), validators=[FileRequired(_l("Choose a file."))],
                     description=_l("PDF, presentation, document, spreadsheet, image, text or "
                                    "ZIP; at most 25 MB."))


class MoveForm(Form):
    direction = SelectField(choices=fields.choices([("up", "up"), ("down", "down")]))


class PublishForm(Form):
    confirm_warnings = BooleanField(_l("Publish even though there are warnings"))
    notify_participants = BooleanField(
        _l("Also email every confirmed participant about the changes"),
        description=_l("Speakers of changed sessions and participants who marked them are "
                       "always told."))


class PersonForm(Form):
    honorific = StringField(_l("Honorific"), validators=[Optional(), Length(max=40)],
                            description=_l("For example Dr., Prof., H.E."))
    name = StringField(_l("Name (Latin letters)"), validators=[DataRequired(), Length(max=200)])
    name_native = StringField(_l("Name in their own script"),
                              validators=[Optional(), Length(max=200)])
    job_title = StringField(_l("Job title"), validators=[Optional(), Length(max=200)])
    organisation_name = StringField(_l("Organisation"), validators=[Optional(), Length(max=200)])
    country = fields.CountryField(_l("Country"), validators=[Optional()])
    email = EmailField(_l("Email"), validators=[
        Optional(), Length(max=254), Email(message=_l("Enter a valid email address."))],
        description=_l("Private: used only to tell them about programme changes."))
    bio = TextAreaField(_l("Biography"), validators=[Optional(), Length(max=4000)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.country.choices = fields.countries(blank="")

    @classmethod
    def from_person(cls, person: Person) -> PersonForm:
        return cls(data={key: getattr(person, key) or "" for key in (
            "honorific", "name", "name_native", "job_title", "organisation_name", "country",
            "email", "bio")})

    def to_data(self) -> PersonData:
        return PersonData(**{key: self[key].data or None for key in (
            "name", "honorific", "name_native", "job_title", "organisation_name", "country",
            "email", "bio")})


PHOTO_HELP = _l("JPEG, PNG, WebP or GIF, at most 8 MB. It is shown at most 800 pixels wide.")


class NewPersonForm(PersonForm):
    """A new person may come with their photo (one step for the organiser)."""

    photo = FileField(_l("Photo"), validators=[Optional()], description=PHOTO_HELP)


class PhotoForm(Form):
    photo = FileField(_l("Photo"), validators=[FileRequired(_l("Choose a photo."))],
                      description=PHOTO_HELP)
