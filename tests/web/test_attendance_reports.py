"""The organiser's pages for meeting platforms' attendance reports: the list, an upload
checked into a preview (counts, problems with their lines, columns not used), matching by
hand, applying and discarding; files that are not reports are a clear 4xx; only the
event's managers get in, and every form needs its CSRF token."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from eventsys.extensions import db
from eventsys.models import Attendance, AttendanceReport, AttendanceReportRow, Registration
from eventsys.services import accounts, agenda, attendance_report
from eventsys.services import registration as reg
from eventsys.services.agenda import SessionData
from eventsys.services.registration import RegistrationInput
from tests.conftest import csrf_from, login, submit

PAGE = "/manage/events/forum/attendance/reports"
SCRIPT = '<script>alert("x")</script>'


@pytest.fixture
def forum(make_event):
    event = make_event("forum")
    reg.set_capacities(event, {"in_person": None, "online": None}, actor=None)
    return event


@pytest.fixture
def lecture(forum):
    start = datetime.combine(forum.start_date, datetime.min.time()).replace(hour=9)
    return agenda.create_session(forum, SessionData(
        "Keynote", "keynote", start, start + timedelta(hours=1)), actor=None)


@pytest.fixture
def organiser(client, forum, make_user):
    make_user("org@example.org", name="Li Na")
    accounts.grant_event_role(forum, "org@example.org", "manager", actor=None)
    login(client, "org@example.org")
    return client


def person(event, email: str, name: str) -> Registration:
    out = reg.register(event, RegistrationInput(email, name, "online"))
    return db.session.get(Registration, out.registration_id)


def page_of(response) -> str:
    return response.get_data(as_text=True)


def report(event, *rows: str) -> bytes:
    day = event.start_date.strftime("%m/%d/%Y")
    head = "Name (Original Name),User Email,Join Time,Leave Time,Duration (Minutes),Guest\r\n"
    return (head + "".join(row.replace("DAY", day) + "\r\n" for row in rows)).encode()


def upload(client, data: bytes, filename: str = "zoom.csv", session: str = "split",
           timezone: str = "Asia/Shanghai"):
    token = csrf_from(page_of(client.get(PAGE)))
    return client.post(PAGE, data={"csrf_token": token, "file": (io.BytesIO(data), filename),
                                   "session": session, "timezone": timezone},
                       content_type="multipart/form-data")


def preview_url(response) -> str:
    assert response.status_code == 302, page_of(response)[-3000:]
    assert re.search(r"/attendance/reports/\d+$", response.location), response.location
    return response.location


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_an_organiser_imports_checks_matches_and_applies_a_report(organiser, forum, lecture):
    ana = person(forum, "ana@example.org", "Ana Souza")
    bo = person(forum, "bo@example.org", "Bo Chen")
    data = report(forum,
                  "Ana Souza,ana@example.org,DAY 09:00:00 AM,DAY 09:40:00 AM,40,No",
                  "Ana Souza,ana@example.org,DAY 09:00:00 AM,DAY 09:40:00 AM,40,No",
                  "BC iPad,,DAY 09:05:00 AM,DAY 09:50:00 AM,45,Yes",
                  f"{SCRIPT},,DAY 09:05:00 AM,DAY 09:15:00 AM,10,Yes",
                  "Late,,not recorded,DAY 09:50:00 AM,5,Yes")
    url = preview_url(upload(organiser, data, session=str(lecture.id)))
    page = page_of(organiser.get(url))
    assert "Columns not used: “Guest”." in page  # flashed once, with the preview
    assert "Check the report before it counts" in page and "Zoom" in page
    assert re.search(r'<p class="big">5</p><p>rows</p>', page)
    assert re.search(r'<p class="big">2</p><p>matched by email</p>', page)
    assert re.search(r'<p class="big">2</p><p>unmatched</p>', page)
    assert "Join Time: not a time or date we can read: “not recorded”" in page
    assert SCRIPT not in page and "&lt;script&gt;" in page
    assert 'list="registrations"' in page and '<option value="bo@example.org">' in page
    assert count(Attendance) == 0

    rows = {row.line: row for row in db.session.scalars(select(AttendanceReportRow))}
    response = submit(organiser, f"{url}/matches", {f"match-{rows[4].id}": "bo@example.org",
                                                    f"match-{rows[5].id}": "nobody"},
                      page=url)
    assert response.status_code == 302
    page = page_of(organiser.get(url))
    assert "Matches saved: 1." in page and "Line 5: no confirmed registration" in page

    response = submit(organiser, f"{url}/apply", {}, page=url)
    assert response.status_code == 302
    page = page_of(organiser.get(url))
    assert "The report is applied" in page and "Apply:" not in page
    minutes = dict(db.session.execute(select(Attendance.registration_id,
                                             Attendance.minutes)).all())
    assert minutes == {ana.id: 40, bo.id: 45}
    listing = page_of(organiser.get(PAGE))
    assert "zoom.csv" in listing and "Applied" in listing and "Keynote" in listing
    # Confirming again (a second click, a reload) changes nothing.
    assert submit(organiser, f"{url}/apply", {}, page=url).status_code == 302
    assert count(Attendance) == 2


def test_a_preview_can_be_discarded(organiser, forum, lecture):
    person(forum, "ana@example.org", "Ana Souza")
    url = preview_url(upload(organiser, report(
        forum, "Ana,ana@example.org,DAY 09:00:00 AM,DAY 09:40:00 AM,40,No")))
    response = submit(organiser, f"{url}/discard", {}, page=url)
    assert response.status_code == 302 and response.location.endswith(PAGE)
    assert count(AttendanceReport) == 0 and count(AttendanceReportRow) == 0
    assert organiser.get(url).status_code == 404


def test_an_applied_report_cannot_be_discarded(organiser, forum, lecture):
    url = preview_url(upload(organiser, report(
        forum, "Ana,ana@example.org,DAY 09:00:00 AM,DAY 09:40:00 AM,40,No")))
    submit(organiser, f"{url}/apply", {}, page=url)
    token = csrf_from(page_of(organiser.get(url)))
    response = organiser.post(f"{url}/discard", data={"csrf_token": token})
    assert response.status_code == 302
    assert "applied already" in page_of(organiser.get(url))
    assert count(AttendanceReport) == 1


@pytest.mark.parametrize(("data", "filename", "status", "message"), [
    (b"\x89PNG\r\n\x1a\n\x00\x00", "shot.png", 400, "This file is a PNG file"),
    (b"Device,IP\r\nPC,1.2.3.4\r\n", "r.csv", 400, "No column of names or email addresses"),
    (b"Name,Email\r\nAnn,ann@example.org\r\n", "r.csv", 400,
     "No column of join or leave times"),
    (bytes(range(256)) * 8, "r.csv", 400, "neither CSV text nor an Excel workbook"),
    (b"Name,Email\r\n", "r.xlsx", 400, "named like an Excel workbook"),
    (b"x" * (5 * 1024 * 1024 + 1), "big.csv", 413, "The file is too big"),
])
def test_files_that_are_not_reports_are_a_clear_4xx(organiser, forum, data, filename, status,
                                                     message):
    response = upload(organiser, data, filename)
    assert response.status_code == status
    assert message in page_of(response)
    assert count(AttendanceReport) == 0


def test_a_bad_choice_of_session_or_zone_is_a_400(organiser, forum, lecture):
    data = report(forum, "Ana,ana@example.org,DAY 09:00:00 AM,DAY 09:40:00 AM,40,No")
    assert upload(organiser, data, session="999999").status_code == 400
    assert upload(organiser, data, timezone="Mars/Olympus").status_code == 400
    token = csrf_from(page_of(organiser.get(PAGE)))
    assert organiser.post(PAGE, data={"csrf_token": token, "session": "split",
                                      "timezone": "UTC"}).status_code == 400  # no file
    assert count(AttendanceReport) == 0


def test_the_list_offers_the_sessions_the_zone_and_the_samples(organiser, forum, lecture):
    page = page_of(organiser.get(PAGE))
    assert f'<option value="{lecture.id}">' in page and "Keynote" in page
    assert '<option selected value="Asia/Shanghai">' in page
    for name in ("zoom", "tencent", "teams", "stream"):
        assert f"samples/attendance-report-{name}.csv" in page
        assert organiser.get(f"/static/samples/attendance-report-{name}.csv").status_code == 200


# Who may open what -------------------------------------------------------------------------------

def _urls(forum, lecture) -> tuple[list[str], list[str]]:
    made = attendance_report.start_import(
        forum, "a.csv", report(forum, "Ana,ana@example.org,DAY 09:00:00 AM,DAY 09:40:00 AM,"
                                      "40,No"), session_id=lecture.id, actor=None)
    url = f"{PAGE}/{made.report.id}"
    return [PAGE, url], [PAGE, f"{url}/matches", f"{url}/apply", f"{url}/discard"]


@pytest.mark.parametrize("who", ["checkin-staff", "other-events-manager", "member",
                                 "anonymous"])
def test_only_the_events_managers_open_these_pages(app, forum, lecture, make_event, make_user,
                                                   who):
    gets, posts = _urls(forum, lecture)
    other = make_event("other-forum")
    make_user("staff@example.org")
    accounts.grant_event_role(forum, "staff@example.org", "checkin", actor=None)
    make_user("elsewhere@example.org")
    accounts.grant_event_role(other, "elsewhere@example.org", "manager", actor=None)
    make_user("member@example.org")
    client = app.test_client()
    email = {"checkin-staff": "staff@example.org", "member": "member@example.org",
             "other-events-manager": "elsewhere@example.org"}.get(who)
    if email:
        login(client, email)
    token = csrf_from(page_of(client.get("/login"))) if email is None else \
        csrf_from(page_of(client.get("/account")))
    for url in gets:
        response = client.get(url)
        if email:
            assert response.status_code == 403, url
        else:
            assert response.status_code == 302 and "/login" in response.location, url
    for url in posts:
        response = client.post(url, data={"csrf_token": token, "session": "split"})
        assert response.status_code in ((403,) if email else (302,)), url
    assert db.session.scalar(select(AttendanceReport.status)) == "preview"
    assert count(Attendance) == 0


def test_another_events_report_is_not_found(organiser, forum, make_event):
    other = make_event("other-forum")
    made = attendance_report.start_import(
        other, "a.csv", report(other, "Ana,ana@example.org,DAY 09:00:00 AM,DAY 09:40:00 AM,"
                                      "40,No"), session_id=None, actor=None)
    url = f"{PAGE}/{made.report.id}"
    assert organiser.get(url).status_code == 404
    for action in ("apply", "discard", "matches"):
        assert submit(organiser, f"{url}/{action}", {}, page=PAGE).status_code == 404
    assert db.session.scalar(select(AttendanceReport.status)) == "preview"


def test_the_post_forms_need_their_csrf_token(organiser, forum, lecture):
    data = report(forum, "Ana,ana@example.org,DAY 09:00:00 AM,DAY 09:40:00 AM,40,No")
    url = preview_url(upload(organiser, data))
    for target in (f"{url}/matches", f"{url}/apply", f"{url}/discard"):
        assert organiser.post(target, data={}).status_code == 400, target
    response = organiser.post(PAGE, data={"file": (io.BytesIO(data), "a.csv"),
                                          "session": "split", "timezone": "UTC"},
                              content_type="multipart/form-data")
    assert response.status_code == 400
    assert count(AttendanceReport) == 1
    assert db.session.scalar(select(AttendanceReport.status)) == "preview"
