"""Meeting platforms' attendance reports (eventsys/services/attendance_report.py): each
platform's export read as it comes (the sample files organisers download are tested as
they are, and re-encoded as the platforms save them), dates, durations, time zones and
midnight, row problems, matching to registrations, minutes per session without double
counts, manual matching, applying once however often, and a few queries however long the
report."""

from __future__ import annotations

import contextlib
import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from eventsys.extensions import db
from eventsys.models import Attendance, AttendanceReport, AttendanceReportRow, Registration
from eventsys.services import agenda, attendance_report
from eventsys.services import registration as reg
from eventsys.services.agenda import SessionData
from eventsys.services.attendance_report import Counted, Span, parse, plan
from eventsys.services.errors import Conflict, NotFound, ServiceError
from eventsys.services.registration import RegistrationInput

SAMPLES = Path(__file__).resolve().parents[2] / "eventsys" / "static" / "samples"
SHANGHAI = "Asia/Shanghai"
FORUM_2021 = date(2021, 12, 7)


def sample(name: str) -> bytes:
    return (SAMPLES / f"attendance-report-{name}.csv").read_bytes()


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8", delimiter: str = ",") -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode(encoding)


def read(data: bytes, *, zone: str = SHANGHAI, day: date = FORUM_2021, **kw):
    return parse("report.csv", data, timezone_name=zone, default_day=day, **kw)


def refused(data: bytes, filename: str = "report.csv") -> str:
    with pytest.raises(ServiceError) as caught:
        parse(filename, data, timezone_name=SHANGHAI, default_day=FORUM_2021)
    return caught.value.message


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


HEADER = ["Name", "Email", "Join Time", "Leave Time", "Duration"]


def one_row(*cells: str, header=HEADER, **kw):
    result = read(csv_bytes([header, list(cells)]), **kw)
    assert len(result.rows) == 1
    return result.rows[0]


# Each platform's export ----------------------------------------------------------------------

def test_zoom_participants_export_with_the_meeting_summary_above():
    result = read(sample("zoom"))
    assert result.platform == "zoom"
    assert result.columns == {"name": "Name (Original Name)", "email": "User Email",
                              "joined": "Join Time", "left": "Leave Time",
                              "duration": "Duration (Minutes)"}
    assert result.ignored_columns == ["Guest", "Recording Disclaimer Response"]
    lines = {row.line: row for row in result.rows}
    assert min(lines) == 5 and len(lines) == 12  # summary, blank line and header passed over
    nok = lines[7]  # 12/07/2021 08:58:01 AM in Beijing, US month-first dates
    assert (nok.name, nok.email, nok.joined_at, nok.left_at, nok.minutes) == (
        "Nok Suksawat", "forum2021.001@example.org", utc(2021, 12, 7, 0, 58, 1),
        utc(2021, 12, 7, 2, 2, 11), 65)
    assert lines[9].email == "forum2021.002@example.org"  # capitals normalised
    assert lines[11].names == ("András (Balogh András Zoltán)", "András",
                               "Balogh András Zoltán")
    assert lines[15].email is None and lines[15].problem is None  # a phone dial-in
    assert lines[16].problem == "Join Time: not a time or date we can read: “not recorded”"
    assert [row.line for row in result.rows if row.problem] == [16]


def test_tencent_meeting_export_in_gb18030_with_chinese_headers():
    text = sample("tencent").decode("utf-8-sig")
    result = read(text.encode("gb18030"))
    assert result.platform == "tencent"
    assert result.columns == {"name": "用户昵称", "joined": "入会时间", "left": "退会时间",
                              "duration": "入会时长", "email": "邮箱"}
    assert result.ignored_columns == ["序号", "入会身份", "设备类型"]
    by_line = {row.line: row for row in result.rows}
    host = by_line[8]
    assert (host.name, host.email, host.joined_at, host.minutes) == (
        "王明阳", None, utc(2021, 12, 7, 5, 55, 2), 103)  # 1小时43分
    assert by_line[10].minutes == 45 and by_line[12].minutes == 65  # 45分钟, 01:05:03
    assert not any(row.problem for row in result.rows)


def test_teams_attendance_report_utf16_tab_separated_with_its_sections():
    data = sample("teams")
    assert data[:2] == b"\xff\xfe"
    result = read(data)
    assert result.platform == "teams"
    assert result.columns["email"] == "Email"
    assert result.ignored_columns == ["Participant ID (UPN)", "Role"]
    assert result.notes == ["From line 16 (“3. In-Meeting Activities”) the file has another "
                            "table; it was not read."]
    assert [row.line for row in result.rows] == [11, 12, 13, 14]
    guest = result.rows[2]
    assert (guest.name, guest.email, guest.joined_at, guest.left_at, guest.minutes) == (
        "Lucas Oliveira (Guest)", None, utc(2021, 12, 7, 3, 2), utc(2021, 12, 7, 4, 5), 40)


