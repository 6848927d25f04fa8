"""How a certificate looks: the organiser's texts filled in for each holder, our own design
for each kind, and many certificates laid out by WeasyPrint at once.

The organiser's heading, body and footer are plain text with placeholders (``{name}``,
``{event}``...). They are never template source: :func:`fill_html` escapes the text and
each value and puts the value where its placeholder was, so a name like
``<img src="file:///etc/passwd">`` prints as those characters. The designs are our own
Jinja files (``templates/certificates/``), autoescaped like every page, and the renderer's
fetcher (``fonts.render_document``) serves the vendored fonts and this template's own
stored images under ``eventsys-image:`` URLs, and nothing else: no file, no network.

Speed: WeasyPrint spends most of a one-certificate render on things done once per
document (the stylesheets, the fonts, the PDF's font subsets), so :func:`render_batch`
lays out a whole batch as one document, one page per certificate, then writes each page
as a standalone PDF of its own (``Document.copy``) with only the glyphs that page uses.
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path

import segno
from babel import dates as babel_dates
from flask import current_app
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from sqlalchemy import select

from eventsys.extensions import db
from eventsys.i18n import country_name
from eventsys.models import CertificateTemplate, Event, User
from eventsys.models.certificate import CERTIFICATE_KINDS, PAGE_SIZES
from eventsys.services import audit, certificate_images, fonts, messaging
from eventsys.services.errors import ServiceError

DESIGNS = Path(__file__).resolve().parents[2] / "templates" / "certificates"


@dataclass(frozen=True)
class CertificateData:
    """Everything printed on one certificate."""

    code: str  # verification code, e.g. "ABCD-EFGH-JKMN-PQRS-TVWX"
    verify_url: str  # absolute URL of /verify/<code> (the QR points there)
    holder_name: str
    holder_name_native: str | None
    organisation: str | None
    country: str | None  # ISO code
    kind: str
    event_title: str
    dates: str  # "7 December 2021"
    cities: str  # "Beijing, Nanning"
    attended: str  # "12 of 12 sessions" / "" for kinds without it
    issue_date: str
    sessions: tuple[str, ...] = ()  # titles (speaker kind: the sessions they spoke in)


# Placeholders -----------------------------------------------------------------------------

PLACEHOLDERS = {
    "name": _l("the holder's name"),
    "name_native": _l("the holder's name in their own script, if they gave one"),
    "organisation": _l("their organisation"),
    "country": _l("their country"),
    "event": _l("the event's title"),
    "dates": _l("the event's dates"),
    "cities": _l("the cities where it took place"),
    "attended": _l("what they attended, e.g. “12 of 12 sessions”"),
    "sessions": _l("the sessions they spoke in (certificates of presentation)"),
    "issue_date": _l("the date of issue"),
    "code": _l("the verification code"),
}

_BRACES = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


def placeholder_errors(text: str) -> list[str]:
    """What is wrong with the placeholders of an organiser's text, in words for them."""
    problems: list[str] = []
    unknown: list[str] = []
    for match in _BRACES.finditer(text or ""):
        found, name = match.group(0), match.group(1)
        if found in ("{{", "}}"):
            continue
        if found == "}":
            problems.append(_("A closing brace has no opening one: placeholders look like "
                              "{name}; write }} for a brace itself."))
        elif name is None:
            problems.append(_("A brace is not closed: placeholders look like {name}; write "
                              "{{ and }} for braces themselves."))
        elif name not in PLACEHOLDERS:
            unknown.append(f"{{{name[:40]}}}")
    if unknown:  # named together, the known ones listed once
        problems.append(ngettext(
            "%(names)s is not a placeholder. Known ones: %(known)s.",
            "%(names)s are not placeholders. Known ones: %(known)s.", len(unknown),
            names=", ".join(dict.fromkeys(unknown)),
            known=", ".join(f"{{{p}}}" for p in PLACEHOLDERS)))
    return list(dict.fromkeys(problems))


def values(item: CertificateData) -> dict[str, str]:
    """The placeholders' values for one holder, as plain text."""
    return {
        "name": item.holder_name,
        "name_native": item.holder_name_native or "",
        "organisation": item.organisation or "",
        "country": country_name(item.country) if item.country else "",
        "event": item.event_title,
        "dates": item.dates,
        "cities": item.cities,
        "attended": item.attended,
        "sessions": "; ".join(item.sessions),
        "issue_date": item.issue_date,
        "code": item.code,
    }


