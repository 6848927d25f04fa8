"""The organiser's list of registrations: filters, search, paging and exports.

Exports are safe to open in a spreadsheet: a value that a spreadsheet would run as a
formula (it starts with =, +, -, @, a tab or a carriage return) is written inert. In CSV it
gets a leading apostrophe (OWASP's advice); in XLSX the cell is typed as text, so the value
stays exactly as the participant wrote it and is never evaluated.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass

from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from sqlalchemy import func, or_, select

from eventsys.extensions import db
from eventsys.i18n import country_name
from eventsys.models import (
    ATTENDANCE_MODES,
    REGISTRATION_STATUSES,
    Event,
    Registration,
    RegistrationQuestion,
)
from eventsys.services import sql

PAGE_SIZE = 50
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class RosterFilter:
    status: str | None = None
    mode: str | None = None
    country: str | None = None
    q: str | None = None

    def clean(self) -> RosterFilter:
        """Unknown values are ignored rather than an error: a filter link that outlived a
        change should still show a list."""
        country = (self.country or "").upper()
        return RosterFilter(
            status=self.status if self.status in REGISTRATION_STATUSES else None,
            mode=self.mode if self.mode in ATTENDANCE_MODES else None,
            country=country if len(country) == 2 and country.isascii()
            and country.isalpha() else None,
            q=" ".join(_CONTROL.sub(" ", self.q or "").split())[:100] or None,
        )


@dataclass
class Page:
    registrations: list[Registration]
    page: int
    pages: int
    total: int


def _query(event: Event, f: RosterFilter):
    query = select(Registration).where(Registration.event_id == event.id)
    if f.status:
        query = query.where(Registration.status == f.status)
    if f.mode:
        query = query.where(Registration.mode == f.mode)
    if f.country:
        query = query.where(Registration.country == f.country)
    if f.q:
        pattern = sql.contains(f.q.lower())
        query = query.where(or_(
            func.lower(Registration.name).like(pattern, escape="\\"),
            func.lower(Registration.email).like(pattern, escape="\\"),
            func.lower(Registration.organisation_name).like(pattern, escape="\\"),
            func.lower(Registration.name_native).like(pattern, escape="\\"),
            Registration.ticket_code == f.q.upper(),
        ))
    return query


def page_of(event: Event, f: RosterFilter, page: int = 1) -> Page:
    f = f.clean()
    query = _query(event, f)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), pages)
    rows = db.session.scalars(
        query.order_by(Registration.id.desc()).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    ).all()
    return Page(list(rows), page, pages, total)


def countries(event: Event) -> list[str]:
    return [c for c in db.session.scalars(
        select(Registration.country).where(Registration.event_id == event.id,
                                           Registration.country.is_not(None))
        .distinct().order_by(Registration.country))]


def inert(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_START) else value


def _rows(event: Event, f: RosterFilter) -> Iterator[list[object]]:
    questions = list(db.session.scalars(
        select(RegistrationQuestion).where(RegistrationQuestion.event_id == event.id)
        .order_by(RegistrationQuestion.position, RegistrationQuestion.id)))
    yield [_("Id"), _("Status"), _("Attending"), _("Name"), _("Name in own script"),
           _("Email"), _("Organisation"), _("Job title"), _("Country code"), _("Country"),
           _("Ticket"), _("Registered (UTC)"), *(q.label for q in questions)]
    query = _query(event, f.clean()).order_by(Registration.id).execution_options(
        yield_per=1000)
    for r in db.session.scalars(query):
        answers = r.answers or {}
        values = []
        for q in questions:
            value = answers.get(str(q.id))
            if isinstance(value, list):
                value = "; ".join(value)
            elif isinstance(value, bool):
                value = _("yes") if value else _("no")
            values.append(value if value is not None else "")
        yield [r.id, r.status, r.mode, r.name, r.name_native or "", r.email,
               r.organisation_name or "", r.job_title or "", r.country or "",
               country_name(r.country), r.ticket_code,
               r.created_at.strftime("%Y-%m-%d %H:%M:%S"), *values]


def export_csv(event: Event, f: RosterFilter) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    for row in _rows(event, f):
        writer.writerow([inert(v) if isinstance(v, str) else v for v in row])
    # A BOM so that Excel opens UTF-8 (Chinese, Urdu, Thai names) as UTF-8.
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def export_xlsx(event: Event, f: RosterFilter) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Registrations"))
    for row in _rows(event, f):
        cells = []
        for value in row:
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # text, never a formula
            cells.append(cell)
        sheet.append(cells)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
