"""Organiser pages. Authorisation lives in one place: ``_authorise`` below."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from eventsys.forms import ActionForm
from eventsys.forms.events import STATUS_LABELS, EventForm, RoleForm
from eventsys.services import accounts, events
from eventsys.services.errors import ServiceError
from eventsys.web.microcache import registration_forms

bp = Blueprint("manage", __name__, url_prefix="/manage")

# Pages that check-in staff may open; every other per-event page needs a manager.
CHECKIN_ENDPOINTS: set[str] = set()


@bp.url_value_preprocessor
def _load_event(endpoint, values):
    if values and "slug" in values:
        g.event = events.event_by_slug(values.pop("slug"))


@bp.url_defaults
def _keep_slug(endpoint, values):
    if "slug" not in values and getattr(g, "event", None) is not None \
            and endpoint.startswith("manage.event"):
        values["slug"] = g.event.slug


@bp.before_request
def _authorise():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    event = getattr(g, "event", None)
    if event is None:
        if request.endpoint == "manage.new_event" and not accounts.can_create_events(current_user):
            abort(403)
        # The speaker profiles (manage_agenda.py): every endpoint named people*.
        if (request.endpoint or "").startswith("manage.people") \
                and not accounts.can_edit_people(current_user):
            abort(403)
        return None
    if request.endpoint in CHECKIN_ENDPOINTS:
        allowed = accounts.can_check_in(current_user, event)
    else:
        allowed = accounts.can_manage(current_user, event)
    if not allowed:
        abort(403)
    return None


@bp.app_template_global("can_manage_event")
def can_manage_event(event) -> bool:
    """For links: check-in staff see only the pages open to them."""
    return accounts.can_manage(current_user, event)


@bp.after_request
def _forget_cached_forms(response):
    """An organiser's change shows on this process's public form at once (other processes'
    copies are at most a second old)."""
    if request.method == "POST" and request.endpoint not in CHECKIN_ENDPOINTS:
        registration_forms().clear()
    return response


@bp.get("/")
def dashboard():
    return render_template("manage/dashboard.html",
                           events=events.events_managed_by(current_user))


@bp.route("/events/new", methods=["GET", "POST"])
def new_event():
    form = EventForm()
    status = 200
    if form.validate_on_submit():
        try:
            event = events.create_event(form.to_data(), creator=current_user)
        except ServiceError as exc:
            flash(exc.message, "error")
            status = 400
        else:
            flash(_("The event is created."), "success")
            return redirect(url_for("manage.event", slug=event.slug))
    elif request.method == "POST":
        status = 400
    else:
        form.timezone.data = current_user.timezone or "UTC"
    form.add_blank_rows(venues=1 if form.venues.entries else 0)
    return render_template("manage/event_form.html", form=form, event=None), status


@bp.get("/events/<slug:slug>/")
def event():
    return render_template("manage/event.html", event=g.event, action=ActionForm(),
                           status_labels=STATUS_LABELS)


@bp.route("/events/<slug:slug>/edit", methods=["GET", "POST"])
def event_edit():
    form = EventForm() if request.method == "POST" else EventForm.from_event(g.event)
    status = 200
    if form.validate_on_submit():
        try:
            events.update_event(g.event, form.to_data(), actor=current_user)
        except ServiceError as exc:
            flash(exc.message, "error")
            status = 400
        else:
            flash(_("Your changes are saved."), "success")
            return redirect(url_for("manage.event", slug=g.event.slug))
    elif request.method == "POST":
        status = 400
    form.add_blank_rows()
    return render_template("manage/event_form.html", form=form, event=g.event), status


@bp.post("/events/<slug:slug>/status/<status>")
def event_status(status: str):
    if not ActionForm().validate_on_submit():
        abort(400)
    events.set_status(g.event, status, actor=current_user)
    flash(_("The event is now %(status)s.", status=STATUS_LABELS.get(status, status)), "success")
    return redirect(url_for("manage.event", slug=g.event.slug))


@bp.route("/events/<slug:slug>/team", methods=["GET", "POST"])
def event_team():
    form = RoleForm()
    status = 200
    if form.validate_on_submit():
        try:
            accounts.grant_event_role(g.event, form.email.data, form.role.data,
                                      actor=current_user)
        except ServiceError as exc:
            form.email.errors.append(exc.message)
            status = exc.status_code
        else:
            flash(_("Added."), "success")
            return redirect(url_for("manage.event_team", slug=g.event.slug))
    elif request.method == "POST":
        status = 400
    return render_template("manage/team.html", event=g.event, form=form,
                           action=ActionForm()), status


@bp.post("/events/<slug:slug>/team/<id:role_id>/remove")
def event_team_remove(role_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        accounts.revoke_event_role(g.event, role_id, actor=current_user)
    except ServiceError as exc:
        flash(exc.message, "error")
    else:
        flash(_("Removed."), "success")
    return redirect(url_for("manage.event_team", slug=g.event.slug))
