"""Invitations in a real browser against ``eventsys run``: the demo forum's organiser imports
a list of guests with a bad row, checks the preview, confirms and watches the progress bar
finish; two guests answer from the link in their mail (one accepts and registers, one
declines); the organiser sees the answers and reminds the others, and only they get a
reminder.

Organiser actions are done as admin@example.org (test_journeys.py changes
organiser@example.org's password). Each run uses its own addresses, so the test does not
depend on the others or on their order.
"""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import expect

from tests.browser.conftest import find_sent_mail, login

INVITATIONS = "/manage/events/demo-forum/invitations"
JOB_PAGE = re.compile(r"/manage/events/demo-forum/jobs/\d+$")
FORUM_QUESTION = "Which part interests you most?"
PHONE = {"width": 390, "height": 844}


def _guests(tag: str) -> list[tuple[str, str]]:
    names = ("Ayesha Siddiqui", "Kanchana Wanichkorn", "Eduardo Correia", "Zsófia Kovács")
    return [(name, f"{name.split()[0].lower()}-{tag}@example.net") for name in names]


def _list_file(tmp_path, guests) -> str:
    rows = ["Name,Email,Organisation,Country,Role,Notes"]
    rows += [f"{name},{email},Partner Park,PK,guest,from the partner list"
             for name, email in guests]
    rows.insert(3, "Broken Row,not-an-email,Somewhere,CN,guest,")  # line 4 of the file
    path = tmp_path / "partner-park-guests.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return str(path)


def _mail_text(admin, email: str, subject: str) -> str:
    row = find_sent_mail(admin, email, subject)
    with admin.expect_navigation():
        row.get_by_role("link", name=re.compile("^" + re.escape(subject))).click()
    return admin.locator("pre.mail-text").inner_text()


def _answer_link(admin, email: str) -> str:
    text = _mail_text(admin, email, "You are invited")
    links = re.findall(r"https?://\S+/invitations/[A-Za-z0-9_-]+", text)
    assert len(links) == 1, text
    return links[0]


def _reminders_to(admin, email: str) -> int:
    admin.goto("/admin/mail")
    return admin.locator("table tbody tr").filter(has_text=f"<{email}>").filter(
        has=admin.get_by_role("link", name=re.compile("^Reminder: you are invited"))).count()


def _wait_until_finished(page) -> None:
    expect(page).to_have_url(JOB_PAGE)
    expect(page.locator("[data-when-finished]")).to_be_visible(timeout=30_000)
    expect(page.locator("progress")).to_have_attribute("value", "100")


def _check_the_live_update(page, job_url: str) -> None:
    """The work is done before a person could watch it here, so the page is served as it
    looked at the start (nothing sent, not finished): progress.js must then poll the JSON
    and bring the counts to what really happened."""
    def as_at_the_start(route):
        response = route.fetch()
        body = (response.text()
                .replace('data-finished="true"', 'data-finished="false"')
                .replace('data-settled="true"', 'data-settled="false"')
                .replace('data-field="sent">4<', 'data-field="sent">0<')
                .replace('<p data-while-running hidden>', '<p data-while-running>')
                .replace('data-when-finished class="job-done"',
                         'data-when-finished class="job-done" hidden'))
        route.fulfill(response=response, body=body)

    page.route(job_url, as_at_the_start)
    try:
        with page.expect_response(lambda r: r.url == job_url + ".json"):
            page.goto(job_url)
            expect(page.locator("[data-when-finished]")).to_be_hidden()
        expect(page.locator('[data-field="sent"]').first).to_have_text("4")
        expect(page.locator("[data-when-finished]")).to_be_visible()
        expect(page.locator("[data-while-running]")).to_be_hidden()
    finally:
        page.unroute(job_url)


def _no_sideways_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"] + 2, f"the page scrolls sideways on a phone ({width}px)"


