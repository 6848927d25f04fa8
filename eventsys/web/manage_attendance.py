"""Organiser pages for attendance: the numbers and the rule (managers), and the sheets of
a session and of a day (managers and check-in staff). Routes join ``manage.bp``, so
``manage._authorise`` decides who may open them; the sheets are listed in its
``CHECKIN_ENDPOINTS``."""

from __future__ import annotations

import re
from datetime import date

from flask import (
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from eventsys.extensions import db
from eventsys.forms.attendance import (
    NOTE_CHOICES,
    BadSheet,
    DaySheetForm,
    RulesForm,
    SessionSheetForm,
)
from eventsys.services import accounts, attendance, attendance_stats
from eventsys.services.attendance_stats import RateFilter
from eventsys.services.errors import ServiceError
from eventsys.web.manage import CHECKIN_ENDPOINTS, bp

CHECKIN_ENDPOINTS.update({"manage.event_attendance_session", "manage.event_attendance_day"})

_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def _rate_filter() -> RateFilter:
    args = request.args
    return RateFilter(below=args.get("below", type=int), mode=args.get("mode"),
                      q=args.get("q"), sort=args.get("sort", "name")).clean()


def _overview_page(form: RulesForm, status: int = 200):
    numbers = attendance_stats.overview(g.event)
    current = _rate_filter()
    page = attendance_stats.rates_page(g.event, current, request.args.get("page", 1, type=int),
                                       numbers.rates)
    return render_template("manage/attendance.html", event=g.event, numbers=numbers,
                           rates=page, filter=current, form=form,
                           event_days=set(attendance_stats.event_days(g.event))), status


@bp.get("/events/<slug:slug>/attendance")
def event_attendance():
    return _overview_page(RulesForm.for_event(g.event))


@bp.post("/events/<slug:slug>/attendance/rules")
def event_attendance_rules():
    form = RulesForm()
    if not form.validate_on_submit():
        return _overview_page(form, 400)
    attendance.update_rules(g.event, form.min_minutes.data, form.min_percent.data,
                            unit=form.unit.data, actor=current_user)
    flash(_("The rule is saved: %(rule)s", rule=attendance.Rules.of(g.event).describe()),
          "success")
    return redirect(url_for("manage.event_attendance", slug=g.event.slug, _anchor="rule"))


@bp.get("/events/<slug:slug>/attendance/export")
def event_attendance_export():
    fmt = request.args.get("format", "csv")
    if fmt == "csv":
        body = attendance_stats.export_csv(g.event, _rate_filter())
        mimetype = "text/csv"
    elif fmt == "xlsx":
        body = attendance_stats.export_xlsx(g.event, _rate_filter())
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        abort(400)
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{g.event.slug}-attendance.{fmt}"',
        "Cache-Control": "no-store",
    })


def _mode() -> str | None:
    mode = request.args.get("mode")
    return mode if mode in g.event.modes else None


def _sheet_failed(message: str) -> None:
    db.session.rollback()  # nothing of a refused sheet is kept
    flash(message, "error")


@bp.route("/events/<slug:slug>/attendance/sessions/<id:session_id>", methods=["GET", "POST"])
def event_attendance_session(session_id: int):
    session = attendance.session_of(g.event, session_id)
    form = SessionSheetForm()
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        try:
            changes = form.changes(request.form)
            saved = attendance_stats.save_session_sheet(g.event, session, changes,
                                                        staff=current_user)
        except BadSheet:
            _sheet_failed(_("The sheet could not be read. Reload the page and try again."))
            status = 400
        except ServiceError as exc:
            _sheet_failed(exc.message)
            status = exc.status_code
        else:
            _flash_saved(saved)
            return redirect(request.full_path.rstrip("?"))
    sheet = attendance_stats.session_sheet(g.event, session, _mode())
    return render_template("manage/attendance_sheet.html", event=g.event, sheet=sheet,
                           form=form, mode=_mode(), note_choices=NOTE_CHOICES,
                           manager=accounts.can_manage(current_user, g.event)), status


def _flash_saved(saved: attendance_stats.SheetSaved) -> None:
    parts = []
    if saved.present:
        parts.append(ngettext("%(num)d marked present", "%(num)d marked present",
                              saved.present))
    if saved.absent:
        parts.append(ngettext("%(num)d marked absent", "%(num)d marked absent", saved.absent))
    if saved.out:
        parts.append(ngettext("%(num)d checked out", "%(num)d checked out", saved.out))
    if saved.notes:
        parts.append(ngettext("%(num)d note saved", "%(num)d notes saved", saved.notes))
    flash(_("Saved: %(what)s.", what=", ".join(parts)) if parts else _("Nothing changed."),
          "success")


def _day(text: str) -> date:
    if not _DAY.match(text):
        abort(404)
    try:
        return date.fromisoformat(text)
    except ValueError:
        abort(404)


@bp.route("/events/<slug:slug>/attendance/days/<day>", methods=["GET", "POST"])
def event_attendance_day(day: str):
    when = _day(day)
    attendance_stats.check_day(g.event, when)
    form = DaySheetForm()
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        try:
            changes = form.changes(request.form)
            saved = attendance_stats.save_day_sheet(g.event, when, changes, staff=current_user)
        except BadSheet:
            _sheet_failed(_("The sheet could not be read. Reload the page and try again."))
            status = 400
        except ServiceError as exc:
            _sheet_failed(exc.message)
            status = exc.status_code
        else:
            _flash_saved(saved)
            return redirect(request.full_path.rstrip("?"))
    sheet = attendance_stats.day_sheet(g.event, when, _mode())
    return render_template("manage/attendance_day.html", event=g.event, sheet=sheet,
                           form=form, mode=_mode(), today=attendance_stats.today(g.event),
                           manager=accounts.can_manage(current_user, g.event)), status
