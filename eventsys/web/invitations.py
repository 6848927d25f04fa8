"""The invitee's page: ``/invitations/<token>`` shows the invitation and takes the answer.
The token is the key (no account needed); every POST carries CSRF."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from eventsys.extensions import db
from eventsys.forms import ActionForm
from eventsys.services import invitations
from eventsys.services.errors import ServiceError
from eventsys.web.registration import no_store

bp = Blueprint("invitations", __name__)


def _page(token: str, invitation, status: int = 200) -> Response:
    return no_store(Response(render_template(
        "invitations/answer.html", token=token, invitation=invitation, event=invitation.event,
        registration=invitations.registration_of(invitation), form=ActionForm(),
        role=invitations.ROLE_LABELS.get(invitation.role, invitation.role),
        expires_at=invitations.expires_at(invitation.event)), status))


@bp.get("/invitations/<token>")
def answer(token: str):
    return _page(token, invitations.by_token(token))


@bp.post("/invitations/<token>")
def answer_post(token: str):
    form = ActionForm()
    invitation = invitations.by_token(token)
    if not form.validate_on_submit():
        flash(_("The form had expired. Please choose again."), "error")
        return _page(token, invitation, 400)
    choice = request.form.get("answer")
    if choice not in ("accept", "decline"):
        flash(_("Please choose to accept or to decline."), "error")
        return _page(token, invitation, 400)
    accept = choice == "accept"
    already = invitation.status == ("accepted" if accept else "declined")
    try:
        invitation = invitations.answer(token, accept=accept)
    except ServiceError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _page(token, invitation, exc.status_code)
    if not accept:
        flash(_("You have declined. Thank you for letting us know.") if not already
              else _("You had declined already."), "success")
        return redirect(url_for("invitations.answer", token=token))
    if invitations.registration_of(invitation) is None and invitation.event.status == "published":
        flash(_("Thank you for accepting. Please complete your registration."), "success")
        return redirect(url_for("registration.register", slug=invitation.event.slug,
                                invitation=token))
    flash(_("You had accepted already.") if already else _("Thank you for accepting."),
          "success")
    return redirect(url_for("invitations.answer", token=token))