def test_an_organiser_invites_a_list_and_reminds_those_who_did_not_answer(
        new_page, server, artifacts, tmp_path):
    guests = _guests(uuid.uuid4().hex[:8])
    (accepting, accepting_email), (declining, declining_email) = guests[:2]
    silent = [email for _name, email in guests[2:]]

    # The organiser uploads the partner park's list and checks the preview.
    organiser = new_page()
    login(organiser, "admin@example.org")
    organiser.goto(INVITATIONS)
    expect(organiser.get_by_role("heading", name="Invitations", exact=True)).to_be_visible()
    if organiser.locator("#import-list").get_attribute("open") is None:
        organiser.get_by_text("Import a list").click()
    organiser.get_by_label("List of people (CSV or Excel)").set_input_files(
        _list_file(tmp_path, guests))
    organiser.get_by_role("button", name="Check the list").click()
    expect(organiser.get_by_role("heading", name="Check the list before anyone is invited")
           ).to_be_visible()
    expect(organiser.locator("main")).to_contain_text("partner-park-guests.csv")
    problems = organiser.locator("section.problems")
    expect(problems.locator("tbody tr")).to_have_count(1)
    expect(problems).to_contain_text("not-an-email")
    expect(problems.locator("td").first).to_have_text("4")
    expect(organiser.locator(".badge-ignored")).to_have_text("Notes")
    organiser.screenshot(path=artifacts / "invitation-import-preview.png", full_page=True)

    # Confirmed: a worker imports and mails; the page follows it without a reload.
    organiser.get_by_role("button", name="Import 4 invitations").click()
    _wait_until_finished(organiser)
    import_progress = organiser.url
    expect(organiser.locator('[data-field="sent"]').first).to_have_text("4")
    expect(organiser.locator('[data-field="failed"]').first).to_have_text("0")
    expect(organiser.locator('[data-field="left"]').first).to_have_text("0")
    expect(organiser.get_by_role("button", name="Cancel")).to_have_count(0)
    organiser.wait_for_timeout(500)  # the bar's last step is animated (Pico's transition)
    organiser.screenshot(path=artifacts / "invitation-progress.png", full_page=True)

    _check_the_live_update(organiser, import_progress)

    organiser.get_by_role("link", name="Back to the invitations").click()
    for name, email in guests:
        row = organiser.locator("table.invitations tbody tr").filter(has_text=email)
        expect(row).to_contain_text(name)
        expect(row.locator(".status")).to_have_text("Delivered, no answer")

    # One guest accepts from the link in the mail and registers; the form is filled in.
    admin = new_page()
    login(admin, "admin@example.org")
    guest = new_page()
    guest.goto(_answer_link(admin, accepting_email))
    expect(guest.locator("main")).to_contain_text(f"Dear {accepting}")
    guest.get_by_role("button", name="Accept").click()
    expect(guest).to_have_url(re.compile(r"/events/demo-forum/register\?invitation="))
    expect(guest.get_by_label("Email")).to_have_value(accepting_email)
    expect(guest.get_by_label("Full name (Latin letters)")).to_have_value(accepting)
    guest.get_by_label("Country").select_option("TH")
    guest.get_by_role("radio", name="In person", exact=True).check()
    guest.get_by_label(FORUM_QUESTION).select_option("Report release")
    guest.locator("main form").get_by_role("button", name="Register", exact=True).click()
    expect(guest).to_have_url(re.compile(r"/r/[A-Za-z0-9_-]+"))
    # A second click on the old link does not undo anything.
    guest.goto(_answer_link(admin, accepting_email))
    expect(guest.locator("main")).to_contain_text("You are registered")
    expect(guest.get_by_role("button", name="Decline")).to_have_count(0)

    # Another declines.
    other = new_page()
    other.goto(_answer_link(admin, declining_email))
    expect(other.locator("main")).to_contain_text(f"Dear {declining}")
    other.get_by_role("button", name="Decline").click()
    expect(other.locator(".flash-success")).to_contain_text("You have declined")

    # The organiser sees the answers and reminds everyone else.
    organiser.goto(INVITATIONS)
    rows = organiser.locator("table.invitations tbody tr")
    expect(rows.filter(has_text=accepting_email).locator(".status")).to_have_text("Accepted")
    expect(rows.filter(has_text=declining_email).locator(".status")).to_have_text("Declined")
    organiser.screenshot(path=artifacts / "invitations.png", full_page=True)
    organiser.get_by_role("button", name=re.compile("^Remind everyone without an answer")).click()
    _wait_until_finished(organiser)
    expect(organiser.get_by_role("heading", name="Sending reminders")).to_be_visible()

    for email in silent:
        text = _mail_text(admin, email, "Reminder: you are invited")
        assert re.search(r"/invitations/[A-Za-z0-9_-]+", text), text
    assert _reminders_to(admin, accepting_email) == 0
    assert _reminders_to(admin, declining_email) == 0
    organiser.goto(INVITATIONS)
    for email in silent:
        row = organiser.locator("table.invitations tbody tr").filter(has_text=email)
        expect(row.locator('[data-label="Reminders"]')).to_contain_text("1")

    # The same pages on a phone: one card a row, nothing scrolls sideways.
    phone = new_page(viewport=PHONE, is_mobile=True)
    login(phone, "admin@example.org")
    for url, shot in ((INVITATIONS, "invitations-phone.png"),
                      (import_progress, "invitation-progress-phone.png"),
                      ("/manage/events/demo-forum/mailings/new", "mailing-form-phone.png")):
        phone.goto(url)
        phone.screenshot(path=artifacts / shot, full_page=True)
        _no_sideways_scroll(phone)
    phone.goto(INVITATIONS)
    expect(phone.locator("table.invitations tbody tr").filter(has_text=accepting_email)
           .locator('[data-label="State"]')).to_be_visible()


