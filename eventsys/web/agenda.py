"""The public agenda: by day in the reader's time zone, speaker pages, the printable PDF,
photos and materials, and a participant's own marked sessions."""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_skeleton, get_timezone_location
from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup, escape

from eventsys.forms import ActionForm
from eventsys.i18n import timezone_names
from eventsys.services import agenda, agenda_pdf, events, media, registration
from eventsys.services.errors import NotFound
from eventsys.web.microcache import agenda_pages
from eventsys.web.registration import no_store

bp = Blueprint("agenda", __name__)

PHOTO_MAX_AGE = 365 * 24 * 3600  # a photo's name is its content's hash: it never changes
PDF_RETRY_SECONDS = 10


def _reader_timezone(event) -> str:
    """``?tz=Area/City`` when given (a ServiceError, so a 400 page, when it is not a zone),
    else the event's own."""
    name = request.args.get("tz", "").strip()
    if not name:
        return event.timezone
    return agenda.zone(name).key


@bp.get("/events/<slug:slug>/agenda", endpoint="agenda")
def agenda_page(slug: str):
    event = events.published_event(slug)
    reader_tz = _reader_timezone(event)
    # A published agenda never changes, so its page is rendered once per event version,
    # zone and language and kept (for visitors, whose page is the same for all of them).
    cacheable = not current_user.is_authenticated and "_flashes" not in session
    key = (event.id, event.updated_at, agenda.latest_publication_id(event), reader_tz,
           str(get_locale() or "en"))
    page = agenda_pages().get(key) if cacheable else None
    if page is None:
        page = render_template("agenda/agenda.html", event=event,
                               published=agenda.public_agenda(event, reader_tz),
                               reader_tz=reader_tz, timezone_options=timezone_options)
        if cacheable:
            agenda_pages().put(key, page)
    return page


@lru_cache(maxsize=1)
def _timezone_options() -> Markup:
    return Markup("").join(Markup('<option value="{0}">{0}</option>').format(name)
                           for name in timezone_names())


def timezone_options(selected: str) -> Markup:
    """The ~600 zones of the selector, built once per process (a loop in the template cost
    a tenth of the page), with ``selected`` chosen."""
    chosen = Markup('<option value="{}">').format(selected)
    return _timezone_options().replace(chosen, chosen[:-1] + Markup(" selected>"), 1)


@bp.get("/events/<slug:slug>/speakers/<id:person_id>")
def speaker(slug: str, person_id: int):
    event = events.published_event(slug)
    reader_tz = _reader_timezone(event)
    published = agenda.public_agenda(event, reader_tz)
    person = published.people.get(person_id) if published else None
    if person is None:
        abort(404)
    return render_template("agenda/speaker.html", event=event, published=published,
                           person=person, reader_tz=reader_tz,
                           sessions=agenda.sessions_of_person(published, person_id))


@bp.get("/events/<slug:slug>/agenda.pdf")
def pdf(slug: str):
    event = events.published_event(slug)
    path = agenda_pdf.printable(event)
    if path is None:
        response = Response(render_template("agenda/pdf_pending.html", event=event), 202)
        response.headers["Retry-After"] = str(PDF_RETRY_SECONDS)
        response.headers["Cache-Control"] = "no-store"
        return response
    return send_file(path, mimetype="application/pdf", as_attachment=False,
                     download_name=f"{event.slug}-agenda.pdf")


@bp.get("/media/photos/<name>")
def photo(name: str):
    path = media.photo_path(name)
    if path is None:
        abort(404)
    response = send_file(path, mimetype="image/jpeg", max_age=PHOTO_MAX_AGE)
    response.cache_control.public = True
    response.cache_control.immutable = True
    return response


@bp.get("/events/<slug:slug>/materials/<id:material_id>/<path:filename>")
def material(slug: str, material_id: int, filename: str):
    event = events.published_event(slug)
    found = agenda.public_material(event, material_id)
    path = media.material_path(found.stored_name)
    if path is None:  # listed in the agenda, file deleted since
        raise NotFound(_("There is no such file."))
    return send_file(path, mimetype=found.content_type, as_attachment=True,
                     download_name=found.filename)


@bp.route("/r/<token>/agenda", methods=["GET", "POST"])
def personal(token: str):
    found = registration.registration_by_token(token)
    event = found.event
    published = agenda.public_agenda(event)
    form = ActionForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        if published is None:
            abort(404)
        agenda.set_marks(found, request.form.getlist("session"), published)
        flash(_("Your sessions are saved."), "success")
        return no_store(redirect(url_for("agenda.personal", token=token)))
    return no_store(Response(render_template(
        "agenda/personal.html", event=event, registration=found, token=token, form=form,
        published=published, marked=agenda.marked(found) if published else set())))


# Formatting for the agenda templates (the pages and the PDF) ------------------------------

def _locale() -> str:
    return str(get_locale() or "en")


@lru_cache(maxsize=64)
def _clock_pattern(locale: str) -> str | None:
    """The language's 24-hour time pattern; None when it is not plain "HH:mm" (then Babel
    formats each time). Looked up once: a long programme shows hundreds of times."""
    pattern = Locale.parse(locale).datetime_skeletons.get("Hm")
    return "%H:%M" if pattern is not None and str(pattern) == "HH:mm" else None


