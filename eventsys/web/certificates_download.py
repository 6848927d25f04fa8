"""A participant's certificates from their own page: ``/r/<token>/certificates/<id>.pdf``.
The token is the key, as for the rest of that page; only their own, valid certificates."""

from __future__ import annotations

from flask import Blueprint, Response

from eventsys.services import (
    certificate_mail,  # noqa: F401  (registers the certificate mail's renderer)
    registration,
    verification,
)
from eventsys.web.registration import no_store

bp = Blueprint("certificate_files", __name__)


@bp.get("/r/<token>/certificates/<id:certificate_id>.pdf")
def download(token: str, certificate_id: int):
    found = registration.registration_by_token(token)
    certificate, data = verification.holder_download(found.id, certificate_id)
    filename = verification.download_name(certificate)
    return no_store(Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{filename}"'}))