# Values that may be in any script or direction print isolated, so an Arabic name does not
# reorder the English words around it.
_ISOLATED = {"name", "name_native", "organisation", "event", "cities", "sessions"}
# Dates stay on one line: "12–23 August 2019" is not to break after the dash.
_UNBROKEN = {"dates", "issue_date"}


def fill_html(text: str, vals: dict[str, str]) -> Markup:
    """``text`` as HTML: every character escaped, each placeholder replaced by its escaped
    value (names and titles isolated in a ``<bdi>`` with their own direction), ``{{``/``}}``
    by braces, a line break by ``<br>``. Unknown placeholders print as typed (the form
    refuses them on saving)."""
    text = (text or "").replace("\r\n", "\n")
    out: list[Markup] = []

    def literal(chunk: str) -> None:
        out.append(Markup("<br>").join(chunk.split("\n")))

    position = 0
    for match in _BRACES.finditer(text):
        literal(text[position:match.start()])
        token, name = match.group(0), match.group(1)
        if token in ("{{", "}}"):
            literal(token[0])
        elif name in PLACEHOLDERS:
            value = vals.get(name, "")
            if name in _ISOLATED:
                out.append(Markup('<bdi dir="{}">{}</bdi>').format(text_direction(value), value))
            elif name in _UNBROKEN:
                out.append(Markup('<span class="unbroken">{}</span>').format(value))
            else:
                out.append(escape(value))
        else:
            literal(token)
        position = match.end()
    literal(text[position:])
    return Markup("").join(out)


def paragraphs_html(text: str, vals: dict[str, str]) -> list[Markup]:
    """The text's paragraphs (split at blank lines), each filled in as HTML."""
    chunks = re.split(r"\n[ \t]*\n", (text or "").replace("\r\n", "\n").strip())
    return [fill_html(chunk.strip(), vals) for chunk in chunks if chunk.strip()]


# Templates --------------------------------------------------------------------------------

def default_texts(kind: str) -> dict[str, str]:
    """The heading and body a new template of ``kind`` starts with."""
    texts = {
        "completion": (_("Certificate of Completion"),
                       _("has successfully completed {event}, held in {cities}, {dates}, "
                         "attending {attended}.")),
        "participation": (_("Certificate of Participation"),
                          _("participated in {event}, held in {cities}, {dates}.")),
        "speaker": (_("Certificate of Presentation"),
                    _("presented at {event}, held in {cities}, {dates}, in recognition of a "
                      "valuable contribution to its programme.")),
        "organiser": (_("Certificate of Appreciation"),
                      _("in grateful recognition of their work in organising {event}, held in "
                        "{cities}, {dates}.")),
    }
    heading, body = texts[kind]
    return {"heading": heading, "body": body}


def _default_footer(event: Event) -> str:
    names = [host.organisation.name for host in event.hosts if host.organisation]
    if not names:
        return ""
    return _("Organised by %(hosts)s", hosts=", ".join(names))


def template_for(event: Event, kind: str) -> CertificateTemplate:
    """The event's stored template of ``kind``, or an unsaved default for it (not added to
    the session)."""
    if kind not in CERTIFICATE_KINDS:
        raise ValueError(f"not a certificate kind: {kind!r}")
    stored = db.session.scalar(select(CertificateTemplate).where(
        CertificateTemplate.event_id == event.id, CertificateTemplate.kind == kind))
    if stored is not None:
        return stored
    texts = default_texts(kind)
    return CertificateTemplate(
        event_id=event.id, kind=kind, enabled=True, page_size=PAGE_SIZES[0],
        heading=texts["heading"], body=texts["body"], footer=_default_footer(event),
        logos=[], background=None, signatories=[], rule=default_rule(kind))


def default_rule(kind: str) -> dict:
    """Who gets a certificate of ``kind`` until the organiser says otherwise."""
    return {
        "completion": {"confirmed": True, "min_rate": 80},
        "participation": {"confirmed": True, "min_rate": 1},
        "speaker": {"spoke": True},
        "organiser": {"confirmed": True},
    }[kind]


MAX_LOGOS = 4
MAX_SIGNATORIES = 4
MAX_LENGTHS = {"heading": 200, "body": 2000, "footer": 1000}


@dataclass
class Signatory:
    """One signatory as the organiser edits it: a new signature image replaces the stored
    one, ``remove_signature`` drops it."""

    name: str = ""
    title: str = ""
    signature: str | None = None  # the stored image kept
    new_signature: bytes | None = None
    remove_signature: bool = False


