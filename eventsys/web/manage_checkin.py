"""The door: the check-in page (camera, typed code, a picture of a ticket) and the JSON
endpoint its script sends each scan to. Routes join ``manage.bp``; check-in staff may open
them as well as the event's managers (``CHECKIN_ENDPOINTS``).

The rules (once per place, replays, who came when) are in ``services/attendance.py``; the
queue that keeps scans on the device while the venue's network is down is in
``static/js/checkin.js``. The scan endpoint answers JSON whatever happens, so that script
can tell "the server said no" (drop the scan, show why) from "the server was not reached"
(keep it, send it again).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from flask import current_app, g, jsonify, render_template, request, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError, generate_csrf

from eventsys.extensions import csrf, db
from eventsys.forms.checkin import BadScan, parse_scan
from eventsys.i18n import country_name
from eventsys.models import ID_MAX, AgendaSession, Event, utcnow
from eventsys.services import accounts, attendance
from eventsys.services.errors import NotFound, ServiceError
from eventsys.web.manage import CHECKIN_ENDPOINTS, bp

CHECKIN_ENDPOINTS.update({"manage.event_checkin", "manage.event_checkin_scan"})

# A scan is a few hundred bytes of JSON; anything much larger is not one.
BODY_LIMIT = 4096
# How the page colours each answer: go in, look again, stop.
TONES = {"checked_in": "ok", "checked_out": "ok", "already": "warn", "not_checked_in": "warn",
         "not_confirmed": "stop", "cancelled": "stop", "wrong_event": "stop",
         "unknown": "stop", "invalid": "stop"}
WHOLE_EVENT = "event"
ACTION_LABELS = {"in": _l("Check in"), "out": _l("Check out")}


@bp.get("/events/<slug:slug>/checkin")
def event_checkin():
    event = g.event
    now = utcnow()
    sessions = attendance.counting_sessions(event)
    chosen = _chosen_session(event, sessions, request.args.get("session"), now)
    action = "out" if request.args.get("action") == "out" else "in"
    count = attendance.count_present(event, chosen, attendance.local_day(event, now))
    page = {
        "scanUrl": url_for("manage.event_checkin_scan", slug=event.slug),
        "loginUrl": url_for("auth.login", next=request.full_path.rstrip("?")),
        "csrfToken": generate_csrf(),
        "event": event.slug,
        "timezone": event.timezone,  # the recent scans' times, as the venue's clock shows
        "sessionId": chosen.id if chosen else None,
        "messages": _script_messages(),
    }
    return render_template(
        "manage/checkin.html", event=event, sessions=sessions, chosen=chosen, action=action,
        actions=ACTION_LABELS, count_label=_count_label(count), page=page,
        whole_event=WHOLE_EVENT, today=_day_label(event, now), sheet_day=_sheet_day(event, now),
        can_manage=accounts.can_manage(current_user, event))


def _sheet_day(event, now):
    """Today, when it is a day of the event: staff reach the day's sheet from here."""
    day = attendance.local_day(event, now)
    return day if event.start_date <= day <= event.end_date else None


@bp.post("/events/<slug:slug>/checkin/scan")
@csrf.exempt  # checked in the view, so that a stale token is answered in JSON too
def event_checkin_scan():
    problem = _csrf_problem()
    if problem is not None:
        return problem
    if (request.content_length or 0) > BODY_LIMIT:
        return _problem(413, "too_large", _("What you sent is too large."))
    # Read before the service commits: touching the event afterwards would load it (and
    # its venues and hosts) again.
    zone = attendance.zone_of(g.event)
    try:
        scan = parse_scan(request.get_json(silent=True))
        session = attendance.session_of(g.event, scan.session_id)
        staff = current_user._get_current_object()
        if scan.action == "out":
            result = attendance.check_out(g.event, scan.code, session=session, staff=staff)
        else:
            result = attendance.check_in(g.event, scan.code, session=session, staff=staff,
                                         scan_id=scan.scan_id, scanned_at=scan.scanned_at,
                                         typed=scan.typed)
    except BadScan as exc:
        return _problem(400, "bad_request", exc.message)
    except NotFound as exc:
        return _problem(404, "not_found", exc.message)
    except ServiceError as exc:
        return _problem(exc.status_code, "refused", exc.message)
    return _no_store(jsonify(_answer(zone, result, scan.scan_id, scan.session_id)))


# Helpers ----------------------------------------------------------------------------------