def test_teams_classic_attendance_list_of_joins_and_leaves():
    rows = [["Meeting Summary"], ["Total Number of Participants", "3"],
            ["Meeting Title", "CISIP Forum"], ["Meeting Start Time", "12/7/2021, 8:55:00 AM"],
            ["Meeting End Time", "12/7/2021, 11:00:00 AM"], [],
            ["Full Name", "User Action", "Timestamp"],
            ["Ana Souza", "Joined before", "12/7/2021, 9:00:00 AM"],
            ["Bo Chen", "Joined", "12/7/2021, 9:10:00 AM"],
            ["Ana Souza", "Left", "12/7/2021, 9:30:00 AM"],
            ["Ana Souza", "Joined", "12/7/2021, 9:40:00 AM"],
            ["Bo Chen", "Joined", "12/7/2021, 9:15:00 AM"],  # a second device: still in
            ["Ana Souza", "Left", "12/7/2021, 10:00:00 AM"],
            ["Bo Chen", "Left", "12/7/2021, 10:10:00 AM"],
            ["Cy Vance", "Left", "12/7/2021, 10:10:00 AM"],
            ["Di Li", "Joined", "12/7/2021, 10:10:00 AM"],
            ["Ed Wu", "Waved", "12/7/2021, 10:10:00 AM"]]
    result = read(b"\xff\xfe" + "".join("\t".join(r) + "\r\n" for r in rows)
                  .encode("utf-16-le"))
    assert result.platform == "teams"
    assert [(row.line, row.name, row.minutes, row.problem) for row in result.rows] == [
        (8, "Ana Souza", 30, None), (9, "Bo Chen", 60, None), (11, "Ana Souza", 20, None),
        (15, "Cy Vance", None, "a leave without a join before it"),
        (16, "Di Li", None, "a join without a leave after it"),
        (17, "Ed Wu", None, "User Action: neither a join nor a leave: “Waved”")]
    assert result.rows[0].joined_at == utc(2021, 12, 7, 1)


def test_streaming_platform_with_offsets_in_the_values():
    result = read(sample("stream"), zone="America/New_York")  # the offsets win
    assert result.platform == "streaming"
    rows = {row.name: row for row in result.rows}
    assert rows["Ploy Wongsa"].joined_at == utc(2021, 12, 7, 0, 59)
    assert rows["Aisyah Kumar"].joined_at == utc(2021, 12, 7, 1, 5)
    assert rows["Agus Pratama"].minutes == 45  # 0:45:00


def test_an_excel_workbook_with_date_and_time_cells():
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Viewer", "E-mail", "First seen", "Last seen", "Watch time (seconds)"])
    sheet.append(["Ann", "ann@example.org", datetime(2021, 12, 7, 9, 0), datetime(2021, 12, 7,
                                                                                  10, 5), 3900])
    sheet.append(["Bo", "bo@example.org", time(9, 30), time(9, 45), 900.0])
    out = io.BytesIO()
    book.save(out)
    result = parse("report.xlsx", out.getvalue(), timezone_name=SHANGHAI,
                   default_day=FORUM_2021)
    assert [(r.joined_at, r.left_at, r.minutes) for r in result.rows] == [
        (utc(2021, 12, 7, 1, 0), utc(2021, 12, 7, 2, 5), 65),
        (utc(2021, 12, 7, 1, 30), utc(2021, 12, 7, 1, 45), 15)]


# Values ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("2021-12-07T09:00:00+08:00", utc(2021, 12, 7, 1)),
    ("2021-12-07T01:00:00Z", utc(2021, 12, 7, 1)),
    ("2021-12-07 09:00", utc(2021, 12, 7, 1)),
    ("2021-12-07 09:00:30.250", utc(2021, 12, 7, 1, 0, 30)),
    ("2021/12/07 09:00:00", utc(2021, 12, 7, 1)),
    ("12/07/2021 09:00:15 AM", utc(2021, 12, 7, 1, 0, 15)),
    ("12/7/21, 9:00:15 PM", utc(2021, 12, 7, 13, 0, 15)),
    ("12/07/2021 12:10:00 AM", utc(2021, 12, 6, 16, 10)),
    ("2021年12月7日 09:00", utc(2021, 12, 7, 1)),
    ("2021年12月7日下午3点05分", utc(2021, 12, 7, 7, 5)),
    ("Dec 7, 2021 9:00 AM", utc(2021, 12, 7, 1)),
    ("Tue, 7 Dec 2021 09:00", utc(2021, 12, 7, 1)),
    ("07.12.2021 09:00", utc(2021, 12, 7, 1)),
    ("2021-12-07 09:00 (GMT+05:30)", utc(2021, 12, 7, 3, 30)),
    ("2021-12-07 09:00 UTC", utc(2021, 12, 7, 9)),
    ("09:00:15", utc(2021, 12, 7, 1, 0, 15)),  # the day of the session or the event
    ("44537.375", utc(2021, 12, 7, 1)),  # an Excel date read as a number
    ("", None), ("-", None),
])
def test_times_in_common_formats(text, expected):
    assert attendance_report.parse_moment(text, SHANGHAI, default_day=FORUM_2021) == expected


