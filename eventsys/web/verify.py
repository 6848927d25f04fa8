"""Public certificate verification: ``/verify/<code>`` (where the certificate's QR points)
says whether it is valid, and checks an uploaded PDF against the one issued."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask_babel import format_date
from werkzeug.exceptions import RequestEntityTooLarge

from eventsys.extensions import csrf
from eventsys.forms.verify import CheckPdfForm
from eventsys.services import verification
from eventsys.services.errors import NotFound, ServiceError, Throttled

bp = Blueprint("verify", __name__)

# The whole request of an upload: the file and the form's few fields.
_MAX_UPLOAD_REQUEST = verification.MAX_PDF_BYTES + 64 * 1024


def _client() -> str:
    return request.remote_addr or "unknown"


def _private(response: Response | str, status: int = 200) -> Response:
    """A status can change (a revocation): never cached. The code in the address is not
    sent on (Referer) and the page is not for search engines: it names a person."""
    response = response if isinstance(response, Response) else Response(response, status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _unknown(typed: str | None) -> Response:
    return _private(render_template("verify/unknown.html", typed=(typed or "")[:80],
                                    message=verification.unknown_code().message), 404)


@bp.app_template_filter("certificate_kind")
def certificate_kind(kind: str) -> str:
    return str(verification.KIND_LABELS.get(kind, kind))


@bp.app_template_filter("certificate_issued_on")
def certificate_issued_on(certificate) -> str:
    """The date of issue as the certificate prints it."""
    return format_date(verification.issued_on(certificate), "long")


@bp.app_template_filter("local_date")
def local_date(moment: datetime | None, timezone: str) -> str:
    """The calendar day of ``moment`` where the event is (as its certificates print it)."""
    day = verification.local_date(moment, timezone)
    return format_date(day, "long") if day is not None else ""


@bp.errorhandler(Throttled)
def _throttled(error: Throttled):
    response = _private(render_template("verify/throttled.html", message=error.message,
                                        seconds=error.retry_after), 429)
    response.headers["Retry-After"] = str(error.retry_after)
    return response


@bp.get("/verify")
@bp.get("/verify/")
def index():
    """The form to type a code; a typed code goes to its page (counted there)."""
    typed = request.args.get("code")
    if typed is None:
        return _private(render_template("verify/index.html"))
    code = verification.normalised(typed)
    if code is None:
        verification.limit("lookup", _client())
        return _unknown(typed)
    return redirect(url_for("verify.certificate", code=code))


@bp.get("/verify/<path:code>")
def certificate(code: str):
    canonical = verification.normalised(code)
    if canonical is not None and canonical != code:  # typed by hand: one address per code
        return redirect(url_for("verify.certificate", code=canonical))
    verification.limit("lookup", _client())
    try:
        found = verification.verify(code)
    except NotFound:
        return _unknown(code)
    return _private(render_template("verify/certificate.html", v=found, form=CheckPdfForm()))


@bp.post("/verify/<path:code>")
@csrf.exempt  # the form checks its CSRF token itself, once the size limit below is set
def check_pdf(code: str):
    verification.limit("upload", _client())
    try:
        found = verification.verify(code)
    except NotFound:
        return _unknown(code)
    # Refused as it arrives, before the site-wide limit for larger uploads.
    request.max_content_length = _MAX_UPLOAD_REQUEST
    form, check, error, status = None, None, None, 200
    try:
        form = CheckPdfForm()
        if form.validate_on_submit():
            check = verification.check_pdf(found.code, form.file.data.stream)
            found = check.certificate
        else:
            status = 400
    except RequestEntityTooLarge:
        error, status = verification.too_large().message, 413
    except ServiceError as exc:
        error, status = exc.message, exc.status_code
    return _private(render_template("verify/certificate.html", v=found,
                                    form=form or CheckPdfForm(formdata=None), check=check,
                                    upload_error=error), status)
