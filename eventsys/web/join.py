"""The tracked joining link: ``/join/<token>`` and ``/join/<token>/<session>`` count the
participant as joined and send them on to the stream. The token only joins (see
``attendance.join_token``); the registration's own page needs its stored token."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, request

from eventsys.services import attendance
from eventsys.web.registration import no_store

bp = Blueprint("join", __name__)


def _go(token: str, session_id: int | None) -> Response:
    # Flask answers HEAD with the GET view: a link checker's HEAD records nothing.
    joined = attendance.join(token, session_id, record=request.method != "HEAD")
    if joined.url is None:
        return no_store(Response(render_template(
            "join/waiting.html", event=joined.event, session=joined.session)))
    return no_store(redirect(joined.url, 303))


@bp.get("/join/<token>")
def join(token: str):
    return _go(token, None)


@bp.get("/join/<token>/<id:session_id>")
def join_session(token: str, session_id: int):
    return _go(token, session_id)
