"""How certificates look (eventsys/services/certificate_render.py): one standalone PDF per
holder from one WeasyPrint document, names in their own scripts with real glyphs (read back
from the embedded fonts), the organiser's text filled in as escaped text, nothing fetched
but the vendored fonts and the template's own images, every page size, and the images an
organiser uploads checked and re-encoded."""

from __future__ import annotations

import io
import logging
import re
from dataclasses import replace
from datetime import date

import pytest
from PIL import Image
from pypdf import PdfReader

from eventsys import create_app
from eventsys.extensions import db
from eventsys.models import AuditLog, CertificateTemplate, Event
from eventsys.models.certificate import CERTIFICATE_KINDS, PAGE_SIZES
from eventsys.services import certificate_images, certificate_render, fonts
from eventsys.services.certificate_render import (
    CertificateData,
    Signatory,
    TemplateChanges,
    fill_html,
    placeholder_errors,
    render_batch,
)
from eventsys.services.errors import ServiceError
from tests.conftest import base_config
from tests.services.test_fonts import embedded_fonts, notdef_warnings, pdf_font_name

SCRIPTS = [  # (name in Latin, native name, the family that must draw the native name)
    ("Wang Xiaoming", "王小明", "Noto Sans SC"),
    ("Ayesha Siddiqui", "عائشہ صدیقی", "Noto Sans Arabic"),  # Urdu
    ("Muhammad Imran", "محمد عمران", "Noto Sans Arabic"),
    ("Kanokwan Thongdee", "กนกวรรณ ทองดี", "Noto Sans Thai"),
    ("Milica Jovanović", "Милица Јовановић", "Noto Sans"),
    ("Nino Beridze", "ნინო ბერიძე", "Noto Sans Georgian"),
    ("Priya Raghavan", "प्रिया राघवन", "Noto Sans"),
    ("Kim Minjun", "김민준", "Noto Sans KR"),
    ("Ödön Kovács", None, None),
    ("João Gonçalves", None, None),
]


def item(n: int = 0, **changes) -> CertificateData:
    name, native, _family = SCRIPTS[n % len(SCRIPTS)]
    code = f"ABCD-EFGH-JKMN-PQRS-TV{'WXYZ23456789'[n % 12]}{'WXYZ23456789'[n // 12 % 12]}"
    data = CertificateData(
        code=code, verify_url=f"https://certificates.example.org/verify/{code}",
        holder_name=name, holder_name_native=native, organisation="National Science Park",
        country="PK", kind="completion", event_title="Science Park Management Workshop",
        dates="12–23 August 2019", cities="Beijing, Nanning", attended="12 of 12 sessions",
        issue_date="30 August 2019")
    return replace(data, **changes)


def template(kind: str = "completion", **fields) -> CertificateTemplate:
    texts = certificate_render.default_texts(kind)
    values = {"event_id": 1, "kind": kind, "page_size": "A4 landscape",
              "heading": texts["heading"], "body": texts["body"],
              "footer": "Organised by the Institute", "logos": [], "background": None,
              "signatories": [{"name": "Prof. Li Wei", "title": "Director", "signature": None}]}
    values.update(fields)
    return CertificateTemplate(**values)


EVENT = Event(id=1, slug="workshop", title="Science Park Management Workshop")


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def flat(pdf: bytes) -> str:
    return re.sub(r"\s+", " ", text_of(pdf))


def squash(text: str) -> str:
    """Without any spaces: where a line breaks in the PDF is the layout's business."""
    return re.sub(r"\s+", "", text)


def image_count(pdf: bytes) -> int:
    """The images drawn on the page, inside form XObjects (a page background) too."""
    def count(resources) -> int:
        found = 0
        for ref in resources.get("/XObject", {}).values():
            xobject = ref.get_object()
            if xobject["/Subtype"] == "/Image":
                found += 1
            elif "/Resources" in xobject:
                found += count(xobject["/Resources"])
        return found

    return count(PdfReader(io.BytesIO(pdf)).pages[0]["/Resources"])


