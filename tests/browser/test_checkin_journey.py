"""Check-in at the door in a real browser against ``eventsys run`` and its demo: the demo's
check-in account (checkin@example.org) on a phone checks in participants of the CISIP
Forum 2021 by typed code and by a picture of their ticket's QR code, sees "Already checked
in" for a second scan, keeps scans on the device while offline (and when the answer was
lost on the way back, or the login ran out) and sees each counted once; then a second
browser whose camera is Chromium's fake device, playing a video of a ticket, checks one in
through the camera itself.

Participants are chosen among those the database shows with no attendance yet, so other
journeys that take attendance on the demo events do not disturb this one.
"""

from __future__ import annotations

import io
import re
import sqlite3
from contextlib import closing
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import segno
from PIL import Image
from playwright.sync_api import expect

from tests.browser import conftest
from tests.browser.conftest import CHROMIUM_ARGS, login
from tests.conftest import require_chromium

EVENT = "cisip-forum-2021"
PAGE = f"/manage/events/{EVENT}/checkin?session=event"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
STAFF_NAME = "Zhao Lei (check-in)"


# The server's demo data ----------------------------------------------------------------------

def _database() -> Path:
    assert conftest._server_log is not None, "the server fixture has not started"
    return conftest._server_log.parent / "eventsys.sqlite"


def _query(sql: str, *args) -> list[tuple]:
    uri = f"file:{_database()}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True, timeout=10)) as conn:
        return conn.execute(sql, args).fetchall()


def _today() -> str:
    """The event's day now, in its own time zone: whole-event check-ins are per day."""
    ((zone,),) = _query("SELECT timezone FROM event WHERE slug = ?", EVENT)
    return datetime.now(ZoneInfo(zone)).date().isoformat()


_IN_TODAY = ("SELECT 1 FROM attendance a WHERE a.registration_id = r.id "
             "AND a.session_id IS NULL AND a.mode = 'in_person' AND a.day = ?")


def not_yet_in(n: int) -> list[tuple[str, str]]:
    """(name, ticket code) of ``n`` confirmed in-person forum participants nobody has
    checked in to the whole event today (the demo's attendance of 2021 is another day)."""
    found = _query(
        "SELECT r.name, r.ticket_code FROM registration r JOIN event e ON e.id = r.event_id "
        "WHERE e.slug = ? AND r.status = 'confirmed' AND r.mode = 'in_person' "
        f"AND NOT EXISTS ({_IN_TODAY}) ORDER BY r.id DESC LIMIT ?", EVENT, _today(), n)
    assert len(found) == n, "not enough demo participants left to check in"
    return found


def rows_of(code: str) -> int:
    """Whole-event check-ins of the ticket today."""
    return _query(f"SELECT count(*) FROM registration r WHERE r.ticket_code = ? "
                  f"AND EXISTS ({_IN_TODAY})", code, _today())[0][0]


def qr_picture(code: str, path: Path) -> Path:
    """A photo-like picture of a ticket: the QR code off-centre on a larger grey page."""
    qr = Image.open(io.BytesIO(_png(code, 9))).convert("RGB")
    sheet = Image.new("RGB", (900, 1200), (236, 236, 230))
    sheet.paste(qr, (180, 300))
    sheet.save(path, "JPEG", quality=90)
    return path


def _png(code: str, scale: int) -> bytes:
    buffer = io.BytesIO()
    segno.make(code, error="m", micro=False).save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()


