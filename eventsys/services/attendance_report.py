"""Meeting platforms' attendance reports: who watched online, and for how long.

Zoom, Tencent Meeting (腾讯会议), Microsoft Teams and the live-stream platforms each export
a table of participants with a name, often an email address, join and leave times and a
duration, in their own words, encodings, date formats and time zones, sometimes below a
summary of the meeting. An organiser uploads one; ``start_import`` reads it (``parse``),
matches its rows to the event's confirmed registrations (by email, then by name) and stores
it as a preview (``AttendanceReport`` with its ``AttendanceReportRow``\\ s); the organiser
matches the rows left over by hand (``match_rows``) and confirms (``apply``), which gives
each participant their minutes through ``attendance.record_online``. Nothing counts before
that; a preview can be discarded.

How minutes are counted, per participant and session (``plan``):

- Rows with times are intervals. One person's intervals in one report are merged (their
  union), so a row exported twice, or two devices in one meeting, never count twice; a
  participant's minutes are never more than the durations their rows give either (Teams'
  first-join/last-leave rows carry the real time in the meeting as their duration).
- The report is for the **session chosen**: the union's length, capped at the session's
  length. The times are not clipped to the session's, so a meeting opened early or late,
  or a file in an unexpected time zone, does not lose anyone's time (the preview warns
  when the times are hours away from the session's).
- **Split by times**: each interval is cut by each session that counts for attendance;
  a participant gets a session where they were at least a minute of it. Without such
  sessions, the event as a whole on the day they joined.
- **Duration only** (no times; only with a chosen session): the sum of the distinct
  durations of the person's rows, capped at the session's length. Zoom lists every
  rejoin on its own row, so different durations add up; a row repeated with the same
  duration is taken once, because an export that repeats a row must not double anyone's
  time. The cap bounds what cannot be told apart.

Applying is idempotent: ``record_online`` keeps the larger of the minutes known and these,
so applying again, or applying two reports of one meeting, never adds them up.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from itertools import islice

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, delete, func, select, update

from eventsys.extensions import db
from eventsys.models import (
    AgendaSession,
    AttendanceReport,
    AttendanceReportRow,
    Event,
    Registration,
    User,
    utcnow,
)
from eventsys.services import agenda, attendance, audit, media, sql, tables
from eventsys.services.accounts import normalise_email
from eventsys.services.errors import Conflict, NotFound, ServiceError
from eventsys.services.tickets import normalise_ticket_code
from eventsys.services.validation import has_control_chars

PLATFORM_LABELS = {
    "zoom": "Zoom",
    "tencent": _l("Tencent Meeting"),
    "teams": "Microsoft Teams",
    "streaming": _l("Live-stream platform"),
    "other": _l("Other"),
}
STATUS_LABELS = {"preview": _l("Preview"), "applied": _l("Applied")}
MAX_ROWS = 20_000
# Platforms put a summary of the meeting (title, id, host, times, counts) above the list.
HEADER_SEARCH_ROWS = 30
MAX_MINUTES = 24 * 60
LIMITS = {"name": 200, "email": 254}
# Rows the preview lists per kind; the counts cover them all.
SHOWN = 500


# Reading the file --------------------------------------------------------------------------

_HEADERS = {
    "name": ("name", "nameoriginalname", "fullname", "displayname", "participant",
             "participantname", "attendee", "attendeename", "username", "user", "nickname",
             "viewer", "viewername", "member", "membername", "guestname",
             "用户昵称", "昵称", "入会昵称", "会中昵称", "姓名", "名称", "名字", "用户名",
             "用户", "参会者", "参会人", "参会人员", "参会者昵称", "成员", "观众",
             "观众昵称", "用户名称"),
    "first_name": ("firstname", "givenname", "forename", "名"),
    "last_name": ("lastname", "familyname", "surname", "姓"),
    "email": ("email", "useremail", "emailaddress", "mail", "emails", "attendeeemail",
              "participantemail", "participantidupn", "upn", "userprincipalname",
              "邮箱", "电子邮件", "电子邮箱", "邮箱地址", "用户邮箱", "邮件", "电邮"),
    "joined": ("jointime", "join", "joined", "joinedat", "firstjoin", "firstjointime",
               "firstjoined", "timejoined", "entertime", "entrytime", "starttime", "start",
               "firstseen", "firstview", "入会时间", "加入时间", "首次入会时间", "进入时间",
               "首次进入时间", "开始时间", "开始观看时间", "首次观看时间", "观看开始时间",
               "进入直播间时间", "进入直播时间"),
    "left": ("leavetime", "leave", "left", "leftat", "lastleave", "lastleavetime",
             "timeleft", "exittime", "endtime", "end", "lastseen", "退会时间", "离会时间",
             "离开时间", "最后离会时间", "最后退会时间", "最后离开时间", "退出时间", "结束时间",
             "结束观看时间", "最后观看时间", "离开直播间时间", "退出直播时间"),
    "duration": ("duration", "durationminutes", "durationmins", "durationseconds",
                 "inmeetingduration", "attendanceduration", "timeinsession",
                 "timeinmeeting", "totalduration", "watchtime", "watchduration",
                 "viewingtime", "viewduration", "viewingduration", "totalwatchtime",
                 "minutes", "参会时长", "入会时长", "时长", "在线时长", "观看时长",
                 "累计观看时长", "累计参会时长", "累计入会时长", "参与时长", "持续时间",
                 "停留时长", "在会时长"),
    # Teams' classic attendance list: a row per join or leave ("Joined", "Left").
    "action": ("useraction", "action", "activity", "用户操作", "操作"),
    "timestamp": ("timestamp", "时间戳"),
}
_FIELDS = {tables.key(alias): name for name, aliases in _HEADERS.items() for alias in aliases}
_WHO = {"name", "email", "first_name", "last_name"}
_WHEN = {"joined", "left", "duration", "timestamp"}
# Headers of a meeting's summary above the list of participants ("Meeting ID, Topic,
# Start Time, End Time, User Email, Duration (Minutes), Participants" in Zoom's): the row
# is not the list's header, however many of its other headers look like one.
_SUMMARY = {tables.key(text) for text in (
    "meeting id", "topic", "meeting topic", "meeting title", "meeting name", "webinar id",
    "participants", "total number of participants", "attended participants",
    "meeting duration", "average attendance time", "meeting start time",
    "会议主题", "会议号", "会议id", "会议名称", "会议时长", "参会人数", "预定开始时间",
    "预定结束时间", "直播主题", "直播名称", "会议标题")}
# Teams numbers the sections of its report: "1. Summary", "2. Participants", "3. In-Meeting
# Activities".
_SECTION = re.compile(r"\s*\d{1,2}\s*[.、]\s*\S")

_PLATFORM_MARKS = (
    ("zoom", {"nameoriginalname", "useremail", "durationminutes", "guest", "recordingconsent",
              "recordingdisclaimerresponse", "inwaitingroom", "totaldurationminutes"}),
    ("teams", {"firstjoin", "lastleave", "inmeetingduration", "participantidupn",
               "useraction", "fullname"}),
    ("tencent", {"用户昵称", "入会时间", "退会时间", "离会时间", "入会时长", "参会时长",
                 "入会身份", "会中昵称", "入会昵称"}),
    ("streaming", {"watchtime", "watchduration", "viewingtime", "viewer", "viewername",
                   "firstseen", "lastseen", "观看时长", "观众", "观众昵称", "首次观看时间",
                   "累计观看时长", "进入直播间时间"}),
)


@dataclass(frozen=True)
class Header:
    columns: dict[str, int]  # our field -> column index
    names: dict[str, str]  # our field -> the header as found
    ignored: list[str]  # headers not used, shown to the organiser
    duration_unit: int  # seconds in one unit of a bare number in the duration column
    zones: dict[str, timezone]  # a time column whose header names its zone: "Join Time (UTC)"


@dataclass(frozen=True)
class ReportRow:
    line: int
    name: str | None
    email: str | None  # normalised; None when missing or not an address
    joined_at: datetime | None  # UTC
    left_at: datetime | None  # UTC
    minutes: int | None  # the duration column's; the time between join and leave without it
    problem: str | None = None  # why the row cannot count
    names: tuple[str, ...] = ()  # the names to match by: "Li (李)" is both


@dataclass
class ParsedReport:
    platform: str  # one of PLATFORM_LABELS
    rows: list[ReportRow]
    columns: dict[str, str]
    ignored_columns: list[str]
    notes: list[str] = field(default_factory=list)  # what the organiser should know


def _header(cells: list[str]) -> Header | None:
    """The header of a list of participants, or None."""
    keys = {tables.key(cell) for cell in cells}
    if keys & _SUMMARY:
        return None
    columns, names, ignored = tables.recognise(cells, _FIELDS)
    if not (columns.keys() & _WHO and columns.keys() & _WHEN):
        return None
    if ("timestamp" in columns) != ("action" in columns) and not (
            columns.keys() & {"joined", "left", "duration"}):
        return None
    unit = 60
    zones: dict[str, timezone] = {}
    for name, header in names.items():
        parts = {tables.key(part) for part in tables.header_parts(header)}
        if name == "duration":
            unit = next((seconds for words, seconds in _UNITS if parts & words), 60)
        elif name in ("joined", "left", "timestamp") \
                and (zone := _zone_in_header(header)) is not None:
            zones[name] = zone
    return Header(columns, names, ignored, unit, zones)


_UNITS = (({"seconds", "second", "secs", "sec", "s", "秒"}, 1),
          ({"minutes", "minute", "mins", "min", "m", "分钟", "分"}, 60),
          ({"hours", "hour", "hrs", "hr", "h", "小时"}, 3600))
_HEADER_ZONE = re.compile(r"\b(?:UTC|GMT)\s*(?:([+-])\s*(\d{1,2})(?::?(\d{2}))?)?", re.I)


def _zone_in_header(header: str) -> timezone | None:
    if "北京时间" in header:
        return timezone(timedelta(hours=8))
    match = _HEADER_ZONE.search(header)
    if match is None:
        return None
    return _offset(match.group(1), match.group(2), match.group(3))


def _offset(sign: str | None, hours: str | None, minutes: str | None) -> timezone | None:
    if not sign:
        return UTC
    delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
    if delta > timedelta(hours=14):
        return None
    return timezone(-delta if sign == "-" else delta)


def _understood(cells: list[str]) -> int:
    header = _header(cells)
    return len(header.columns) if header else 0


def _platform(header_cells: list[str]) -> str:
    keys = {tables.key(cell) for cell in header_cells}
    for platform, marks in _PLATFORM_MARKS:
        if keys & marks:
            return platform
    return "other"


def parse(filename: str, data: bytes, *, timezone_name: str, default_day: date,
          needs_times: bool = False) -> ParsedReport:
    """Read an uploaded attendance report (CSV or XLSX, told apart by content).

    Times without an offset are in ``timezone_name`` (an offset in the value, or a zone in
    the column's header, wins); times without a date are on ``default_day``. With
    ``needs_times`` (the report is split among sessions by its times), a row with a
    duration only cannot count. ServiceError when the file as a whole cannot be used;
    problems with single rows are in their ``problem``."""
    agenda.zone(timezone_name)
    first: list[str] | None = None
    people_only: list[str] | None = None
    for rows in tables.sheets(filename, data, understood=_understood,
                              search_rows=HEADER_SEARCH_ROWS):
        rows = tables.nonblank(rows)
        for _line, cells in islice(rows, HEADER_SEARCH_ROWS):
            if first is None:
                first = [" ".join(cell.split()) for cell in cells]
            header = _header(cells)
            if header is not None:
                break
            found = tables.recognise(cells, _FIELDS)[0]
            if people_only is None and found.keys() & _WHO and not (
                    {tables.key(cell) for cell in cells} & _SUMMARY):
                people_only = [" ".join(cell.split()) for cell in cells]
        else:
            continue
        table, notes = _table(rows, header)
        if not table:
            raise ServiceError(_("The report has a header but no rows below it."))
        day_first = _day_first(_column(table, header, "joined", "left", "timestamp"))
        minutes_seconds = _minutes_and_seconds(_column(table, header, "duration"))
        reader = _RowReader(header, timezone_name, default_day, day_first, minutes_seconds,
                            needs_times)
        platform = _platform(cells)  # the header's
        if "timestamp" in header.columns and not header.columns.keys() & {"joined", "left"}:
            read_rows = _joins_and_leaves(reader, table)
        else:
            read_rows = [reader.read(line, row) for line, row in table]
        return ParsedReport(platform, read_rows, header.names, header.ignored, notes)
    if people_only is not None:
        raise ServiceError(_("No column of join or leave times or of durations was found, so "
                             "the report says nothing about how long anyone stayed. Headers "
                             "found: %(headers)s.", headers=_quoted(people_only)))
    if not first:
        raise ServiceError(_("The file is empty."))
    raise ServiceError(_("No column of names or email addresses was found. An attendance "
                         "report has a row of headers such as Name, Email, Join Time, Leave "
                         "Time, Duration. Headers found: %(headers)s.",
                         headers=_quoted(first)))


def _column(table: list[tables.Row], header: Header, *names: str) -> Iterator[str]:
    indexes = [header.columns[name] for name in names if name in header.columns]
    return (cells[index] for _line, cells in table for index in indexes
            if index < len(cells))


def _quoted(headers: list[str]) -> str:
    return ", ".join(f"“{header[:40]}”" for header in headers if header)[:400]


def _table(rows: Iterator[tables.Row], header: Header
           ) -> tuple[list[tables.Row], list[str]]:
    """The rows of the list, up to the next table of the file (Teams adds one with every
    join and leave below its participants), with a note when there is one."""
    table: list[tables.Row] = []
    when = [index for name, index in header.columns.items() if name in _WHEN]
    for line, cells in rows:
        filled = [cell for cell in cells if cell.strip()]
        # A row of times is data; only one without a digit where the times are may be the
        # header of another table (checking every row costs a tenth of the import).
        if (len(filled) == 1 and _SECTION.match(filled[0])) or (
                not any(char.isdigit() for index in when if index < len(cells)
                        for char in cells[index])
                and _header(cells) is not None):
            return table, [_("From line %(line)d (“%(text)s”) the file has another table; "
                             "it was not read.", line=line,
                             text=tables.shown(" ".join(" ".join(filled).split())))]
        if len(table) >= MAX_ROWS:
            raise ServiceError(_("The report has more than %(n)d rows. Split it into smaller "
                                 "files.", n=MAX_ROWS))
        table.append((line, cells))
    return table, []


# Values --------------------------------------------------------------------------------------

_MONTHS = {name: number for number, names in enumerate((
    ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"),
    ("may",), ("jun", "june"), ("jul", "july"), ("aug", "august"),
    ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
    ("dec", "december")), start=1) for name in names}

_TIME = (r"(?:(?P<cn>上午|下午|中午|晚上|凌晨|早上)\s*)?"
         r"(?P<H>\d{1,2})(?:[:\uff1a时点](?P<M>\d{1,2})(?:[:\uff1a分](?P<S>\d{1,2})(?:[.,]\d+)?秒?)?分?)?"
         r"\s*(?P<ampm>[AaPp]\.?[Mm]\.?)?")
_ZONE = (r"(?:\s*\(?\s*(?:(?P<sign>[+-])(?P<oh>\d{1,2}):?(?P<om>\d{2})?"
         r"|(?:UTC|GMT)\s*(?:(?P<sign2>[+-])(?P<oh2>\d{1,2}):?(?P<om2>\d{2})?)?"
         r"|(?P<z>Z))\s*\)?)?")
_DATE_YMD = r"(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?"
_DATE_NUM = r"(?P<a>\d{1,2})(?P<sep>[/.-])(?P<b>\d{1,2})(?P=sep)(?P<y2>\d{4}|\d{2})"
_DATE_WORD = (r"(?:(?P<mon>[A-Za-z]{3,9})\.?\s+(?P<d2>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y3>\d{4})"
              r"|(?P<d3>\d{1,2})\s+(?P<mon2>[A-Za-z]{3,9})\.?,?\s+(?P<y4>\d{4}))")
_MOMENT = re.compile(
    rf"(?:[A-Za-z]{{3,9}},?\s+)?(?:{_DATE_YMD}|{_DATE_NUM}|{_DATE_WORD})"
    rf"(?:(?:\s*[T,]\s*|\s+|(?<=日))(?:{_TIME}))?{_ZONE}")
_CLOCK = re.compile(rf"{_TIME}{_ZONE}")
_NUMERIC_DATE = re.compile(r"\s*(\d{1,2})([/.-])(\d{1,2})\2")
_EXCEL_SERIAL = re.compile(r"\d{5}(?:\.\d+)?")


def _day_first(values: Iterable[str]) -> bool:
    """Whether "07/12/2026" is the 7th of December in this file: Zoom and Teams write
    month first in the US, Europeans day first; a day over 12 anywhere in the file decides,
    and month first (the platforms' default) when nothing does. Dots are always day first."""
    month_first = day_first = 0
    for value in values:
        match = _NUMERIC_DATE.match(value)
        if match is None:
            continue
        a, b = int(match.group(1)), int(match.group(3))
        if match.group(2) == "." or a > 12 >= b:
            day_first += 1
        elif b > 12 >= a:
            month_first += 1
    return day_first > month_first


def _minutes_and_seconds(values: Iterable[str]) -> bool:
    """Whether durations like "45:30" are minutes and seconds in this file: hours and
    minutes ("1:05") unless one of them cannot be (45 hours)."""
    return any((match := _CLOCK_DURATION.fullmatch(value.strip())) is not None
               and match.group(3) is None and int(match.group(1)) >= 24 for value in values)


class _Unreadable(ValueError):
    pass


def parse_moment(text: str, zone_name: str, *, default_day: date, day_first: bool = False,
                 column_zone: timezone | None = None) -> datetime | None:
    """A join or leave time in UTC; None for an empty cell; _Unreadable (a ValueError)
    when it is not a time, ServiceError when it does not exist in the zone."""
    value = " ".join(text.split())
    if not value or _is_placeholder(value):
        return None
    match = _MOMENT.fullmatch(value)
    if match is not None:
        day = _date_of(match, day_first)
    else:
        if _EXCEL_SERIAL.fullmatch(value):
            serial = float(value)
            if 36526 <= serial <= 73051:  # 2000 to 2099: a date cell read as a number
                local = datetime(1899, 12, 30) + timedelta(days=serial)
                return _in_zone(local.replace(microsecond=0), zone_name, column_zone, None)
            raise _Unreadable(value)
        match = _CLOCK.fullmatch(value)
        if match is None:
            raise _Unreadable(value)
        day = default_day
    local = datetime.combine(day, _time_of(match))
    explicit = _explicit_zone(match)
    return _in_zone(local, zone_name, column_zone, explicit)


def _date_of(match: re.Match, day_first: bool) -> date:
    groups = match.groupdict()
    try:
        if groups["y"]:
            return date(int(groups["y"]), int(groups["m"]), int(groups["d"]))
        if groups["y2"]:
            year = int(groups["y2"])
            year = year + 2000 if year < 100 else year
            a, b = int(groups["a"]), int(groups["b"])
            if day_first or groups["sep"] == ".":
                a, b = b, a
            return date(year, a, b)
        month = _MONTHS.get((groups["mon"] or groups["mon2"] or "").lower())
        if month is None:
            raise _Unreadable(match.group())
        return date(int(groups["y3"] or groups["y4"]), month, int(groups["d2"] or groups["d3"]))
    except ValueError:
        raise _Unreadable(match.group()) from None


def _time_of(match: re.Match) -> time:
    groups = match.groupdict()
    if groups.get("H") is None:
        return time()
    hour, minute, second = int(groups["H"]), int(groups["M"] or 0), int(groups["S"] or 0)
    if groups["M"] is None and not (groups["ampm"] or groups["cn"]):
        raise _Unreadable(match.group())  # "2026-12-07 9": not a time
    marker = (groups["ampm"] or "").lower().replace(".", "")
    if marker or groups["cn"]:
        afternoon = marker == "pm" or groups["cn"] in ("下午", "晚上")
        if hour > 12 or hour == 0:
            if marker:
                raise _Unreadable(match.group())
        elif afternoon and hour < 12:
            hour += 12
        elif marker == "am" and hour == 12:
            hour = 0
    try:
        return time(hour, minute, second)
    except ValueError:
        raise _Unreadable(match.group()) from None


def _explicit_zone(match: re.Match) -> timezone | None:
    groups = match.groupdict()
    if groups["z"]:
        return UTC
    if groups["sign"]:
        zone = _offset(groups["sign"], groups["oh"], groups["om"])
    elif groups["sign2"]:
        zone = _offset(groups["sign2"], groups["oh2"], groups["om2"])
    elif "UTC" in match.group().upper() or "GMT" in match.group().upper():
        zone = UTC
    else:
        return None
    if zone is None:
        raise _Unreadable(match.group())
    return zone


def _in_zone(local: datetime, zone_name: str, column_zone: timezone | None,
             explicit: timezone | None) -> datetime:
    fixed = explicit or column_zone
    if fixed is None:
        return agenda.to_utc(local, zone_name)  # ServiceError: out of range, or no such time
    if not 2000 <= local.year <= 2200:
        raise ServiceError(_("Those dates are out of range."))
    return local.replace(tzinfo=fixed).astimezone(UTC)


_DURATION_PART = re.compile(
    r"\s*(?P<n>\d+(?:[.,]\d+)?)\s*(?P<unit>hours?|hrs?|h|小时|時間|时|"
    r"minutes?|mins?|m|分钟|分鐘|分|seconds?|secs?|s|秒)\.?\s*,?", re.I)
_UNIT_SECONDS = {"h": 3600, "小": 3600, "時": 3600, "时": 3600, "m": 60, "分": 60, "s": 1,
                 "秒": 1}
_CLOCK_DURATION = re.compile(r"(\d{1,3}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?")
_NUMBER = re.compile(r"[+-]?\d+(?:[.,]\d+)?")


def parse_duration(text: str, unit: int = 60, *, minutes_seconds: bool = False
                   ) -> float | None:
    """Seconds. "65" (in the column's ``unit``), "65.5", "1:05:03", "1:05" (hours and
    minutes, or with ``minutes_seconds`` minutes and seconds), "1h 5m 3s", "45 min",
    "1小时5分", "3分钟20秒"; None for an empty cell; _Unreadable otherwise (a negative
    duration included: it says so)."""
    value = text.strip()
    if not value or _is_placeholder(value):
        return None
    if _NUMBER.fullmatch(value):
        seconds = float(value.replace(",", ".")) * unit
        if seconds < 0:
            raise _Unreadable("negative")
        if not math.isfinite(seconds):
            raise _Unreadable(value)  # 400 nines is a float's infinity, not a duration
        return seconds
    if match := _CLOCK_DURATION.fullmatch(value):
        hours, minutes, seconds = match.group(1), match.group(2), match.group(3)
        if seconds is None and minutes_seconds:
            hours, minutes, seconds = "0", hours, minutes
        elif int(minutes) > 59:
            raise _Unreadable(value)
        if int(seconds or 0) > 59:
            raise _Unreadable(value)
        return int(hours) * 3600 + int(minutes) * 60 + int(seconds or 0)
    total, position = 0.0, 0
    while position < len(value):
        part = _DURATION_PART.match(value, position)
        if part is None or part.end() == position:
            raise _Unreadable(value)
        unit_name = part.group("unit").lower()
        total += float(part.group("n").replace(",", ".")) * _UNIT_SECONDS[unit_name[0]]
        position = part.end()
    if not math.isfinite(total):
        raise _Unreadable(value)
    return total


_LETTER_OR_DIGIT = re.compile(r"[^\W_]")


def _is_placeholder(text: str) -> bool:
    """"-", "—", "/", "n/a": a spreadsheet's way of saying "nothing here"."""
    return not _LETTER_OR_DIGIT.search(text) or text.casefold() in ("n/a", "na", "none")


_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))
_ADDRESS = re.compile(r"[^@\s<>(),;:\"]+@[^@\s<>(),;:\"]+\.[^@\s<>(),;:\".]+")