@pytest.mark.parametrize("text", ["soon", "2021-13-07 09:00", "25:00", "9", "12/07/2021 13:00 PM",
                                  "2021-12-07 09:00+25:00", "1.5"])
def test_what_is_not_a_time(text):
    with pytest.raises(ValueError):
        attendance_report.parse_moment(text, SHANGHAI, default_day=FORUM_2021)


def test_a_time_skipped_by_daylight_saving_or_out_of_range_is_a_service_error():
    with pytest.raises(ServiceError, match="does not exist"):
        attendance_report.parse_moment("2026-03-08 02:30", "America/New_York",
                                       default_day=FORUM_2021)
    with pytest.raises(ServiceError):
        attendance_report.parse_moment("1970-01-01 00:00", SHANGHAI, default_day=FORUM_2021)


@pytest.mark.parametrize(("text", "seconds"), [
    ("65", 3900), ("65.5", 3930), ("65,5", 3930), ("01:05:03", 3903), ("1:05", 3900),
    ("1h 5m 3s", 3903), ("45m 10s", 2710), ("1 hr 5 min", 3900), ("2 hours, 3 minutes", 7380),
    ("1小时5分", 3900), ("1小时5分钟", 3900), ("3分钟20秒", 200), ("45分钟", 2700), ("", None),
])
def test_durations(text, seconds):
    assert attendance_report.parse_duration(text) == seconds


def test_the_duration_column_header_gives_the_unit():
    assert one_row("Ann", "", "", "", "90", header=["Name", "", "", "", "Duration (seconds)"],
                   ).minutes == 2
    assert one_row("Ann", "", "", "", "2", header=["Name", "", "", "", "时长(小时)"]).minutes \
        == 120


def test_minutes_and_seconds_when_hours_cannot_be():
    result = read(csv_bytes([["Name", "Watch time"], ["Ann", "45:30"], ["Bo", "5:30"]]))
    assert [row.minutes for row in result.rows] == [46, 6]  # 45 min 30 s, 5 min 30 s


def test_day_first_dates_when_the_file_says_so():
    rows = [HEADER, ["Ann", "", "25/11/2021 09:00", "25/11/2021 10:00", ""],
            ["Bo", "", "03/12/2021 09:00", "03/12/2021 10:00", ""]]
    result = read(csv_bytes(rows))
    assert result.rows[1].joined_at == utc(2021, 12, 3, 1)  # 3 December, not 12 March


def test_a_zone_in_the_header_wins_over_the_chosen_one():
    row = one_row("Ann", "", "2021-12-07 01:00", "2021-12-07 02:00", "",
                  header=["Name", "Email", "Join Time (UTC)", "Leave Time (UTC)", "Duration"])
    assert row.joined_at == utc(2021, 12, 7, 1) and row.minutes == 60


def test_times_in_another_zone_than_the_events():
    row = one_row("Ann", "", "12/06/2021 08:00 PM", "12/06/2021 09:30 PM", "",
                  zone="America/New_York")
    assert (row.joined_at, row.left_at, row.minutes) == (
        utc(2021, 12, 7, 1), utc(2021, 12, 7, 2, 30), 90)


# Midnight ----------------------------------------------------------------------------------------

def test_leaving_after_midnight_with_times_only():
    row = one_row("Ann", "", "23:50", "00:20", "", day=FORUM_2021)
    assert (row.joined_at, row.left_at, row.minutes) == (
        utc(2021, 12, 7, 15, 50), utc(2021, 12, 7, 16, 20), 30)


def test_leaving_after_midnight_with_the_join_date_on_both():
    row = one_row("Ann", "", "2021-12-07 23:50", "2021-12-07 00:20", "30")
    assert row.left_at - row.joined_at == timedelta(minutes=30) and row.minutes == 30


def test_the_duration_says_otherwise_than_midnight():
    row = one_row("Ann", "", "2021-12-07 23:50", "2021-12-07 00:20", "10")
    assert (row.left_at - row.joined_at, row.minutes) == (timedelta(minutes=10), 10)


def test_a_leave_days_before_the_join_is_a_problem():
    row = one_row("Ann", "", "2021-12-07 09:00", "2021-12-04 10:00", "")
    assert row.problem == "the leave time is before the join time"


# Row problems ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("cells", "problem"), [
    (["", "", "2021-12-07 09:00", "2021-12-07 10:00", "60"], "no name and no email address"),
    (["-", "n/a", "2021-12-07 09:00", "2021-12-07 10:00", "60"], "no name and no email address"),
    (["Ann", "", "2021-12-07 09:00", "", "-5"], "a negative duration: “-5”"),
    (["Ann", "", "2021-12-07 09:00", "", "25:00:00"], "a duration of more than 24 hours"),
    (["Ann", "", "2021-12-07 09:00", "2021-12-09 10:00", ""],
     "more than 24 hours between joining and leaving"),
    (["Ann", "", "soon", "2021-12-07 10:00", ""],
     "Join Time: not a time or date we can read: “soon”"),
    (["Ann", "", "2021-12-07 09:00", "", "an hour"],
     "Duration: not a duration we can read: “an hour”"),
    (["Ann", "", "2021-12-07 09:00", "", ""], "a join time but no leave time or duration"),
    (["Ann", "", "", "2021-12-07 09:00", ""], "a leave time but no join time or duration"),
    (["Ann", "", "", "", ""], "no join or leave time and no duration"),
    (['=HYPERLINK("http://x","Ann")', "", "", "", "60"],
     "a spreadsheet formula, not a name: “=HYPERLINK(\"http://x\",\"Ann\")”"),
    (["Ann\x07", "", "", "", "60"], "the name contains characters that are not allowed"),
])
def test_rows_that_cannot_count_say_why(cells, problem):
    assert one_row(*cells).problem == problem