def qr_video(code: str, path: Path, frames: int = 6) -> Path:
    """A Y4M video (what Chromium's fake camera plays) of a ticket's QR code held up."""
    width, height = 640, 480
    qr = Image.open(io.BytesIO(_png(code, 12))).convert("RGB")
    frame = Image.new("RGB", (width, height), (250, 250, 250))
    frame.paste(qr, ((width - qr.width) // 2, (height - qr.height) // 2))
    y, cb, cr = frame.convert("YCbCr").split()
    half = (width // 2, height // 2)
    planes = y.tobytes() + cb.resize(half).tobytes() + cr.resize(half).tobytes()
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + planes)
    return path


# Helpers on the page ----------------------------------------------------------------------

def count_of(page) -> int:
    return int(re.match(r"\d+", page.locator("#checkin-count").inner_text()).group(0))


def queued(page) -> int:
    return page.evaluate("key => JSON.parse(localStorage.getItem(key) || '[]').length",
                         f"eventsys.checkin.queue.{EVENT}")


def type_code(page, code: str) -> None:
    page.get_by_label("Ticket code").fill(code)
    page.locator("#checkin-code button[type=submit]").click()


def expect_result(page, label: str, name: str | None = None, timeout: float = 10_000):
    panel = page.locator("#checkin-result")
    expect(panel.locator("[data-result=label]")).to_have_text(label, timeout=timeout)
    if name:
        expect(panel.locator("[data-result=name]")).to_have_text(name)
    return panel


# The journey ------------------------------------------------------------------------------

def test_door_staff_check_in_by_code_and_picture_offline_and_logged_out(
        new_page, server, problems, artifacts, tmp_path):
    (ana_name, ana), (ben_name, ben), (cai_name, cai), (dev_name, dev), (eli_name, eli) = \
        not_yet_in(5)
    page = new_page(**PHONE)
    login(page, "checkin@example.org")
    page.goto(PAGE)
    expect(page.get_by_role("heading", name=re.compile("Check-in"))).to_be_visible()
    expect(page.locator("#checkin-session")).to_have_value("event")
    expect(page.locator("#checkin-result")).to_contain_text("Ready to scan")
    start = count_of(page)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, f"the page scrolls sideways on a phone ({width}px)"
    page.screenshot(path=str(artifacts / "checkin-phone-ready.png"), full_page=True)

    # A typed code, as a person reads it out: lower case, spaces for dashes.
    type_code(page, ana.lower().replace("-", " "))
    panel = expect_result(page, "Checked in", ana_name)
    expect(panel).to_have_class(re.compile("tone-ok"))
    expect(page.locator("#checkin-count")).to_have_text(f"{start + 1} checked in")
    assert rows_of(ana) == 1

    # A picture of a ticket (a laptop without a camera), then the same ticket again.
    picture = qr_picture(ben, tmp_path / "ticket.jpg")
    page.locator("#checkin-file").set_input_files(str(picture))
    expect_result(page, "Checked in", ben_name)
    expect(page.locator("#checkin-count")).to_have_text(f"{start + 2} checked in")
    page.screenshot(path=str(artifacts / "checkin-phone-checked-in.png"), full_page=True)
    page.locator("#checkin-file").set_input_files(str(picture))
    panel = expect_result(page, "Already checked in", ben_name)
    expect(panel).to_have_class(re.compile("tone-warn"))
    expect(panel).to_contain_text(f"by {STAFF_NAME}")
    page.screenshot(path=str(artifacts / "checkin-phone-already.png"), full_page=True)
    assert rows_of(ben) == 1

    # Something that is no ticket: a clear red answer, nothing recorded.
    type_code(page, "hello")
    expect(expect_result(page, "Not a ticket code")).to_have_class(re.compile("tone-stop"))
    expect(page.locator("#checkin-recent li")).to_have_count(4)

    # The venue's network drops: the scan waits on the device, then goes, counted once.
    problems.allow_console_error("ERR_INTERNET_DISCONNECTED")
    page.context.set_offline(True)
    type_code(page, cai)
    expect(page.locator("#checkin-result")).to_contain_text("Saved on this device")
    expect(page.locator("#checkin-queue")).to_contain_text(
        "Saved on this device — will be sent when the connection returns (1 waiting)")
    page.screenshot(path=str(artifacts / "checkin-phone-offline.png"), full_page=True)
    assert queued(page) == 1 and rows_of(cai) == 0
    page.context.set_offline(False)
    expect_result(page, "Checked in", cai_name, timeout=20_000)
    expect(page.locator("#checkin-queue")).to_be_hidden()
    assert queued(page) == 0 and rows_of(cai) == 1
    expect(page.locator("#checkin-count")).to_have_text(f"{start + 3} checked in")

    # The scan reaches the server but its answer is lost on the way back: sent again, it
    # is recognised and answered "checked in" (not "already"), and counted once.
    problems.allow_console_error("ERR_FAILED")
    lost = []

    def answer_lost(route):
        if not lost:
            lost.append(route.fetch().status)
            route.abort("failed")
        else:
            route.continue_()

    page.route("**/checkin/scan", answer_lost)
    type_code(page, dev)
    expect(page.locator("#checkin-result")).to_contain_text("Saved on this device")
    assert lost == [200] and rows_of(dev) == 1
    panel = expect_result(page, "Checked in", dev_name, timeout=20_000)  # the retry
    expect(panel).to_contain_text("counted once")
    page.unroute("**/checkin/scan")
    assert queued(page) == 0 and rows_of(dev) == 1
    expect(page.locator("#checkin-count")).to_have_text(f"{start + 4} checked in")

    # The login runs out: the page says so, keeps the scan, and sends it once the staff
    # member has logged in again in another tab (the page's CSRF token is renewed).
    problems.allow_console_error("status of 400")
    page.context.clear_cookies()
    type_code(page, eli)
    expect_result(page, "Logged out: scan kept")
    queue = page.locator("#checkin-queue")
    expect(queue).to_contain_text("You are logged out")
    expect(queue).to_contain_text("(1 waiting)")
    expect(queue.get_by_role("link", name="Log in")).to_be_visible()
    page.screenshot(path=str(artifacts / "checkin-phone-logged-out.png"), full_page=True)
    assert queued(page) == 1 and rows_of(eli) == 0
    other_tab = page.context.new_page()
    login(other_tab, "checkin@example.org")
    other_tab.close()
    page.bring_to_front()
    # The page's next try (it backs off: 2 s, 4 s, 8 s...) finds the new login.
    expect_result(page, "Checked in", eli_name, timeout=30_000)
    assert queued(page) == 0 and rows_of(eli) == 1
    expect(page.locator("#checkin-count")).to_have_text(f"{start + 5} checked in")


def test_door_staff_check_in_through_the_camera(browser, server, tmp_path, artifacts):
    """Chromium's fake camera plays a video of a ticket's QR code: the page's own camera
    path (getUserMedia, frames to a canvas, jsQR) reads it."""
    ((name, code),) = not_yet_in(1)
    video = qr_video(code, tmp_path / "ticket.y4m")
    require_chromium()
    camera_browser = browser.browser_type.launch(
        executable_path=require_chromium(), headless=True,
        args=[*CHROMIUM_ARGS, "--use-fake-device-for-media-stream",
              "--use-fake-ui-for-media-stream", f"--use-file-for-fake-video-capture={video}"])
    errors: list[str] = []
    try:
        context = camera_browser.new_context(base_url=server, permissions=["camera"], **PHONE)
        context.set_default_timeout(15_000)
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        login(page, "checkin@example.org")
        page.goto(PAGE)
        start = count_of(page)
        page.get_by_role("button", name="Start camera").click()
        expect(page.locator("#checkin-video")).to_be_visible()
        expect_result(page, "Checked in", name)
        page.screenshot(path=str(artifacts / "checkin-phone-camera.png"), full_page=True)
        expect(page.locator("#checkin-count")).to_have_text(f"{start + 1} checked in")
        # The ticket stays in front of the camera: not scanned again and again.
        page.wait_for_timeout(1500)
        expect(page.locator("#checkin-recent li")).to_have_count(1)
        page.get_by_role("button", name="Stop camera").click()
        expect(page.locator("#checkin-video")).to_be_hidden()
        context.close()
    finally:
        camera_browser.close()
    assert rows_of(code) == 1
    assert not errors, errors


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 800}])
def test_the_page_on_a_laptop(new_page, artifacts, viewport):
    page = new_page(viewport=viewport)
    login(page, "checkin@example.org")
    page.goto(PAGE)
    expect(page.get_by_label("Scan from a picture")).to_be_visible()
    expect(page.get_by_role("button", name="Start camera")).to_be_visible()
    page.screenshot(path=str(artifacts / "checkin-laptop.png"), full_page=True)
