"""Attendance in a real browser against ``eventsys run`` and its demo (issue 6, "Done when":
the workshop's attendance sheets and an imported platform report give each participant's
attendance rate).

The demo's organiser (organiser@example.org) takes the 2019 workshop's register: a
participant is unticked on a session's sheet and her rate drops from 12 of 12 to 11 of 12,
the CSV export says so, and "all day" on the day's sheet brings her back; a note is kept.
On the 2021 forum (rule: online at least 30 minutes, rate by days) the organiser checks the
Zoom sample in its preview (by email, by name, unmatched, problems), matches a row by hand
and applies it, then imports the live-stream sample, where a viewer whose name several
registrations share is matched by hand: her rate goes from 0 to 100 % and the export says
so. Lowering the rule makes a participant with fewer minutes count; bad values are refused
with a clear message and a 400. Check-in staff may take a sheet but not see the numbers.

The participants whose numbers change are chosen by what the server's database shows (and
the forum's rule is put back), so test_checkin_journey.py, which checks people in at the
forum's door on the same server, does not disturb these tests, nor they it. Logging in as
organiser@example.org needs the demo password: test_journeys.py changes it in its last
test, and runs after this file.
"""

from __future__ import annotations

import csv
import io
import re
import sqlite3
from contextlib import closing
from pathlib import Path
from urllib.parse import quote

from playwright.sync_api import expect

from tests.browser import conftest
from tests.browser.conftest import REPO_ROOT, login

WORKSHOP = "br-science-park-workshop-2019"
FORUM = "cisip-forum-2021"
ORGANISER = "organiser@example.org"
CHECKIN = "checkin@example.org"
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
SAMPLES = REPO_ROOT / "eventsys" / "static" / "samples"
ZOOM_SAMPLE = SAMPLES / "attendance-report-zoom.csv"
STREAM_SAMPLE = SAMPLES / "attendance-report-stream.csv"
# In the workshop's register since the seeding: at all twelve sessions.
AYESHA = "Ayesha Siddiqui"
# The stream sample's viewer without an email address, whose name six forum registrations
# share: the organiser has to say which one she is.
HIRA = "Hira Iqbal"


# The server's demo data ----------------------------------------------------------------------

def _query(sql: str, *args) -> list[tuple]:
    assert conftest._server_log is not None, "the server fixture has not started"
    uri = f"file:{conftest._server_log.parent / 'eventsys.sqlite'}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True, timeout=10)) as conn:
        return conn.execute(sql, args).fetchall()


def _samples_text() -> str:
    """The sample reports, as text (the Teams one is UTF-16)."""
    texts = []
    for path in sorted(SAMPLES.glob("attendance-report-*.csv")):
        data = path.read_bytes()
        texts.append(data.decode("utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff")
                     else data.decode("utf-8-sig"))
    return "\n".join(texts).lower()


def online_on_the_day(max_minutes: int, *, newest_first: bool = False
                      ) -> list[tuple[int, str, str, int]]:
    """(id, name, email, minutes) of the forum's online participants whose only attendance
    is the seeded minutes on the whole day, fewer than ``max_minutes``; none that a sample
    report names (another test imports those)."""
    found = _query(
        "SELECT r.id, r.name, r.email, a.minutes FROM registration r "
        "JOIN event e ON e.id = r.event_id "
        "JOIN attendance a ON a.registration_id = r.id AND a.session_id IS NULL "
        "WHERE e.slug = ? AND r.status = 'confirmed' AND r.mode = 'online' "
        "AND a.mode = 'online' AND a.minutes < ? AND NOT EXISTS ("
        "  SELECT 1 FROM attendance b WHERE b.registration_id = r.id AND b.id != a.id) "
        f"ORDER BY r.id {'DESC' if newest_first else 'ASC'}", FORUM, max_minutes)
    named = _samples_text()
    return [row for row in found if row[2].lower() not in named]


def registration_id(event: str, email: str) -> int:
    ((rid,),) = _query("SELECT r.id FROM registration r JOIN event e ON e.id = r.event_id "
                       "WHERE e.slug = ? AND r.email = ?", event, email)
    return rid


# Helpers on the pages ------------------------------------------------------------------------

