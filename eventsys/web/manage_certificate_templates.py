"""Organiser pages for a certificate's design: the texts with their placeholders, the page
size, logos, background and signatories, and a preview as a PDF for any participant (or a
sample one). Routes join ``manage.bp``, so ``manage._authorise`` lets only the event's
managers in.

A preview is rendered by the same code as the issued certificates, with a code that can
never be a real one and "Preview" across the page, so a preview is never mistaken for (or
passed off as) a certificate."""

from __future__ import annotations

import io

from flask import abort, flash, g, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from eventsys.extensions import db
from eventsys.forms.certificate_template import CertificateTemplateForm
from eventsys.models import ID_MAX, CertificateTemplate
from eventsys.services import certificate_images, certificate_render, certificates
from eventsys.services.errors import NotFound, ServiceError
from eventsys.web.manage import bp

KINDS = "any(completion, participation, speaker, organiser)"
SHOWN = 1000  # participants offered for the preview at most


def _template(kind: str) -> CertificateTemplate:
    return certificates.template_of(g.event, kind)


def _page(kind: str, template: CertificateTemplate, form: CertificateTemplateForm, *,
          problems: list[str] | None = None, status: int = 200):
    found = certificates.eligibility(g.event, kind, template=template)
    choices = [(c.key, c.name + (f" ({c.name_native})" if c.name_native else ""), c.eligible)
               for c in found.candidates]
    choices.sort(key=lambda row: (not row[2], row[1].casefold()))
    chosen = request.args.get("holder", "")
    return render_template(
        "manage/certificate_template.html", event=g.event, kind=kind, template=template,
        form=form, problems=problems or [], kind_label=certificates.KIND_LABELS[kind],
        placeholders=certificate_render.PLACEHOLDERS, holders=choices[:SHOWN],
        chosen=chosen if any(key == chosen for key, _n, _e in choices) else "",
        signatures={s.get("signature") for s in template.signatories or []} - {None},
    ), status


@bp.route(f"/events/<slug:slug>/certificates/<{KINDS}:kind>/template",
          methods=["GET", "POST"])
def event_certificate_template(kind: str):
    template = _template(kind)
    if request.method == "GET":
        return _page(kind, template, CertificateTemplateForm.of(template))
    form = CertificateTemplateForm(template)
    if not form.validate_on_submit():
        return _page(kind, template, form, status=400)
    try:
        if request.form.get("action") == "reset":
            certificate_render.reset_texts(g.event, kind, actor=current_user)
            flash(_("The texts are the default ones again."), "success")
        else:
            certificate_render.save_template(g.event, kind, form.changes(),
                                             actor=current_user)
            flash(_("The design is saved. The preview below shows it."), "success")
    except ServiceError as exc:
        db.session.rollback()
        return _page(kind, _template(kind), form, problems=[exc.message],
                     status=exc.status_code)
    return redirect(url_for("manage.event_certificate_template", slug=g.event.slug,
                            kind=kind, holder=request.args.get("holder", ""),
                            _anchor="preview"))


def _id(value: str) -> int:
    """An id from the query string; 400 for what is not a number, 404 for one that no row
    can have (PostgreSQL refuses to compare an integer column with 2**31)."""
    if not (value.isascii() and value.isdigit() and len(value) <= 10):
        abort(400)
    if not 1 <= int(value) <= ID_MAX:
        raise NotFound(_("There is nobody of this event to preview the certificate for."))
    return int(value)


def _holder_id(name: str) -> int | None:
    value = request.args.get(name, "")
    return _id(value) if value else None


def _preview_item(kind: str, template: CertificateTemplate):
    """What a certificate would print for the chosen holder (``?registration=`` or
    ``?person=`` for a speaker who did not register; ``?holder=r12``/``p3`` from the page's
    list), or for a sample participant when none is chosen."""
    holder = request.args.get("holder", "")
    registration_id, person_id = _holder_id("registration"), _holder_id("person")
    if holder[:1] in ("r", "p") and holder[1:].isascii() and holder[1:].isdigit() \
            and len(holder) <= 11:
        if holder[0] == "r":
            registration_id = _id(holder[1:])
        else:
            person_id = _id(holder[1:])
    issue_date = certificates.issue_day(g.event)
    if registration_id is None and person_id is None:
        found = certificates.eligibility(g.event, kind, template=template)
        candidate = found.eligible[0] if found.eligible else None
        if candidate is None:
            return certificate_render.sample_data(g.event, kind, certificates.event_dates(
                g.event), issue_date)
    else:
        pair = (registration_id, None) if registration_id else (None, person_id)
        found = certificates.eligibility(g.event, kind, template=template, holders=[pair])
        candidate = next((c for c in found.candidates
                          if (c.registration_id == registration_id if registration_id
                              else c.person_id == person_id)), None)
        if candidate is None:
            raise NotFound(_("There is nobody of this event to preview the certificate "
                             "for."))
    return certificates.printed(found, candidate, code=certificate_render.PREVIEW_CODE,
                                issue_date=issue_date)


@bp.get(f"/events/<slug:slug>/certificates/<{KINDS}:kind>/preview.pdf")
def event_certificate_preview(kind: str):
    template = _template(kind)
    item = _preview_item(kind, template)
    pdf = certificate_render.render_preview(g.event, template, item)
    response = send_file(io.BytesIO(pdf), mimetype="application/pdf",
                         download_name=f"{g.event.slug}-{kind}-preview.pdf", max_age=0)
    response.headers["Cache-Control"] = "no-store"
    # Shown in the page's frame; the PDF itself needs no script of ours.
    response.headers["Content-Disposition"] = \
        f'inline; filename="{g.event.slug}-{kind}-preview.pdf"'
    return response


@bp.get("/events/<slug:slug>/certificates/images/<name>")
def event_certificate_image(name: str):
    """An image of one of this event's certificate templates, for the design page."""
    used = set()
    for template in db.session.scalars(db.select(CertificateTemplate).where(
            CertificateTemplate.event_id == g.event.id)):
        used.update(template.logos or [])
        used.add(template.background)
        used.update(s.get("signature") for s in template.signatories or [])
    path = certificate_images.path(name) if name in used else None
    if path is None:
        abort(404)
    return send_file(path, mimetype="image/png" if name.endswith(".png") else "image/jpeg",
                     max_age=3600)