def test_an_organiser_writes_to_the_speakers(new_page, server, artifacts):
    subject = f"Practical information {uuid.uuid4().hex[:6]}"
    page = new_page(viewport={"width": 1280, "height": 1600})
    login(page, "admin@example.org")
    page.goto("/manage/events/demo-forum/mailings")
    page.get_by_role("button", name="Write a message").click()
    expect(page.get_by_role("heading", name="Write a message")).to_be_visible()

    # The count follows the audience as it is ticked (static/js/mailing.js).
    count_url = "/manage/events/demo-forum/mailings/count.json"
    speakers = page.request.get(f"{server}{count_url}?kind=speakers").json()
    assert speakers["count"] >= 2, speakers
    page.get_by_role("radio", name="Speakers and other people in the programme").check()
    expect(page.locator("[data-recipient-count]")).to_have_text(speakers["text"])
    expect(page.locator("[data-send-button]")).to_have_text(speakers["send"])

    page.get_by_label("Subject").fill(subject + " for {name}")
    page.get_by_label("Message").fill("Dear {name},\n\nThe forum {event} is on {dates} in "
                                      "{place}.\n\nSee you there.")
    page.get_by_role("button", name="Preview").click()
    preview = page.locator("#preview")
    expect(preview).to_contain_text(f"As recipient 1 of {speakers['count']} gets it:")
    expect(preview.locator("pre.mail-text")).to_contain_text("Dear ")
    # The HTML part, in its sandboxed frame, styled by its inline styles.
    frame = page.frame_locator("iframe.mail-html")
    expect(frame.locator("body")).to_contain_text("See you there.")
    page.screenshot(path=artifacts / "mailing-preview.png", full_page=True)
    page.get_by_role("button", name="Next recipient").click()
    expect(page.locator("#preview")).to_contain_text(f"As recipient 2 of {speakers['count']}")

    page.get_by_role("button", name="Send a test to me").click()
    expect(page.locator(".flash-success")).to_contain_text(
        "A test message is on its way to admin@example.org")
    page.locator("[data-send-button]").click()
    expect(page.locator("main")).to_contain_text(f"{speakers['count']} people will get it.")
    page.get_by_role("button", name=f"Send to {speakers['count']} people").click()
    _wait_until_finished(page)
    expect(page.locator('[data-field="sent"]').first).to_have_text(str(speakers["count"]))

    page.get_by_role("link", name="Back to the messages").click()
    row = page.locator("table.mailings tbody tr").filter(has_text=subject)
    expect(row).to_contain_text("Speakers and other people in the programme")
    expect(row).to_contain_text(f"{speakers['count']} sent · 0 failed · 0 left")
    find_sent_mail(page, "admin@example.org", "[TEST] " + subject)
