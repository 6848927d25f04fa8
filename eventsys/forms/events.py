from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (
    DateField,
    EmailField,
    FormField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms import (
    Form as PlainForm,
)
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional, Regexp

from eventsys.forms import Form, RowList, fields
from eventsys.models import EVENT_ROLES
from eventsys.services.events import EventData, HostData, VenueData

KIND_LABELS = {"forum": _l("Forum"), "workshop": _l("Workshop")}
MODE_LABELS = {"in_person": _l("In person"), "online": _l("Online"),
               "hybrid": _l("Hybrid (in person and online)")}
STATUS_LABELS = {"draft": _l("Draft"), "published": _l("Published"),
                 "archived": _l("Archived")}
HOST_ROLE_LABELS = {"host": _l("Host"), "co_host": _l("Co-host")}
ROLE_LABELS = {"manager": _l("Manager"), "checkin": _l("Check-in staff")}


class VenueForm(PlainForm):
    name = StringField(_l("Venue"), validators=[Optional(), Length(max=200)])
    city = StringField(_l("City"), validators=[Optional(), Length(max=100)])
    country = SelectField(_l("Country"), validators=[Optional()])
    address = StringField(_l("Address"), validators=[Optional(), Length(max=300)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.country.choices = fields.countries(blank="")


class HostForm(PlainForm):
    name = StringField(_l("Organisation"), validators=[Optional(), Length(max=200)])
    country = SelectField(_l("Country"), validators=[Optional()])
    role = SelectField(_l("Role"), choices=fields.choices(HOST_ROLE_LABELS.items()))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.country.choices = fields.countries(blank="")


class EventForm(Form):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    slug = StringField(
        _l("Short name (in the address)"),
        validators=[DataRequired(), Length(max=80),
                    Regexp(r"^[a-z0-9]+(?:-[a-z0-9]+)*$",
                           message=_l("Use lower-case letters, digits and dashes."))],
        description=_l("For example cisip-forum-2026: the page will be /events/cisip-forum-2026"),
    )
    kind = SelectField(_l("Kind"), choices=fields.choices(KIND_LABELS.items()))
    theme = StringField(_l("Theme"), validators=[Optional(), Length(max=300)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=20000)])
    # InputRequired, not DataRequired: an impossible date must say "Not a valid date".
    start_date = DateField(_l("First day"), validators=[InputRequired()])
    end_date = DateField(_l("Last day"), validators=[InputRequired()])
    timezone = SelectField(_l("Time zone of the event"), validators=[DataRequired()])
    mode = SelectField(_l("Attendance"), choices=fields.choices(MODE_LABELS.items()))
    status = SelectField(_l("Status"), choices=fields.choices(STATUS_LABELS.items()))
    venues = RowList(FormField(VenueForm), min_entries=1, max_entries=20)
    hosts = RowList(FormField(HostForm), min_entries=1, max_entries=20)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timezone.choices = fields.timezones()

    def add_blank_rows(self, venues: int = 1, hosts: int = 2) -> None:
        """Empty rows to fill in: the form works without JavaScript."""
        for _ in range(venues):
            if len(self.venues) < self.venues.max_entries:
                self.venues.append_entry()
        for _ in range(hosts):
            if len(self.hosts) < self.hosts.max_entries:
                self.hosts.append_entry()

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        start, end = self.start_date.data, self.end_date.data
        if start and end and end < start:
            self.end_date.errors.append(_l("The last day cannot come before the first."))
            ok = False
        for entry in self.venues:
            venue = entry.form
            filled = [(venue.name.data or "").strip(), (venue.city.data or "").strip()]
            if any(filled) and not all(filled):
                venue.city.errors.append(_l("Give both the venue and its city."))
                ok = False
        return ok

    def to_data(self) -> EventData:
        return EventData(
            slug=self.slug.data.strip(),
            kind=self.kind.data,
            title=self.title.data,
            theme=self.theme.data,
            description=self.description.data,
            start_date=self.start_date.data,
            end_date=self.end_date.data,
            timezone=self.timezone.data,
            mode=self.mode.data,
            status=self.status.data,
            venues=[
                VenueData(name=v.form.name.data.strip(), city=v.form.city.data.strip(),
                          country=v.form.country.data or None, address=v.form.address.data)
                for v in self.venues
                if (v.form.name.data or "").strip()
            ],
            hosts=[
                HostData(name=h.form.name.data, country=h.form.country.data or None,
                         role=h.form.role.data)
                for h in self.hosts
                if (h.form.name.data or "").strip()
            ],
        )

    @classmethod
    def from_event(cls, event) -> EventForm:
        form = cls(
            data={
                "title": event.title, "slug": event.slug, "kind": event.kind,
                "theme": event.theme, "description": event.description,
                "start_date": event.start_date, "end_date": event.end_date,
                "timezone": event.timezone, "mode": event.mode, "status": event.status,
                "venues": [
                    {"name": v.name, "city": v.city, "country": v.country or "",
                     "address": v.address} for v in event.venues
                ],
                "hosts": [
                    {"name": h.organisation.name, "country": h.organisation.country or "",
                     "role": h.role} for h in event.hosts
                ],
            }
        )
        return form


class RoleForm(Form):
    email = EmailField(_l("Email of their account"),
                       validators=[DataRequired(), Length(max=254), Email()])
    role = SelectField(_l("Role"), choices=fields.choices((r, ROLE_LABELS[r]) for r in EVENT_ROLES))
