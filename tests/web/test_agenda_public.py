"""The public agenda: times in the reader's zone, speaker pages, the PDF, photos, materials
and a participant's own sessions."""

import io
import re
from datetime import datetime, timedelta

import pytest
from PIL import Image
from sqlalchemy import select

from eventsys.extensions import db
from eventsys.models import Registration
from eventsys.services import agenda, events
from tests.conftest import submit


@pytest.fixture(autouse=True)
def no_pdf_on_publish(monkeypatch):
    """Publishing asks a worker for the PDF; these tests make it only when they ask for it
    (tests/services/test_agenda_pdf.py covers publishing with the worker)."""
    monkeypatch.setattr("eventsys.services.agenda.enqueue", lambda *args: True)


def at(event, day: int, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time on the event's ``day``-th day (0 is the first), in its zone."""
    return datetime.combine(event.start_date + timedelta(days=day),
                            datetime.min.time()).replace(hour=hour, minute=minute)


def person(name="Aisha Siddiqui", **kw):
    return agenda.create_person(agenda.PersonData(name=name, **kw), actor=None)


def session(event, title="Opening keynote", day=0, hour=17, minute=30, minutes=60, **kw):
    start = at(event, day, hour, minute)
    kw.setdefault("kind", "keynote")
    kw.setdefault("venue_id", event.venues[0].id)
    return agenda.create_session(event, agenda.SessionData(
        title=title, starts_local=start, ends_local=start + timedelta(minutes=minutes), **kw),
        actor=None)


def publish(event):
    return agenda.publish(event, actor=None, confirm_warnings=True)


def text(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


@pytest.fixture
def forum(make_event):
    """A Beijing forum (Asia/Shanghai) with a keynote at 17:30 on its first day and a
    morning panel at 09:00 on its second."""
    event = make_event("forum", days=1)
    speaker = person(honorific="Dr", name_native="عائشہ صدیقی", job_title="Director",
                     organisation_name="NSTP", country="PK", bio="Builds science parks.",
                     email="aisha@example.org")
    moderator = person("Li Wei", name_native="李伟", organisation_name="CISIP")
    session(event, people=[(speaker.id, "speaker")], room="Room 2", track="Main",
            description="First paragraph.\n\nSecond paragraph.",
            stream_url="https://stream.example.org/secret-live")
    session(event, "Morning panel", day=1, hour=9, minute=0, kind="panel", mode="hybrid",
            people=[(moderator.id, "moderator"), (speaker.id, "panellist")])
    publish(event)
    return event


def test_agenda_in_the_event_zone(client, forum):
    page = text(client.get("/events/forum/agenda"))
    assert "Opening keynote" in page and "Morning panel" in page
    assert "17:30–18:30" in page and "09:00–10:00" in page
    assert "Shanghai" in page and "(Karachi)" not in page
    day = forum.start_date
    assert f"{day:%A}, {day:%B} {day.day}, {day.year}" in page  # the day as a heading
    assert "Keynote" in page and "Panel" in page and "Hybrid" in page and "In person" in page
    assert "Hall 1, Beijing" in page and "Room 2" in page and "Main" in page
    assert "Dr Aisha Siddiqui" in page and "عائشہ صدیقی" in page and "Director, NSTP" in page
    assert "Speaker" in page and "Moderator / host" in page and "Panellist" in page
    assert "<p>First paragraph.</p><p>Second paragraph.</p>" in page
    assert "secret-live" not in page and "stream.example.org" not in page
    assert 'name="tz"' in page and '<option value="Asia/Shanghai" selected>' in page
    assert "/events/forum/agenda.pdf" in page
    speaker_id = agenda.people("Aisha")[0].id
    assert f'href="/events/forum/speakers/{speaker_id}"' in page


def test_times_in_the_readers_zone_with_the_events_alongside(client, forum):
    page = text(client.get("/events/forum/agenda?tz=Asia/Karachi"))
    assert "14:30–15:30 (Karachi)" in page and "17:30–18:30 Shanghai time" in page
    assert "06:00–07:00 (Karachi)" in page and "09:00–10:00 Shanghai time" in page
    assert "agenda-other-day" not in page  # Karachi is three hours behind: same dates
    assert '<option value="Asia/Karachi" selected>' in page

    # The city as CLDR spells it: "São Paulo" in Babel 2.19's data, "Sao Paulo" before.
    page = text(client.get("/events/forum/agenda?tz=America/Sao_Paulo")).replace("São", "Sao")
    assert "06:30–07:30 (Sao Paulo)" in page and "17:30–18:30 Shanghai time" in page
    # 09:00 in Beijing on the second day is 22:00 the evening before in São Paulo.
    assert "22:00–23:00 (Sao Paulo)" in page and "09:00–10:00 Shanghai time" in page
    first_day = forum.start_date
    marker = re.findall(r'<mark class="agenda-other-day">([^<]*)</mark>', page)
    assert marker == [f"{first_day:%a}, {first_day:%b} {first_day.day}"]


def test_unknown_time_zone_is_400(client, forum):
    for bad in ("Mars/Olympus", "x" * 500, "../../etc/passwd", "<script>"):
        response = client.get("/events/forum/agenda", query_string={"tz": bad})
        assert response.status_code == 400, bad
        assert "Unknown time zone" in response.get_data(as_text=True)
        assert "<script>" not in response.get_data(as_text=True).split("<body>")[1]


def test_no_agenda_yet_and_unpublished_events(client, make_event):
    make_event("later")
    page = text(client.get("/events/later/agenda"))
    assert "The programme will be published here" in page
    assert client.get("/events/later/agenda?tz=Mars/Olympus").status_code == 400
    assert client.get("/events/later/agenda.pdf").status_code == 404
    make_event("secret", status="draft")
    assert client.get("/events/secret/agenda").status_code == 404
    assert client.get("/events/nope/agenda").status_code == 404


def test_user_text_is_escaped_everywhere(client, make_event):
    event = make_event("xss")
    evil = person("<b>Mallory</b>", bio='<img src=x onerror="alert(1)">',
                  job_title="<i>Chief</i>")
    session(event, "<script>alert(1)</script>", people=[(evil.id, "speaker")],
            description="<iframe src=//evil.example></iframe>", room="<u>room</u>")
    publish(event)
    page = text(client.get("/events/xss/agenda"))
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>Mallory</b>" not in page and "&lt;b&gt;Mallory&lt;/b&gt;" in page
    assert "<iframe" not in page and "&lt;iframe" in page
    assert "<u>room</u>" not in page and "<i>Chief</i>" not in page
    speaker = text(client.get(f"/events/xss/speakers/{evil.id}"))
    assert "<img src=x" not in speaker and "&lt;img src=x onerror=" in speaker
    assert "<script>alert(1)</script>" not in speaker
    assert "<script" not in page.replace("&lt;script", "")  # and no inline script at all


def test_draft_changes_are_invisible_until_published(client, forum):
    keynote = agenda.sessions_of(forum)[0]
    data = agenda.SessionData(title="Renamed keynote", kind="keynote",
                              starts_local=at(forum, 0, 17, 30), ends_local=at(forum, 0, 18, 30))
    agenda.update_session(forum, keynote.id, data, actor=None)
    session(forum, "Brand new talk", hour=11, kind="talk")
    page = text(client.get("/events/forum/agenda"))
    assert "Opening keynote" in page
    assert "Renamed keynote" not in page and "Brand new talk" not in page
    publish(forum)
    page = text(client.get("/events/forum/agenda"))
    assert "Renamed keynote" in page and "Brand new talk" in page
    assert "Opening keynote" not in page


def test_speaker_page(client, forum):
    speaker = agenda.people("Aisha")[0]
    page = text(client.get(f"/events/forum/speakers/{speaker.id}"))
    for shown in ("Dr Aisha Siddiqui", "عائشہ صدیقی", "Director", "NSTP", "Pakistan",
                  "Builds science parks.", "Opening keynote", "Morning panel", "Speaker",
                  "Panellist", "17:30–18:30"):
        assert shown in page, shown
    assert "aisha@example.org" not in page
    page = text(client.get(f"/events/forum/speakers/{speaker.id}?tz=Asia/Karachi"))
    assert "14:30–15:30 (Karachi)" in page
    assert client.get(f"/events/forum/speakers/{speaker.id}?tz=Nowhere/Land").status_code == 400


def test_speaker_page_404s(client, forum, make_event):
    outsider = person("Not Speaking")
    assert client.get(f"/events/forum/speakers/{outsider.id}").status_code == 404
    assert client.get("/events/forum/speakers/999999").status_code == 404
    assert client.get("/events/forum/speakers/0").status_code == 404
    make_event("other")
    speaker = agenda.people("Aisha")[0]
    assert client.get(f"/events/other/speakers/{speaker.id}").status_code == 404


def _queries(client, counter, url) -> int:
    db.session.remove()  # a fresh session, as a real request has: nothing cached
    counter["n"] = 0
    assert client.get(url).status_code == 200
    return counter["n"]


def test_agenda_queries_do_not_grow_with_sessions(client, make_event, count_queries):
    make_event("big", days=2)
    people = [person(f"Speaker {n}", organisation_name=f"Org {n}").id for n in range(6)]

    def add(n_from, n_to):
        event = events.event_by_slug("big")  # the last request's session is gone
        for n in range(n_from, n_to):
            session(event, f"Session {n}", day=n % 3, hour=8 + (n % 10), minute=(n * 7) % 60,
                    minutes=30, kind="talk", people=[(people[n % 6], "speaker")])
        publish(event)

    add(0, 10)
    few = _queries(client, count_queries, "/events/big/agenda?tz=Asia/Karachi")
    add(10, 150)
    many = _queries(client, count_queries, "/events/big/agenda?tz=Asia/Karachi")
    assert many == few
    assert "Session 149" in client.get("/events/big/agenda").get_data(as_text=True)


# The printable programme ------------------------------------------------------------------

def test_pdf_is_made_on_demand_then_served(client, forum):
    response = client.get("/events/forum/agenda.pdf")  # tests run tasks in-process
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("inline") and "forum-agenda.pdf" in disposition
    stored = agenda.latest_publication(forum).pdf
    assert stored and stored.startswith(f"{forum.id}-v1-")
    again = client.get("/events/forum/agenda.pdf")
    assert again.status_code == 200 and again.data == response.data
    db.session.expire_all()
    assert agenda.latest_publication(forum).pdf == stored  # not made twice


def test_pdf_not_ready_is_202(client, forum, monkeypatch):
    asked = []
    monkeypatch.setattr("eventsys.tasks.enqueue", lambda *args: asked.append(args) or True)
    response = client.get("/events/forum/agenda.pdf")
    assert response.status_code == 202
    assert response.headers["Retry-After"].isdigit()
    assert "being prepared" in response.get_data(as_text=True)
    assert asked == [("eventsys.render_agenda_pdf", forum.id, 1)]


# Photos and materials ---------------------------------------------------------------------

def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def test_photo_is_served_with_long_caching(client, make_event):
    event = make_event("photos")
    speaker = person("Photographed")
    agenda.set_photo(speaker, _png(), actor=None)
    session(event, people=[(speaker.id, "speaker")])
    publish(event)
    page = text(client.get(f"/events/photos/speakers/{speaker.id}"))
    assert f'src="/media/photos/{speaker.photo}"' in page
    response = client.get(f"/media/photos/{speaker.photo}")
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert response.data[:3] == b"\xff\xd8\xff"
    cache = response.headers["Cache-Control"]
    assert "public" in cache and "max-age=31536000" in cache and "immutable" in cache
    for bad in ("nothere0123456789abcdef.jpg", "..%2F..%2Fetc%2Fpasswd", "x.jpg"):
        assert client.get(f"/media/photos/{bad}").status_code == 404, bad


def test_material_download(client, make_event):
    event = make_event("talks")
    keynote = session(event)
    slides = agenda.add_material(event, keynote.id, title="Slides", filename="keynote.pdf",
                                 data=b"%PDF-1.4 slides", actor=None)
    publish(event)
    late = agenda.add_material(event, keynote.id, title="Late", filename="late.pdf",
                               data=b"%PDF-1.4 late", actor=None)
    page = text(client.get("/events/talks/agenda"))
    link = f"/events/talks/materials/{slides.id}/keynote.pdf"
    assert f'href="{link}"' in page and "Slides" in page and "Late" not in page
    response = client.get(link)
    assert response.status_code == 200 and response.data == b"%PDF-1.4 slides"
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert "keynote.pdf" in response.headers["Content-Disposition"]
    assert client.get(f"/events/talks/materials/{late.id}/late.pdf").status_code == 404
    assert client.get("/events/talks/materials/999999/x.pdf").status_code == 404
    make_event("other")
    assert client.get(f"/events/other/materials/{slides.id}/keynote.pdf").status_code == 404
    agenda.delete_material(event, slides.id, actor=None)  # still listed, but gone
    assert client.get(link).status_code == 404


# A participant's own sessions ---------------------------------------------------------------

def _register(client) -> str:
    response = submit(client, "/events/forum/register", {
        "name": "Nino Beridze", "name_native": "", "email": "nino@example.org",
        "organisation_name": "GITA", "job_title": "Analyst", "country": "GE",
        "mode": "in_person"})
    assert response.status_code == 302, response.status_code
    return response.location.split("/r/")[1].split("?")[0]


def test_personal_agenda_marks(client, forum):
    token = _register(client)
    assert f"/r/{token}/agenda" in text(client.get(f"/r/{token}"))
    response = client.get(f"/r/{token}/agenda")
    page = text(response)
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    keynote, panel = agenda.sessions_of(forum)
    assert f'value="{keynote.guid}">' in page and f'value="{panel.guid}">' in page
    assert "checked" not in page

    response = submit(client, f"/r/{token}/agenda",
                      {"session": [panel.guid, "not-a-session-guid"]})
    assert response.status_code == 302 and response.location.endswith(f"/r/{token}/agenda")
    assert response.headers["Cache-Control"] == "no-store"
    assert agenda.marked(db.session.scalar(select(Registration))) == {panel.guid}
    page = text(client.get(f"/r/{token}/agenda"))
    assert f'value="{panel.guid}" checked>' in page and f'value="{keynote.guid}">' in page
    assert "Your sessions are saved" in page

    response = submit(client, f"/r/{token}/agenda", {"session": [keynote.guid]})
    page = text(client.get(f"/r/{token}/agenda"))
    assert f'value="{keynote.guid}" checked>' in page and f'value="{panel.guid}">' in page


def test_personal_agenda_needs_csrf_and_a_real_token(client, forum):
    token = _register(client)
    keynote = agenda.sessions_of(forum)[0]
    response = client.post(f"/r/{token}/agenda", data={"session": keynote.guid})
    assert response.status_code == 400
    assert "checked" not in text(client.get(f"/r/{token}/agenda"))
    assert client.get("/r/not-a-real-token-at-all/agenda").status_code == 404


def test_personal_agenda_before_publication(client, make_event):
    make_event("forum")
    token = _register(client)
    page = text(client.get(f"/r/{token}/agenda"))
    assert "has not been published yet" in page