def png(size=(400, 200), mode="RGBA", colour=(20, 60, 120, 255), fmt="PNG") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, colour if mode != "RGB" else colour[:3]).save(out, fmt)
    return out.getvalue()


@pytest.fixture(scope="module")
def render_app(tmp_path_factory):
    """An app to render in (templates, translations, the files directory), without a
    database: rendering reads nothing from it."""
    tmp = tmp_path_factory.mktemp("render")
    app = create_app(base_config(tmp / "instance", f"sqlite:///{tmp / 'unused.sqlite'}"))
    with app.app_context():
        yield app


# One PDF per certificate ------------------------------------------------------------------

def test_a_batch_is_one_standalone_pdf_per_item_in_order(render_app):
    items = [item(n) for n in range(len(SCRIPTS))]
    pdfs = render_batch(EVENT, template(), items)
    assert len(pdfs) == len(items)
    for data, pdf in zip(items, pdfs, strict=True):
        reader = PdfReader(io.BytesIO(pdf))
        assert pdf.startswith(b"%PDF-") and len(reader.pages) == 1
        text = flat(pdf)
        assert data.holder_name in text and data.code in text
        assert "CERTIFICATE OF COMPLETION" in text
        assert squash("has successfully completed Science Park Management Workshop, held in "
                      "Beijing, Nanning, 12–23 August 2019, attending 12 of 12 sessions.") \
            in squash(text)
        assert "National Science Park · Pakistan" in text
        assert "30 August 2019" in text and "Prof. Li Wei" in text
        assert "Verify at certificates.example.org/verify" in text
        # Only its own holder: nothing of the others' pages came along.
        others = {i.holder_name for i in items} - {data.holder_name}
        assert not any(other in text for other in others)
        # Standalone: every font it uses is embedded in it, with the glyphs it prints.
        assert embedded_fonts(pdf)
        assert image_count(pdf) == 1  # the QR code
    assert render_batch(EVENT, template(), []) == []


def test_the_same_certificate_comes_out_byte_for_byte_the_same_in_any_batch(render_app):
    alone = render_batch(EVENT, template(), [item(3)])[0]
    among = render_batch(EVENT, template(), [item(1), item(3), item(5)])[1]
    assert alone == among
    assert b"/CreationDate" not in alone


@pytest.mark.parametrize(("latin", "native", "family"), [s for s in SCRIPTS if s[1]])
def test_names_print_in_their_own_script_with_real_glyphs(render_app, caplog, latin, native,
                                                         family):
    caplog.set_level(logging.WARNING, logger="weasyprint")
    pdf = render_batch(EVENT, template(), [item(holder_name=latin, holder_name_native=native)])[0]
    used = embedded_fonts(pdf)  # fails on a .notdef or made-up glyph
    assert pdf_font_name(family) in used
    assert set(native.replace(" ", "")) & set(used[pdf_font_name(family)])
    assert notdef_warnings(caplog) == []
    # Latin names in the bold of Noto Sans, never a machine font.
    assert set(latin.replace(" ", "")) <= set(used[pdf_font_name("Noto Sans", bold=True)])
    assert all(name.startswith("eventsys-Noto-Sans") for name in used)


def test_accented_latin_names_and_the_native_name_as_holder(render_app, caplog):
    caplog.set_level(logging.WARNING, logger="weasyprint")
    pdfs = render_batch(EVENT, template(), [
        item(holder_name="Ödön Kovács", holder_name_native=None),
        item(holder_name="Nguyễn Văn An", holder_name_native="Nguyễn Văn An"),  # same: once
        item(holder_name="王小明", holder_name_native=None)])
    assert "Ödön Kovács" in text_of(pdfs[0])
    assert text_of(pdfs[1]).count("Nguyễn Văn An") == 1
    assert pdf_font_name("Noto Sans SC", bold=True) in embedded_fonts(pdfs[2])
    assert notdef_warnings(caplog) == []