def _email(text: str) -> str | None:
    """The normalised address, or None: a missing or malformed address (a Teams guest's
    id, "-") is no address, and the name may still match."""
    address = text.translate(_INVISIBLE).strip()
    if address[:7].casefold() == "mailto:":
        address = address[7:]
    if len(address) > LIMITS["email"] or not _ADDRESS.fullmatch(address):
        return None
    return normalise_email(address)


def _round_minutes(seconds: float) -> int:
    return math.floor(seconds / 60 + 0.5)


class _RowReader:
    def __init__(self, header: Header, zone_name: str, default_day: date, day_first: bool,
                 minutes_seconds: bool, needs_times: bool):
        self.minutes_seconds = minutes_seconds
        self.columns = header.columns
        self.names = header.names
        self.unit = header.duration_unit
        self.zones = header.zones
        self.zone_name = zone_name
        self.default_day = default_day
        self.day_first = day_first
        self.needs_times = needs_times

    def cell(self, cells: list[str], name: str) -> str:
        index = self.columns.get(name)
        if index is None or index >= len(cells):
            return ""
        return unicodedata.normalize("NFC", cells[index])

    def read(self, line: int, cells: list[str]) -> ReportRow:
        name_text = " ".join(self.cell(cells, "name").split())
        if not name_text:
            name_text = tables.join_name(" ".join(self.cell(cells, "first_name").split()),
                                   " ".join(self.cell(cells, "last_name").split()))
        if _is_placeholder(name_text):
            name_text = ""
        email = _email(self.cell(cells, "email"))
        problem = None
        if has_control_chars(name_text):
            name_text, problem = "", _("the name contains characters that are not allowed")
        elif tables.looks_like_formula(name_text):
            name_text, problem = "", _("a spreadsheet formula, not a name: “%(value)s”",
                                       value=tables.shown(name_text))
        name = name_text[:LIMITS["name"]] or None
        row = ReportRow(line, name, email, None, None, None, names=_name_variants(name_text))
        if problem:
            return _with(row, problem)
        if not name and not email:
            return _with(row, _("no name and no email address"))
        try:
            joined = self.moment(cells, "joined")
        except _Unreadable:
            return _with(row, self.unreadable("joined", cells))
        except ServiceError as exc:
            return _with(row, f"{self.names['joined']}: {exc.message}")
        try:
            left = self.moment(cells, "left")
        except _Unreadable:
            return _with(row, self.unreadable("left", cells))
        except ServiceError as exc:
            return _with(row, f"{self.names['left']}: {exc.message}")
        try:
            seconds = parse_duration(self.cell(cells, "duration"), self.unit,
                                     minutes_seconds=self.minutes_seconds)
        except _Unreadable as exc:
            if str(exc) == "negative":
                return _with(row, _("a negative duration: “%(value)s”",
                                    value=tables.shown(self.cell(cells, "duration"))))
            return _with(row, self.unreadable("duration", cells))
        if "timestamp" in self.columns and not self.columns.keys() & {"joined", "left"}:
            return row  # one event of a list of joins and leaves: _joins_and_leaves
        return _timed(row, joined, left, seconds, self.needs_times)

    def moment(self, cells: list[str], name: str) -> datetime | None:
        return parse_moment(self.cell(cells, name), self.zone_name,
                            default_day=self.default_day, day_first=self.day_first,
                            column_zone=self.zones.get(name))

    def unreadable(self, name: str, cells: list[str]) -> str:
        value = tables.shown(self.cell(cells, name).strip())
        if name == "duration":
            return _("%(column)s: not a duration we can read: “%(value)s”",
                     column=self.names[name], value=value)
        return _("%(column)s: not a time or date we can read: “%(value)s”",
                 column=self.names[name], value=value)


