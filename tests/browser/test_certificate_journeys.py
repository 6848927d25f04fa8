"""Certificates in a real browser against ``eventsys run`` and its demo: the organiser issues
the 2019 workshop's certificates of completion with one click and watches the job finish;
a participant opens the link from their certificate mail (as the admin's mail view shows
it) on a phone and downloads their PDF; the PDF's page is rendered to a picture, the QR
code on it is read (the vendored jsQR, in Chromium), and a phone that opens what it says
lands on a "Valid" verification page with the holder's name in both scripts.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import shutil
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser import conftest
from tests.browser.conftest import find_sent_mail, login

EVENT = "br-science-park-workshop-2019"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 2}
# The scripts of the demo workshop's names a certificate must carry besides Latin.
SCRIPTS = {"Arabic": (0x0600, 0x06FF), "Thai": (0x0E00, 0x0E7F), "Cyrillic": (0x0400, 0x04FF),
           "Georgian": (0x10A0, 0x10FF), "Devanagari": (0x0900, 0x097F),
           "Han": (0x4E00, 0x9FFF)}


def _query(sql: str, *args) -> list[tuple]:
    assert conftest._server_log is not None, "the server fixture has not started"
    uri = f"file:{conftest._server_log.parent / 'eventsys.sqlite'}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True, timeout=10)) as conn:
        return conn.execute(sql, args).fetchall()


def valid_certificates() -> list[tuple]:
    """(code, holder name, native name, email, sha256) of the workshop's valid
    certificates of completion."""
    return _query(
        "SELECT c.code, c.holder_name, c.holder_name_native, r.email, c.sha256 "
        "FROM certificate c JOIN event e ON e.id = c.event_id "
        "JOIN registration r ON r.id = c.registration_id "
        "WHERE e.slug = ? AND c.kind = 'completion' AND c.status = 'valid' ORDER BY r.id",
        EVENT)


def scripts_of(names) -> set[str]:
    return {script for name in names if name for char in name
            for script, (low, high) in SCRIPTS.items() if low <= ord(char) <= high}


def first_page_png(pdf: Path, out: Path) -> bytes:
    """The PDF's first page as a PNG at 150 dpi: poppler's pdftoppm, or pypdfium2."""
    if shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-png", "-r", "150", "-f", "1", "-l", "1",
                        "-singlefile", str(pdf), str(out.with_suffix(""))],
                       check=True, timeout=60)
        return out.read_bytes()
    pdfium = pytest.importorskip(
        "pypdfium2", reason="neither pdftoppm (poppler-utils) nor pypdfium2 to render a PDF")
    image = pdfium.PdfDocument(str(pdf))[0].render(scale=150 / 72).to_pil()
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    out.write_bytes(buffer.getvalue())
    return buffer.getvalue()


def read_qr(page, png: bytes) -> str | None:
    """The text of the QR code in a picture, read by the vendored jsQR inside the page."""
    page.add_script_tag(url="/static/vendor/jsqr/jsQR.js")
    return page.evaluate(
        """async (src) => {
            const image = new Image();
            image.src = src;
            await image.decode();
            const canvas = document.createElement("canvas");
            canvas.width = image.naturalWidth;
            canvas.height = image.naturalHeight;
            const context = canvas.getContext("2d", {willReadFrequently: true});
            context.drawImage(image, 0, 0);
            const pixels = context.getImageData(0, 0, canvas.width, canvas.height);
            const found = window.jsQR(pixels.data, canvas.width, canvas.height);
            return found ? found.data : null;
        }""", "data:image/png;base64," + base64.b64encode(png).decode())


def test_issue_download_scan_and_verify_on_a_phone(new_page, server, artifacts, tmp_path):
    # The organiser issues the workshop's certificates of completion.
    organiser = new_page()
    login(organiser, "organiser@example.org")
    organiser.goto(f"/manage/events/{EVENT}/certificates/completion")
    issue = organiser.get_by_role("button", name=re.compile(r"^Issue \d+ certificates?$"))
    if issue.count():  # another journey on this server may have issued them already
        to_issue = int(re.search(r"\d+", issue.inner_text()).group(0))
        with organiser.expect_navigation():
            issue.click()
        expect(organiser).to_have_url(re.compile(r"/jobs/\d+$"))
        expect(organiser.locator("[data-when-finished]")).to_be_visible(timeout=120_000)
        organiser.screenshot(path=str(artifacts / "certificates-issued-job.png"),
                             full_page=True)
        assert len(valid_certificates()) >= to_issue
    issued = valid_certificates()
    # The attendance rule leaves some out; those in it carry names in several scripts.
    assert 10 <= len(issued) < 26, len(issued)
    assert len(scripts_of(native for _c, _n, native, _e, _s in issued)) >= 4

    # A participant with a right-to-left native name reads their mail (here, as the admin
    # sees it delivered) and opens its link on a phone.
    code, name, native, email, sha256 = next(
        row for row in issued if row[2] and scripts_of([row[2]]) == {"Arabic"})
    admin = new_page()
    login(admin, "admin@example.org")
    row = find_sent_mail(admin, email, "Your certificate", timeout=60)
    with admin.expect_navigation():
        row.get_by_role("link").click()
    text = admin.locator("pre.mail-text").inner_text()
    assert code in text and f"{server}/verify/{code}" in text
    link = re.search(re.escape(server) + r"(/r/[\w-]+)", text).group(1)

    phone = new_page(**PHONE)
    phone.goto(link)
    section = phone.locator("#certificates")
    expect(section).to_contain_text("Certificate of completion")
    expect(section).to_contain_text(code)
    phone.screenshot(path=str(artifacts / "certificate-registration-page-phone.png"),
                     full_page=True)
    with phone.expect_download() as download:
        section.get_by_role("button", name="Download (PDF)").click()
    pdf = tmp_path / "certificate.pdf"
    download.value.save_as(pdf)
    assert download.value.suggested_filename == f"{EVENT}-completion-certificate.pdf"
    assert hashlib.sha256(pdf.read_bytes()).hexdigest() == sha256  # as issued

    # The QR on the printed page, as a phone's camera would see the paper.
    png = first_page_png(pdf, tmp_path / "certificate.png")
    shutil.copy(tmp_path / "certificate.png", artifacts / "certificate-page.png")
    scanned = read_qr(phone, png)
    assert scanned == f"{server}/verify/{code}", scanned

    scanner = new_page(**PHONE)
    scanner.goto(scanned)
    expect(scanner.locator(".verdict-valid")).to_contain_text("Valid")
    expect(scanner.locator(".holder")).to_have_text(name)
    expect(scanner.locator(".holder-native")).to_have_text(native)
    expect(scanner.locator("main")).to_contain_text("Certificate of completion")
    expect(scanner.locator("main")).to_contain_text("Belt")
    width = scanner.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
    assert width[0] <= width[1], "the verification page scrolls sideways on a phone"
    scanner.screenshot(path=str(artifacts / "certificate-verified-phone.png"), full_page=True)

    # And the file itself, checked on the same page: identical to the one issued.
    scanner.set_input_files("input[type=file]", str(pdf))
    with scanner.expect_navigation():
        scanner.get_by_role("button", name="Check the file").click()
    expect(scanner.locator(".file-match")).to_contain_text("Identical to the certificate")
    # Or without uploading it: the fingerprint, opened, is the file's SHA-256, on the phone's
    # width.
    scanner.get_by_text("Check it without uploading").click()
    expect(scanner.locator("code.sha256")).to_have_text(hashlib.sha256(pdf.read_bytes())
                                                        .hexdigest())
    width = scanner.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
    assert width[0] <= width[1], "the fingerprint makes the page scroll sideways"
    scanner.locator("#check-file").screenshot(path=str(artifacts / "certificate-fingerprint.png"))


def test_a_corrected_certificate_revokes_the_old_one_on_a_phone(new_page, server, artifacts,
                                                               problems):
    organiser = new_page()
    login(organiser, "organiser@example.org")
    if not valid_certificates():
        organiser.goto(f"/manage/events/{EVENT}/certificates/completion")
        with organiser.expect_navigation():
            organiser.get_by_role("button", name=re.compile(r"^Issue \d+ certificates?$")).click()
        expect(organiser.locator("[data-when-finished]")).to_be_visible(timeout=120_000)
    old_code, name, native, _email, _sha = next(
        row for row in valid_certificates() if scripts_of([row[2]]) == {"Georgian"})

    organiser.goto(f"/manage/events/{EVENT}/certificates/completion?show=issued")
    row = organiser.locator("tr").filter(has=organiser.locator("code", has_text=old_code))
    row.locator("summary", has_text="Re-issue or revoke").click()
    reissue = row.locator("form").filter(
        has=organiser.get_by_role("button", name="Re-issue with the current details"))
    reissue.locator("input[name=reason]").fill("Organisation name corrected")
    with organiser.expect_navigation():
        reissue.get_by_role("button").click()
    (new_code,) = [code for code, holder, *_ in valid_certificates() if holder == name]
    assert new_code != old_code

    phone = new_page(**PHONE)
    phone.goto(f"/verify/{old_code.lower().replace('-', ' ')}")  # as typed from the paper
    expect(phone).to_have_url(re.compile(re.escape(f"/verify/{old_code}") + "$"))
    expect(phone.locator(".verdict-revoked")).to_contain_text("Revoked")
    expect(phone.locator(".verdict-revoked")).to_contain_text("Organisation name corrected")
    expect(phone.locator(".verdict-revoked")).to_contain_text("A corrected certificate")
    expect(phone.locator(".holder-native")).to_have_text(native)
    assert new_code not in phone.content()
    phone.screenshot(path=str(artifacts / "certificate-revoked-phone.png"), full_page=True)
    phone.goto(f"/verify/{new_code}")
    expect(phone.locator(".verdict-valid")).to_contain_text("Valid")

    problems.allow_console_error("404")  # Chromium's line for the unknown code's answer
    phone.goto("/verify/ABCD-EFGH-JKMN-PQRS-TVWX")
    expect(phone.locator(".verdict-unknown")).to_contain_text("Unknown")