def test_a_duration_without_times_cannot_be_split_among_sessions():
    row = one_row("Ann", "ann@example.org", "", "", "60", needs_times=True)
    assert row.problem.startswith("a duration but no join or leave time")
    assert one_row("Ann", "ann@example.org", "", "", "60").problem is None


def test_a_join_and_a_duration_give_the_leave():
    row = one_row("Ann", "", "2021-12-07 09:00", "", "1h 5m")
    assert (row.left_at, row.minutes) == (utc(2021, 12, 7, 2, 5), 65)


def test_an_address_that_is_no_address_leaves_the_name():
    row = one_row("Guest", "8f2c-guest-id", "2021-12-07 09:00", "2021-12-07 10:00", "")
    assert (row.email, row.problem) == (None, None)


# The file as a whole -----------------------------------------------------------------------------

def test_no_name_or_email_column_is_a_clear_error():
    message = refused(b"Device,IP,Join Time\r\nPC,1.2.3.4,09:00\r\n")
    assert message.startswith("No column of names or email addresses was found.")
    assert message.endswith("Headers found: “Device”, “IP”, “Join Time”.")


def test_names_without_any_time_or_duration_is_a_clear_error():
    message = refused(b"Name,Email,Company\r\nAnn,ann@example.org,Acme\r\n")
    assert message.startswith("No column of join or leave times or of durations was found")


def test_a_header_without_rows_and_files_that_are_not_reports():
    assert refused(b"Name,Email,Duration\r\n\r\n") == (
        "The report has a header but no rows below it.")
    assert refused(b"%PDF-1.4\n").startswith("This file is a PDF file")
    assert refused(b"").startswith("The file is empty")


def test_more_rows_than_allowed(monkeypatch):
    monkeypatch.setattr(attendance_report, "MAX_ROWS", 3)
    rows = [["Name", "Duration"]] + [[f"P{n}", "5"] for n in range(4)]
    assert refused(csv_bytes(rows)).startswith("The report has more than 3 rows.")


def test_a_summary_row_is_never_taken_for_the_header():
    data = csv_bytes([["Meeting ID", "Topic", "User Email", "Duration (Minutes)"],
                      ["812", "Forum", "host@example.org", "200"], [],
                      ["Name", "Duration"], ["Ann", "30"]])
    result = read(data)
    assert [(row.line, row.name, row.email) for row in result.rows] == [(5, "Ann", None)]


# Names -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("a", "b"), [
    ("Wang Wei", "wang  WEI"), ("Wang Wei", "Wei Wang"), ("Wáng Wěi", "Wang Wei"),
    ("Balogh, András", "balogh andras"), ("王 伟", "王伟"), ("José-María", "jose maria"),
])
def test_names_that_are_the_same(a, b):
    assert attendance_report.name_key(a) == attendance_report.name_key(b)


def test_names_that_differ():
    key = attendance_report.name_key
    assert key("Wang Wei") != key("Wang Wen") and key("王伟") != key("伟王") and key("-") == ""


# Minutes -----------------------------------------------------------------------------------------

NINE = utc(2021, 12, 7, 1)
LECTURE = Span(1, NINE, NINE + timedelta(hours=1))
NEXT = Span(2, NINE + timedelta(hours=1), NINE + timedelta(hours=2))


def at(minutes: int) -> datetime:
    return NINE + timedelta(minutes=minutes)


def test_duplicate_and_overlapping_rows_are_merged_never_added():
    rows = [Counted(7, at(0), at(30), 30), Counted(7, at(0), at(30), 30),  # exported twice
            Counted(7, at(20), at(50), 30),  # a second device
            Counted(7, at(5), at(25), 20)]  # within the first
    planned = plan(rows, session=LECTURE, sessions=[])
    assert planned.minutes == {(7, 1): (50, at(0))}
    assert planned.merged == 2


def test_the_minutes_are_capped_at_the_session_and_at_the_durations():
    early = plan([Counted(7, at(-30), at(70), 100)], session=LECTURE, sessions=[])
    assert early.minutes[(7, 1)][0] == 60  # joined early, left late: the session's length
    teams = plan([Counted(7, at(0), at(50), 20)], session=LECTURE, sessions=[])
    assert teams.minutes[(7, 1)][0] == 20  # first join to last leave, 20 minutes in it