_JOINED = re.compile(r"join|加入|入会|进入", re.I)
_LEFT = re.compile(r"left|leave|离开|退出|退会|离会", re.I)


def _joins_and_leaves(reader: _RowReader, table: list[tables.Row]) -> list[ReportRow]:
    """Teams' classic attendance list has a row per event ("Joined", "Joined before",
    "Left") with its timestamp: each person's joins and leaves, in time order, make the
    intervals (on the join's line). A leave with no join before it, or a join never
    left, cannot be told how long it lasted: a row problem."""
    events: dict[tuple[str | None, str], list[tuple[datetime, int, str, ReportRow]]] = \
        defaultdict(list)
    rows: list[ReportRow] = []
    for line, cells in table:
        row = reader.read(line, cells)
        if row.problem:
            rows.append(row)
            continue
        action = reader.cell(cells, "action").strip()
        kind = "left" if _LEFT.search(action) else "joined" if _JOINED.search(action) else None
        try:
            moment = reader.moment(cells, "timestamp")
        except _Unreadable:
            rows.append(_with(row, reader.unreadable("timestamp", cells)))
            continue
        except ServiceError as exc:
            rows.append(_with(row, f"{reader.names['timestamp']}: {exc.message}"))
            continue
        if kind is None:
            rows.append(_with(row, _("%(column)s: neither a join nor a leave: “%(value)s”",
                                     column=reader.names["action"],
                                     value=tables.shown(action))))
        elif moment is None:
            rows.append(_with(row, _("no time")))
        else:
            who = (row.email, "" if row.email else name_key(row.name))
            events[who].append((moment, line, kind, row))
    for happened in events.values():
        opened: tuple[datetime, ReportRow] | None = None
        for moment, _line, kind, row in sorted(happened, key=lambda e: (e[0], e[1])):
            if kind == "joined":
                opened = opened or (moment, row)  # already in: the first join stands
            elif opened is None:
                rows.append(_with(row, _("a leave without a join before it")))
            else:
                rows.append(_timed(opened[1], opened[0], moment, None, reader.needs_times))
                opened = None
        if opened is not None:
            rows.append(_with(opened[1], _("a join without a leave after it")))
    return sorted(rows, key=lambda row: row.line)


