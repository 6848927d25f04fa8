"""Registering for an event, and the participant's own page at /r/<token>."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf.csrf import generate_csrf

from eventsys.forms import ActionForm
from eventsys.forms.registration import registration_form
from eventsys.services import (
    attendance,
    calendar,
    events,
    invitations,
    registration,
    tickets,
    verification,
)
from eventsys.services.errors import ServiceError
from eventsys.web.microcache import registration_forms

bp = Blueprint("registration", __name__)


def no_store(response: Response) -> Response:
    """Pages reached by a secret link are nobody's business but the participant's: no
    caching, no Referer leaking the token to the links on the page."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.route("/events/<slug:slug>/register", methods=["GET", "POST"])
def register(slug: str):
    # A crowd opening the form at once is served one rendering a second (microcache.py):
    # only the anonymous, plain form, with nothing flashed to show.
    cacheable = (request.method == "GET" and "invitation" not in request.args
                 and not current_user.is_authenticated and "_flashes" not in session)
    cache_key = (slug, str(get_locale() or "en"))
    if cacheable:
        page = registration_forms().get(cache_key, generate_csrf())
        if page is not None:
            return page
    event = registration.registration_event(slug)
    invitation_token = request.values.get("invitation") or None
    invitation = None
    state = registration.window_state(event)
    if event.invitation_only or invitation_token:
        if not invitation_token:
            return render_template("registration/closed.html", event=event,
                                   reason="invitation"), 403
        invitation = invitations.valid_invitation(event, invitation_token)  # 403 if forged
    if state != "open":
        return render_template("registration/closed.html", event=event, reason=state), 403

    prefill = {}
    if invitation is not None:
        prefill = {"email": invitation.email, "name": invitation.name or ""}
    elif current_user.is_authenticated:
        prefill = {"email": current_user.email, "name": current_user.name,
                   "country": current_user.country or ""}
    form = registration_form(event, data=prefill if request.method == "GET" else None)
    if invitation is not None:
        form.invitation.data = invitation_token
    status = 200
    if form.validate_on_submit():
        user = current_user if current_user.is_authenticated else None
        try:
            outcome = registration.register(
                event, form.to_input(str(get_locale() or "en")), user=user,
                invitation_token=invitation_token)
        except ServiceError as exc:
            flash(exc.message, "error")
            status = exc.status_code
        else:
            return redirect(url_for("registration.page", token=outcome.token, new=1))
    elif request.method == "POST":
        status = 400
    page = render_template("registration/form.html", event=event, form=form,
                           places=registration.places(event), invitation=invitation)
    if cacheable:
        registration_forms().put(cache_key, page, generate_csrf(),
                               current_app.config["REGISTRATION_FORM_CACHE_SECONDS"])
    return page, status


@bp.get("/r/<token>")
def page(token: str):
    found = registration.registration_by_token(token)
    qr = join = None
    if found.status == "confirmed" and found.mode == "in_person":
        qr = tickets.qr_svg_data_uri(found.ticket_code)
    elif found.status == "confirmed" and found.event.online_url:
        join = url_for("join.join", token=attendance.join_token(found.id))
    response = render_template(
        "registration/page.html", registration=found, event=found.event, token=token, qr=qr,
        join_url=join, rate=_rate(found),
        certificates=verification.certificates_of(found.id),
        action=ActionForm(), just_registered=request.args.get("new") == "1",
        over=registration.is_over(found.event),
        closes_at=registration.registration_closes_at(found.event),
    )
    return no_store(Response(response))


def _rate(found):
    """Their attendance so far, once the event has begun."""
    if found.status != "confirmed" or events.today_in(found.event.timezone) \
            < found.event.start_date:
        return None
    return attendance.rate_of(found.event, found.id)


@bp.route("/r/<token>/cancel", methods=["GET", "POST"])
def cancel(token: str):
    """GET asks "are you sure?"; only the POST (with its CSRF token) cancels."""
    found = registration.registration_by_token(token)
    form = ActionForm()
    if request.method == "GET":
        return no_store(Response(render_template(
            "registration/cancel.html", registration=found, event=found.event, token=token,
            form=form)))
    if not form.validate_on_submit():
        abort(400)
    registration.cancel(found.id, actor=None, by_participant=True)  # a Conflict is a 409 page
    flash(_("Your registration is cancelled. We have sent you a confirmation."), "success")
    return redirect(url_for("registration.page", token=token))


@bp.get("/r/<token>/calendar.ics")
def calendar_file(token: str):
    found = registration.registration_by_token(token)
    body = calendar.event_calendar(
        found.event, url=url_for("public.event", slug=found.event.slug, _external=True))
    return no_store(Response(body, mimetype="text/calendar", headers={
        "Content-Disposition": f'attachment; filename="{found.event.slug}.ics"'}))


@bp.get("/account/registrations/<id:registration_id>")
@login_required
def mine(registration_id: int):
    """From the account page to a registration page, without keeping raw tokens anywhere."""
    token = registration.token_for_owner(current_user, registration_id)
    return redirect(url_for("registration.page", token=token))
