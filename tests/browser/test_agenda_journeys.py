"""The programme in a real browser against ``eventsys run``: the demo forum and workshop
read in several time zones (on a phone too), a speaker page, the calendar and frab exports
linked from the page, and an organiser adding a session and publishing it.

Organiser actions are done as admin@example.org (test_journeys.py changes
organiser@example.org's password).
"""

from __future__ import annotations

import uuid

from icalendar import Calendar
from playwright.sync_api import expect

from tests.browser.conftest import login


def test_the_forum_programme_in_beijing_and_karachi_time(page, server):
    page.goto(f"{server}/events/demo-forum")
    page.get_by_role("link", name="Programme and speakers").click()
    expect(page.get_by_role("heading", name="Programme", exact=True)).to_be_visible()
    expect(page.get_by_text("Opening speech")).to_be_visible()
    roundtable = page.locator("article, li, section").filter(
        has_text="Online roundtable").last
    for name in ("Zhang Jizhe", "Song Qi", "Kanchana Wanichkorn", "Eduardo Baptista Correia",
                 "Vijay Kant Mishra"):
        expect(roundtable).to_contain_text(name)
    expect(page.get_by_text("09:00").first).to_be_visible()

    page.get_by_label("Show times in").select_option("Asia/Karachi")
    page.get_by_role("button", name="Show").click()
    assert "tz=Asia%2FKarachi" in page.url or "tz=Asia/Karachi" in page.url
    # 09:00 in Beijing is 06:00 in Karachi; both are on the page.
    expect(page.get_by_text("06:00").first).to_be_visible()
    expect(page.get_by_text("09:00").first).to_be_visible()

    page.get_by_role("link", name="Amer Ahmed Hashmi").first.click()
    expect(page.get_by_role("heading", name="Amer Ahmed Hashmi")).to_be_visible()
    expect(page.get_by_text("Chairman").first).to_be_visible()


def test_the_workshop_programme_on_a_phone_in_sao_paulo_time(browser, server, problems):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        page = context.new_page()
        page.goto(f"{server}/events/demo-workshop/agenda?tz=America/Sao_Paulo")
        expect(page.get_by_text("Field trip: Nanning High-tech Zone")).to_be_visible()
        expect(page.get_by_text("Nanning").first).to_be_visible()
        expect(page.get_by_text("Beijing").first).to_be_visible()
        # Lectures at 09:00 in Beijing are at 22:00 the evening before in São Paulo.
        expect(page.get_by_text("22:00").first).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 400, f"the page scrolls sideways on a phone ({width}px)"
    finally:
        context.close()


def test_the_exports_linked_from_the_programme(page, server):
    page.goto(f"{server}/events/demo-forum/agenda")
    href = page.get_by_role("link", name="Calendar (.ics)").get_attribute("href")
    answer = page.request.get(f"{server}{href}")
    assert answer.ok and answer.headers["content-type"].startswith("text/calendar")
    entries = Calendar.from_ical(answer.body()).walk("VEVENT")
    assert len(entries) >= 13 and len({str(e["UID"]) for e in entries}) == len(entries)
    href = page.get_by_role("link", name="schedule.xml").get_attribute("href")
    xml = page.request.get(f"{server}{href}")
    assert xml.ok and b"<schedule" in xml.body()


def test_an_organiser_adds_a_session_and_publishes_it(page, server):
    title = f"Lightning talks {uuid.uuid4().hex[:6]}"
    day = page.request.get(f"{server}/api/v1/events/demo-forum/agenda").json()["days"][0]["date"]
    login(page, "admin@example.org")
    page.goto(f"{server}/manage/events/demo-forum/agenda")
    page.get_by_role("button", name="Add a session").click()
    page.get_by_label("Title").fill(title)
    page.get_by_label("Kind").select_option("talk")
    page.get_by_label("Starts").fill(f"{day}T16:00")
    page.get_by_label("Ends").fill(f"{day}T16:30")
    person = page.get_by_label("Person").first
    person.select_option(person.locator("option", has_text="Wang Mingyang")
                         .first.get_attribute("value"))
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()

    page.goto(f"{server}/manage/events/demo-forum/agenda")
    expect(page.get_by_text(title).locator("visible=true").first).to_be_visible()
    publish_anyway = page.get_by_label("Publish even though there are warnings")
    if publish_anyway.count():
        publish_anyway.check()
    page.locator("main form").filter(has=page.get_by_role("button", name="Publish")) \
        .get_by_role("button", name="Publish").click()
    expect(page.get_by_text("Published version")).to_be_visible()

    page.goto(f"{server}/events/demo-forum/agenda")
    expect(page.get_by_text(title)).to_be_visible()