def test_arabic_and_urdu_names_are_set_right_to_left(render_app):
    html = certificate_render.batch_html(EVENT, template(), [
        item(holder_name="محمد عمران", holder_name_native="عائشہ صدیقی",
             organisation="جامعہ پنجاب")], {})
    assert '<p class="name" dir="rtl">محمد عمران</p>' in html
    assert '<p class="name-native" dir="rtl">عائشہ صدیقی</p>' in html
    assert 'class="affiliation" dir="rtl"' in html
    pdf = render_batch(EVENT, template(), [item(holder_name="Muhammad Imran",
                                                holder_name_native="محمد عمران")])[0]
    line = next(line for line in text_of(pdf).splitlines() if "عمران" in line)
    assert line.strip().startswith("محمد")  # the first word typed reads first
    assert certificate_render.text_direction("Ödön") == "ltr"
    assert certificate_render.text_direction("  123 עברית") == "rtl"
    assert certificate_render.text_direction("") == "ltr"


def test_every_kind_has_its_design(render_app):
    for kind in CERTIFICATE_KINDS:
        data = item(kind=kind, sessions=("Parks and cities", "Roundtable on finance"))
        pdf = render_batch(EVENT, template(kind), [data])[0]
        text = flat(pdf)
        assert certificate_render.default_texts(kind)["heading"].upper() in text
        assert ("“Parks and cities”" in text) == (kind == "speaker")


@pytest.mark.parametrize("page_size", PAGE_SIZES)
def test_every_page_size_is_one_page_of_that_size(render_app, page_size):
    pdfs = render_batch(EVENT, template(page_size=page_size, signatories=[
        {"name": f"Signatory {n}", "title": "Director of a long-named institute"}
        for n in range(4)]), [item(0), item(1)])
    width, height = {"A4": (595.28, 841.89), "Letter": (612, 792)}[page_size.split()[0]]
    if page_size.endswith("landscape"):
        width, height = height, width
    for pdf in pdfs:
        reader = PdfReader(io.BytesIO(pdf))
        assert len(reader.pages) == 1
        box = reader.pages[0].mediabox
        assert (float(box.width), float(box.height)) == pytest.approx((width, height), abs=1)
        assert all(f"Signatory {n}" in text_of(pdf) for n in range(4))


def test_a_text_too_long_for_the_page_is_cut_not_spread_over_two(render_app):
    long_body = "\n\n".join(["{event} " * 40] * 12)
    pdfs = render_batch(EVENT, template(body=long_body), [item(0), item(1), item(2)])
    assert [len(PdfReader(io.BytesIO(pdf)).pages) for pdf in pdfs] == [1, 1, 1]


def test_a_preview_says_so(render_app):
    pdf = certificate_render.render_preview(EVENT, template(), item(
        code=certificate_render.PREVIEW_CODE))
    assert "PREVIEW" in squash(text_of(pdf))
    assert "PREVIEW" not in squash(text_of(render_batch(EVENT, template(), [item()])[0]))


# The organiser's text ---------------------------------------------------------------------

def test_placeholders_are_filled_with_escaped_values():
    values = certificate_render.values(item(holder_name='<b>Ann</b> & "Bo"'))
    html = fill_html("Dear {name}, {{not a placeholder}} <i>{event}</i>\nnext {unknown}",
                     values)
    assert str(html) == (
        'Dear <bdi dir="ltr">&lt;b&gt;Ann&lt;/b&gt; &amp; &#34;Bo&#34;</bdi>, '
        '{not a placeholder} &lt;i&gt;<bdi dir="ltr">Science Park Management Workshop</bdi>'
        "&lt;/i&gt;<br>next {unknown}")
    assert str(fill_html("{attended} {dates}", values)) == \
        '12 of 12 sessions <span class="unbroken">12–23 August 2019</span>'
    # Python's format syntax is text, not a way into objects.
    assert str(fill_html("{name.__class__} {0} {name!r}", values)) == \
        "{name.__class__} {0} {name!r}"