@bp.app_template_filter("clock")
def clock(moment: datetime) -> str:
    """The time of day, 24-hour, in the zone the moment carries."""
    locale = _locale()
    fast = _clock_pattern(locale)
    if fast:
        return moment.strftime(fast)
    return format_skeleton("Hm", moment, tzinfo=moment.tzinfo, locale=locale)


@bp.app_template_filter("short_day")
def short_day(day: date | datetime) -> str:
    return format_skeleton("MMMEd", day, locale=_locale())


@bp.app_template_filter("clock_range")
def clock_range(start: datetime, end: datetime) -> str:
    """"14:30–15:30", or with the end's day when it ends on another (a field trip)."""
    if start.date() == end.date():
        return f"{clock(start)}–{clock(end)}"
    return f"{clock(start)} – {short_day(end)} {clock(end)}"


@bp.app_template_filter("zone_city")
def zone_city(name: str) -> str:
    """A zone as people say it: "Karachi", "São Paulo" (CLDR's city, in the reader's
    language)."""
    return _zone_city(name, _locale())


@lru_cache(maxsize=1024)
def _zone_city(name: str, locale: str) -> str:
    city = get_timezone_location(ZoneInfo(name), locale=locale, return_city=True)
    return city.rsplit("/", 1)[-1]


MODE_LABELS = {"in_person": _l("In person"), "online": _l("Online"), "hybrid": _l("Hybrid")}


class AgendaText:
    """What the agenda pages write about sessions, worked out once per page: the language,
    the translated labels and the zone names are looked up once, not once per session
    (a three-week programme has 150 sessions and 450 people in roles)."""

    def __init__(self, published: agenda.PublishedAgenda | None = None):
        """Without ``published`` (the organiser's draft) only the labels are there."""
        self.locale = _locale()
        self.kinds = {k: _(v) for k, v in agenda.KIND_LABELS.items()}
        self.roles = {k: _(v) for k, v in agenda.ROLE_LABELS.items()}
        self.modes = {k: str(v) for k, v in MODE_LABELS.items()}
        if published is None:
            return
        self.reader_differs = published.reader_timezone != published.timezone
        self._reader_city = _zone_city(published.reader_timezone, self.locale)
        self._event_city = _zone_city(published.timezone, self.locale)
        self._reader_time = _("%(time)s (%(zone)s)")
        self._event_time = _("%(time)s %(zone)s time")

    def kind(self, kind: str) -> str:
        return self.kinds.get(kind, kind)

    def role(self, role: str) -> str:
        return self.roles.get(role, role)

    def mode(self, mode: str) -> str:
        return self.modes.get(mode, mode)

    def when(self, s: agenda.SessionView, day: date | None = None) -> Markup:
        """The reader's time first; the event's alongside when the zones differ; the day
        when the session is not on ``day`` (for the reader) or no day is given."""
        if not self.reader_differs:
            html = Markup("<strong>{}</strong>").format(clock_range(s.local_start, s.local_end))
            if day is None:
                html += Markup(' <span class="agenda-day-name">{}</span>').format(
                    short_day(s.local_start))
            return html
        reader = self._reader_time % {"time": clock_range(s.reader_start, s.reader_end),
                                      "zone": self._reader_city}
        html = Markup("<strong>{}</strong>").format(reader)
        if day is None or s.reader_start.date() != day:
            html += Markup(' <mark class="agenda-other-day">{}</mark>').format(
                short_day(s.reader_start))
        local = self._event_time % {"time": clock_range(s.local_start, s.local_end),
                                    "zone": self._event_city}
        return html + Markup(' <span class="agenda-event-time">· {}</span>').format(local)

    @staticmethod
    def where(s: agenda.SessionView) -> str:
        """"Venue, City · Room", whichever parts there are."""
        venue = s.venue and ", ".join(p for p in (s.venue.get("name"), s.venue.get("city")) if p)
        return " · ".join(p for p in (venue, s.room) if p)


bp.add_app_template_global(AgendaText, "AgendaText")


_BLANK_LINE = re.compile(r"\n[ \t]*\n\s*")


@bp.app_template_filter("paragraphs")
def paragraphs(text: str | None) -> list[list[str]]:
    """Text as typed: blank lines part paragraphs, single line breaks stay line breaks.
    Lines, not markup, so the template escapes every one."""
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    return [part.split("\n") for part in _BLANK_LINE.split(text) if part.strip()]


_URL = re.compile(r"https?://[^\s<>\"]+[^\s<>\".,;:!?)\]]")


def _line_html(line: str, links: bool) -> Markup:
    if not links:
        return escape(line)
    out, last = Markup(""), 0
    for match in _URL.finditer(line):
        out += escape(line[last:match.start()])
        out += Markup('<a href="{0}">{0}</a>').format(match.group(0))
        last = match.end()
    return out + escape(line[last:])


@bp.app_template_filter("paragraphs_html")
def paragraphs_html(text: str | None, links: bool = False) -> Markup:
    """The paragraphs as ``<p>`` with ``<br>`` between lines, every line escaped; with
    ``links``, web addresses become links (mail written by organisers)."""
    return Markup("").join(
        Markup("<p>{}</p>").format(Markup("<br>").join(_line_html(line, links)
                                                       for line in paragraph))
        for paragraph in paragraphs(text))
