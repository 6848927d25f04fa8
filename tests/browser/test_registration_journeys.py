"""Registering for the demo events, in a real browser against ``eventsys run``: the
participant's journey from the home page to their ticket, calendar file and emails, and the
organiser's decision on an application.

Each test uses its own email addresses, so the tests do not depend on each other or on their
order. Organiser actions are done as admin@example.org (site admin): test_journeys.py changes
organiser@example.org's password.
"""

from __future__ import annotations

import re
import struct
import uuid
import zlib
from urllib.parse import urlsplit

from playwright.sync_api import expect

from tests.browser.conftest import find_sent_mail, login

FORUM_QUESTION = "Which part interests you most?"
WORKSHOP_ORGANISATION = "Your science park or institution"
WORKSHOP_LEARN = "What would you like to learn in the workshop?"
WORKSHOP_TRIPS = "Zhongguancun Science Park (Beijing)"
WORKSHOP_DIET = "Dietary needs"
WORKSHOP_WHOLE_PROGRAMME = "I can attend the whole programme, in Beijing and in Nanning"
PENDING_TEXT = "Awaiting the organisers\u2019 decision"  # as the page has it
ONLINE_URL = "https://live.example.org/cisip-forum"
PARTICIPANT_PAGE = re.compile(r"/r/[A-Za-z0-9_-]{10,100}(\?new=1)?$")


def _email(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:12]}@example.net"


# The form and the participant page ----------------------------------------------------------

def _fill_about_you(page, *, name: str, email: str, native: str | None = None,
                    organisation: str | None = None, country: str | None = None) -> None:
    page.get_by_label("Full name (Latin letters)").fill(name)
    if native:
        page.get_by_label("Full name in your own script").fill(native)
    page.get_by_label("Email").fill(email)
    if organisation:
        page.get_by_label("Organisation").fill(organisation)
    if country:
        page.get_by_label("Country").select_option(country)


def _submit(page, button: str):
    """Send the registration form; the response to the POST (302 when it worked)."""
    with page.expect_response(lambda r: r.request.method == "POST"
                              and urlsplit(r.url).path.endswith("/register")) as answer:
        page.locator("main form").get_by_role("button", name=button, exact=True).click()
    page.wait_for_load_state()
    return answer.value


def _register_for_forum(page, email: str, mode: str = "In person", *,
                        name: str = "Chen Jing", native: str | None = None) -> str:
    """Register through the form; the participant page's path (/r/<token>)."""
    page.goto("/events/demo-forum/register")
    _fill_about_you(page, name=name, email=email, native=native, country="CN")
    page.get_by_role("radio", name=mode, exact=True).check()
    response = _submit(page, "Register")
    assert response.status == 302, response.status
    expect(page).to_have_url(PARTICIPANT_PAGE)
    return urlsplit(page.url).path


def _status(page):
    return page.locator("article header .status")


def _no_horizontal_scroll(page) -> dict:
    return page.evaluate(
        "() => ({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})")


# Mail, as the admin reads it in /admin/mail ---------------------------------------------------

def _open_mail(admin_page, row) -> str:
    """Open a message from the list; the text part."""
    with admin_page.expect_navigation():
        row.get_by_role("link").click()
    expect(admin_page).to_have_url(re.compile(r"/admin/mail/\d+$"))
    expect(admin_page.locator("article.mail .status")).to_have_text("sent")
    return admin_page.locator("pre.mail-text").inner_text()


# Reading the ticket's QR code from a screenshot -----------------------------------------------
# No zbar here, so a small reader: PNG pixels -> modules -> text. It reads the symbols a
# ticket code can come out as (QR versions 1-3 with one block of codewords, and Micro QR M4)
# and skips error correction, which a clean screenshot does not need.

ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
QR_DATA_CODEWORDS = {(1, "L"): 19, (1, "M"): 16, (1, "Q"): 13, (1, "H"): 9,
                     (2, "L"): 34, (2, "M"): 28, (2, "Q"): 22, (2, "H"): 16,
                     (3, "L"): 55, (3, "M"): 44}