def test_unknown_placeholders_are_an_error_in_words():
    assert placeholder_errors("Dear {name} of {organisation}, {{literal}}") == []
    for text in ("{nmae}", "{0}", "{name!r}", "{name.__class__}", "{name:>10}", "an { alone"):
        problems = placeholder_errors(text)
        assert problems and all(isinstance(p, str) for p in problems), text
    assert "{nmae} is not a placeholder" in placeholder_errors("{nmae}")[0]
    assert "{name}" in placeholder_errors("{nmae}")[0]  # and which ones there are
    (both,) = placeholder_errors("{nmae} and {evnt}")  # named together, the list once
    assert both.startswith("{nmae}, {evnt} are not placeholders") and both.count("{cities}") == 1
    assert placeholder_errors("a stray } here")[0].startswith("A closing brace has no opening")


# Safety: nothing fetched but our fonts and the template's images --------------------------

HOSTILE = [
    '<img src="file:///etc/passwd">',
    '<img src="http://169.254.169.254/latest/meta-data/">',
    '<link rel="stylesheet" href="file:///etc/passwd">',
    '<style>@import url("file:///etc/passwd");</style>',
    '<object data="file:///etc/passwd"></object>',
    "{{ config }} {% include '/etc/passwd' %}",
]


def test_hostile_names_and_texts_print_as_text_and_fetch_nothing(render_app, monkeypatch):
    fetched = []
    real = fonts._serve_any
    monkeypatch.setattr(fonts, "_serve_any",
                        lambda url, images: (fetched.append(url), real(url, images))[1])
    hostile = template(
        heading='Certificate <img src="file:///etc/hostname">',
        body="{name} " + " ".join(HOSTILE),
        footer='<a href="http://127.0.0.1:6379/">{organisation}</a>',
        logos=["../../../../etc/passwd", "0123456789abcdef0123456789abcdef.png"],
        background="file:///etc/passwd",
        signatories=[{"name": "<script>x</script>", "title": "", "signature": "/etc/passwd"}])
    pdf = render_batch(EVENT, hostile, [item(
        holder_name=HOSTILE[0], holder_name_native=HOSTILE[1], organisation=HOSTILE[2])])[0]
    text = squash(text_of(pdf))
    for snippet in ['<img src="file:///etc/passwd">',
                    '<img src="http://169.254.169.254/latest/meta-data/">',
                    "{ config } {% include '/etc/passwd' %}", "<script>x</script>",
                    '<a href="http://127.0.0.1:6379/">']:
        assert squash(snippet) in text, snippet
    assert "root:" not in text
    assert image_count(pdf) == 1  # the QR code and nothing else
    assert all(url.startswith(("eventsys-font:", "eventsys-image:qr-")) for url in fetched)


@pytest.mark.parametrize("url", [
    "eventsys-image:../../../../etc/passwd",
    "eventsys-image:/etc/passwd",
    "eventsys-image:other.png",
    "eventsys-image:logo.png/../../secret",
    "EVENTSYS-IMAGE:logo.png",
    "file:///etc/passwd",
    "http://169.254.169.254/",
    "data:image/png;base64,iVBORw0KGgo=",
])
def test_the_image_scheme_serves_only_the_given_images(url):
    fetcher = fonts.fetcher({"logo.png": png()})
    with pytest.raises(ValueError, match="nothing but their fonts"):
        fetcher.fetch(url)
    response = fetcher.fetch("eventsys-image:logo.png")
    assert response.read()[:4] == b"\x89PNG"
    response.close()


def test_an_image_that_is_not_one_is_refused_by_the_fetcher():
    with pytest.raises(ValueError):
        fonts.fetcher({"x.png": b"<html>not an image</html>"}).fetch("eventsys-image:x.png")


# Images -----------------------------------------------------------------------------------

