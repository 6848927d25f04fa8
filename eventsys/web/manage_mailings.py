"""Organiser pages for mailings: the messages sent so far, and writing a new one (audience,
texts, preview, a test to oneself, then sending after a confirmation that states how many
people get it). Routes join ``manage.bp``, so ``manage._authorise`` lets only the event's
managers in.

A draft is not stored: it travels in the form from step to step, so nothing half-written
lingers in the database, and the organiser's Back button works."""

from __future__ import annotations

from flask import abort, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from eventsys.extensions import db
from eventsys.forms.mailings import ANSWER_LABELS, STATUS_LABELS, MailingForm, mailing_form
from eventsys.forms.registration import MODE_CHOICES
from eventsys.services import invitations, jobs, mailings
from eventsys.services.errors import ServiceError
from eventsys.web import CSP
from eventsys.web.manage import bp

# The preview's HTML is shown in a sandboxed iframe (srcdoc), which inherits this page's
# policy; mail HTML is styled inline, so that page (only) allows inline styles. Scripts stay
# refused by the policy and by the sandbox.
PREVIEW_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
# Each filter of the live count is a handful of values; anything longer is not a browser.
MAX_FILTER_VALUES = 10


def _count_text(count: int) -> str:
    return ngettext("%(num)d recipient", "%(num)d recipients", count)


def _send_text(count: int) -> str:
    return ngettext("Send to %(num)d person…", "Send to %(num)d people…", count)


def _compose(form: MailingForm, *, problems: list[str] | None = None, preview=None,
             status: int = 200):
    audience = form.audience()
    count = mailings.count(g.event, audience)
    page = render_template(
        "manage/mailing_form.html", event=g.event, form=form, problems=problems or [],
        count=count, count_text=_count_text(count), send_text=_send_text(count),
        preview=preview, index=form.shown_index(),
        placeholders=mailings.PLACEHOLDERS, usable=audience.placeholders(),
    )
    headers = {"Content-Security-Policy": PREVIEW_CSP} if preview is not None else {}
    return page, status, headers


def _confirm(form: MailingForm, count: int, status: int = 200):
    form.expected.data = str(count)
    return render_template("manage/mailing_confirm.html", event=g.event, form=form,
                           count=count, audience=_audience_text(form.audience().as_json()),
                           subject=form.subject.data), status


@bp.get("/events/<slug:slug>/mailings")
def event_mailings():
    listed = mailings.mailings_of(g.event)
    progress = jobs.progress_of([m.job for m in listed if m.job])
    sent = [(m, progress[m.job_id].as_dict() if m.job else None) for m in listed]
    return render_template("manage/mailings.html", event=g.event, sent=sent,
                           audience_text=_audience_text)


@bp.route("/events/<slug:slug>/mailings/new", methods=["GET", "POST"])
def event_mailing_new():
    form = mailing_form(g.event)
    if request.method == "GET":
        return _compose(form)
    if not form.validate_on_submit():
        return _compose(form, status=400)
    action = request.form.get("action")
    if action == "edit":  # back from the confirmation
        return _compose(form)
    draft = form.to_draft()
    problems = mailings.check(g.event, draft)
    if problems:
        return _compose(form, problems=problems, status=400)
    if action in ("preview", "previous", "next"):
        count = mailings.count(g.event, draft.audience)
        step = {"previous": -1, "next": 1}.get(action, 0)
        index = min(max(form.shown_index() + step, 0), max(count - 1, 0))
        form.index.data = str(index)
        return _compose(form, preview=mailings.preview(g.event, draft, index))
    try:
        if action == "test":
            mailings.send_test(g.event, draft, actor=current_user)
            flash(_("A test message is on its way to %(email)s.", email=current_user.email),
                  "success")
            return _compose(form)
        if action == "send":
            count = mailings.count(g.event, draft.audience)
            if not count:
                return _compose(form, problems=[_("Nobody is in this audience.")], status=400)
            return _confirm(form, count)
        if action == "confirm":
            count = mailings.count(g.event, draft.audience)
            if form.expected.data != str(count):
                flash(_("The audience has changed since you looked: it is now %(num)d "
                        "people. Please confirm again.", num=count), "error")
                return _confirm(form, count, 409)
            mailing = mailings.send(g.event, draft, actor=current_user)
            flash(ngettext("The message is going to %(num)d person.",
                           "The message is going to %(num)d people.", count), "success")
            return redirect(url_for("manage.event_job", slug=g.event.slug,
                                    job_id=mailing.job_id))
    except ServiceError as exc:
        db.session.rollback()
        return _compose(form, problems=[exc.message], status=exc.status_code)
    abort(400)


@bp.get("/events/<slug:slug>/mailings/count.json")
def event_mailing_count():
    """The live count beside the audience choice (static/js/mailing.js)."""
    args = request.args

    def values(name: str) -> list[str]:
        return [v[:20] for v in args.getlist(name)[:MAX_FILTER_VALUES]]

    audience = mailings.Audience(kind=args.get("kind", "")[:20], statuses=values("statuses"),
                                 modes=values("modes"), answers=values("answers"),
                                 roles=values("roles"), attendance=values("attendance"))
    count = mailings.count(g.event, audience)
    response = jsonify(count=count, text=_count_text(count), send=_send_text(count))
    response.headers["Cache-Control"] = "no-store"
    return response


def _audience_text(audience: dict) -> str:
    """"Registrants: Confirmed; Online" from a stored audience, in the reader's language."""
    kind = audience.get("kind", "")
    parts = [str(mailings.AUDIENCE_KINDS.get(kind, kind))]
    labels = {"statuses": STATUS_LABELS, "modes": MODE_CHOICES, "answers": ANSWER_LABELS,
              "roles": invitations.ROLE_LABELS, "attendance": mailings.ATTENDANCE_FILTERS}
    filters = [", ".join(str(labels[key].get(v, v)) for v in audience.get(key) or [])
               for key in ("statuses", "modes", "answers", "roles", "attendance")]
    filters = [f for f in filters if f]
    return parts[0] + (": " + "; ".join(filters) if filters else "")