def _with(row: ReportRow, problem: str) -> ReportRow:
    return ReportRow(row.line, row.name, row.email, row.joined_at, row.left_at, row.minutes,
                     problem[:300], row.names)


def _timed(row: ReportRow, joined: datetime | None, left: datetime | None,
           seconds: float | None, needs_times: bool) -> ReportRow:
    """The row with its interval and minutes, or its problem. A leave time before the join
    time crossed midnight (a list of times without dates, or an export that took the
    join's date for both), unless the duration says how long they stayed."""
    if seconds is not None and seconds > MAX_MINUTES * 60:
        # Compared as a number first: timedelta() overflows on a few billion days.
        return _with(row, _("a duration of more than 24 hours"))
    duration = timedelta(seconds=seconds) if seconds is not None else None
    if joined is not None and left is not None and left < joined:
        if duration is not None:
            left = joined + duration
        elif left + timedelta(days=1) > joined:
            left += timedelta(days=1)
        else:
            return _with(row, _("the leave time is before the join time"))
    elif joined is not None and left is None:
        if duration is None:
            return _with(row, _("a join time but no leave time or duration"))
        left = joined + duration
    elif left is not None and joined is None:
        if duration is None:
            return _with(row, _("a leave time but no join time or duration"))
        joined = left - duration
    if joined is not None and left is not None:
        if left - joined > timedelta(minutes=MAX_MINUTES):
            return _with(row, _("more than 24 hours between joining and leaving"))
        span = (left - joined).total_seconds()
        minutes = _round_minutes(seconds if seconds is not None else span)
        return ReportRow(row.line, row.name, row.email, joined, left, minutes, None, row.names)
    if duration is None:
        return _with(row, _("no join or leave time and no duration"))
    if needs_times:
        return _with(row, _("a duration but no join or leave time, so it cannot be split "
                            "among the sessions: import the report for one session"))
    return ReportRow(row.line, row.name, row.email, None, None, _round_minutes(seconds), None,
                     row.names)