def _chosen_session(event: Event, sessions: list[AgendaSession], wanted: str | None,
                    now: datetime) -> AgendaSession | None:
    """``?session=<id>``, ``?session=event`` (the whole event), or by default the session
    under way or next today, else the whole event."""
    if wanted == WHOLE_EVENT:
        return None
    if wanted:
        if not (wanted.isascii() and wanted.isdigit() and len(wanted) <= 10
                and 0 < int(wanted) <= ID_MAX):
            raise NotFound(_("There is no such session."))
        return attendance.session_of(event, int(wanted))
    today = attendance.local_day(event, now)
    return next((s for s in sessions if s.ends_at > now and (
        s.starts_at <= now or attendance.local_day(event, s.starts_at) == today)), None)


def _answer(zone: ZoneInfo, result: attendance.ScanResult, scan_id: str | None,
            session_id: int | None) -> dict:
    holder = result.holder
    when = _clock(zone, result.at) if result.at else None
    return {
        "outcome": result.outcome,
        "label": result.label,
        "tone": TONES[result.outcome],
        "admitted": result.admitted,
        "name": holder.name if holder else None,
        "name_native": holder.name_native if holder else None,
        "organisation": holder.organisation if holder else None,
        "country": holder.country if holder else None,
        "country_name": country_name(holder.country, str(get_locale() or "en"))
        if holder and holder.country else None,
        "photo_url": url_for("agenda.photo", name=holder.photo)
        if holder and holder.photo else None,
        "at": result.at.isoformat() if result.at else None,
        "at_local": when,
        "by": result.by,
        "detail": _detail(result, when),
        "count": result.count,
        "count_label": _count_label(result.count) if result.count is not None else None,
        "replayed": result.replayed,
        "warning": result.warning,
        "scan_id": scan_id,
        "session_id": session_id,
    }


def _detail(result: attendance.ScanResult, when: str | None) -> str | None:
    """The line under the big label: when, and by whom."""
    if result.outcome == "already" and when:
        if result.by:
            return _("Checked in %(when)s by %(name)s.", when=when, name=result.by)
        return _("Checked in %(when)s.", when=when)
    if result.outcome == "checked_in" and result.replayed and when:
        return _("Scanned %(when)s on this device and counted once.", when=when)
    if result.outcome == "checked_out" and when:
        return _("Left %(when)s.", when=when)
    return None


def _clock(zone: ZoneInfo, moment: datetime) -> str:
    """A moment as the venue's clock shows it: "at 09:12" today, else with the date."""
    locale = str(get_locale() or "en")
    local = moment.astimezone(zone)
    time_text = format_time(local, "short", tzinfo=zone, locale=locale)
    if local.date() == utcnow().astimezone(zone).date():
        return _("at %(time)s", time=time_text)
    return _("on %(date)s at %(time)s", date=format_date(local, "medium", locale=locale),
             time=time_text)


def _day_label(event: Event, now: datetime) -> str:
    return format_date(attendance.local_day(event, now), "medium",
                       locale=str(get_locale() or "en"))


def _count_label(count: int) -> str:
    return ngettext("%(num)d checked in", "%(num)d checked in", count)


def _script_messages() -> dict[str, str]:
    """What the page's script says, in the reader's language ({n}: a number)."""
    return {
        "sending": _("Sending…"),
        "saved": _("Saved on this device"),
        "offline": _("Saved on this device — will be sent when the connection returns "
                     "({n} waiting)."),
        "waiting": _("{n} scans saved on this device, not yet sent."),
        "sentLater": _("sent later"),
        "loggedOutLabel": _("Logged out: scan kept"),
        "loggedOut": _("You are logged out, or no longer check-in staff for this event. "
                       "Scans are kept on this device ({n} waiting): log in again and "
                       "they are sent."),
        "logIn": _("Log in"),
        "serverError": _("The server could not record the scan; it is kept on this device "
                         "and will be sent again ({n} waiting)."),
        "noQrLabel": _("No QR code found"),
        "noQr": _("Try a sharper or closer picture of the ticket, or type the code."),
        "cameraDenied": _("The camera could not be used. Allow the camera for this site, "
                          "or type the code."),
        "cameraInsecure": _("The camera works only over a secure (https) connection. Type "
                            "the code or use a picture of the ticket."),
        "cameraOn": _("Point the camera at the ticket's QR code."),
        "reading": _("Reading the picture…"),
        "problem": _("Not recorded"),
    }


def _csrf_problem():
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return None
    try:
        csrf.protect()
    except CSRFError:
        # The page was open longer than the token lives, or the session was renewed: the
        # script takes the new token and sends the scan again.
        return _problem(400, "csrf", _("The page has expired. Reload it to go on."),
                        csrf_token=generate_csrf())
    return None


def _problem(status: int, error: str, message: str, **extra):
    db.session.rollback()  # whatever a refused scan had begun is not kept
    return _no_store(jsonify(error=error, message=message, **extra)), status


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response
