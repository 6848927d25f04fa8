"""Site administration: the outbox and, in the embedded setup, the mail it wrote to files."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from eventsys.forms import ActionForm
from eventsys.services import mailbox, messaging

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
def _authorise():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if not current_user.is_admin:
        abort(403)
    return None


@bp.get("/")
def home():
    return redirect(url_for("admin.mail"))


@bp.get("/mail")
def mail():
    status = request.args.get("status") or None
    page = request.args.get("page", 1, type=int)
    listing = mailbox.list_messages(status=status, page=max(1, page))
    return render_template("admin/mail.html", listing=listing, status=status,
                           file_mode=not current_app.config["SMTP_URL"])


@bp.get("/mail/<id:message_id>")
def mail_message(message_id: int):
    shown = mailbox.show_message(message_id)
    return render_template("admin/mail_message.html", shown=shown, action=ActionForm())


@bp.get("/mail/<id:message_id>/html")
def mail_message_html(message_id: int):
    """The HTML part on its own, for an iframe: sandboxed, no scripts, no remote loads."""
    shown = mailbox.show_message(message_id)
    if not shown.html:
        abort(404)
    response = current_app.response_class(shown.html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = (
        "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        "frame-ancestors 'self'"
    )
    return response


@bp.post("/mail/<id:message_id>/retry")
def mail_retry(message_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    messaging.retry_now(message_id)
    flash(_("The message is queued again."), "success")
    return redirect(url_for("admin.mail_message", message_id=message_id))