# Matching ------------------------------------------------------------------------------------

_NOT_ALNUM = re.compile(r"[\W_]+")
_BRACKETED = re.compile(
    r"^(?P<outer>[^()\uff08\uff09]*?)\s*[(\uff08](?P<inner>[^()\uff08\uff09]+)[)\uff09]\s*$")


def name_key(text: str | None) -> str:
    """What two spellings of one person's name have in common: case, accents, punctuation,
    spacing and the order of the words ("WANG Wei", "Wei Wang", "Wáng, Wei"); Chinese
    names without spaces ("王 伟" = "王伟")."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    words = [word for word in _NOT_ALNUM.split(plain) if word]
    if not words:
        return ""
    if all(tables.is_cjk(word) for word in words):
        return "".join(words)
    return " ".join(sorted(words))


def _name_variants(text: str) -> tuple[str, ...]:
    """The name as written, and where it ends in brackets both parts: Zoom writes a renamed
    participant as "Name (Original Name)", Teams a guest as "Name (Guest)"."""
    if not text:
        return ()
    match = _BRACKETED.match(text)
    if match is None:
        return (text,)
    return tuple(dict.fromkeys(part for part in (text, match.group("outer"),
                                                 match.group("inner")) if part.strip()))


@dataclass
class People:
    """The event's confirmed registrations, as the rows are matched to them."""

    by_email: dict[str, int]
    by_name: dict[str, set[int]]

    def match(self, email: str | None, names: Iterable[str]) -> tuple[int | None, str | None]:
        """(registration id, "email" or "name"), or (None, None)."""
        if email and (found := self.by_email.get(email)) is not None:
            return found, "email"
        candidates = self.candidates(names)
        if len(candidates) == 1:
            return next(iter(candidates)), "name"
        return None, None

    def candidates(self, names: Iterable[str]) -> set[int]:
        """The registrations the name fits: the whole name first, then its parts."""
        names = list(names)
        for group in (names[:1], names[1:]):
            found: set[int] = set()
            for name in group:
                found |= self.by_name.get(name_key(name), set())
            if found:
                return found
        return set()


def people_of(event: Event) -> People:
    r = Registration.__table__.c
    by_email: dict[str, int] = {}
    by_name: dict[str, set[int]] = defaultdict(set)
    for row in db.session.execute(select(r.id, r.email, r.name, r.name_native).where(
            r.event_id == event.id, r.status == "confirmed")):
        by_email[normalise_email(row.email)] = row.id
        for name in (row.name, row.name_native):
            if key := name_key(name):
                by_name[key].add(row.id)
    return People(by_email, dict(by_name))