@dataclass
class TemplateChanges:
    """What the organiser's form says about a template's texts and images."""

    heading: str
    body: str
    footer: str
    page_size: str
    remove_logos: frozenset[str] = frozenset()
    new_logo: bytes | None = None
    new_background: bytes | None = None
    remove_background: bool = False
    signatories: list[Signatory] = field(default_factory=list)


def text_problems(heading: str, body: str, footer: str) -> list[str]:
    """What is wrong with a template's texts (empty, too long, unknown placeholders)."""
    problems: list[str] = []
    if not heading.strip():
        problems.append(_("The heading is empty."))
    if not body.strip():
        problems.append(_("The text is empty."))
    for name, text in (("heading", heading), ("body", body), ("footer", footer)):
        if len(text) > MAX_LENGTHS[name]:
            problems.append(_("A text is too long (at most %(num)d characters).",
                              num=MAX_LENGTHS[name]))
        problems += placeholder_errors(text)
    problems += glyph_problems(heading, body, footer)
    return list(dict.fromkeys(problems))


def glyph_problems(*texts: str) -> list[str]:
    """The organiser's own text with characters no vendored font draws (an emoji, a rare
    script): they would print as boxes on every certificate."""
    missing = "".join(dict.fromkeys("".join(fonts.missing_glyphs(t) for t in texts if t)))
    if not missing:
        return []
    return [_("These characters cannot be printed (the fonts have no shape for them): "
              "%(chars)s. Leave them out.", chars=" ".join(missing[:20]))]


def save_template(event: Event, kind: str, changes: TemplateChanges, *,
                  actor: User | None) -> CertificateTemplate:
    """Store the organiser's texts and images for ``kind``; ServiceError, in words for them,
    if a text or an image is not right (nothing is saved then). Images are stored before
    the commit: one left over from a refused change is a file no template names."""
    problems = text_problems(changes.heading, changes.body, changes.footer)
    problems += glyph_problems(*(text for s in changes.signatories[:MAX_SIGNATORIES]
                                 for text in (s.name, s.title)))
    if changes.page_size not in PAGE_SIZES:
        problems.append(_("Choose one of the page sizes."))
    if problems:
        raise ServiceError(" ".join(problems))
    template = template_for(event, kind)
    logos = [name for name in template.logos or [] if name not in changes.remove_logos]
    if changes.new_logo is not None:
        if len(logos) >= MAX_LOGOS:
            raise ServiceError(_("A certificate has at most %(num)d logos: remove one first.",
                                 num=MAX_LOGOS))
        logos.append(certificate_images.store(changes.new_logo, "logo"))
    background = None if changes.remove_background else template.background
    if changes.new_background is not None:
        background = certificate_images.store(changes.new_background, "background")
    signatories = []
    for signatory in changes.signatories[:MAX_SIGNATORIES]:
        signature = None if signatory.remove_signature else signatory.signature
        if signatory.new_signature is not None:
            signature = certificate_images.store(signatory.new_signature, "signature")
        name, title = signatory.name.strip()[:120], signatory.title.strip()[:200]
        if name or title or signature:
            signatories.append({"name": name, "title": title, "signature": signature})
    if template.id is None:
        db.session.add(template)
    template.heading = changes.heading.strip()
    template.body = changes.body.strip()
    template.footer = changes.footer.strip() or None
    template.page_size = changes.page_size
    template.logos = logos
    template.background = background
    template.signatories = signatories
    template.updated_by_id = actor.id if actor else None
    audit.record("certificates.template", actor=actor, event_id=event.id, kind=kind,
                 heading=template.heading, page_size=template.page_size, logos=len(logos),
                 background=bool(background), signatories=len(signatories))
    db.session.commit()
    return template


def reset_texts(event: Event, kind: str, *, actor: User | None) -> CertificateTemplate:
    """The kind's default heading, text and footer again; images and signatories stay."""
    template = template_for(event, kind)
    if template.id is None:
        db.session.add(template)
    texts = default_texts(kind)
    template.heading, template.body = texts["heading"], texts["body"]
    template.footer = _default_footer(event) or None
    template.updated_by_id = actor.id if actor else None
    audit.record("certificates.template_reset", actor=actor, event_id=event.id, kind=kind)
    db.session.commit()
    return template


# Rendering --------------------------------------------------------------------------------

# The ink of each kind of certificate, and the gold they share.
INKS = {"completion": "#1f3a5f", "participation": "#17535b", "speaker": "#6d1f30",
        "organiser": "#27482f"}
