"""A scan from the check-in page, as its script sends it (JSON, not a form): each field
checked for its type and size, so anything else is a clear 400 and never reaches the
attendance service. The ticket code itself is the service's to judge: a mangled one is an
answer ("Not a ticket code"), not an error."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from flask_babel import gettext as _

from eventsys.models import ID_MAX

# A ticket code is 14 characters; a QR code that is not a ticket can hold a long URL, and
# the page still wants its "Not a ticket code". Beyond this it is not a scan at all.
CODE_LIMIT = 200
# The browser's id of one scan: a UUID, or anything of that shape.
SCAN_ID = re.compile(r"[A-Za-z0-9-]{1,40}")
ACTIONS = ("in", "out")


class BadScan(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Scan:
    code: str
    session_id: int | None  # None: the whole event, today
    action: str  # "in" or "out"
    scan_id: str | None
    scanned_at: datetime | None  # when the browser made the scan (kept offline since)
    typed: bool  # typed at the desk rather than read from a QR code


def parse_scan(body: object) -> Scan:
    if not isinstance(body, dict):
        raise BadScan(_("Send the scan as a JSON object."))
    code = body.get("code")
    if not isinstance(code, str) or not code.strip():
        raise BadScan(_("The ticket code is missing."))
    if len(code) > CODE_LIMIT:
        raise BadScan(_("Not a ticket code: far too long."))
    return Scan(code=code, session_id=_session_id(body.get("session_id")),
                action=_action(body.get("action", "in")),
                scan_id=_scan_id(body.get("scan_id")),
                scanned_at=_moment(body.get("scanned_at")),
                typed=_flag(body.get("typed", False)))


def _session_id(value: object) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 11:
        value = int(value)
    # bool is an int in Python; true is not session 1.
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= ID_MAX:
        raise BadScan(_("There is no such session."))
    return value


def _action(value: object) -> str:
    if value not in ACTIONS:
        raise BadScan(_("Choose check in or check out."))
    return str(value)


def _scan_id(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not SCAN_ID.fullmatch(value):
        raise BadScan(_("The scan's id is not valid."))
    return value


def _moment(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise BadScan(_("The scan's time is not valid."))
    try:
        moment = datetime.fromisoformat(value)
        # Naive times are the service's to ignore; aware ones are kept in UTC.
        return moment.astimezone(UTC) if moment.tzinfo else moment
    except (ValueError, OverflowError):
        raise BadScan(_("The scan's time is not valid.")) from None


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise BadScan(_("'typed' must be true or false."))
    return value