# Minutes ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Span:
    """A session's time (``id`` None: the event's day)."""

    id: int | None
    starts_at: datetime
    ends_at: datetime

    @property
    def minutes(self) -> int:
        return _round_minutes((self.ends_at - self.starts_at).total_seconds())


@dataclass(frozen=True)
class Counted:
    """A matched row as the minutes are counted from it."""

    registration_id: int
    joined_at: datetime | None
    left_at: datetime | None
    minutes: int | None


@dataclass
class Plan:
    minutes: dict[tuple[int, int | None], tuple[int, datetime]]  # for record_online
    merged: int = 0  # rows within another row's time of the same person: not added again
    outside: int = 0  # rows with times outside every session (split by times)
    per_session: Counter = field(default_factory=Counter)  # session id -> participants

    @property
    def participants(self) -> int:
        return len({registration_id for registration_id, _session in self.minutes})


def plan(rows: Iterable[Counted], *, session: Span | None, sessions: list[Span],
         event_day: datetime | None = None, zone: tzinfo = UTC) -> Plan:
    """The minutes per (registration, session) the rows give: see the module's docstring.
    ``session`` is the session chosen, or None to split by times among ``sessions`` (those
    that count), or with none of those, for the event per day in ``zone`` (the event's),
    so that a report of a three-day forum gives three days; then rows without times go to
    ``event_day`` (the start of a one-day event), if given.

    The durations in the file cap the minutes: a platform that counts the time someone was
    really there (Teams from first join to last leave, 20 minutes in) is believed over the
    interval. Split among sessions or days, each row's duration is shared out in proportion
    to its interval, so that one long row does not lend its whole duration to each part."""
    by_person: dict[int, list[Counted]] = defaultdict(list)
    for row in rows:
        by_person[row.registration_id].append(row)
    result = Plan({})
    for rid, mine in by_person.items():
        timed = sorted({(r.joined_at, r.left_at, r.minutes or 0) for r in mine
                        if r.joined_at is not None and r.left_at is not None})
        untimed = {r.minutes or 0 for r in mine if r.joined_at is None or r.left_at is None}
        union, merged = _union([(joined, left) for joined, left, _m in timed])
        result.merged += merged + (len(mine) - len(timed) - len(untimed))
        if session is not None:
            total = _round_minutes(sum((b - a).total_seconds() for a, b in union))
            cap = sum(m for _a, _b, m in timed) + sum(untimed)
            first = union[0][0] if union else session.starts_at
            result.minutes[(rid, session.id)] = (min(total + sum(untimed), cap,
                                                     session.minutes), first)
            result.per_session[session.id] += 1
        elif sessions:
            placed = False
            for span in sessions:
                seconds, first = _overlap(union, span)
                if _round_minutes(seconds) < 1:
                    continue
                placed = True
                cap = _shared(timed, span)
                result.minutes[(rid, span.id)] = (min(_round_minutes(seconds), cap), first)
                result.per_session[span.id] += 1
            if not placed:
                result.outside += len(timed)
        else:
            days = _days(union, zone)
            untimed_day = event_day.astimezone(zone).date() if event_day is not None else None
            if untimed and untimed_day is not None:
                days.setdefault(untimed_day, Span(None, event_day, event_day))
            for day, span in days.items():
                seconds, first = _overlap(union, span)
                total = _round_minutes(seconds)
                cap = _shared(timed, span)
                if day == untimed_day:
                    total, cap = total + sum(untimed), cap + sum(untimed)
                if total < 1 and cap < 1:
                    continue
                result.minutes[(rid, day)] = (min(total, cap, MAX_MINUTES), first)
                result.per_session[day] += 1
    return result


def _shared(timed: list[tuple[datetime, datetime, int]], span: Span) -> int:
    """The minutes the file's durations give within ``span``: each row's duration in
    proportion to the part of its interval that lies within it."""
    minutes = 0.0
    for start, end, reported in timed:
        a, b = max(start, span.starts_at), min(end, span.ends_at)
        if b > a:
            minutes += reported * (b - a) / (end - start)
    return _round_minutes(minutes * 60)


def _days(union: list[tuple[datetime, datetime]], zone: tzinfo) -> dict[date, Span]:
    """The local days the intervals touch, each as a span from its midnight to the next."""
    days: dict[date, Span] = {}
    for start, end in union:
        day = start.astimezone(zone).date()
        while True:
            midnight = datetime.combine(day, time(), zone).astimezone(UTC)
            following = datetime.combine(day + timedelta(days=1), time(), zone).astimezone(UTC)
            days.setdefault(day, Span(None, midnight, following))
            if following >= end:
                break
            day += timedelta(days=1)
    return days


def _union(intervals: list[tuple[datetime, datetime]]
           ) -> tuple[list[tuple[datetime, datetime]], int]:
    """The union of sorted intervals, and how many lay within the ones before them."""
    union: list[tuple[datetime, datetime]] = []
    covered = 0
    for start, end in intervals:
        if union and start <= union[-1][1]:
            if end <= union[-1][1]:
                covered += 1
            union[-1] = (union[-1][0], max(union[-1][1], end))
        else:
            union.append((start, end))
    return union, covered


def _overlap(union: list[tuple[datetime, datetime]], span: Span) -> tuple[float, datetime]:
    seconds = 0.0
    first = span.starts_at
    for start, end in union:
        a, b = max(start, span.starts_at), min(end, span.ends_at)
        if b > a:
            if not seconds:
                first = a
            seconds += (b - a).total_seconds()
    return seconds, first


def _spans(event: Event) -> list[Span]:
    s = AgendaSession.__table__.c
    return [Span(row.id, row.starts_at, row.ends_at) for row in db.session.execute(
        select(s.id, s.starts_at, s.ends_at).where(
            s.event_id == event.id, s.counts_for_attendance.is_(True))
        .order_by(s.starts_at, s.position, s.id))]


def _event_day(event: Event) -> datetime | None:
    """Where rows without times go when a one-day event has no session that counts."""
    if event.end_date != event.start_date:
        return None
    return agenda.to_utc(datetime.combine(event.start_date, time()), event.timezone)


def _needs_times(event: Event, session: AgendaSession | None, spans: list[Span]) -> bool:
    return session is None and (bool(spans) or event.end_date != event.start_date)


def sessions_to_choose(event: Event) -> list[AgendaSession]:
    """The sessions a report may be for, in time order."""
    return list(db.session.scalars(
        select(AgendaSession).where(AgendaSession.event_id == event.id)
        .order_by(AgendaSession.starts_at, AgendaSession.position, AgendaSession.id)))


# Reports ---------------------------------------------------------------------------------------

@dataclass
class Imported:
    report: AttendanceReport
    notes: list[str]  # ignored columns, another table not read...