def test_durations_only_add_up_distinct_rows_capped_at_the_session():
    rows = [Counted(7, None, None, 20), Counted(7, None, None, 20), Counted(7, None, None, 25),
            Counted(8, None, None, 50), Counted(8, None, None, 40)]
    planned = plan(rows, session=LECTURE, sessions=[])
    assert planned.minutes == {(7, 1): (45, NINE), (8, 1): (60, NINE)}


def test_split_by_times_across_the_sessions():
    rows = [Counted(7, at(30), at(90), 60), Counted(8, at(59) + timedelta(seconds=50), at(61),
                                                    2), Counted(9, at(150), at(170), 20)]
    planned = plan(rows, session=None, sessions=[LECTURE, NEXT])
    assert planned.minutes == {(7, 1): (30, at(30)), (7, 2): (30, at(60)),
                               (8, 2): (1, at(60))}
    assert planned.outside == 1 and planned.participants == 2


def test_the_whole_event_without_sessions_that_count():
    rows = [Counted(7, at(0), at(45), 45), Counted(8, None, None, 30)]
    day = NINE.date()
    assert plan(rows, session=None, sessions=[]).minutes == {(7, day): (45, at(0))}
    assert plan(rows, session=None, sessions=[], event_day=NINE).minutes == {
        (7, day): (45, at(0)), (8, day): (30, NINE)}


def test_a_report_of_several_days_gives_each_day_its_minutes():
    """A three-day forum's one report: each local day (Beijing) its own minutes, an evening
    across midnight shared between the two days."""
    beijing = ZoneInfo("Asia/Shanghai")
    late = utc(2021, 12, 7, 15, 30)  # 23:30 in Beijing
    rows = [Counted(7, at(0), at(60), 60), Counted(7, at(1440), at(1530), 90),
            Counted(8, late, late + timedelta(minutes=60), 60)]
    planned = plan(rows, session=None, sessions=[], zone=beijing)
    assert planned.minutes == {
        (7, date(2021, 12, 7)): (60, at(0)), (7, date(2021, 12, 8)): (90, at(1440)),
        (8, date(2021, 12, 7)): (30, late), (8, date(2021, 12, 8)): (30, utc(2021, 12, 7, 16))}


def test_split_by_times_shares_a_row_s_duration_out():
    """Teams: first join to last leave spans both sessions, but they were there 40 minutes
    in all; each session gets its share of those 40, not 40 each."""
    planned = plan([Counted(7, at(0), at(120), 40)], session=None, sessions=[LECTURE, NEXT])
    assert planned.minutes == {(7, 1): (20, at(0)), (7, 2): (20, at(60))}


def test_a_huge_duration_is_a_row_problem_not_an_error():
    for value in ("9" * 400, "1" + "0" * 30, "99999999999999999999 h"):
        report = read(f"Name,Email,Duration (minutes)\nA,a@example.org,{value}\n".encode())
        assert report.rows[0].problem, value


# Properties --------------------------------------------------------------------------------------

@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.one_of(st.binary(max_size=2000), st.text(max_size=600).map(str.encode),
                      st.binary(max_size=100).map(lambda b: sample("zoom")[:400] + b)))
def test_any_bytes_give_a_report_or_a_service_error(data):
    try:
        result = read(data)
    except ServiceError as error:
        assert error.message
    else:
        assert result.platform in attendance_report.PLATFORM_LABELS


_CELL = st.one_of(st.text(max_size=30), st.sampled_from([
    "2021-12-07 09:00", "12/07/2021 11:59:59 PM", "00:10", "23:59", "1小时5分", "-3", "90",
    "1h 5m", "=1+2", "ann@example.org", "ANN@EXAMPLE.ORG ", "9999-99-99", "24:00", "1e9"]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.lists(_CELL, min_size=0, max_size=7), min_size=1, max_size=8),
       zone=st.sampled_from([SHANGHAI, "UTC", "America/New_York", "Asia/Kathmandu"]))
def test_free_form_rows_give_consistent_rows_or_problems(rows, zone):
    try:
        result = read(csv_bytes([HEADER, *rows]), zone=zone)
    except ServiceError as error:
        assert error.message
        return
    for row in result.rows:
        if row.problem:
            assert len(row.problem) <= 300
            continue
        assert row.name or row.email
        assert 0 <= (row.minutes or 0) <= 24 * 60
        if row.joined_at is not None:
            assert row.left_at is not None and row.joined_at <= row.left_at
            assert row.left_at - row.joined_at <= timedelta(hours=24)


@settings(max_examples=500, deadline=None)
@given(text=st.text(max_size=40))
def test_any_text_is_a_time_a_duration_or_unreadable(text):
    for read_value in (lambda: attendance_report.parse_moment(text, SHANGHAI,
                                                              default_day=FORUM_2021),
                       lambda: attendance_report.parse_duration(text)):
        with contextlib.suppress(ValueError, ServiceError):
            read_value()


# With the database: matching, applying, matching by hand -----------------------------------------

@pytest.fixture
def forum(make_event):
    event = make_event("forum")
    reg.set_capacities(event, {"in_person": None, "online": None}, actor=None)
    return event