GOLD = "#b08d3c"
# Width and height in millimetres of each paper, upright.
_PAPER = {"A4": (210, 297), "Letter": (215.9, 279.4)}
# The page's margin, frame and the gap inside it (certificate.css, @page), per side.
_FRAME_MM = 7 + 2.4 + 1.8


@cache
def stylesheet(kind: str, page_size: str) -> str:
    """The design's CSS for ``kind`` on ``page_size``: the fonts, the page, the colours,
    and the certificate's box, which fills the page inside the frame exactly (a
    certificate is always one page: what does not fit is cut off, as the preview shows)."""
    size = page_size if page_size in PAGE_SIZES else PAGE_SIZES[0]
    paper, orientation = size.split()
    width, height = _PAPER[paper]
    if orientation == "landscape":
        width, height = height, width
    css = (DESIGNS / "certificate.css").read_text()
    for name, value in (("FONT_FAMILY", fonts.FONT_FAMILY), ("INK", INKS.get(kind, INKS[
            "completion"])), ("GOLD", GOLD)):
        css = css.replace(name, value)
    return (f"{css}\n@page {{ size: {size}; }}\n"
            f".certificate {{ width: {width - 2 * _FRAME_MM:.1f}mm; "
            f"height: {height - 2 * _FRAME_MM:.1f}mm; }}\n")


def text_direction(text: str | None) -> str:
    """"rtl" when the first letter with a direction is Arabic, Hebrew...; else "ltr". What
    ``dir="auto"`` does in a browser: WeasyPrint leaves it to us."""
    for char in text or "":
        kind = unicodedata.bidirectional(char)
        if kind in ("R", "AL"):
            return "rtl"
        if kind == "L":
            return "ltr"
    return "ltr"


def qr_png(url: str) -> bytes:
    """The QR code of ``url`` as a small black-and-white PNG, 4 pixels a module, printed
    without smoothing (``image-rendering: pixelated``). WeasyPrint draws an inline SVG
    of the same code ten times slower, parsing its path in Python."""
    out = io.BytesIO()
    segno.make(url, error="m", micro=False).save(out, kind="png", scale=QR_SCALE, border=0)
    return out.getvalue()


QR_SCALE = 4


def _qr_name(item: CertificateData) -> str:
    """The QR image's name in the document, from what it encodes: a certificate comes out
    byte for byte the same whichever batch it is printed in (the PDF names images by
    their URL)."""
    return "qr-" + hashlib.sha256(item.verify_url.encode()).hexdigest()[:24] + ".png"


def _images(template: CertificateTemplate) -> dict[str, bytes]:
    """The template's stored images, by stored name: all a render may fetch."""
    names = [*(template.logos or []), template.background,
             *(s.get("signature") for s in template.signatories or [])]
    found: dict[str, bytes] = {}
    for name in names:
        if name and name not in found:
            data = certificate_images.read(name)
            if data is not None:
                found[name] = data
    return found


def _verify_address(url: str, code: str) -> str:
    """Where to verify, as printed under the code: the address without "https://" and
    without the code itself, which is printed just above it."""
    address = re.sub(r"^https?://", "", url)
    return address[:-len(code)].rstrip("/") if code and address.endswith(code) else address


def _signatories(template: CertificateTemplate, images: dict[str, bytes]) -> list[dict]:
    return [{"name": s.get("name") or "", "title": s.get("title") or "",
             "dir": text_direction(s.get("name")),
             "signature": fonts.image_url(s["signature"])
             if s.get("signature") in images else None}
            for s in template.signatories or [] if s.get("name") or s.get("signature")]


def batch_html(event: Event, template: CertificateTemplate,
               items: Sequence[CertificateData], images: dict[str, bytes], *,
               preview: bool = False) -> str:
    """The HTML of one document with a page per item."""
    certificates = []
    for item in items:
        vals = values(item)
        native = (item.holder_name_native or "").strip()
        affiliation = " · ".join(v for v in (item.organisation, vals["country"]) if v)
        certificates.append({
            "item": item,
            "country_name": vals["country"],
            "name_dir": text_direction(item.holder_name),
            "native": native if native and native != item.holder_name else None,
            "native_dir": text_direction(native),
            "affiliation": affiliation,
            "affiliation_dir": text_direction(affiliation),
            "sessions": [(title, text_direction(title)) for title in item.sessions],
            "verify_at": _verify_address(item.verify_url, item.code),
            "heading": fill_html(template.heading, vals),
            "body": paragraphs_html(template.body, vals),
            "footer": paragraphs_html(template.footer or "", vals),
            "qr": fonts.image_url(_qr_name(item)),
        })
    env = current_app.jinja_env
    design = env.get_template(f"certificates/{template.kind}.html")
    return design.render(
        event=event, template=template, certificates=certificates,
        logos=[fonts.image_url(n) for n in template.logos or [] if n in images],
        background=fonts.image_url(template.background)
        if template.background in images else None,
        signatories=_signatories(template, images),
        preview=preview,
        orientation="portrait" if template.page_size.endswith("portrait") else "landscape")


