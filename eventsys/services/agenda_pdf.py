"""The printable programme: a PDF made by a worker with WeasyPrint, once per published
version of the agenda, and kept until the agenda changes.

The HTML comes from a Jinja template (autoescaped, like every page) and is rendered by
``fonts.render_pdf``: no base URL, and a URL fetcher that serves the vendored Noto fonts and
refuses everything else, so whatever an organiser typed, the renderer never reads another
file or opens a connection. The stylesheet is a string for the same reason. Names print in
their own script (Chinese, Arabic and Urdu, Thai, Devanagari, Georgian, Cyrillic...).
"""

from __future__ import annotations

import secrets
from pathlib import Path

from flask import render_template
from flask_babel import gettext as _
from sqlalchemy import select

from eventsys import tasks
from eventsys.extensions import db
from eventsys.models import AgendaPublication, Event
from eventsys.services import agenda, fonts, media
from eventsys.services.errors import NotFound

FILES = "agenda"  # under FILES_DIR

CSS = """
@page {
  size: A4 portrait;
  margin: 18mm 16mm 20mm;
  @bottom-left { content: string(event-title); font-size: 8pt; color: #666; }
  @bottom-right { content: counter(page) " / " counter(pages); font-size: 8pt; color: #666; }
}
html { font-family: FONT_FAMILY; font-size: 9.5pt; line-height: 1.35; color: #111; }
h1 { font-size: 20pt; margin: 0 0 2mm; string-set: event-title content(); }
.facts { margin: 0 0 6mm; color: #333; }
.facts p { margin: 0 0 1mm; }
h2 { font-size: 13pt; margin: 7mm 0 2mm; padding-bottom: 1mm; border-bottom: 1.5pt solid #333;
     break-after: avoid; }
.session { display: flex; gap: 4mm; padding: 2mm 0; border-bottom: .5pt solid #ccc;
           break-inside: avoid; }
.when { flex: 0 0 24mm; font-weight: bold; }
.what { flex: 1; }
.title { font-weight: bold; font-size: 10.5pt; }
.kind { font-size: 7.5pt; text-transform: uppercase; letter-spacing: .04em; color: #555; }
.where, .people { margin: .5mm 0 0; color: #333; }
.people { padding: 0; list-style: none; }
.role { color: #555; }
.description { margin: 1mm 0 0; color: #222; }
.description p { margin: 0 0 1mm; }
.footnote { margin-top: 8mm; font-size: 8pt; color: #666; }
""".replace("FONT_FAMILY", fonts.FONT_FAMILY)


def to_pdf(html: str) -> bytes:
    """HTML to PDF bytes with our fonts and nothing else fetched: no files, no network, not
    even data: URLs."""
    return fonts.render_pdf(html, CSS)


def pdf_path(publication: AgendaPublication) -> Path | None:
    """The publication's PDF on disk, if a worker has made it and it is still there."""
    return media.stored_file(FILES, publication.pdf)


def _publication(event_id: int, version: int) -> AgendaPublication | None:
    return db.session.scalar(select(AgendaPublication).where(
        AgendaPublication.event_id == event_id, AgendaPublication.version == version))


def render(event_id: int, version: int) -> dict:
    """Make the PDF of ``version`` of the event's agenda unless it exists; idempotent."""
    publication = _publication(event_id, version)
    if publication is None:
        return {"missing": True}
    if pdf_path(publication) is not None:
        return {"skipped": True}
    event = db.session.get(Event, event_id)
    html = render_template("agenda_pdf/agenda.html", event=event, venues=list(event.venues),
                           published=agenda.read(publication, event))
    publication_id = publication.id
    # Nothing is held while WeasyPrint works (on SQLite an open transaction is the lock).
    db.session.rollback()
    data = to_pdf(html)
    name = f"{event_id}-v{version}-{secrets.token_urlsafe(18)}.pdf"
    path = media.write_file(FILES, name, data)
    publication = db.session.scalar(select(AgendaPublication).where(
        AgendaPublication.id == publication_id).with_for_update())
    if pdf_path(publication) is not None:  # another worker finished first: keep theirs
        db.session.rollback()
        path.unlink(missing_ok=True)
        return {"skipped": True}
    publication.pdf = name
    # Older versions' PDFs are never served again (the agenda page links the latest).
    older = db.session.scalars(select(AgendaPublication).where(
        AgendaPublication.event_id == event_id, AgendaPublication.version < version,
        AgendaPublication.pdf.is_not(None))).all()
    stale = [old.pdf for old in older]
    for old in older:
        old.pdf = None
    db.session.commit()
    for old_name in stale:  # after the commit: a rollback would point at deleted files
        path = media.stored_file(FILES, old_name)
        if path is not None:
            path.unlink(missing_ok=True)
    return {"pdf": name, "pruned": len(stale)}


def printable(event: Event) -> Path | None:
    """The PDF of the event's latest agenda; if it is not made yet, ask a worker for it
    (made at once where tasks run in-process) and return it if it is there now, else None.
    NotFound when no agenda is published."""
    publication = agenda.latest_publication(event)
    if publication is None:
        raise NotFound(_("The programme has not been published yet."))
    path = pdf_path(publication)
    if path is not None:
        return path
    event_id, version = event.id, publication.version
    db.session.commit()  # the task runs in its own session; hold no lock it would wait for
    tasks.enqueue("eventsys.render_agenda_pdf", event_id, version)
    publication = _publication(event_id, version)
    return pdf_path(publication) if publication is not None else None