def test_the_templates_images_print(render_app):
    logo = certificate_images.store(png((600, 300)), "logo")
    second = certificate_images.store(png((300, 300), colour=(200, 20, 20, 255)), "logo")
    background = certificate_images.store(png((1200, 850), "RGB", (250, 245, 230, 255)),
                                          "background")
    signature = certificate_images.store(png((500, 150), colour=(0, 0, 0, 200)), "signature")
    assert background.endswith(".jpg") and logo.endswith(".png")
    designed = template(logos=[logo, second], background=background, signatories=[
        {"name": "Prof. Li Wei", "title": "Director", "signature": signature},
        {"name": "Dr. Sara Khan", "title": "Chair", "signature": None}])
    pdfs = render_batch(EVENT, designed, [item(0), item(1)])
    for pdf in pdfs:
        assert image_count(pdf) == 5  # two logos, the background, a signature, the QR code


def test_uploaded_images_are_checked_and_re_encoded(render_app):
    name = certificate_images.store(png((3000, 1000)), "logo")
    assert re.fullmatch(r"[0-9a-f]{32}\.png", name)
    with Image.open(io.BytesIO(certificate_images.read(name))) as stored:
        assert stored.format == "PNG" and stored.size == (600, 200)  # 17 mm high at 300 dpi
    assert certificate_images.store(png((3000, 1000)), "logo") == name  # same picture: one file
    jpeg = png((800, 600), "RGB", fmt="JPEG")
    assert certificate_images.store(jpeg, "background").endswith(".jpg")
    assert certificate_images.store(jpeg, "signature").endswith(".png")
    for bad, message in [
            (b"", "empty"),
            (b"GIF89a" + b"\0" * 100, "not an image"),
            (png(fmt="GIF", mode="RGB"), "PNG or a JPEG"),
            (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "not an image"),
            (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "not an image"),
            (b"x" * (certificate_images.MAX_BYTES + 1), "too large")]:
        with pytest.raises(ServiceError, match=message):
            certificate_images.store(bad, "logo")
    bomb = io.BytesIO()
    Image.new("1", (7_000, 7_000)).save(bomb, "PNG")
    with pytest.raises(ServiceError, match="too many pixels"):
        certificate_images.store(bomb.getvalue(), "background")
    assert certificate_images.read("../../config.py") is None
    assert certificate_images.read(None) is None


# What the fonts cannot draw ---------------------------------------------------------------

def test_names_the_fonts_cannot_draw_are_reported():
    linear_b = "\U00010000"
    items = [item(0), item(1, holder_name=f"Ann {linear_b}"),
             item(2, holder_name_native="ᚠᚢᚦ"), item(3, organisation="Park 🚀")]
    assert certificate_render.missing_glyph_names(items) == [
        (f"Ann {linear_b}", linear_b), ("ᚠᚢᚦ", "ᚠᚢᚦ"), ("Park 🚀", "🚀")]
    assert certificate_render.missing_glyph_names([item(n) for n in range(10)]) == []


# Templates in the database ----------------------------------------------------------------

def test_template_for_is_the_stored_one_or_a_default(make_event):
    event = make_event("forum", title="Innovation Forum")
    default = certificate_render.template_for(event, "speaker")
    assert default.id is None and default not in db.session
    assert default.heading == "Certificate of Presentation"
    assert default.page_size == "A4 landscape" and default.logos == []
    assert default.rule == {"spoke": True}
    assert default.footer == "Organised by Great Wall Enterprise Institute"
    for kind in CERTIFICATE_KINDS:
        texts = certificate_render.default_texts(kind)
        assert placeholder_errors(texts["heading"] + texts["body"]) == []
    saved = certificate_render.save_template(event, "speaker", TemplateChanges(
        heading="Speaker", body="spoke at {event}", footer="", page_size="A4 portrait"),
        actor=None)
    assert certificate_render.template_for(event, "speaker") is saved
    assert saved.footer is None
    with pytest.raises(ValueError):
        certificate_render.template_for(event, "honorary")


