"""Public pages: what is on, and each published event."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, render_template

from eventsys.services import agenda, events, registration

bp = Blueprint("public", __name__)


@bp.get("/")
def index():
    return render_template(
        "public/index.html", upcoming=events.upcoming_events(), past=events.past_events()
    )


@bp.get("/events/<slug:slug>")
def event(slug: str):
    event = events.published_event(slug)
    return render_template("public/event.html", event=event,
                           is_past=event.end_date < date.today(),
                           registration_state=registration.window_state(event),
                           closes_at=registration.registration_closes_at(event),
                           has_agenda=agenda.has_published(event))