def person(event, email: str, name: str, native: str | None = None,
           mode: str = "online") -> Registration:
    out = reg.register(event, RegistrationInput(email, name, mode, name_native=native))
    return db.session.get(Registration, out.registration_id)


def session_at(event, hour: int, minutes: int = 60, **kw):
    start = datetime.combine(event.start_date, datetime.min.time()).replace(hour=hour)
    return agenda.create_session(event, SessionData(
        kw.pop("title", f"Lecture {hour}"), kw.pop("kind", "lecture"), start,
        start + timedelta(minutes=minutes), **kw), actor=None)


def report_of(event, rows: list[list[str]], header=HEADER) -> bytes:
    day = event.start_date.strftime("%m/%d/%Y")
    return csv_bytes([header] + [[cell.replace("DAY", day) for cell in row] for row in rows])


def minutes_of(registration_id: int) -> dict:
    return dict(db.session.execute(select(Attendance.session_id, Attendance.minutes).where(
        Attendance.registration_id == registration_id, Attendance.mode == "online")).all())


def rows_of(report) -> dict[int, AttendanceReportRow]:
    return {row.line: row for row in db.session.scalars(select(AttendanceReportRow).where(
        AttendanceReportRow.report_id == report.id))}


def test_rows_are_matched_by_email_then_by_name(forum):
    ana = person(forum, "ana@example.org", "Ana Souza")
    wang = person(forum, "wang@example.cn", "Wáng Wei", native="王伟")
    person(forum, "bo1@example.org", "Bo Chen")
    person(forum, "bo2@example.org", "Bo Chen")
    waiting = person(forum, "late@example.org", "Late Comer")
    reg.cancel(waiting.id, actor=None, by_participant=True)
    lecture = session_at(forum, 9)
    data = report_of(forum, [
        ["Someone Else", "ANA@Example.org ", "DAY 09:00 AM", "DAY 09:40 AM", "40"],
        ["wang wei", "", "DAY 09:00 AM", "DAY 09:30 AM", "30"],
        ["王伟", "", "DAY 09:30 AM", "DAY 09:50 AM", "20"],
        ["Wei Wang", "other@example.org", "DAY 09:00 AM", "DAY 09:10 AM", "10"],
        ["Bo Chen", "", "DAY 09:00 AM", "DAY 09:10 AM", "10"],
        ["Late Comer", "late@example.org", "DAY 09:00 AM", "DAY 09:10 AM", "10"],
        ["", "", "DAY 09:00 AM", "DAY 09:10 AM", "10"],
    ])
    imported = attendance_report.start_import(forum, "zoom.csv", data, session_id=lecture.id,
                                              actor=None)
    report = imported.report
    lines = rows_of(report)
    assert [(lines[n].registration_id, lines[n].matched_by) for n in range(2, 9)] == [
        (ana.id, "email"), (wang.id, "name"), (wang.id, "name"), (wang.id, "name"),
        (None, None), (None, None), (None, None)]
    assert lines[8].problem == "no name and no email address"
    counts = attendance_report.counts_of([report.id])[report.id]
    assert (counts.rows, counts.by_email, counts.by_name, counts.unmatched, counts.problems) == (
        7, 1, 3, 2, 1)
    shown = attendance_report.preview(forum, report.id)
    assert [row.line for row in shown.to_match][:2] == [6, 7]  # unmatched first
    assert shown.hints[lines[6].id] == [("Bo Chen", "bo1@example.org"),
                                        ("Bo Chen", "bo2@example.org")]
    assert shown.plan.minutes == {(ana.id, lecture.id): (40, lines[2].joined_at),
                                  (wang.id, lecture.id): (50, lines[2].joined_at)}
    assert db.session.scalar(select(func.count()).select_from(Attendance)) == 0  # a preview


def test_applying_records_the_minutes_once_however_often(forum):
    ana = person(forum, "ana@example.org", "Ana Souza")
    lecture = session_at(forum, 9)
    data = report_of(forum, [
        ["Ana Souza", "ana@example.org", "DAY 09:00 AM", "DAY 09:30 AM", "30"],
        ["Ana Souza", "ana@example.org", "DAY 09:00 AM", "DAY 09:30 AM", "30"],
        ["Ana Souza", "ana@example.org", "DAY 09:20 AM", "DAY 09:45 AM", "25"]])
    first = attendance_report.start_import(forum, "a.csv", data, session_id=lecture.id,
                                           actor=None).report
    assert attendance_report.apply(forum, first.id, actor=None).status == "applied"
    assert minutes_of(ana.id) == {lecture.id: 45}
    attendance_report.apply(forum, first.id, actor=None)
    again = attendance_report.start_import(forum, "a.csv", data, session_id=lecture.id,
                                           actor=None).report
    attendance_report.apply(forum, again.id, actor=None)
    assert minutes_of(ana.id) == {lecture.id: 45}
    assert db.session.scalar(select(func.count()).select_from(Attendance)) == 1
    bo = person(forum, "bo@example.org", "Bo Chen")
    later = attendance_report.start_import(forum, "c.csv", report_of(forum, [
        ["Bo", "bo@example.org", "DAY 09:00 AM", "DAY 09:30 AM", "30"]]),
        session_id=lecture.id, actor=None).report
    reg.cancel(bo.id, actor=None, by_participant=True)  # matched, then cancelled
    attendance_report.apply(forum, later.id, actor=None)
    assert minutes_of(bo.id) == {}
    shorter = report_of(forum, [["Ana Souza", "ana@example.org", "DAY 09:00 AM",
                                 "DAY 09:20 AM", "20"]])
    other = attendance_report.start_import(forum, "b.csv", shorter, session_id=lecture.id,
                                           actor=None).report
    attendance_report.apply(forum, other.id, actor=None)
    assert minutes_of(ana.id) == {lecture.id: 45}  # two reports of one meeting: the longest


