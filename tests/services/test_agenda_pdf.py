"""The printable programme: made once per published version, from escaped text, with nothing
fetched from disk or network but the vendored fonts, names printed in their own scripts."""

import io
import logging
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import weasyprint
from flask import current_app
from PIL import Image
from pypdf import PdfReader

from eventsys.extensions import db
from eventsys.services import agenda, agenda_pdf
from tests.services.test_fonts import embedded_fonts, notdef_warnings, pdf_font_name


def pdf_text(data: bytes) -> str:
    text = "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)
    return re.sub(r"\s+", " ", text)


def stored(name: str) -> Path:
    return Path(current_app.config["FILES_DIR"]) / "agenda" / name


@pytest.fixture
def no_pdf_on_publish(monkeypatch):
    monkeypatch.setattr("eventsys.services.agenda.enqueue", lambda *args: True)


@pytest.fixture
def forum(make_event):
    event = make_event("forum", title="Innovation Forum", days=1)
    speaker = agenda.create_person(agenda.PersonData(
        name="Aisha Siddiqui", honorific="Dr", job_title="Director", organisation_name="NSTP",
        country="PK"), actor=None)
    moderator = agenda.create_person(agenda.PersonData(name="Pedro Alves",
                                                       organisation_name="Anprotec"), actor=None)
    start = datetime.combine(event.start_date, datetime.min.time()).replace(hour=9)
    for n, (title, kind, people) in enumerate([
            ("Opening of the forum", "opening", []),
            ("Science parks in South Asia", "keynote", [(speaker.id, "speaker")]),
            ('<img src="file:///etc/passwd"> and <script>alert(1)</script>', "panel",
             [(moderator.id, "moderator"), (speaker.id, "panellist")])]):
        agenda.create_session(event, agenda.SessionData(
            title=title, kind=kind, starts_local=start + timedelta(days=n // 2, hours=n),
            ends_local=start + timedelta(days=n // 2, hours=n, minutes=45),
            venue_id=event.venues[0].id, description='<img src="file:///etc/hostname">',
            people=people), actor=None)
    return event


def test_render_writes_the_pdf_once(forum, no_pdf_on_publish):
    agenda.publish(forum, actor=None, confirm_warnings=True)
    result = agenda_pdf.render(forum.id, 1)
    name = result["pdf"]
    assert re.fullmatch(rf"{forum.id}-v1-[A-Za-z0-9_-]+\.pdf", name)
    assert agenda.latest_publication(forum).pdf == name
    data = stored(name).read_bytes()
    text = pdf_text(data)
    for shown in ("Innovation Forum", "Opening of the forum", "Science parks in South Asia",
                  "Dr Aisha Siddiqui", "Director, NSTP", "Pedro Alves", "Keynote", "Panel",
                  "Speaker", "Moderator / host", "Panellist", "Hall 1, Beijing",
                  "09:00–09:45", "10:00–10:45", "Asia/Shanghai"):
        assert shown.casefold() in text.casefold(), shown  # kinds are set in capitals
    assert '<img src="file:///etc/passwd">' in text  # the title as typed, as text
    assert "<script>alert(1)</script>" in text
    assert "root:" not in text and b"root:x:0" not in data
    assert b"/Subtype /Image" not in data
    assert len(list(stored(name).parent.glob("*.pdf"))) == 1

    assert agenda_pdf.render(forum.id, 1) == {"skipped": True}
    assert len(list(stored(name).parent.glob("*.pdf"))) == 1
    assert agenda_pdf.render(forum.id, 2) == {"missing": True}


def test_render_again_when_the_file_is_gone(forum, no_pdf_on_publish):
    agenda.publish(forum, actor=None, confirm_warnings=True)
    first = agenda_pdf.render(forum.id, 1)["pdf"]
    stored(first).unlink()
    second = agenda_pdf.render(forum.id, 1)["pdf"]
    assert second != first and stored(second).is_file()
    assert agenda.latest_publication(forum).pdf == second


def test_a_new_version_s_pdf_replaces_the_old_file(forum, no_pdf_on_publish):
    agenda.publish(forum, actor=None, confirm_warnings=True)
    first = agenda_pdf.render(forum.id, 1)["pdf"]
    session = agenda.sessions_of(forum)[0]
    agenda.update_session(forum, session.id, agenda.SessionData(
        title="Opening, moved", kind="opening", starts_local=agenda.to_local(
            session.starts_at, forum.timezone).replace(tzinfo=None),
        ends_local=agenda.to_local(session.ends_at, forum.timezone).replace(tzinfo=None)),
        actor=None)
    agenda.publish(forum, actor=None, confirm_warnings=True)
    result = agenda_pdf.render(forum.id, 2)
    assert result["pruned"] == 1 and not stored(first).exists()
    assert [p.name for p in stored(first).parent.glob("*.pdf")] == [result["pdf"]]
    db.session.expire_all()
    assert agenda.latest_publication(forum).pdf == result["pdf"]


def test_publishing_asks_the_worker_for_the_pdf(forum):
    """Tests run tasks in-process: publishing makes the PDF of the new version."""
    agenda.publish(forum, actor=None, confirm_warnings=True)
    db.session.expire_all()
    publication = agenda.latest_publication(forum)
    assert publication.pdf and publication.pdf.startswith(f"{forum.id}-v1-")
    assert agenda_pdf.pdf_path(publication) == stored(publication.pdf)
    assert agenda_pdf.printable(forum) == stored(publication.pdf)


def test_nothing_is_ever_fetched(tmp_path):
    """Even markup that asks for files gets nothing: no image, no stylesheet, no font."""
    image = tmp_path / "secret.png"
    Image.new("RGB", (30, 30), (255, 0, 0)).save(image, "PNG")
    css = tmp_path / "secret.css"
    css.write_text('body::after { content: "LEAKED-BY-CSS"; }')
    html = (f'<html><head><link rel="stylesheet" href="file://{css}">'
            f'<style>@import url("file://{css}"); @font-face {{ font-family: x; '
            f'src: url("file:///usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"); }}</style>'
            f'</head><body><p>Hello</p><img src="file://{image}">'
            f'<img src="data:image/png;base64,iVBORw0KGgo=">'
            f'<img src="https://example.org/x.png"><iframe src="file:///etc/passwd"></iframe>'
            f'<object data="file:///etc/passwd"></object></body></html>')
    data = agenda_pdf.to_pdf(html)
    text = pdf_text(data)
    assert "Hello" in text and "LEAKED-BY-CSS" not in text and "root:" not in text
    assert b"/Subtype /Image" not in data
    # The same markup with WeasyPrint's own fetcher does read the file: the check is real.
    assert b"/Subtype /Image" in weasyprint.HTML(string=html).write_pdf()


def test_names_print_in_their_own_scripts(make_event, no_pdf_on_publish, caplog):
    caplog.set_level(logging.WARNING, logger="weasyprint")
    event = make_event("silk-road", title="Science Parks Forum 科技园区论坛")
    people = [("Wang Xiaoming", "王小明"), ("Imran Khan", "عمران خان"),
              ("Somchai Jaidee", "สมชาย ใจดี"), ("Rahul Sharma", "राहुल शर्मा"),
              ("Đorđe Petrović", "Ђорђе Петровић"), ("Nino Beridze", "ნინო ბერიძე"),
              ("João Gonçalves", None), ("Ödön Kovács", None), ("محمد عمران", None)]
    ids = [agenda.create_person(agenda.PersonData(name=name, name_native=native,
                                                  organisation_name="Park"), actor=None).id
           for name, native in people]
    start = datetime.combine(event.start_date, datetime.min.time()).replace(hour=9)
    agenda.create_session(event, agenda.SessionData(
        title="Parks of the Belt and Road", kind="panel", starts_local=start,
        ends_local=start + timedelta(hours=1), venue_id=event.venues[0].id,
        people=[(ids[0], "moderator")] + [(i, "panellist") for i in ids[1:]]), actor=None)
    agenda.publish(event, actor=None, confirm_warnings=True)
    data = stored(agenda_pdf.render(event.id, 1)["pdf"]).read_bytes()

    text = pdf_text(data)
    for shown in ("Science Parks Forum 科技园区论坛", "Wang Xiaoming (王小明)",
                  "Somchai Jaidee (สมชาย ใจดี)", "Đorđe Petrović (Ђорђе Петровић)",
                  "Nino Beridze (ნინო ბერიძე)", "João Gonçalves", "Ödön Kovács", "محمد عمران"):
        assert shown in text, shown
    used = embedded_fonts(data)  # every glyph a real one
    assert set(used) == {pdf_font_name(family, bold) for family, bold in [
        ("Noto Sans", False), ("Noto Sans", True), ("Noto Sans SC", False),
        ("Noto Sans SC", True), ("Noto Sans Arabic", False), ("Noto Sans Thai", False),
        ("Noto Sans Georgian", False)]}
    assert set("王小明") <= set(used[pdf_font_name("Noto Sans SC")])
    assert set("科技园区论坛") <= set(used[pdf_font_name("Noto Sans SC", bold=True)])
    assert set("राहुल") <= set(used[pdf_font_name("Noto Sans")])
    assert notdef_warnings(caplog) == []


def test_printable_of_an_event_without_agenda_is_not_found(make_event):
    from eventsys.services.errors import NotFound

    event = make_event("later")
    with pytest.raises(NotFound):
        agenda_pdf.printable(event)