def print_locale() -> str:
    """The certificates' language (``CERTIFICATE_LOCALE``, else the site's), whoever
    renders them. Dates read day, month in words, year ("7 December 2021"), the way most of
    the world reads them: English is British English here."""
    configured = current_app.config.get("CERTIFICATE_LOCALE")
    if configured:
        return configured
    default = current_app.config.get("BABEL_DEFAULT_LOCALE", "en")
    return "en_GB" if default == "en" else default


def render_batch(event: Event, template: CertificateTemplate,
                 items: list[CertificateData], *, preview: bool = False) -> list[bytes]:
    """One standalone PDF per item, in the same order. The items are laid out together as
    one WeasyPrint document, a page each, and each page is written as its own PDF.
    ``preview`` prints "Preview" across each page. In the certificates' language, whoever
    asks: a worker and an organiser's request print alike."""
    if not items:
        return []
    with force_locale(print_locale()):
        return _render_batch(event, template, items, preview)


def _render_batch(event: Event, template: CertificateTemplate,
                  items: list[CertificateData], preview: bool) -> list[bytes]:
    images = _images(template)
    html = batch_html(event, template, items, images, preview=preview)
    images.update((_qr_name(item), qr_png(item.verify_url)) for item in items)
    css = stylesheet(template.kind, template.page_size)
    if template.background in images:
        # The organiser's picture is the page's design: it covers the whole sheet, to its
        # edges (a page's background stops at its margin, so the margin becomes padding),
        # and our frame steps aside; the boxes inside keep their places.
        css += (f'@page {{ background: url("{fonts.image_url(template.background)}") '
                "center / cover no-repeat; margin: 0; border: 0; padding: 11.2mm; }\n"
                ".certificate { border-color: transparent; }\n")
    document = fonts.render_document(html, css, images, lean=True)
    if len(document.pages) != len(items):
        raise RuntimeError(f"{len(items)} certificates laid out on {len(document.pages)} "
                           "pages: a text is too long for one page")
    return [document.copy([page]).write_pdf() for page in document.pages]


# A code no certificate can have: 0 is not in the codes' alphabet.
PREVIEW_CODE = "0000-0000-0000-0000-0000"


def render_preview(event: Event, template: CertificateTemplate,
                   item: CertificateData) -> bytes:
    """The certificate ``item`` would get, marked as a preview."""
    return render_batch(event, template, [item], preview=True)[0]


def sample_data(event: Event, kind: str, dates: str, issue_date: date) -> CertificateData:
    """A made-up holder, for the preview of an event that has nobody eligible yet."""
    return CertificateData(
        code=PREVIEW_CODE, verify_url=messaging.external_url("verify.certificate",
                                                             code=PREVIEW_CODE),
        holder_name="Ana Sample", holder_name_native=None,
        organisation=_("Sample Science Park"), country=None, kind=kind,
        event_title=event.title, dates=dates, cities=", ".join(event.cities),
        attended=_("12 of 12 sessions") if kind in ("completion", "participation") else "",
        issue_date=babel_dates.format_date(issue_date, "long", locale=print_locale()),
        sessions=(_("Opening keynote"),) if kind == "speaker" else ())


# What the fonts cannot draw ---------------------------------------------------------------

def missing_glyph_names(items: Iterable[CertificateData]) -> list[tuple[str, str]]:
    """(text, the characters of it no vendored font draws) for each holder whose name (in
    Latin or native script), organisation or session titles would print with a box; empty
    when everything prints."""
    found: list[tuple[str, str]] = []
    for item in items:
        for name in (item.holder_name, item.holder_name_native, item.organisation,
                     *item.sessions):
            if name:
                missing = fonts.missing_glyphs(name)
                if missing:
                    found.append((name, missing))
    return found