def test_split_by_times_and_a_warning_when_nothing_fits(forum):
    ana = person(forum, "ana@example.org", "Ana Souza")
    first, second = session_at(forum, 9), session_at(forum, 10)
    session_at(forum, 11, 15, title="Tea", kind="break", counts_for_attendance=False)
    data = report_of(forum, [["Ana", "ana@example.org", "DAY 09:30 AM", "DAY 11:10 AM", ""],
                             ["Ana", "ana@example.org", "DAY 06:00 PM", "DAY 07:00 PM", ""]])
    report = attendance_report.start_import(forum, "a.csv", data, session_id=None,
                                            actor=None).report
    shown = attendance_report.preview(forum, report.id)
    assert shown.warnings == []
    attendance_report.apply(forum, report.id, actor=None)
    assert minutes_of(ana.id) == {first.id: 30, second.id: 60}
    wrong_zone = attendance_report.start_import(forum, "b.csv", data, session_id=None,
                                                timezone_name="Europe/London",
                                                actor=None).report
    warnings = attendance_report.preview(forum, wrong_zone.id).warnings
    assert warnings and "time zone" in warnings[0]
    chosen = attendance_report.start_import(forum, "c.csv", data, session_id=first.id,
                                            timezone_name="Europe/London", actor=None).report
    assert "hours away" in attendance_report.preview(forum, chosen.id).warnings[0]


def test_a_report_in_another_time_zone_counts_in_the_right_session(forum):
    ana = person(forum, "ana@example.org", "Ana Souza")
    lecture = session_at(forum, 9)  # 01:00-02:00 UTC
    day_before = forum.start_date - timedelta(days=1)
    data = csv_bytes([HEADER, ["Ana", "ana@example.org", f"{day_before:%Y-%m-%d} 20:00",
                               f"{day_before:%Y-%m-%d} 20:40", ""]])
    report = attendance_report.start_import(forum, "a.csv", data, session_id=None,
                                            timezone_name="America/New_York",
                                            actor=None).report
    attendance_report.apply(forum, report.id, actor=None)
    assert minutes_of(ana.id) == {lecture.id: 40}


def test_the_whole_event_when_no_session_counts(forum):
    ana = person(forum, "ana@example.org", "Ana Souza")
    bo = person(forum, "bo@example.org", "Bo Chen")
    data = report_of(forum, [["Ana", "ana@example.org", "DAY 09:00 AM", "DAY 10:15 AM", ""],
                             ["Bo", "bo@example.org", "", "", "50"]])
    report = attendance_report.start_import(forum, "a.csv", data, session_id=None,
                                            actor=None).report
    attendance_report.apply(forum, report.id, actor=None)
    assert minutes_of(ana.id) == {None: 75} and minutes_of(bo.id) == {None: 50}
    assert {a.day for a in db.session.scalars(select(Attendance))} == {forum.start_date}


def test_matching_by_hand_before_and_after_applying(forum):
    ana = person(forum, "ana@example.org", "Ana Souza")
    bo = person(forum, "bo@example.org", "Bo Chen")
    cy = person(forum, "cy@example.org", "Cyrus Vance")
    lecture = session_at(forum, 9)
    data = report_of(forum, [["iPhone (2)", "", "DAY 09:00 AM", "DAY 09:30 AM", "30"],
                             ["BC", "", "DAY 09:00 AM", "DAY 09:40 AM", "40"],
                             ["Cyrus Vance", "", "DAY 09:00 AM", "DAY 09:10 AM", "10"],
                             ["Ghost", "", "DAY 09:00 AM", "DAY 09:10 AM", "10"],
                             ["Bad", "", "soon", "DAY 09:10 AM", "10"]])
    report = attendance_report.start_import(forum, "a.csv", data, session_id=lecture.id,
                                            actor=None).report
    lines = rows_of(report)
    changed, errors = attendance_report.match_rows(forum, report.id, {
        lines[2].id: " ANA@example.org", lines[4].id: "", lines[5].id: "nobody@example.org",
        lines[6].id: "ana@example.org", 999_999: "ana@example.org"}, actor=None)
    assert changed == 2  # Ana matched, Cyrus unmatched; the problem row is left alone
    assert errors == ["Line 5: no confirmed registration is “nobody@example.org” (use their "
                      "email address or ticket code)."]
    lines = rows_of(report)
    assert (lines[2].registration_id, lines[2].matched_by) == (ana.id, "manual")
    assert lines[4].registration_id is None and lines[6].registration_id is None
    attendance_report.apply(forum, report.id, actor=None)
    assert minutes_of(ana.id) == {lecture.id: 30} and minutes_of(cy.id) == {}
    # After applying: unmatched rows may be matched (their minutes count at once) ...
    changed, errors = attendance_report.match_rows(forum, report.id, {
        lines[3].id: bo.ticket_code.lower(), lines[4].id: "Cyrus Vance"}, actor=None)
    assert (changed, errors) == (2, [])
    assert minutes_of(bo.id) == {lecture.id: 40} and minutes_of(cy.id) == {lecture.id: 10}
    # ... but matches made before stay.
    changed, errors = attendance_report.match_rows(forum, report.id,
                                                   {lines[2].id: "bo@example.org"}, actor=None)
    assert changed == 0 and errors[0].startswith("Line 2: the report is applied")
    attendance_report.apply(forum, report.id, actor=None)
    assert minutes_of(ana.id) == {lecture.id: 30} and minutes_of(bo.id) == {lecture.id: 40}


