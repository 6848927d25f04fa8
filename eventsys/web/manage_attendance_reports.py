"""Organiser pages for meeting platforms' attendance reports: the list with each one's state,
the upload (checked into a preview), matching the rows left over by hand, applying and
discarding. Routes join ``manage.bp``, so ``manage._authorise`` lets only the event's
managers in (check-in staff too are refused: the minutes decide certificates)."""

from __future__ import annotations

import io
from zoneinfo import ZoneInfo

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from eventsys.extensions import db
from eventsys.forms import ActionForm
from eventsys.forms.attendance_report import UploadForm
from eventsys.services import attendance_report, tables
from eventsys.services.errors import Conflict, ServiceError
from eventsys.web.manage import bp

# Datalist entries offered while matching by hand; beyond, the organiser types an address.
CHOICES = 5000


def _page(upload: UploadForm | None = None, status: int = 200):
    reports = attendance_report.reports_of(g.event)
    sessions = attendance_report.sessions_to_choose(g.event)
    return render_template(
        "manage/attendance_reports.html", event=g.event, reports=reports,
        counts=attendance_report.counts_of([r.id for r in reports]),
        sessions={s.id: s for s in sessions},
        upload=upload or UploadForm(g.event, sessions, formdata=None),
        platforms=attendance_report.PLATFORM_LABELS,
        statuses=attendance_report.STATUS_LABELS,
    ), status


@bp.get("/events/<slug:slug>/attendance/reports")
def event_attendance_reports():
    return _page()


@bp.post("/events/<slug:slug>/attendance/reports")
def event_attendance_reports_upload():
    form = UploadForm(g.event, attendance_report.sessions_to_choose(g.event))
    if not form.validate_on_submit():
        return _page(upload=form, status=400)
    upload = form.file.data
    size = upload.stream.seek(0, io.SEEK_END)
    upload.stream.seek(0)
    if size > tables.MAX_BYTES:
        form.file.errors = [tables.too_big(size).message]
        return _page(upload=form, status=413)
    try:
        imported = attendance_report.start_import(
            g.event, upload.filename or "", upload.read(), session_id=form.session_id,
            timezone_name=form.timezone.data, actor=current_user)
    except ServiceError as exc:
        db.session.rollback()
        form.file.errors = [exc.message]
        return _page(upload=form, status=exc.status_code)
    for note in imported.notes:
        flash(note, "info")
    return redirect(url_for("manage.event_attendance_report", slug=g.event.slug,
                            report_id=imported.report.id))


@bp.get("/events/<slug:slug>/attendance/reports/<id:report_id>")
def event_attendance_report(report_id: int):
    shown = attendance_report.preview(g.event, report_id)
    needs_choices = any(row.registration_id is None for row in shown.to_match) or (
        shown.report.status == "preview" and shown.to_match)
    return render_template(
        "manage/attendance_report.html", event=g.event, p=shown, report=shown.report,
        zone=ZoneInfo(g.event.timezone),
        platforms=attendance_report.PLATFORM_LABELS,
        statuses=attendance_report.STATUS_LABELS,
        choices=attendance_report.registration_choices(g.event, CHOICES)
        if needs_choices else [],
        action=ActionForm())


@bp.post("/events/<slug:slug>/attendance/reports/<id:report_id>/matches")
def event_attendance_report_matches(report_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    choices = {}
    for key, value in request.form.items():
        number = key.removeprefix("match-")
        if number != key and number.isascii() and number.isdigit() and len(number) < 10:
            choices[int(number)] = value
    changed, errors = attendance_report.match_rows(g.event, report_id, choices,
                                                   actor=current_user)
    for error in errors[:20]:
        flash(error, "error")
    if changed:
        flash(_("Matches saved: %(n)d.", n=changed), "success")
    elif not errors:
        flash(_("Nothing changed."), "info")
    return redirect(url_for("manage.event_attendance_report", slug=g.event.slug,
                            report_id=report_id))


@bp.post("/events/<slug:slug>/attendance/reports/<id:report_id>/apply")
def event_attendance_report_apply(report_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    attendance_report.apply(g.event, report_id, actor=current_user)
    flash(_("The report is applied: the matched participants have their minutes online."),
          "success")
    return redirect(url_for("manage.event_attendance_report", slug=g.event.slug,
                            report_id=report_id))


@bp.post("/events/<slug:slug>/attendance/reports/<id:report_id>/discard")
def event_attendance_report_discard(report_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        attendance_report.discard(g.event, report_id, actor=current_user)
    except Conflict as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("manage.event_attendance_report", slug=g.event.slug,
                                report_id=report_id))
    flash(_("The report is discarded; nothing from it was counted."), "success")
    return redirect(url_for("manage.event_attendance_reports", slug=g.event.slug))
