"""The agenda for machines: iCalendar, frab schedule XML and JSON, the JSON API.

Each export reads the event and its latest publication, nothing else; the builders are in
``services/schedule.py``. The API answers errors in JSON, not with the HTML error page.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, request, url_for
from flask_babel import gettext as _

from eventsys.models import Event
from eventsys.services import agenda, events, registration, schedule
from eventsys.services.agenda import PublishedAgenda
from eventsys.services.errors import NotFound, ServiceError
from eventsys.web.registration import no_store

bp = Blueprint("exports", __name__)


def _links(event: Event) -> schedule.Links:
    return schedule.Links(
        agenda=url_for("agenda.agenda", slug=event.slug, _external=True),
        material=lambda m: url_for("agenda.material", slug=event.slug, material_id=m["id"],
                                   filename=m["filename"], _external=True))


def _published(event: Event, reader_timezone: str | None = None) -> PublishedAgenda:
    published = agenda.public_agenda(event, reader_timezone)
    if published is None:
        raise NotFound(_("This event has no published agenda yet."))
    return published


def _download(body: bytes, mimetype: str, filename: str) -> Response:
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{filename}"'})


def _json(data: dict, status: int = 200) -> Response:
    return Response(json.dumps(data, ensure_ascii=False), status=status,
                    mimetype="application/json")


@bp.get("/events/<slug:slug>/agenda.ics")
def agenda_ics(slug: str):
    event = events.published_event(slug)
    published = _published(event)
    return _download(schedule.calendar(event, published, _links(event)), "text/calendar",
                     f"{event.slug}-agenda.ics")


@bp.get("/r/<token>/agenda.ics")
def personal_ics(token: str):
    found = registration.registration_by_token(token)
    event = found.event
    published = _published(event)
    marked = agenda.marked(found)
    body = schedule.calendar(
        event, published, _links(event),
        sessions=[s for s in published.sessions if s.guid in marked],
        name=_("%(title)s: my sessions", title=event.title))
    return no_store(_download(body, "text/calendar", f"{event.slug}-my-agenda.ics"))


@bp.get("/events/<slug:slug>/schedule.xml")
def schedule_xml(slug: str):
    event = events.published_event(slug)
    published = _published(event)
    return Response(schedule.frab_xml(event, published, _links(event)),
                    mimetype="application/xml")


@bp.get("/events/<slug:slug>/schedule.json")
def schedule_json(slug: str):
    event = events.published_event(slug)
    published = _published(event)
    return Response(schedule.frab_json(event, published, _links(event)),
                    mimetype="application/json")


# Any text as the slug, so that a malformed one is a JSON 404 too rather than the router's
# HTML page.
@bp.get("/api/v1/events/<slug>/agenda")
def api_agenda(slug: str):
    try:
        if len(slug) > 80 or not events.SLUG_RE.match(slug):
            raise NotFound(_("There is no such event."))
        event = events.published_event(slug)
        reader_tz = request.args.get("tz", "").strip() or event.timezone
        published = _published(event, agenda.zone(reader_tz).key)
    except ServiceError as error:
        return _json({"error": error.message}, error.status_code)
    return _json(schedule.api_agenda(event, published, _links(event)))


@bp.get("/api/v1/openapi.json")
def openapi():
    return _json(schedule.openapi(url_for("exports.openapi", _external=True)
                                  .removesuffix("/openapi.json")))
