"""What a visitor, an admin and an organiser do, in a real browser against ``eventsys run``.

Order matters in one place only: ``test_password_reset_end_to_end`` changes the password of
organiser@example.org, so no other test logs in as the organiser, and it runs last.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import find_sent_mail, login

FORUM_2021 = "2021 Community of International Science-Industry Parks Forum"
WORKSHOP_2019 = "Belt & Road Science Park Management Workshop 2019"
WRONG_PASSWORD = "eventsys-demo-wrong"
NEW_PASSWORD = "a-brand-new-password-42"


def _event_titles(section):
    return [t.strip() for t in section.locator(".event-card h3").all_inner_texts()]


def test_home_and_event_pages(page, artifacts):
    response = page.goto("/")
    assert response.status == 200
    expect(page.get_by_role("heading", name="Upcoming events")).to_be_visible()

    upcoming = page.locator(".grid-cards").nth(0)
    past = page.locator(".grid-cards").nth(1)
    upcoming_titles = _event_titles(upcoming)
    past_titles = _event_titles(past)
    assert len(upcoming_titles) == 2, upcoming_titles
    assert any(re.fullmatch(r"\d{4} Community of International Science-Industry Parks Forum", t)
               for t in upcoming_titles), upcoming_titles
    assert any(re.fullmatch(r"Belt & Road Science Park Management Workshop \d{4}", t)
               for t in upcoming_titles), upcoming_titles
    assert upcoming.locator("a[href='/events/demo-forum']").count() == 1
    assert upcoming.locator("a[href='/events/demo-workshop']").count() == 1
    expect(page.get_by_role("heading", name="Past events")).to_be_visible()
    assert FORUM_2021 in past_titles and WORKSHOP_2019 in past_titles, past_titles
    page.screenshot(path=artifacts / "home.png", full_page=True)

    page.get_by_role("link", name=FORUM_2021).click()
    expect(page).to_have_url(re.compile(r"/events/cisip-forum-2021$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(FORUM_2021)
    expect(page.locator("p.theme")).to_contain_text("Digital economy")
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("Beijing")
    expect(facts.locator("dt", has_text=re.compile(r"^Hosts?$"))).to_have_count(1)
    host = facts.locator("dt:text-matches('^Hosts?$', '') + dd")
    expect(host).to_have_text("Great Wall Enterprise Institute")
    cohosts = facts.locator("dt:text-matches('^Co-hosts?$', '') + dd")
    expect(cohosts).to_contain_text(
        "China ASEAN Science Technology and Innovation Policy Research Center")
    expect(cohosts).to_contain_text("Community of International Science-Industry Parks")
    page.screenshot(path=artifacts / "forum-2021.png", full_page=True)

    page.goto("/")
    page.get_by_role("link", name=WORKSHOP_2019).click()
    expect(page).to_have_url(re.compile(r"/events/br-science-park-workshop-2019$"))
    where = page.locator("dl.facts dt:text-is('Where') + dd")
    expect(where).to_contain_text("Beijing")
    expect(where).to_contain_text("Nanning")


def test_admin_sees_all_demo_events_and_logs_out(page):
    login(page, "admin@example.org")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()

    response = page.goto("/manage/")
    assert response.status == 200
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(4)
    for slug in ("cisip-forum-2021", "br-science-park-workshop-2019", "demo-forum",
                 "demo-workshop"):
        expect(page.locator(f"table a[href='/manage/events/{slug}/']")).to_have_count(1)

    with page.expect_navigation():
        page.get_by_role("button", name="Log out").click()
    expect(page.locator(".flash-info")).to_contain_text("You are logged out.")
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
    expect(page.get_by_role("link", name="Log in")).to_be_visible()
    # The session is really gone: the organiser pages ask for a login again.
    page.goto("/manage/")
    expect(page).to_have_url(re.compile(r"/login\?next=(/|%2F)manage(/|%2F)$"))


def test_mobile_home_has_no_horizontal_scroll(new_page, artifacts):
    page = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                    device_scale_factor=2)
    page.goto("/")
    expect(page.get_by_role("heading", name="Upcoming events")).to_be_visible()
    widths = page.evaluate(
        "() => ({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})")
    page.screenshot(path=artifacts / "home-mobile.png", full_page=True)
    assert widths["scroll"] <= widths["inner"] + 1, widths


def test_bad_login_shows_error_with_status_400(page, problems):
    # Chromium logs a console error for any page answered with a 4xx status.
    for email, password in (("admin@example.org", WRONG_PASSWORD),
                            ("nobody@example.org", WRONG_PASSWORD)):
        problems.allow_console_error("status of 400")
        page.goto("/login")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", password)
        with page.expect_response(lambda r: r.request.method == "POST"
                                  and r.url.endswith("/login")) as answer:
            page.get_by_role("button", name="Log in").click()
        assert answer.value.status == 400
        page.wait_for_load_state()
        expect(page.locator(".flash-error")).to_have_text("Wrong email address or password.")
        expect(page.get_by_role("button", name="Log out")).to_have_count(0)


def test_favicon_is_served(page):
    page.goto("/")
    declared = page.locator("link[rel~='icon']").count()
    fallback = page.request.get("/favicon.ico").status
    assert declared or fallback == 200, f"no icon link, /favicon.ico -> {fallback}"


def test_password_reset_end_to_end(new_page, server, artifacts, problems):
    visitor = new_page()
    visitor.goto("/password/forgot")
    visitor.fill("input[name=email]", "organiser@example.org")
    with visitor.expect_navigation():
        visitor.get_by_role("button", name="Send me a link").click()
    expect(visitor.locator("main")).to_contain_text("organiser@example.org")

    # Tall enough that the HTML part's iframe is on screen: headless Chromium leaves a
    # sandboxed (out-of-process) frame below the fold blank in a full-page screenshot.
    admin = new_page(viewport={"width": 1280, "height": 1700})
    login(admin, "admin@example.org")
    row = find_sent_mail(admin, "organiser@example.org", "Choose a new password")
    with admin.expect_navigation():
        row.get_by_role("link", name=re.compile("Choose a new password")).click()
    expect(admin).to_have_url(re.compile(r"/admin/mail/\d+$"))
    expect(admin.locator("article.mail .status")).to_have_text("sent")
    text = admin.locator("pre.mail-text").inner_text()
    html_part = admin.frame_locator("iframe.mail-html")
    expect(html_part.get_by_role("link", name="Choose a new password")).to_be_visible()
    expect(html_part.locator("body")).to_contain_text("Hello Li Na")
    admin.screenshot(path=artifacts / "admin-mail-message.png", full_page=True)
    urls = re.findall(r"https?://\S+/password/reset/\S+", text)
    assert len(urls) == 1, text
    reset_url = urls[0]
    assert reset_url.startswith(server + "/"), f"link does not point at the server: {reset_url}"

    # The organiser follows the link in their own browser.
    organiser = new_page()
    response = organiser.goto(reset_url)
    assert response.status == 200
    expect(organiser.get_by_role("heading", name="Choose a new password")).to_be_visible()
    expect(organiser.locator("main")).to_contain_text("organiser@example.org")
    organiser.fill("input[name=password]", NEW_PASSWORD)
    organiser.fill("input[name=confirm]", NEW_PASSWORD)
    with organiser.expect_navigation():
        organiser.get_by_role("button", name="Save the new password").click()
    expect(organiser).to_have_url(re.compile(r"/login$"))
    expect(organiser.locator(".flash-success")).to_contain_text("Your password is changed")

    login(organiser, "organiser@example.org", NEW_PASSWORD)
    expect(organiser.get_by_role("button", name="Log out")).to_be_visible()
    organiser.goto("/manage/")
    expect(organiser.get_by_role("heading", name="Your events")).to_be_visible()
    expect(organiser.locator("table tbody tr")).to_have_count(4)

    # The link worked once.
    used = new_page()
    problems.allow_console_error("status of 404")
    response = used.goto(reset_url)
    assert response.status == 404, response.status
