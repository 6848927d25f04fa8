"""The progress of bulk work (an imported list, reminders, a mailing): a page that works
without scripts, the JSON its script polls, and cancelling. Routes join ``manage.bp``, so
``manage._authorise`` lets only the event's managers in."""

from __future__ import annotations

from flask import abort, flash, g, jsonify, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user

from eventsys.extensions import db
from eventsys.forms import ActionForm
from eventsys.services import jobs
from eventsys.services.errors import ServiceError
from eventsys.web.manage import bp

TITLES = {"invitations": _l("Importing invitations"), "reminders": _l("Sending reminders"),
          "mailing": _l("Sending a message")}
STATUS_LABELS = {"preview": _l("Waiting for your confirmation"), "queued": _l("Queued"),
                 "running": _l("Running"), "done": _l("Finished"),
                 "cancelled": _l("Cancelled"), "discarded": _l("Discarded")}
# Where the organiser goes back to from each kind of job.
BACK = {"invitations": ("manage.event_invitations", _l("Back to the invitations")),
        "reminders": ("manage.event_invitations", _l("Back to the invitations")),
        "mailing": ("manage.event_mailings", _l("Back to the messages"))}


@bp.get("/events/<slug:slug>/jobs/<id:job_id>")
def event_job(job_id: int):
    job = jobs.job_of(g.event, job_id)
    back_endpoint, back_label = BACK.get(job.kind, ("manage.event", _l("Back")))
    return render_template(
        "manage/job.html", event=g.event, job=job, progress=jobs.progress(job).as_dict(),
        title=TITLES.get(job.kind, job.kind), status_labels=STATUS_LABELS,
        back=(url_for(back_endpoint, slug=g.event.slug), back_label), action=ActionForm())


@bp.get("/events/<slug:slug>/jobs/<id:job_id>.json")
def event_job_json(job_id: int):
    job = jobs.job_of(g.event, job_id)
    shown = jobs.progress(job).as_dict()
    shown["status_label"] = str(STATUS_LABELS.get(shown["status"], shown["status"]))
    response = jsonify(shown)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/events/<slug:slug>/jobs/<id:job_id>/cancel")
def event_job_cancel(job_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    job = jobs.job_of(g.event, job_id)
    try:
        withdrawn = jobs.cancel(job, actor=current_user)
    except ServiceError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        if job.kind == "certificates":
            flash(_("Stopped. No more certificates are made; those made already stay valid "
                    "and their holders still get their mail."), "success")
            return redirect(url_for("manage.event_job", slug=g.event.slug, job_id=job_id))
        flash(ngettext("Stopped. %(num)d message not yet sent is withdrawn.",
                       "Stopped. %(num)d messages not yet sent are withdrawn.", withdrawn),
              "success")
    return redirect(url_for("manage.event_job", slug=g.event.slug, job_id=job_id))