def test_saving_checks_texts_and_stores_images(make_event):
    event = make_event("forum")
    with pytest.raises(ServiceError, match="is not a placeholder"):
        certificate_render.save_template(event, "completion", TemplateChanges(
            heading="Certificate", body="Dear {nmae}", footer="", page_size="A4 landscape"),
            actor=None)
    with pytest.raises(ServiceError, match="page sizes"):
        certificate_render.save_template(event, "completion", TemplateChanges(
            heading="Certificate", body="x", footer="", page_size="A3"), actor=None)
    assert db.session.scalar(db.select(CertificateTemplate)) is None
    saved = certificate_render.save_template(event, "completion", TemplateChanges(
        heading="Certificate", body="completed {event}", footer="{cities}",
        page_size="Letter landscape", new_logo=png(), new_background=png(mode="RGB"),
        signatories=[Signatory("Li Wei", "Director", new_signature=png((300, 90))),
                     Signatory(), Signatory("", "")]), actor=None)
    assert len(saved.logos) == 1 and saved.background.endswith(".jpg")
    assert [s["name"] for s in saved.signatories] == ["Li Wei"]
    signature = saved.signatories[0]["signature"]
    assert certificate_images.read(signature)[:4] == b"\x89PNG"
    # Removing and replacing.
    saved = certificate_render.save_template(event, "completion", TemplateChanges(
        heading="Certificate", body="completed {event}", footer="", page_size="A4 landscape",
        remove_logos=frozenset(saved.logos), remove_background=True,
        signatories=[Signatory("Li Wei", "Director", signature=signature,
                               remove_signature=True)]), actor=None)
    assert saved.logos == [] and saved.background is None
    assert saved.signatories == [{"name": "Li Wei", "title": "Director", "signature": None}]
    for _n in range(certificate_render.MAX_LOGOS):
        certificate_render.save_template(event, "completion", TemplateChanges(
            heading="C", body="b", footer="", page_size="A4 landscape",
            new_logo=png(colour=(_n, 0, 0, 255))), actor=None)
    with pytest.raises(ServiceError, match="at most 4 logos"):
        certificate_render.save_template(event, "completion", TemplateChanges(
            heading="C", body="b", footer="", page_size="A4 landscape", new_logo=png()),
            actor=None)
    assert db.session.scalar(db.select(db.func.count()).select_from(AuditLog).where(
        AuditLog.action == "certificates.template")) >= 3


def test_sample_data_for_a_preview(make_event):
    event = make_event("forum", title="Innovation Forum")
    sample = certificate_render.sample_data(event, "completion", "1 May 2030", date(2030, 5, 2))
    assert sample.code == certificate_render.PREVIEW_CODE
    assert sample.verify_url.endswith("/verify/" + certificate_render.PREVIEW_CODE)
    assert sample.cities == "Beijing" and sample.issue_date == "2 May 2030"


def test_each_image_is_encoded_once_for_a_whole_batch(render_app, monkeypatch):
    """WeasyPrint would encode the logo again for each certificate's PDF."""
    from collections import OrderedDict

    from weasyprint.images import RasterImage

    memo = RasterImage.__dict__["_get_png_data"].__func__
    assert isinstance(memo, fonts._EncodedImages)
    encoded = []
    real = memo.encode
    monkeypatch.setattr(memo, "encode", lambda image: (encoded.append(image.size), real(image))[1])
    monkeypatch.setattr(memo, "kept", OrderedDict())
    monkeypatch.setattr(memo, "size", 0)
    logo = certificate_images.store(png((600, 200), colour=(9, 99, 9, 255)), "logo")
    pdfs = render_batch(EVENT, template(logos=[logo]), [item(n) for n in range(5)])
    assert all(image_count(pdf) == 2 for pdf in pdfs)
    assert encoded.count((600, 200)) == 2  # its colours and its transparency, once each
    assert len(encoded) == 2 + 5  # and each certificate's own QR code
