"""Organiser pages for certificates: per kind, who is eligible and why not, the rule, the
organiser's overrides, issuing (a job with a progress page), and revoking or re-issuing one
certificate. Routes join ``manage.bp``, so ``manage._authorise`` lets only the event's
managers in."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from werkzeug.routing import BuildError

from eventsys.extensions import db
from eventsys.forms import ActionForm
from eventsys.forms.certificates import (
    DECISIONS,
    OverrideForm,
    ReissueForm,
    RevokeForm,
    RuleForm,
)
from eventsys.services import certificates, jobs
from eventsys.services.errors import ServiceError
from eventsys.web.manage import bp
from eventsys.web.manage_jobs import BACK, TITLES

# The job's progress page (manage_jobs.py) for an issuing job.
TITLES["certificates"] = _l("Issuing certificates")
BACK["certificates"] = ("manage.event_certificates", _l("Back to the certificates"))

KINDS = "any(completion, participation, speaker, organiser)"
FILTERS = ("all", "to_issue", "eligible", "not_eligible", "issued", "changed")
SHOWN = 500  # rows of the list at most; the filters narrow it


def _link(endpoint: str, **values) -> str | None:
    """A link to a page another part of the site provides, if it is there."""
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None


def _default_kind() -> str:
    return "completion" if g.event.kind == "workshop" else "participation"


def _page(kind: str, *, rule_form: RuleForm | None = None, status: int = 200):
    found = certificates.eligibility(g.event, kind)
    # Speakers and organisers are a few among many participants: those first (all, while
    # nobody is, so that someone can be included by hand).
    default = "eligible" if kind in ("speaker", "organiser") and found.eligible else "all"
    shown = request.args.get("show") or default
    shown = shown if shown in FILTERS else default
    rows = [c for c in found.candidates if {
        "all": True, "to_issue": c.to_issue, "eligible": c.eligible,
        "not_eligible": not c.eligible, "issued": c.certificate is not None,
        "changed": c.changed}[shown]]
    job = certificates.running_job(g.event, kind)
    revoked = certificates.revoked_of(g.event, kind)
    return render_template(
        "manage/certificates.html", event=g.event, kind=kind, found=found,
        summaries=certificates.summaries(g.event), kind_labels=certificates.KIND_LABELS,
        rule_form=rule_form or RuleForm.for_rule(found.rule, found.template.enabled,
                                                 found.sessions),
        rows=rows[:SHOWN], more=max(0, len(rows) - SHOWN), shown=shown, filters=FILTERS,
        glyphs=certificates.glyph_warnings(found), job=job,
        progress=jobs.progress(job) if job else None,
        revoked=revoked, stray=certificates.valid_without_candidate(found),
        revoked_holders={f"r{r.registration_id}" if r.registration_id else f"p{r.person_id}"
                         for r in revoked},
        action=ActionForm(), override=OverrideForm(formdata=None), decisions=DECISIONS,
        revoke=RevokeForm(formdata=None), reissue=ReissueForm(formdata=None),
        summary=lambda c: certificates.rate_summary(c.rate, found.by_day,
                                                    found.counting_sessions),
        design_url=_link("manage.event_certificate_template", slug=g.event.slug, kind=kind),
        zip_url=_link("manage.event_certificates_zip", slug=g.event.slug, kind=kind),
    ), status


def _refused(kind: str, form, problem: str | None = None):
    """The page again with what was wrong, said in words (400); a missing or stale CSRF
    token is a plain 400."""
    if "csrf_token" in form.errors:
        abort(400)
    if problem is None:
        field, errors = next(iter(form.errors.items()))
        label = form[field].label.text if field in form._fields else ""
        problem = f"{label}: {errors[0]}" if label else str(errors[0])
    db.session.rollback()
    flash(problem, "error")
    return _page(kind, status=400)


def _shown_filter() -> str | None:
    """The list the organiser was looking at, kept across a form's round trip."""
    shown = request.args.get("show")
    return shown if shown in FILTERS else None


def _back(kind: str, **values):
    return redirect(url_for("manage.event_certificates_kind", slug=g.event.slug, kind=kind,
                            **values))


@bp.get("/events/<slug:slug>/certificates")
def event_certificates():
    return _page(_default_kind())


@bp.get(f"/events/<slug:slug>/certificates/<{KINDS}:kind>")
def event_certificates_kind(kind: str):
    return _page(kind)


@bp.post(f"/events/<slug:slug>/certificates/<{KINDS}:kind>/rule")
def event_certificates_rule(kind: str):
    found = certificates.eligibility(g.event, kind)
    form = RuleForm(sessions=found.sessions)
    if not form.validate_on_submit():
        return _page(kind, rule_form=form, status=400)
    certificates.update_rule(g.event, kind, form.rule(kind), enabled=form.enabled.data,
                             actor=current_user)
    flash(_("The rule is saved."), "success")
    return _back(kind, _anchor="rule")


@bp.post(f"/events/<slug:slug>/certificates/<{KINDS}:kind>/override")
def event_certificates_override(kind: str):
    form = OverrideForm()
    if not form.validate_on_submit():
        return _refused(kind, form)
    try:
        certificates.set_override(g.event, kind, form.registration.data, form.include(),
                                  form.note.data, actor=current_user)
    except ServiceError as exc:
        return _refused(kind, form, exc.message)
    flash({True: _("Included, whatever the rule says."),
           False: _("Excluded, whatever the rule says."),
           None: _("The rule decides again.")}[form.include()], "success")
    return _back(kind, show=_shown_filter())


@bp.post(f"/events/<slug:slug>/certificates/<{KINDS}:kind>/issue")
def event_certificates_issue(kind: str):
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        job = certificates.issue(g.event, kind, actor=current_user)
    except ServiceError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _back(kind)
    flash(ngettext("Issuing %(num)d certificate.", "Issuing %(num)d certificates.",
                   job.total), "success")
    return redirect(url_for("manage.event_job", slug=g.event.slug, job_id=job.id))


@bp.post("/events/<slug:slug>/certificates/issued/<id:certificate_id>/revoke")
def event_certificate_revoke(certificate_id: int):
    certificate = certificates.certificate_of(g.event, certificate_id)
    form = RevokeForm()
    kind = certificate.kind
    if not form.validate_on_submit():
        return _refused(kind, form, None if form.reason.data else _(
            "Say why the certificate is revoked: the verification page shows it."))
    try:
        certificates.revoke(certificate, form.reason.data, actor=current_user)
    except ServiceError as exc:
        if exc.status_code != 400:
            raise
        return _refused(kind, form, exc.message)
    flash(_("Certificate %(code)s is revoked.", code=certificate.code), "success")
    return _back(kind, show=_shown_filter())


@bp.post("/events/<slug:slug>/certificates/issued/<id:certificate_id>/reissue")
def event_certificate_reissue(certificate_id: int):
    certificate = certificates.certificate_of(g.event, certificate_id)
    form = ReissueForm()
    kind, old_code = certificate.kind, certificate.code
    if not form.validate_on_submit():
        return _refused(kind, form)
    try:
        new = certificates.reissue(certificate, reason=form.reason.data, actor=current_user)
    except ServiceError as exc:
        if exc.status_code != 400:
            raise
        return _refused(kind, form, exc.message)
    flash(_("Certificate %(old)s is revoked and replaced by version %(v)d, %(new)s, "
            "which is being mailed to its holder.", old=old_code, v=new.version,
            new=new.code), "success")
    return _back(kind, show=_shown_filter())