M4_DATA_CODEWORDS = {"L": 16, "M": 14, "Q": 10}
QR_MASKS = [
    lambda i, j: (i + j) % 2 == 0, lambda i, j: i % 2 == 0, lambda i, j: j % 3 == 0,
    lambda i, j: (i + j) % 3 == 0, lambda i, j: (i // 2 + j // 3) % 2 == 0,
    lambda i, j: (i * j) % 2 + (i * j) % 3 == 0,
    lambda i, j: ((i * j) % 2 + (i * j) % 3) % 2 == 0,
    lambda i, j: ((i + j) % 2 + (i * j) % 3) % 2 == 0,
]
MICRO_MASKS = [QR_MASKS[1], QR_MASKS[4], QR_MASKS[6], QR_MASKS[7]]


def _png_gray(data: bytes) -> list[list[int]]:
    """Rows of grey levels of an 8-bit, non-interlaced PNG (what Chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and interlace == 0 and color in (0, 2, 4, 6), (depth, color)
        elif kind == b"IDAT":
            idat += body
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[color]
    stride = width * channels
    raw = zlib.decompress(idat)
    rows, prev = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for x in range(stride):
            a = line[x - channels] if x >= channels else 0
            b = prev[x]
            c = prev[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + a) & 255
            elif kind == 2:
                line[x] = (line[x] + b) & 255
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    if channels < 3:
        return [list(row[::channels]) for row in rows]
    return [[sum(row[x:x + 3]) // 3 for x in range(0, stride, channels)] for row in rows]


def _qr_modules(gray: list[list[int]]) -> list[list[int]]:
    """The symbol's modules (1 dark), from an image of it on a light background."""
    dark = [[int(v < 128) for v in row] for row in gray]
    ys = [y for y, row in enumerate(dark) if any(row)]
    xs = [x for x in range(len(dark[0])) if any(row[x] for row in dark)]
    assert ys and xs, "no dark pixels in the image"
    top, bottom, left, right = ys[0], ys[-1], xs[0], xs[-1]
    run = 0  # the top edge of the top-left finder pattern is 7 modules wide
    while dark[top + 2][left + run]:
        run += 1
    size = round((right - left + 1) / (run / 7))
    pitch_x, pitch_y = (right - left + 1) / size, (bottom - top + 1) / size
    return [[dark[int(top + (r + 0.5) * pitch_y)][int(left + (c + 0.5) * pitch_x)]
             for c in range(size)] for r in range(size)]


def _format_data(read: int, xor: int) -> int:
    """The 5 data bits of the valid 15-bit format word nearest to ``read``."""
    def word(data):
        value = data << 10
        for bit in range(14, 9, -1):
            if value & (1 << bit):
                value ^= 0x537 << (bit - 10)
        return ((data << 10) | value) ^ xor
    data = min(range(32), key=lambda d: bin(word(d) ^ read).count("1"))
    assert bin(word(data) ^ read).count("1") <= 3, "unreadable format information"
    return data


def _decode_qr(m: list[list[int]]) -> tuple[str, str]:
    """(designator such as '1-M' or 'M4-M', text) of a symbol's modules."""
    n = len(m)
    if n == 17:  # Micro QR M4: one finder pattern, timing along row 0 and column 0
        read = 0
        for r, c in [(8, c) for c in range(1, 9)] + [(r, 8) for r in range(7, 0, -1)]:
            read = (read << 1) | m[r][c]
        data = _format_data(read, 0x4445)
        level = {5: "L", 6: "M", 7: "Q"}.get(data >> 2)
        assert level, f"not a Micro QR M4 symbol (symbol number {data >> 2})"
        designator, mask, skip_column = f"M4-{level}", MICRO_MASKS[data & 3], None
        codewords = M4_DATA_CODEWORDS[level]
        mode_bits, count_bits = 3, {"numeric": 6, "alnum": 5, "bytes": 5}
        modes = {0: "numeric", 1: "alnum", 2: "bytes"}

        def function(r, c):
            return (r <= 8 and c <= 8) or r == 0 or c == 0
    else:
        version = (n - 17) // 4
        assert n == 17 + 4 * version and 1 <= version <= 3, f"unsupported symbol size {n}"
        read = 0
        for r, c in ([(8, c) for c in (0, 1, 2, 3, 4, 5, 7, 8)]
                     + [(r, 8) for r in (7, 5, 4, 3, 2, 1, 0)]):
            read = (read << 1) | m[r][c]
        data = _format_data(read, 0x5412)
        level = {0b01: "L", 0b00: "M", 0b11: "Q", 0b10: "H"}[data >> 3]
        assert (version, level) in QR_DATA_CODEWORDS, f"unsupported version {version}-{level}"
        designator, mask, skip_column = f"{version}-{level}", QR_MASKS[data & 7], 6
        codewords = QR_DATA_CODEWORDS[(version, level)]
        mode_bits, count_bits = 4, {"numeric": 10, "alnum": 9, "bytes": 8}
        modes = {1: "numeric", 2: "alnum", 4: "bytes"}

        def function(r, c):
            if (r <= 8 and (c <= 8 or c >= n - 8)) or (r >= n - 8 and c <= 8):
                return True  # finders, separators, format information, dark module
            if r == 6 or c == 6:
                return True  # timing patterns
            return version >= 2 and abs(r - (n - 7)) <= 2 and abs(c - (n - 7)) <= 2

    bits = []
    upward, col = True, n - 1
    while col > 0:
        if col == skip_column:
            col -= 1
        for k in range(n):
            r = n - 1 - k if upward else k
            for c in (col, col - 1):
                if not function(r, c):
                    bits.append(m[r][c] ^ int(mask(r, c)))
        upward, col = not upward, col - 2
    bits = bits[:codewords * 8]
    pos = 0

    def take(count):
        nonlocal pos
        assert pos + count <= len(bits), "the data runs past the end of the symbol"
        value = int("".join(map(str, bits[pos:pos + count])), 2)
        pos += count
        return value

    text = []
    while pos + mode_bits <= len(bits):
        indicator = take(mode_bits)
        if indicator == 0 and (mode_bits == 4 or pos + count_bits["numeric"] > len(bits)):
            break  # the terminator (cut short at the end of the data)
        kind = modes.get(indicator)
        assert kind, f"unsupported mode {indicator}"
        length = take(count_bits[kind])
        if length == 0:
            break  # Micro QR's terminator reads as an empty numeric segment
        if kind == "alnum":
            for _ in range(length // 2):
                pair = take(11)
                text += [ALNUM[pair // 45], ALNUM[pair % 45]]
            if length % 2:
                text.append(ALNUM[take(6)])
        elif kind == "numeric":
            for _ in range(length // 3):
                text.append(f"{take(10):03d}")
            if length % 3:
                text.append(f"{take(4 if length % 3 == 1 else 7):0{length % 3}d}")
        else:
            raw = bytes(take(8) for _ in range(length))
            try:
                text.append(raw.decode("utf-8"))
            except UnicodeDecodeError:
                text.append(raw.decode("iso-8859-1"))
    return designator, "".join(text)


def _read_ticket_qr(page) -> tuple[str, str]:
    """Check the ticket's QR image and read it from a screenshot: (designator, text)."""
    image = page.locator("article.ticket img")
    expect(image).to_be_visible()
    src = image.get_attribute("src")
    assert src.startswith("data:image/svg+xml"), src[:60]
    natural = image.evaluate("img => ({w: img.naturalWidth, h: img.naturalHeight})")
    assert natural["w"] > 100 and natural["h"] > 100, natural
    return _decode_qr(_qr_modules(_png_gray(image.screenshot())))


def test_qr_reader_reads_what_segno_writes():
    """The reader above, checked against the library the application draws QR codes with."""
    import segno

    seen = set()
    for payload in ("DSW8-7G6D-FJ7D", "QHXT-2K9M-ZZ3B", "1234", "https://example.org/r/x"):
        for micro, masks in ((True, range(4)), (False, range(8))):
            for mask in masks:
                try:
                    symbol = segno.make(payload, error="m", micro=micro, mask=mask,
                                        version="M4" if micro else None, boost_error=False)
                except segno.DataOverflowError:
                    continue
                modules = [[int(bool(v)) for v in row] for row in symbol.matrix]
                assert _decode_qr(modules) == (symbol.designator, payload)
                seen.add(symbol.designator)
    assert {"M4-M", "1-M", "2-M"} <= seen, seen


# The journeys -------------------------------------------------------------------------------

def test_forum_in_person_ticket_calendar_and_mail(new_page, server, artifacts):
    email = _email("forum-in-person")
    page = new_page()
    page.goto("/")
    page.locator(".grid-cards").first.locator("a[href='/events/demo-forum']").click()
    expect(page).to_have_url(re.compile(r"/events/demo-forum$"))
    title = page.get_by_role("heading", level=1).inner_text().strip()
    assert title.endswith("Community of International Science-Industry Parks Forum"), title
    page.locator("main").get_by_role("button", name="Register", exact=True).click()
    expect(page).to_have_url(re.compile(r"/events/demo-forum/register$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Register")

    _fill_about_you(page, name="Wang Mingyang", native="王明阳", email=email,
                    organisation="Great Wall Enterprise Institute", country="CN")
    page.get_by_label("Job title").fill("Director of International Business")
    page.get_by_role("radio", name="In person", exact=True).check()
    page.get_by_label(FORUM_QUESTION).select_option("Report release")
    page.screenshot(path=artifacts / "registration-form.png", full_page=True)
    response = _submit(page, "Register")
    assert response.status == 302, response.status

    expect(page).to_have_url(PARTICIPANT_PAGE)
    token_path = urlsplit(page.url).path
    expect(page.locator(".flash-success")).to_contain_text("We have emailed you this page")
    expect(_status(page)).to_have_text("Confirmed")
    details = page.locator("dl.facts")
    expect(details).to_contain_text("Wang Mingyang")
    expect(details).to_contain_text("王明阳")
    expect(details).to_contain_text(email)
    expect(details.locator("dt:text-is('Attending') + dd")).to_have_text("In person")
    expect(page.get_by_role("heading", name="Your ticket")).to_be_visible()
    code = page.locator(".ticket-code").inner_text().strip()
    assert re.fullmatch(r"[2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4}", code), code
    designator, text = _read_ticket_qr(page)
    assert text == code, f"the QR code ({designator}) reads {text!r}, the page shows {code!r}"
    page.screenshot(path=artifacts / "participant-page.png", full_page=True)

    with page.expect_download() as download_info:
        page.get_by_role("button", name="Add to calendar").click()
    download = download_info.value
    assert download.suggested_filename == "demo-forum.ics", download.suggested_filename
    ics = download.path().read_bytes().decode()
    unfolded = re.sub(r"\r?\n[ \t]", "", ics)  # RFC 5545 folds long lines
    assert "BEGIN:VCALENDAR" in unfolded and "BEGIN:VEVENT" in unfolded, ics
    assert f"SUMMARY:{title}" in unfolded, ics

    admin = new_page()
    login(admin, "admin@example.org")
    row = find_sent_mail(admin, email, "Your place is confirmed")
    expect(row).to_contain_text(title)
    mail_text = _open_mail(admin, row)
    assert code in mail_text, mail_text
    links = re.findall(r"https?://\S+/r/[A-Za-z0-9_-]+", mail_text)
    assert len(links) == 1, mail_text
    assert links[0].startswith(server + "/"), f"link does not point at the server: {links[0]}"

    # The participant follows the link in the mail, in a browser of their own.
    again = new_page()
    response = again.goto(links[0])
    assert response.status == 200
    assert urlsplit(again.url).path == token_path
    expect(_status(again)).to_have_text("Confirmed")
    expect(again.locator("dl.facts")).to_contain_text(email)
    expect(again.locator(".ticket-code")).to_have_text(code)
    expect(again.locator(".flash-success")).to_have_count(0)


def test_ticket_qr_is_a_regular_qr_code(page):
    _register_for_forum(page, _email("forum-qr"))
    code = page.locator(".ticket-code").inner_text().strip()
    designator, text = _read_ticket_qr(page)
    assert text == code
    assert not designator.startswith("M"), f"the ticket is a Micro QR code ({designator})"


def test_forum_online_shows_joining_link(page):
    _register_for_forum(page, _email("forum-online"), "Online", name="Siriporn Chaiyasit")
    expect(_status(page)).to_have_text("Confirmed")
    expect(page.locator("dl.facts dt:text-is('Attending') + dd")).to_have_text("Online")
    expect(page.get_by_role("heading", name="Joining online")).to_be_visible()
    join = page.get_by_role("button", name="Join the event")
    expect(join).to_be_visible()
    # The tracked link: it counts them as joined and sends them on to the stream.
    expect(join).to_have_attribute("href", re.compile(r"^/join/[A-Za-z0-9_-]{22,}$"))
    followed = page.request.get(join.get_attribute("href"), max_redirects=0)
    assert followed.status == 303 and followed.headers["location"] == ONLINE_URL
    # Online participants have no ticket to show at an entrance.
    expect(page.locator("article.ticket img")).to_have_count(0)
    expect(page.locator(".ticket-code")).to_have_count(0)


def _fill_workshop_form(page, email: str, *, tick_whole_programme: bool) -> None:
    _fill_about_you(page, name="Milica Jovanović", native="Милица Јовановић", email=email,
                    organisation="Science Technology Park Belgrade", country="RS")
    page.get_by_label(WORKSHOP_ORGANISATION).fill("Science Technology Park Belgrade")
    page.get_by_label(WORKSHOP_LEARN).fill(
        "How other parks attract companies,\nand how they measure their results.")
    page.get_by_label(WORKSHOP_TRIPS).check()
    page.get_by_label(WORKSHOP_DIET).select_option("Vegetarian")
    switch = page.get_by_role("switch", name=WORKSHOP_WHOLE_PROGRAMME)
    if tick_whole_programme:
        switch.check()
    else:
        switch.uncheck()


def test_workshop_application_approved_by_organiser(new_page, artifacts, problems):
    email = _email("workshop")
    page = new_page()
    page.goto("/")
    page.locator(".grid-cards").first.locator("a[href='/events/demo-workshop']").click()
    expect(page).to_have_url(re.compile(r"/events/demo-workshop$"))
    page.locator("main").get_by_role("button", name="Apply to attend").click()
    expect(page).to_have_url(re.compile(r"/events/demo-workshop/register$"))
    expect(page.locator("main")).to_contain_text("Places are given by the organisers")
    # In person is the only way to attend, so it is chosen already.
    expect(page.get_by_role("radio", name="In person", exact=True)).to_be_checked()

    # Without the required tick: an error, nothing registered, the answers kept.
    _fill_workshop_form(page, email, tick_whole_programme=False)
    problems.allow_console_error("status of 400")
    response = _submit(page, "Apply")
    assert response.status == 400, response.status
    expect(page).to_have_url(re.compile(r"/events/demo-workshop/register$"))
    switch = page.get_by_role("switch", name=WORKSHOP_WHOLE_PROGRAMME)
    expect(switch).to_have_attribute("aria-invalid", "true")
    expect(page.locator("small.field-error")).to_have_count(1)
    expect(page.get_by_label("Email")).to_have_value(email)
    expect(page.get_by_label("Full name in your own script")).to_have_value("Милица Јовановић")
    expect(page.get_by_label(WORKSHOP_LEARN)).to_have_value(
        "How other parks attract companies,\nand how they measure their results.")
    expect(page.get_by_label(WORKSHOP_DIET)).to_have_value("Vegetarian")
    expect(page.get_by_label(WORKSHOP_TRIPS)).to_be_checked()
    page.screenshot(path=artifacts / "registration-form-error.png", full_page=True)

    # With it: an application waiting for the organisers (and not "registered already").
    switch.check()
    response = _submit(page, "Apply")
    assert response.status == 302, response.status
    expect(page).to_have_url(PARTICIPANT_PAGE)
    participant_url = page.url
    expect(_status(page)).to_have_text(PENDING_TEXT)
    expect(page.locator("article.ticket")).to_have_count(0)

    admin = new_page(viewport={"width": 1280, "height": 900})
    login(admin, "admin@example.org")
    admin.goto("/manage/events/demo-workshop/registrations")
    filters = admin.locator("form.filters")
    filters.get_by_label("Status").select_option(label="Pending")
    filters.get_by_role("searchbox", name="Search").fill(email)
    with admin.expect_navigation():
        filters.get_by_role("button", name="Show").click()
    rows = admin.locator("table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Milica Jovanović")
    expect(rows.first).to_contain_text(email)
    expect(rows.first.locator(".status")).to_have_text("Pending")
    rows.first.get_by_role("checkbox", name="Select Milica Jovanović").check()
    admin.get_by_label("Action").select_option(label="Approve")
    with admin.expect_navigation():
        admin.get_by_role("button", name="Apply to the ticked").click()
    expect(admin.locator(".flash-success")).to_contain_text("Approved: 1 confirmed")

    admin.goto("/manage/events/demo-workshop/registrations?q=" + email)
    rows = admin.locator("table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.locator(".status")).to_have_text("Confirmed")
    admin.screenshot(path=artifacts / "organiser-registrations.png", full_page=True)

    page.goto(participant_url)
    expect(_status(page)).to_have_text("Confirmed")
    expect(page.get_by_role("heading", name="Your ticket")).to_be_visible()
    code = page.locator(".ticket-code").inner_text().strip()
    assert re.fullmatch(r"[2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4}", code), code
    expect(page.locator("article.ticket img")).to_be_visible()


def test_duplicate_registration_is_refused_and_mails_the_link(new_page, problems):
    email = _email("duplicate")
    first = new_page()
    _register_for_forum(first, email)

    second = new_page()
    second.goto("/events/demo-forum/register")
    _fill_about_you(second, name="Someone Else", email=email.upper(), country="TH")
    second.get_by_role("radio", name="Online", exact=True).check()
    problems.allow_console_error("status of 409")
    response = _submit(second, "Register")
    assert response.status == 409, response.status
    expect(second).to_have_url(re.compile(r"/events/demo-forum/register$"))
    expect(second.locator(".flash-error")).to_have_text(
        "This email address is registered for this event already. "
        "We have emailed it a link to the registration.")

    admin = new_page()
    login(admin, "admin@example.org")
    row = find_sent_mail(admin, email, "Your registration link")
    mail_text = _open_mail(admin, row)
    links = re.findall(r"https?://\S+/r/[A-Za-z0-9_-]+", mail_text)
    assert len(links) == 1, mail_text
    # The fresh link opens the first registration, not a new one.
    owner = new_page()
    owner.goto(links[0])
    expect(owner.locator("dl.facts")).to_contain_text("Chen Jing")
    expect(owner.locator("dl.facts dt:text-is('Attending') + dd")).to_have_text("In person")


def test_participant_cancels_from_their_page(page):
    path = _register_for_forum(page, _email("cancel"))
    expect(_status(page)).to_have_text("Confirmed")
    page.get_by_role("button", name="Cancel my registration").click()
    expect(page.get_by_role("heading", name="Cancel your registration?")).to_be_visible()
    with page.expect_navigation():
        page.get_by_role("button", name="Yes, cancel it").click()
    expect(page).to_have_url(re.compile(re.escape(path) + "$"))
    expect(page.locator(".flash-success")).to_contain_text("Your registration is cancelled")
    expect(_status(page)).to_have_text("Cancelled")
    expect(page.get_by_role("button", name="Cancel my registration")).to_have_count(0)
    expect(page.get_by_role("button", name="Add to calendar")).to_have_count(0)
    expect(page.locator("article.ticket")).to_have_count(0)
    page.reload()
    expect(_status(page)).to_have_text("Cancelled")


def test_mobile_form_and_participant_page_have_no_horizontal_scroll(new_page, artifacts):
    page = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                    device_scale_factor=2)
    page.goto("/events/demo-forum/register")
    expect(page.get_by_role("heading", level=1)).to_have_text("Register")
    _fill_about_you(page, name="Nurul Aisyah binti Rahman", email=_email("mobile"),
                    organisation="Office of National Higher Education Science Research and "
                                 "Innovation Policy Council", country="MY")
    page.get_by_role("radio", name="In person", exact=True).check()
    page.get_by_label(FORUM_QUESTION).select_option("Company presentations")
    widths = _no_horizontal_scroll(page)
    page.screenshot(path=artifacts / "registration-form-mobile.png", full_page=True)
    assert widths["scroll"] <= widths["inner"] + 1, f"registration form: {widths}"

    response = _submit(page, "Register")
    assert response.status == 302, response.status
    expect(page).to_have_url(PARTICIPANT_PAGE)
    expect(_status(page)).to_have_text("Confirmed")
    ticket = page.locator("article.ticket img")
    expect(ticket).to_be_visible()
    box = ticket.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390 + 1, box
    widths = _no_horizontal_scroll(page)
    page.screenshot(path=artifacts / "participant-page-mobile.png", full_page=True)
    assert widths["scroll"] <= widths["inner"] + 1, f"participant page: {widths}"