def start_import(event: Event, filename: str, data: bytes, *, session_id: int | None,
                 timezone_name: str | None = None, actor: User | None) -> Imported:
    """Read a report and keep it as a preview, its rows matched where they can be: nothing
    counts until ``apply``. ``session_id`` None: split among the sessions by the times.
    ServiceError when the file cannot be read at all."""
    session = attendance.session_of(event, session_id)
    timezone_name = timezone_name or event.timezone
    spans = _spans(event)
    default_day = (agenda.to_local(session.starts_at, event.timezone).date()
                   if session is not None else event.start_date)
    parsed = parse(filename, data, timezone_name=timezone_name, default_day=default_day,
                   needs_times=_needs_times(event, session, spans))
    people = people_of(event)
    report = AttendanceReport(
        event_id=event.id, session_id=session.id if session else None,
        filename=media.clean_filename(filename or "report"), platform=parsed.platform,
        timezone=timezone_name, status="preview", rows_total=len(parsed.rows),
        created_by_id=actor.id if actor else None)
    db.session.add(report)
    db.session.flush()
    values = []
    for row in parsed.rows:
        rid, how = (None, None) if row.problem else people.match(row.email, row.names)
        values.append({"report_id": report.id, "line": row.line, "name": row.name,
                       "email": row.email, "joined_at": row.joined_at, "left_at": row.left_at,
                       "minutes": row.minutes, "registration_id": rid, "matched_by": how,
                       "problem": row.problem})
    sql.insert_many(db.session, AttendanceReportRow, values)
    audit.record("attendance_report.checked", actor=actor, event_id=event.id, target=report,
                 rows=len(values), platform=parsed.platform)
    db.session.commit()
    notes = list(parsed.notes)
    if parsed.ignored_columns:
        notes.insert(0, _("Columns not used: %(columns)s.",
                          columns=", ".join(f"“{c[:40]}”" for c in parsed.ignored_columns)))
    return Imported(report, notes)


def report_of(event: Event, report_id: int) -> AttendanceReport:
    report = db.session.get(AttendanceReport, report_id)
    if report is None or report.event_id != event.id:
        raise NotFound(_("There is no such attendance report."))
    return report


def reports_of(event: Event) -> list[AttendanceReport]:
    return list(db.session.scalars(
        select(AttendanceReport).where(AttendanceReport.event_id == event.id)
        .order_by(AttendanceReport.created_at.desc(), AttendanceReport.id.desc())))


@dataclass
class Counts:
    rows: int = 0
    by_email: int = 0
    by_name: int = 0
    manual: int = 0
    unmatched: int = 0
    problems: int = 0

    @property
    def matched(self) -> int:
        return self.by_email + self.by_name + self.manual


def counts_of(report_ids: list[int]) -> dict[int, Counts]:
    """Each report's rows by how they were matched: one query for any number of reports."""
    t = AttendanceReportRow.__table__.c
    found: dict[int, Counts] = {rid: Counts() for rid in report_ids}
    if not report_ids:
        return found
    kind = case((t.problem.is_not(None), "problem"), (t.registration_id.is_(None), "none"),
                else_=t.matched_by)
    for row in db.session.execute(select(t.report_id, kind.label("kind"), func.count())
                                  .where(t.report_id.in_(report_ids))
                                  .group_by(t.report_id, kind)):
        counts = found[row.report_id]
        counts.rows += row[2]
        attribute = {"problem": "problems", "none": "unmatched", "email": "by_email",
                     "name": "by_name", "manual": "manual"}.get(row.kind, "manual")
        setattr(counts, attribute, getattr(counts, attribute) + row[2])
    return found


def _counted_rows(report: AttendanceReport, registration_ids: Iterable[int] | None = None
                  ) -> list[Counted]:
    t, r = AttendanceReportRow.__table__.c, Registration.__table__.c
    # Matched in the preview, cancelled since: nothing to count.
    query = select(t.registration_id, t.joined_at, t.left_at, t.minutes).join_from(
        AttendanceReportRow.__table__, Registration.__table__, r.id == t.registration_id
    ).where(t.report_id == report.id, t.problem.is_(None), r.status == "confirmed")
    if registration_ids is not None:
        query = query.where(t.registration_id.in_(list(registration_ids)))
    return [Counted(*row) for row in db.session.execute(query)]


def plan_of(event: Event, report: AttendanceReport,
            registration_ids: Iterable[int] | None = None) -> Plan:
    """What applying the report records (three queries)."""
    session = None
    if report.session_id is not None:
        chosen = db.session.get(AgendaSession, report.session_id)
        session = Span(chosen.id, chosen.starts_at, chosen.ends_at)
    spans = [] if session is not None else _spans(event)
    return plan(_counted_rows(report, registration_ids), session=session, sessions=spans,
                event_day=_event_day(event) if session is None and not spans else None,
                zone=attendance.zone_of(event))


def apply(event: Event, report_id: int, *, actor: User | None) -> AttendanceReport:
    """Give the matched participants their minutes. Applying again (after matching more
    rows by hand, or twice by accident) changes only what is new: ``record_online`` keeps
    the larger minutes."""
    report = report_of(event, report_id)
    if report.status == "preview":
        claimed = db.session.execute(
            update(AttendanceReport).where(AttendanceReport.id == report.id,
                                           AttendanceReport.status == "preview")
            .values(status="applied", applied_at=utcnow())
            .execution_options(synchronize_session=False)).rowcount
        if claimed:
            audit.record("attendance_report.applied", actor=actor, event_id=event.id,
                         target=report)
    planned = plan_of(event, report)
    attendance.record_online(event, planned.minutes)
    db.session.commit()
    db.session.refresh(report)
    return report


def discard(event: Event, report_id: int, *, actor: User | None) -> None:
    """Delete a report not applied yet, with its rows."""
    report = report_of(event, report_id)
    applied = Conflict(_("This report is applied already: the minutes it gave stay."))
    if report.status != "preview":
        raise applied
    # The report first, and only while it is a preview: an "apply" that won the race has
    # changed its status by then, and the rows (deleted with it, ON DELETE CASCADE) stay.
    deleted = db.session.execute(
        delete(AttendanceReport).where(AttendanceReport.id == report.id,
                                       AttendanceReport.status == "preview")
        .execution_options(synchronize_session=False)).rowcount
    if not deleted:
        db.session.rollback()
        raise applied
    db.session.expunge(report)
    audit.record("attendance_report.discarded", actor=actor, event_id=event.id,
                 target_ref=("AttendanceReport", report_id))
    db.session.commit()


# Matching by hand ------------------------------------------------------------------------------