def test_discarding_deletes_a_preview_and_only_a_preview(forum, make_event):
    person(forum, "ana@example.org", "Ana Souza")
    lecture = session_at(forum, 9)
    data = report_of(forum, [["Ana", "ana@example.org", "DAY 09:00 AM", "DAY 09:30 AM", ""]])
    report = attendance_report.start_import(forum, "a.csv", data, session_id=lecture.id,
                                            actor=None).report
    report_id = report.id
    attendance_report.discard(forum, report_id, actor=None)
    assert db.session.scalar(select(func.count()).select_from(AttendanceReportRow)) == 0
    with pytest.raises(NotFound):
        attendance_report.report_of(forum, report_id)
    applied = attendance_report.start_import(forum, "a.csv", data, session_id=lecture.id,
                                             actor=None).report
    attendance_report.apply(forum, applied.id, actor=None)
    with pytest.raises(Conflict):
        attendance_report.discard(forum, applied.id, actor=None)
    other = make_event("other-forum")
    with pytest.raises(NotFound):
        attendance_report.preview(other, applied.id)
    with pytest.raises(NotFound):
        attendance_report.start_import(other, "a.csv", data, session_id=lecture.id,
                                       actor=None)


def test_discarding_loses_to_an_apply_that_came_first(forum):
    """Two organisers: one applies while the other's page still shows the preview. The
    discard must not delete an applied report's rows (its status is read in the DELETE)."""
    person(forum, "ana@example.org", "Ana Souza")
    lecture = session_at(forum, 9)
    data = report_of(forum, [["Ana", "ana@example.org", "DAY 09:00 AM", "DAY 09:30 AM", ""]])
    report = attendance_report.start_import(forum, "a.csv", data, session_id=lecture.id,
                                            actor=None).report
    assert report.status == "preview"
    db.session.execute(update(AttendanceReport).where(AttendanceReport.id == report.id)
                       .values(status="applied")
                       .execution_options(synchronize_session=False))  # the other one
    with pytest.raises(Conflict):
        attendance_report.discard(forum, report.id, actor=None)
    assert db.session.scalar(select(func.count()).select_from(AttendanceReportRow)) == 1


def test_a_filename_with_control_characters_is_cleaned(forum):
    report = attendance_report.start_import(forum, "a\x00b\n.csv", sample("zoom"),
                                            session_id=None, actor=None).report
    assert report.filename == "a_b_.csv"


def test_an_unknown_time_zone_is_refused(forum):
    with pytest.raises(ServiceError, match="Unknown time zone"):
        attendance_report.start_import(forum, "a.csv", sample("zoom"), session_id=None,
                                       timezone_name="Mars/Olympus", actor=None)
    assert db.session.scalar(select(func.count()).select_from(AttendanceReport)) == 0


def test_a_few_queries_however_long_the_report(forum, count_queries):
    people = [person(forum, f"p{n}@example.org", f"Person {n}") for n in range(30)]
    session_at(forum, 9)
    session_at(forum, 10)

    def run(n_rows: int) -> tuple[int, int, int]:
        rows = [[f"Person {n % 30}", f"p{n % 30}@example.org" if n % 3 else "",
                 f"DAY 09:{n % 60:02d} AM", "DAY 10:30 AM", ""] for n in range(n_rows)]
        data = report_of(forum, rows)
        count_queries["n"] = 0
        report = attendance_report.start_import(forum, "a.csv", data, session_id=None,
                                                actor=None).report
        started = count_queries["n"]
        count_queries["n"] = 0
        attendance_report.preview(forum, report.id)
        shown = count_queries["n"]
        count_queries["n"] = 0
        attendance_report.apply(forum, report.id, actor=None)
        return started, shown, count_queries["n"]

    small, large = run(10), run(300)
    assert small == large
    assert small[0] <= 10 and small[1] <= 12 and small[2] <= 12
    assert all(minutes_of(p.id) for p in people)