def organiser_page(new_page, **options):
    page = new_page(**(options or DESKTOP))
    login(page, ORGANISER)
    assert "/login" not in page.url, (
        f"{ORGANISER} could not log in with the demo password (test_journeys.py changes it; "
        "this file has to run before it)")
    return page


def flash(page, kind: str = "success"):
    return page.locator(f".flashes .flash-{kind}")


def rate_row(page, rid: int):
    """The participant's row in the overview's table of rates."""
    return page.locator("#rates tbody tr").filter(
        has=page.locator(f"a[href$='/registrations/{rid}']"))


def expect_rate(page, rid: int, attended: str, percent: int) -> None:
    row = rate_row(page, rid)
    expect(row.locator("[data-label=Attended]")).to_have_text(attended)
    expect(row.locator("[data-label='%'] strong")).to_have_text(str(percent))


def search_rates(page, text: str) -> None:
    page.get_by_placeholder("Name or organisation").fill(text)
    with page.expect_navigation():
        page.locator("#rates form").get_by_role("button", name="Show").click()


def in_the_room(page) -> int:
    return int(page.locator(".sheet-count .big-number").first.inner_text())


def count_card(page, label: str):
    return page.locator(".count-card").filter(
        has=page.locator("p", has_text=re.compile(f"^{re.escape(label)}$"))).locator(".big")


