"""Organiser pages for invitations: the list with each one's state, one person at a time, a
whole list (checked into a preview, imported once confirmed) and reminders. Routes join
``manage.bp``, so ``manage._authorise`` lets only the event's managers in. Bulk work is a job
a worker does: these views store it and send the browser to its progress page."""

from __future__ import annotations

import io
import re

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from eventsys.extensions import db
from eventsys.forms import ActionForm
from eventsys.forms.invitations import ConfirmImportForm, ImportForm, InviteForm
from eventsys.services import invitation_import, invitations, jobs
from eventsys.services.errors import ServiceError
from eventsys.web.manage import bp

# Rows the page lists: the newest first; search or a state narrows down to the others.
SHOWN = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # PostgreSQL refuses a NUL even in a search


def _ids(values: list[str]) -> list[int]:
    return [int(i) for i in values if i.isascii() and i.isdigit() and len(i) < 10]


def _page(invite: InviteForm | None = None, upload: ImportForm | None = None,
          status: int = 200):
    state = request.args.get("state")
    state = state if state in invitations.STATES else None
    search = " ".join(_CONTROL.sub(" ", request.args.get("q", "")).split())[:100]
    rows = invitations.listing(g.event, state, search, limit=SHOWN + 1)
    return render_template(
        "manage/invitations.html", event=g.event, rows=rows[:SHOWN], more=len(rows) > SHOWN,
        shown=SHOWN, state=state, q=search, counts=invitations.counts(g.event),
        states=invitations.STATE_LABELS, roles=invitations.ROLE_LABELS,
        imports=invitations.imports_of(g.event)[:5],
        invite=invite or InviteForm(formdata=None),
        upload=upload or ImportForm(formdata=None), action=ActionForm(),
    ), status


@bp.route("/events/<slug:slug>/invitations", methods=["GET", "POST"])
def event_invitations():
    """The list; a POST invites one person."""
    if request.method == "GET":
        return _page()
    form = InviteForm()
    if not form.validate_on_submit():
        return _page(invite=form, status=400)
    try:
        invitations.invite(g.event, form.to_data(), skip_approval=form.skip_approval.data,
                           actor=current_user)
    except ServiceError as exc:
        db.session.rollback()
        form.email.errors = [*form.email.errors, exc.message]
        return _page(invite=form, status=exc.status_code)
    flash(_("The invitation to %(email)s is on its way.", email=form.email.data), "success")
    return redirect(url_for("manage.event_invitations", slug=g.event.slug))


@bp.post("/events/<slug:slug>/invitations/imports")
def event_invitations_import():
    form = ImportForm()
    if not form.validate_on_submit():
        return _page(upload=form, status=400)
    upload = form.file.data
    # The file is whole on disk already (MAX_CONTENT_LENGTH is for every upload of the
    # site); only its size is read before deciding to read it.
    size = upload.stream.seek(0, io.SEEK_END)
    upload.stream.seek(0)
    if size > invitation_import.MAX_BYTES:
        form.file.errors = [_("The file is too big (%(size)s MB); the limit is %(limit)s MB. "
                              "Split the list into smaller files.",
                              size=f"{size / 1024 / 1024:.1f}",
                              limit=f"{invitation_import.MAX_BYTES / 1024 / 1024:g}")]
        return _page(upload=form, status=413)
    try:
        job = invitations.start_import(g.event, upload.filename or "", upload.read(),
                                       actor=current_user)
    except ServiceError as exc:
        db.session.rollback()
        form.file.errors = [exc.message]
        return _page(upload=form, status=exc.status_code)
    return redirect(url_for("manage.event_invitations_preview", slug=g.event.slug,
                            job_id=job.id))


@bp.get("/events/<slug:slug>/invitations/imports/<id:job_id>")
def event_invitations_preview(job_id: int):
    job = jobs.job_of(g.event, job_id)
    if job.kind != "invitations":
        abort(404)
    if job.status != "preview":  # confirmed (or discarded): its progress is what is left
        return redirect(url_for("manage.event_job", slug=g.event.slug, job_id=job.id))
    return render_template("manage/invitation_import.html", event=g.event, job=job,
                           payload=job.payload, roles=invitations.ROLE_LABELS,
                           confirm=ConfirmImportForm(formdata=None), action=ActionForm())


@bp.post("/events/<slug:slug>/invitations/imports/<id:job_id>/confirm")
def event_invitations_confirm(job_id: int):
    form = ConfirmImportForm()
    if not form.validate_on_submit():
        abort(400)
    job = invitations.confirm_import(g.event, job_id, actor=current_user,
                                     skip_approval=form.skip_approval.data)
    return redirect(url_for("manage.event_job", slug=g.event.slug, job_id=job.id))


@bp.post("/events/<slug:slug>/invitations/imports/<id:job_id>/discard")
def event_invitations_discard(job_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        invitations.discard_import(g.event, job_id, actor=current_user)
    except ServiceError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(_("The list is discarded; nobody was invited."), "success")
    return redirect(url_for("manage.event_invitations", slug=g.event.slug))


@bp.post("/events/<slug:slug>/invitations/remind")
def event_invitations_remind():
    if not ActionForm().validate_on_submit():
        abort(400)
    everyone = request.form.get("who") == "everyone"
    ids = None if everyone else _ids(request.form.getlist("ids"))
    if ids == []:
        flash(_("Tick the invitations to remind first."), "error")
        return redirect(url_for("manage.event_invitations", slug=g.event.slug))
    try:
        job = invitations.remind(g.event, ids, actor=current_user)
    except ServiceError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("manage.event_invitations", slug=g.event.slug))
    return redirect(url_for("manage.event_job", slug=g.event.slug, job_id=job.id))