def _registration_by_text(event: Event, people: People, text: str) -> int | None:
    """The confirmed registration an organiser means by an email address, a ticket code or
    a name that only one registration has."""
    value = " ".join(text.split())
    if not value:
        return None
    if "@" in value:
        return people.by_email.get(normalise_email(value))
    code = normalise_ticket_code(value)
    if code:
        r = Registration.__table__.c
        found = db.session.scalar(select(r.id).where(
            r.ticket_code == code, r.event_id == event.id, r.status == "confirmed"))
        if found is not None:
            return found
    candidates = people.by_name.get(name_key(value), set())
    return next(iter(candidates)) if len(candidates) == 1 else None


def match_rows(event: Event, report_id: int, choices: dict[int, str], *,
               actor: User | None) -> tuple[int, list[str]]:
    """Match rows by hand: row id -> the registration's email, ticket code or unique name
    (empty: no match). Before the report is applied any row may be (un)matched; after, rows
    still unmatched may be, and their minutes are recorded at once. (How many rows changed,
    what could not be done.)"""
    report = report_of(event, report_id)
    if not choices:
        return 0, []
    rows = {row.id: row for row in db.session.scalars(select(AttendanceReportRow).where(
        AttendanceReportRow.report_id == report.id,
        AttendanceReportRow.id.in_(list(choices))))}
    people = people_of(event)
    errors: list[str] = []
    changed: set[int] = set()
    for row_id, text in choices.items():
        row = rows.get(row_id)
        if row is None or row.problem:
            continue
        text = text.strip()[:300]
        target = _registration_by_text(event, people, text)
        if text and target is None:
            errors.append(_("Line %(line)d: no confirmed registration is “%(text)s” (use "
                            "their email address or ticket code).", line=row.line,
                            text=tables.shown(text)))
            continue
        if target == row.registration_id:
            continue
        if report.status != "preview" and row.registration_id is not None:
            errors.append(_("Line %(line)d: the report is applied, so its matches stay as "
                            "they are.", line=row.line))
            continue
        row.registration_id, row.matched_by = target, ("manual" if target else None)
        changed.add(row.id)
    if changed:
        audit.record("attendance_report.matched", actor=actor, event_id=event.id,
                     target=report, rows=len(changed))
        db.session.flush()
        if report.status == "applied":
            affected = {rows[i].registration_id for i in changed}
            attendance.record_online(event, plan_of(event, report, affected).minutes)
    db.session.commit()
    return len(changed), errors


# The preview -------------------------------------------------------------------------------------

@dataclass
class Preview:
    report: AttendanceReport
    counts: Counts
    plan: Plan
    session: AgendaSession | None
    per_session: list[tuple[AgendaSession | None, int]]  # participants, in time order
    problems: list[AttendanceReportRow]
    to_match: list[AttendanceReportRow]  # unmatched, and matched by name or by hand
    by_email: list[AttendanceReportRow]
    registrations: dict[int, tuple[str, str]]  # id -> (name, email) of those shown
    hints: dict[int, list[tuple[str, str]]]  # row id -> registrations the name fits
    warnings: list[str]


def preview(event: Event, report_id: int) -> Preview:
    """The report as the organiser checks it: counts, the rows needing a look, what will be
    recorded, and warnings (a time zone that looks wrong)."""
    report = report_of(event, report_id)
    counts = counts_of([report.id])[report.id]
    planned = plan_of(event, report)
    t = AttendanceReportRow
    base = select(t).where(t.report_id == report.id).order_by(t.line, t.id)
    problems = list(db.session.scalars(base.where(t.problem.is_not(None)).limit(SHOWN)))
    # Unmatched first, then those matched by name or by hand (worth a look).
    to_match = list(db.session.scalars(base.where(
        t.problem.is_(None), (t.registration_id.is_(None)) | (t.matched_by != "email"))
        .order_by(None).order_by(t.registration_id.is_not(None), t.line, t.id).limit(SHOWN)))
    by_email = list(db.session.scalars(base.where(t.matched_by == "email").limit(100)))
    ids = {row.registration_id for row in to_match + by_email if row.registration_id}
    hints: dict[int, list[tuple[str, str]]] = {}
    unmatched = [row for row in to_match if row.registration_id is None]
    if unmatched:
        people = people_of(event)
        for row in unmatched:
            fits = people.candidates(_name_variants(row.name or ""))
            if len(fits) > 1:
                hints[row.id] = sorted(fits)[:10]
                ids.update(hints[row.id])
    r = Registration.__table__.c
    registrations = {row.id: (row.name, row.email) for row in db.session.execute(
        select(r.id, r.name, r.email).where(r.id.in_(ids)))} if ids else {}
    hints = {row_id: [registrations[i] for i in fits if i in registrations]
             for row_id, fits in hints.items()}
    chosen = db.session.get(AgendaSession, report.session_id) if report.session_id else None
    # (session, None, n) for a session, (None, day, n) for the whole event on a day.
    per_session = [(None, day, planned.per_session[day]) for day in sorted(
        key for key in planned.per_session if isinstance(key, date))]
    session_ids = [key for key in planned.per_session if isinstance(key, int)]
    if session_ids:
        per_session += [(s, None, planned.per_session[s.id]) for s in db.session.scalars(
            select(AgendaSession).where(AgendaSession.id.in_(session_ids))
            .order_by(AgendaSession.starts_at, AgendaSession.position, AgendaSession.id))]
    return Preview(report, counts, planned, chosen, per_session, problems, to_match, by_email,
                   registrations, hints, _warnings(event, report, chosen, planned))


def _warnings(event: Event, report: AttendanceReport, chosen: AgendaSession | None,
              planned: Plan) -> list[str]:
    warnings = []
    t = AttendanceReportRow.__table__.c
    if chosen is not None:
        joined = db.session.scalar(select(func.min(t.joined_at)).where(
            t.report_id == report.id, t.problem.is_(None)))
        if joined is not None and not (chosen.starts_at - timedelta(hours=2) <= joined
                                       <= chosen.ends_at + timedelta(hours=2)):
            warnings.append(_("The first join time in the file, %(time)s, is hours away from "
                              "the session (%(start)s): is the time zone of the file right?",
                              time=_local_text(joined, event.timezone),
                              start=_local_text(chosen.starts_at, event.timezone)))
    elif planned.outside:
        warnings.append(_("%(n)d rows are outside the time of every session that counts for "
                          "attendance, so they give no minutes. Is the time zone of the file "
                          "right, or is the report for one session?", n=planned.outside))
    return warnings


def _local_text(moment: datetime, zone_name: str) -> str:
    return agenda.to_local(moment, zone_name).strftime("%Y-%m-%d %H:%M")


def registration_choices(event: Event, limit: int = 5000) -> list[tuple[str, str]]:
    """(email, "name · organisation") of the confirmed registrations, for the organiser to
    choose from while matching by hand (the browser's own search over a datalist)."""
    r = Registration.__table__.c
    return [(row.email, " · ".join(part for part in (row.name, row.name_native,
                                                     row.organisation_name) if part))
            for row in db.session.execute(
                select(r.email, r.name, r.name_native, r.organisation_name)
                .where(r.event_id == event.id, r.status == "confirmed")
                .order_by(func.lower(r.name), r.id).limit(limit))]