def no_sideways_scroll(page) -> None:
    """Neither the page nor a table in it scrolls sideways on a phone."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["viewport"]["width"] + 2, \
        f"{page.url} scrolls sideways on a phone ({width}px)"
    hidden = page.evaluate("""() => [...document.querySelectorAll("main .overflow-auto")]
        .filter(box => box.scrollWidth > box.clientWidth + 2)
        .map(box => (box.closest("section") || box).textContent.replace(/\\s+/g, " ").trim()
                    .slice(0, 40))""")
    assert not hidden, f"{page.url}: tables wider than a phone: {hidden}"


def download_csv(page, link_name: str = "Export CSV") -> tuple[str, list[dict[str, str]]]:
    with page.expect_download() as info:
        page.get_by_role("link", name=link_name).click()
    download = info.value
    text = Path(download.path()).read_bytes().decode("utf-8-sig")
    return download.suggested_filename, list(csv.DictReader(io.StringIO(text)))


def upload_report(page, event: str, sample: Path, session: str | None = None) -> None:
    page.goto(f"/manage/events/{event}/attendance/reports")
    form = page.locator("#import-report")
    if form.get_attribute("open") is None:
        page.get_by_text("Import a report").click()
    page.get_by_label("Attendance report (CSV or Excel)").set_input_files(str(sample))
    if session:
        page.get_by_label("The report is for").select_option(label=session)
    with page.expect_navigation():
        page.get_by_role("button", name="Check the report").click()
    expect(page).to_have_url(re.compile(rf"/manage/events/{event}/attendance/reports/\d+$"))
    expect(page.get_by_role("heading", name="Check the report before it counts")).to_be_visible()


# The workshop: sheets give the rates ---------------------------------------------------------

def test_the_workshop_sheets_give_each_participant_a_rate(new_page, artifacts):
    ayesha = registration_id(WORKSHOP, "participant01@example.org")
    page = organiser_page(new_page)
    overview = f"/manage/events/{WORKSHOP}/attendance"
    page.goto(overview)
    expect(page.get_by_role("heading", name="Attendance", exact=True)).to_be_visible()
    expect(page.locator("#rule")).to_contain_text("12 sessions count for attendance.")
    expect(page.locator("#rates")).to_contain_text("26 participants")
    expect_rate(page, ayesha, "12 of 12 sessions", 100)
    # The seeded register has someone on each side of a 75 % line.
    expect(rate_row(page, registration_id(WORKSHOP, "participant07@example.org"))
           .locator("[data-label='%'] strong")).to_have_text("66")
    page.screenshot(path=artifacts / "attendance-overview.png", full_page=True)

    # A session's sheet, from the overview's table of sessions.
    session_title = "Planning and governance of a science park"
    page.locator("section[aria-labelledby=sessions-title]").get_by_role(
        "link", name=session_title).click()
    expect(page.get_by_role("heading", name=session_title)).to_be_visible()
    sheet_url = page.url
    before = in_the_room(page)
    box = page.get_by_role("checkbox", name=re.compile(AYESHA))
    expect(box).to_be_checked()
    page.screenshot(path=artifacts / "attendance-sheet.png", full_page=True)
    box.uncheck()
    expect(page.locator("[data-sheet-ticked]")).to_have_text(re.compile(r"^1 .*not saved yet"))
    with page.expect_navigation():
        page.locator(".sheet-bar").get_by_role("button", name="Save", exact=True).click()
    expect(flash(page)).to_have_text("Saved: 1 marked absent.")
    assert page.url == sheet_url
    expect(page.locator(".sheet-count .big-number").first).to_have_text(str(before - 1))
    expect(page.get_by_role("checkbox", name=re.compile(AYESHA))).not_to_be_checked()
    expect(page.locator(".sheet-count")).to_contain_text(f"{before - 1} of 26 attended")

    # Her rate on the overview, and in the export.
    page.get_by_role("link", name="← Attendance").click()
    expect_rate(page, ayesha, "11 of 12 sessions", 91)
    name, rows = download_csv(page)
    assert name == f"{WORKSHOP}-attendance.csv"
    assert len(rows) == 26
    (row,) = [r for r in rows if r["Name"] == AYESHA]
    assert (row["Email"], row["Sessions attended"], row["Sessions that count"],
            row["Attendance %"]) == ("participant01@example.org", "11", "12", "91"), row
    assert row[f"2019-08-13 09:00 {session_title}"] == ""
    assert row["2019-08-13 14:00 Field trip: Zhongguancun Science Park"] == "1"

    # The day's sheet, from the overview's table of days: "all day" ticks her back in.
    page.locator("section[aria-labelledby=days-title]").locator(
        "a[href$='/attendance/days/2019-08-13']").click()
    expect(page.get_by_role("heading", name=re.compile("August 13, 2019"))).to_be_visible()
    day_row = page.locator("table.day-grid tbody tr").filter(has_text=AYESHA)
    cell = day_row.get_by_role("checkbox", name=f"{AYESHA} at {session_title}")
    expect(cell).not_to_be_checked()
    expect(day_row.get_by_role("checkbox", name=re.compile(f"^{AYESHA} at Field trip"))
           ).to_be_checked()
    page.screenshot(path=artifacts / "attendance-day.png", full_page=True)
    with page.expect_navigation():
        day_row.get_by_role("button", name="all day").click()
    expect(flash(page)).to_have_text("Saved: 1 marked present.")
    expect(cell).to_be_checked()
    expect(page.locator("ul.day-sessions li").filter(has_text=session_title)
           ).to_contain_text(f"{before} in the room")
    page.get_by_role("link", name="← Attendance").click()
    expect_rate(page, ayesha, "12 of 12 sessions", 100)

    # A note on the session's sheet is kept.
    page.goto(sheet_url)
    expect(page.locator(".sheet-count .big-number").first).to_have_text(str(before))
    note = page.get_by_label(f"Note on {AYESHA}")
    expect(note).to_have_value("")
    note.fill("late")
    with page.expect_navigation():
        page.locator(".sheet-bar").get_by_role("button", name="Save", exact=True).click()
    expect(flash(page)).to_have_text("Saved: 1 note saved.")
    page.reload()
    expect(page.get_by_label(f"Note on {AYESHA}")).to_have_value("late")
    expect(page.get_by_role("checkbox", name=re.compile(AYESHA))).to_be_checked()
    page.goto(overview)
    expect_rate(page, ayesha, "12 of 12 sessions", 100)

    # The same pages on a phone: nothing scrolls sideways.
    phone = organiser_page(new_page, **PHONE)
    for url, shot in ((overview, "attendance-overview-phone.png"),
                      (sheet_url, "attendance-sheet-phone.png"),
                      (f"{overview}/days/2019-08-13", "attendance-day-phone.png")):
        phone.goto(url)
        phone.screenshot(path=artifacts / shot, full_page=True)
        no_sideways_scroll(phone)


# The forum: platform reports -----------------------------------------------------------------

def test_a_platform_report_gives_online_participants_their_rate(new_page, artifacts):
    # Matched by email or by name, by hand, and rows that cannot count: the Zoom sample.
    bayu = registration_id(FORUM, "forum2021.003@example.org")
    page = organiser_page(new_page)
    upload_report(page, FORUM, ZOOM_SAMPLE)
    expect(flash(page, "info")).to_contain_text("Columns not used")
    report_url = page.url
    for label, number in (("rows", 12), ("matched by email", 6), ("matched by name", 2),
                          ("unmatched", 3), ("problems", 1)):
        expect(count_card(page, label)).to_have_text(str(number))
    problems = page.locator("section.problems tbody tr")
    expect(problems).to_have_count(1)
    expect(problems).to_contain_text("Balázs Tóth")
    expect(problems).to_contain_text("not a time or date we can read")
    to_match = page.locator("#match tbody tr")
    expect(to_match).to_have_count(5)  # 3 unmatched, then the 2 matched by name
    expect(to_match.filter(has_text="Vijay Kant Mishra")).to_contain_text("by name")
    row = to_match.filter(has_text="bayu.w@mail.example.net")
    expect(row).to_contain_text("Several registrations have this name")
    expect(row).to_contain_text("forum2021.003@example.org")
    page.screenshot(path=artifacts / "attendance-report-preview.png", full_page=True)
    phone = organiser_page(new_page, **PHONE)
    phone.goto(report_url)
    phone.screenshot(path=artifacts / "attendance-report-preview-phone.png", full_page=True)
    no_sideways_scroll(phone)

    row.locator("input[name^=match-]").fill("forum2021.003@example.org")
    with page.expect_navigation():
        page.get_by_role("button", name="Save the matches").click()
    expect(flash(page)).to_have_text("Matches saved: 1.")
    expect(count_card(page, "matched by hand")).to_have_text("1")
    expect(count_card(page, "unmatched")).to_have_text("2")
    expect(to_match.filter(has_text="bayu.w@mail.example.net")).to_contain_text("by hand")
    with page.expect_navigation():
        page.get_by_role("button", name="Apply: count 7 participants").click()
    expect(flash(page)).to_contain_text("The report is applied")
    expect(page.locator("dl.facts")).to_contain_text("Applied")
    expect(page.get_by_role("button", name=re.compile("^Apply"))).to_have_count(0)
    # His minutes are on the sheets of the sessions he watched (09:20-09:55).
    page.goto(f"/manage/events/{FORUM}/attendance")
    page.locator("section[aria-labelledby=sessions-title]").get_by_role(
        "link", name=re.compile("^Pakistan's Knowledge Economy")).click()
    sheet_row = page.locator("table.sheet-table tbody tr").filter(
        has=page.locator(f"input[name=present][value='{bayu}']"))
    expect(sheet_row.locator("[data-label=Online]")).to_contain_text("joined 09:35 · 20 min")

    # The live-stream sample: a viewer only the organiser can tell apart, and her rate.
    hira_rows = _query(
        "SELECT r.id, r.email, a.minutes FROM registration r JOIN event e ON e.id = r.event_id "
        "JOIN attendance a ON a.registration_id = r.id AND a.mode = 'online' "
        "WHERE e.slug = ? AND r.name = ? AND r.mode = 'online' ORDER BY a.minutes",
        FORUM, HIRA)
    assert len(hira_rows) > 1, hira_rows
    hira, hira_email, minutes = hira_rows[0]
    assert minutes < 30, hira_rows  # not counted by the forum's rule before the report
    page.goto(f"/manage/events/{FORUM}/attendance")
    expect(page.locator("#rule strong")).to_contain_text("online, at least 30 minutes")
    search_rates(page, HIRA)
    ((namesakes,),) = _query(
        "SELECT count(*) FROM registration r JOIN event e ON e.id = r.event_id "
        "WHERE e.slug = ? AND r.name = ? AND r.status = 'confirmed'", FORUM, HIRA)
    expect(page.locator("#rates tbody tr")).to_have_count(namesakes)
    expect_rate(page, hira, "0 of 1 day", 0)

    upload_report(page, FORUM, STREAM_SAMPLE)
    for label, number in (("rows", 5), ("matched by email", 3), ("unmatched", 2),
                          ("problems", 0)):
        expect(count_card(page, label)).to_have_text(str(number))
    row = page.locator("#match tbody tr").filter(has_text=HIRA)
    expect(row).to_contain_text("Several registrations have this name")
    expect(row).to_contain_text(hira_email)
    row.locator("input[name^=match-]").fill(hira_email)
    with page.expect_navigation():
        page.get_by_role("button", name="Save the matches").click()
    expect(flash(page)).to_have_text("Matches saved: 1.")
    with page.expect_navigation():
        page.get_by_role("button", name="Apply: count 4 participants").click()
    expect(flash(page)).to_contain_text("The report is applied")

    page.get_by_role("link", name="← Attendance reports").click()
    listed = page.locator("table tbody tr")
    expect(listed.filter(has_text="attendance-report-zoom.csv").locator(".status")
           ).to_have_text("Applied")
    expect(listed.filter(has_text="attendance-report-stream.csv").locator(".status")
           ).to_have_text("Applied")
    page.goto(f"/manage/events/{FORUM}/attendance")
    search_rates(page, HIRA)
    expect_rate(page, hira, "1 of 1 day", 100)
    expect(rate_row(page, hira).locator("[data-label='In the room / online']")
           ).to_have_text("0 / 1")
    name, rows = download_csv(page)  # the list as filtered
    assert name == f"{FORUM}-attendance.csv"
    assert {r["Name"] for r in rows} == {HIRA}, rows
    (mine,) = [r for r in rows if r["Email"] == hira_email]
    assert (mine["Days attended"], mine["Days of the event"], mine["Attendance %"],
            mine["Online"], mine["2021-12-07"]) == ("1", "1", "100", "1", "1"), mine


# The forum: the rule -------------------------------------------------------------------------

def save_rule(page, minutes: str, share: str = "", *, input_method: bool = False):
    """``input_method``: the minutes committed as an input method commits its text (which
    may be full-width digits), not typed key by key."""
    field = page.get_by_label("Online: at least this many minutes")
    if input_method:
        field.fill("")
        field.focus()
        page.keyboard.insert_text(minutes)
    else:
        field.fill(minutes)
    page.get_by_label("Online: at least this share of the session (%)").fill(share)
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Save the rule").click()
    return navigation.value


def test_the_rule_changes_the_rates_and_bad_values_are_refused(new_page, problems):
    ((rid, name, _email, minutes), *_rest) = [
        row for row in online_on_the_day(30) if row[3] >= 10]
    page = organiser_page(new_page)
    overview = f"/manage/events/{FORUM}/attendance"
    page.goto(overview)
    rule = page.locator("#rule strong")
    field = page.get_by_label("Online: at least this many minutes")
    share = page.get_by_label("Online: at least this share of the session (%)")
    was = field.input_value()
    assert was and int(was) > minutes, (was, minutes)
    expect(share).to_have_value("")
    expect(rule).to_contain_text(f"online, at least {was} minutes")
    page.goto(f"{overview}?q={quote(name)}")
    expect_rate(page, rid, "0 of 1 day", 0)
    try:
        # Down to their minutes, typed as a Chinese input method gives digits (full
        # width): the same number, and they count now.
        save_rule(page, str(minutes).translate({ord(d): 0xFF10 + int(d) for d in "0123456789"}),
                  input_method=True)
        expect(flash(page)).to_contain_text(
            "The rule is saved: Attended: checked in at the door or in a session, or "
            f"online, at least {minutes} minutes (minutes online add up over the day).")
        expect(rule).to_contain_text(f"online, at least {minutes} minutes")
        # In Arabic-Indic digits too (a number field of the browser's would have sent them
        # as nothing at all, and the rule would have lost its minimum).
        save_rule(page, str(minutes).translate({ord(d): 0x0660 + int(d) for d in "0123456789"}),
                  input_method=True)
        expect(rule).to_contain_text(f"online, at least {minutes} minutes")
        page.goto(f"{overview}?q={quote(name)}")
        expect_rate(page, rid, "1 of 1 day", 100)

        # Values that are no rule: a clear message, a 400, and nothing saved (not even the
        # share sent with them).
        for value, message in (
                ("5000", "Minutes online must be between 1 and 1440 (a whole day)."),
                ("-5", "Enter the minutes as a whole number, for example 30."),
                ("2.5", "Enter the minutes as a whole number, for example 30.")):
            problems.allow_console_error("status of 400")
            response = save_rule(page, value, share="50")
            assert response.status == 400, (value, response.status)
            expect(page.locator("#min_minutes-help")).to_contain_text(message)
            expect(field).to_have_attribute("aria-invalid", "true")
            expect(field).to_have_value(value)  # kept, to be corrected
            expect(rule).to_have_text(re.compile(f"online, at least {minutes} minutes \\("))
            expect(flash(page)).to_have_count(0)
        page.goto(f"{overview}?q={quote(name)}")
        expect(field).to_have_value(str(minutes))
        expect(share).to_have_value("")
        expect_rate(page, rid, "1 of 1 day", 100)
    finally:
        # Back as it was (also when a step above failed: the other tests need the rule).
        page.goto(overview)
        save_rule(page, was)
    expect(rule).to_contain_text(f"online, at least {was} minutes")
    page.goto(f"{overview}?q={quote(name)}")
    expect_rate(page, rid, "0 of 1 day", 0)


def test_minutes_split_across_short_sessions_add_up_to_the_day(new_page, tmp_path):
    """The morning's stream watched from 08:55 to 10:20 (80 minutes within its sessions) is
    a day attended by the rule "online, at least 30 minutes", though split by times no
    session of the morning (15 to 25 minutes each) gets 30 of them."""
    ((rid, name, email, _minutes), *_rest) = online_on_the_day(30, newest_first=True)
    report = tmp_path / "morning-stream.csv"
    report.write_text("Viewer,Email,First seen,Last seen,Watch time\n"
                      f"{name},{email},2021-12-07T08:55:00+08:00,2021-12-07T10:20:00+08:00,"
                      "1:25:00\n", encoding="utf-8")
    page = organiser_page(new_page)
    page.goto(f"/manage/events/{FORUM}/attendance?q={quote(name)}")
    expect(page.locator("#rule strong")).to_contain_text(
        "online, at least 30 minutes (minutes online add up over the day). The rate is the "
        "share of the event's days attended.")
    expect_rate(page, rid, "0 of 1 day", 0)
    upload_report(page, FORUM, report)
    expect(count_card(page, "matched by email")).to_have_text("1")
    expect(page.locator("main")).to_contain_text("Opening speech: 1 participant")
    with page.expect_navigation():
        page.get_by_role("button", name="Apply: count 1 participant").click()
    expect(flash(page)).to_contain_text("The report is applied")
    recorded = _query("SELECT sum(minutes) FROM attendance WHERE registration_id = ? "
                      "AND session_id IS NOT NULL AND mode = 'online'", rid)[0][0]
    assert recorded == 80, recorded  # 15 + 20 + 25 + 20
    page.goto(f"/manage/events/{FORUM}/attendance?q={quote(name)}")
    attended = rate_row(page, rid).locator("[data-label=Attended]")
    expect(attended).to_have_text(re.compile(r"of 1 day$"))
    expect_rate(page, rid, "1 of 1 day", 100)  # by days, the minutes add up


# Check-in staff ------------------------------------------------------------------------------

def test_checkin_staff_take_a_sheet_but_do_not_see_the_numbers(new_page, problems):
    overview = f"/manage/events/{WORKSHOP}/attendance"
    title = "Incubators, accelerators and venture capital"
    ((session_id,),) = _query(
        "SELECT s.id FROM agenda_session s JOIN event e ON e.id = s.event_id "
        "WHERE e.slug = ? AND s.title = ?", WORKSHOP, title)
    page = new_page(**PHONE)
    login(page, CHECKIN)
    response = page.goto(f"{overview}/sessions/{session_id}")
    assert response.status == 200
    expect(page.get_by_role("heading", name=title)).to_be_visible()
    expect(page.get_by_role("checkbox", name=re.compile(AYESHA))).to_be_visible()
    expect(page.get_by_role("link", name="← Attendance")).to_have_count(0)
    expect(page.get_by_role("link", name=re.compile("^The day.s sheet$"))).to_be_visible()
    no_sideways_scroll(page)

    # The numbers, the reports and the export are the managers'.
    for url in (overview, f"{overview}/reports"):
        problems.allow_console_error("status of 403")
        response = page.goto(url)
        assert response.status == 403, (url, response.status)
        expect(page.locator("main")).to_contain_text(
            "You do not have permission to see this page.")
    response = page.request.get(f"{overview}/export?format=csv")
    assert response.status == 403, response.status
