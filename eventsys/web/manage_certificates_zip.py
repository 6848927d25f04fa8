"""All valid certificates of one kind of an event as one ZIP, for its managers (``manage``
authorises: the route joins its blueprint). Streamed as it is written: one certificate in
memory at a time, however many there are."""

from __future__ import annotations

from flask import Response, abort, g, stream_with_context
from flask_login import current_user

from eventsys.models.certificate import CERTIFICATE_KINDS
from eventsys.services import verification
from eventsys.web.manage import bp


@bp.get("/events/<slug:slug>/certificates/<kind>/certificates.zip")
def event_certificates_zip(kind: str):
    if kind not in CERTIFICATE_KINDS:
        abort(404)
    entries = verification.archive(g.event, kind, actor=current_user)  # NotFound if none
    filename = f"{g.event.slug}-{kind}-certificates.zip"
    return Response(stream_with_context(verification.write_archive(entries)),
                    mimetype="application/zip", headers={
                        "Content-Disposition": f'attachment; filename="{filename}"',
                        "Cache-Control": "no-store"})
