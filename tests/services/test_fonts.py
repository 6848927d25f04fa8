"""The fonts of printed documents: each participant's script prints with a vendored Noto
font (never a box, never a font the machine happens to have), missing_glyphs names what
would not print, and WeasyPrint's fetcher hands out those fonts and nothing else.

PDFs are read back with pypdf: the text, and for each embedded font the glyphs it draws."""

from __future__ import annotations

import io
import logging
import re
import unicodedata

import pytest
import weasyprint
from fontTools.ttLib import TTFont
from pypdf import PdfReader

from eventsys.services import fonts

CSS = f"html {{ font-family: {fonts.FONT_FAMILY}; }}"

NAMES = [  # (name, the family whose glyphs must draw it, regular and bold)
    ("王小明", "Noto Sans SC"),
    ("黃國華", "Noto Sans SC"),  # traditional
    ("さくら", "Noto Sans SC"),
    ("김민준", "Noto Sans KR"),
    ("محمد عمران", "Noto Sans Arabic"),
    ("عمران خان", "Noto Sans Arabic"),
    ("ڈاکٹر شیریں مزاری", "Noto Sans Arabic"),  # Urdu letters: ڈ ٹ ں ی
    ("สมชาย ใจดี", "Noto Sans Thai"),
    ("राहुल शर्मा", "Noto Sans"),  # Noto Sans has Devanagari
    ("Ђорђе Петровић", "Noto Sans"),
    ("ნინო ბერიძე", "Noto Sans Georgian"),
    ("Νίκος Παπαδόπουλος", "Noto Sans"),
    ("João Gonçalves", "Noto Sans"),
    ("Ödön Kovács", "Noto Sans"),
    ("Nguyễn Văn An", "Noto Sans"),
]
# Text in a PDF is one Unicode string per glyph, the first one WeasyPrint met it with. Where
# a font draws two letters with one shared glyph (Noto Arabic builds خ and ن from a dotless
# shape and a dot; the Devanagari vowel sign ा reused inside a reph cluster), text copied
# out of the PDF differs from the name, though the printed name is right.
COPIED_OTHERWISE = {"عمران خان", "ڈاکٹر شیریں مزاری", "राहुल शर्मा"}


def pdf_font_name(family: str, bold: bool = False) -> str:
    """How WeasyPrint names a vendored family's font in the PDF (subset tag aside)."""
    return (fonts.CSS_PREFIX + family).replace(" ", "-") + ("-Bold" if bold else "")


def embedded_fonts(data: bytes) -> dict[str, str]:
    """Each font embedded in the PDF, by name without the subset tag, and the text its
    glyphs stand for. Fails if a glyph is .notdef or one WeasyPrint made up for a character
    the font lacks (ids past the font's last glyph): everything printed is a real glyph."""
    found: dict[str, str] = {}
    for page in PdfReader(io.BytesIO(data)).pages:
        for ref in page["/Resources"]["/Font"].values():
            font = ref.get_object()
            name = str(font["/BaseFont"]).split("+", 1)[1]
            descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"]
            program = descriptor.get_object()["/FontFile2"].get_object().get_data()
            glyph_count = TTFont(io.BytesIO(program))["maxp"].numGlyphs
            cmap = font["/ToUnicode"].get_object().get_data().decode()
            pairs = "".join(re.findall(r"beginbfchar(.*?)endbfchar", cmap, re.DOTALL))
            for glyph, text in re.findall(r"<([0-9a-f]{4})> <([0-9a-f]*)>", pairs):
                assert 0 < int(glyph, 16) < glyph_count, (name, glyph, text)
                found[name] = found.get(name, "") + bytes.fromhex(text).decode("utf-16-be")
    return found


def pdf_lines(data: bytes) -> list[str]:
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    return [line.strip() for line in text.splitlines() if line.strip()]


def notdef_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name.startswith("weasyprint") and ".notdef" in r.getMessage()]


@pytest.mark.parametrize(("name", "family"), NAMES)
def test_a_name_prints_with_the_noto_font_of_its_script(name, family, caplog):
    caplog.set_level(logging.WARNING, logger="weasyprint")
    data = fonts.render_pdf(f"<p>{name}</p><p><b>{name}</b></p>", CSS)
    used = embedded_fonts(data)
    assert set(used) == {pdf_font_name(family), pdf_font_name(family, bold=True)}
    assert notdef_warnings(caplog) == []
    assert fonts.missing_glyphs(name) == ""


def test_names_round_trip_through_the_pdf_text(caplog):
    caplog.set_level(logging.WARNING, logger="weasyprint")
    html = "".join(f"<p>{name}</p><p><b>{name}</b></p>" for name, _family in NAMES)
    data = fonts.render_pdf(f"<html lang='en'><body>{html}</body></html>", CSS)
    lines = pdf_lines(data)
    assert len(lines) == 2 * len(NAMES)
    for (name, _family), regular, bold in zip(NAMES, lines[::2], lines[1::2], strict=True):
        if name not in COPIED_OTHERWISE:
            assert (regular, bold) == (name, name)
    # Arabic reads right to left: the first word in the text is the first one typed.
    assert lines[2 * [name for name, _family in NAMES].index("محمد عمران")].startswith("محمد")
    used = embedded_fonts(data)
    assert {pdf_font_name(family, bold) for _name, family in NAMES for bold in (False, True)} \
        == set(used)
    assert set("王小明黃國華さくら") <= set(used[pdf_font_name("Noto Sans SC")])
    assert set("สมชายใจดี") <= set(used[pdf_font_name("Noto Sans Thai", bold=True)])
    assert set("राहुलशर्मा") <= set(used[pdf_font_name("Noto Sans")])
    assert notdef_warnings(caplog) == []


def test_emphasis_prints_in_the_italic():
    data = fonts.render_pdf("<p><em>Ödön Kovács, Ђорђе</em> 王小明</p>", CSS)
    assert pdf_lines(data) == ["Ödön Kovács, Ђорђе 王小明"]
    used = embedded_fonts(data)
    assert set("ÖdönKovács") | set("Ђорђе") <= set(used[pdf_font_name("Noto Sans") + "-Italic"])
    assert set("王小明") <= set(used[pdf_font_name("Noto Sans SC")])


def test_what_missing_glyphs_reports_is_what_prints_as_a_box(caplog):
    """Linear B is in no vendored font (nor in DejaVu): reported, and WeasyPrint prints
    .notdef for it. A name that prints is not reported."""
    caplog.set_level(logging.WARNING, logger="weasyprint")
    linear_b = "\U00010000"
    assert fonts.missing_glyphs(f"Ödön {linear_b}") == linear_b
    fonts.render_pdf(f"<p>Ödön {linear_b}</p>", CSS)
    assert any("U+10000" in message for message in notdef_warnings(caplog))


def test_missing_glyphs():
    assert fonts.missing_glyphs("") == ""
    for name, _family in NAMES:
        assert fonts.missing_glyphs(name) == "", name
    # Decomposed accents print with the precomposed glyph; joiners, direction marks, variation
    # selectors, tabs and newlines need no glyph.
    decomposed = unicodedata.normalize("NFD", "João Gonçalves, Nguyễn Văn An")
    assert decomposed != unicodedata.normalize("NFC", decomposed)
    assert fonts.missing_glyphs(decomposed) == ""
    assert fonts.missing_glyphs("\u200dक्\u200d\u200f\u200e\ufe0f\t\n\u00a0\u3000") == ""
    # Each character once, in order of appearance.
    emoji, linear_b, private, unassigned = "\U0001F600", "\U00010000", "\ue000", "\u0378"
    assert fonts.missing_glyphs(f"王 {emoji}{linear_b} {emoji} {private}{unassigned}") \
        == emoji + linear_b + private + unassigned
    assert fonts.missing_glyphs("ᚠᚢᚦ") == "ᚠᚢᚦ"  # runes: no font for them


@pytest.mark.parametrize("url", [
    "file:///etc/passwd",
    (fonts.FONTS_DIR / "noto-sans-400.woff2").as_uri(),  # our file, but not by its URL
    "http://127.0.0.1/",
    "http://169.254.169.254/latest/meta-data/",
    "https://example.org/font.woff2",
    "data:font/ttf;base64,AAEAAAAKAIAAAwAgT1MvMg==",
    "eventsys-font:../../../../etc/passwd",
    "eventsys-font:noto-sans-400.woff2/../../../../../etc/passwd",
    "eventsys-font:..%2F..%2F..%2Fconfig.py",
    "eventsys-font:/etc/passwd",
    "eventsys-font://127.0.0.1/noto-sans-400.woff2",
    "eventsys-font:noto-sans-400.woff2?x",
    "eventsys-font:noto-sans.OFL.txt",
    "eventsys-font:README.md",
    "EVENTSYS-FONT:noto-sans-400.woff2",
])
def test_the_fetcher_refuses_everything_but_the_fonts(url):
    with pytest.raises(ValueError, match="nothing but their fonts"):
        fonts.fetcher().fetch(url)


def test_the_fetcher_serves_each_font_as_truetype():
    for font in fonts.FONTS:
        response = fonts.fetcher().fetch(font.url)
        data = response.read()
        response.close()
        assert data[:4] == b"\0\1\0\0", font  # decompressed once, not per render
        ttfont = TTFont(io.BytesIO(data))
        assert ttfont["name"].getDebugName(1) == font.family
        assert ttfont["OS/2"].usWeightClass == font.weight
        assert bool(ttfont["OS/2"].fsSelection & 1) == (font.style == "italic")


def test_a_document_cannot_reach_beyond_the_fonts(tmp_path):
    """A stylesheet, a @font-face or an image in the markup that points elsewhere, or climbs
    out of the fonts directory, gets nothing. WeasyPrint's own fetcher would read the files:
    the check is real."""
    secret = tmp_path / "secret.css"
    secret.write_text('p::after { content: "LEAKED"; }')
    html = (f'<style>@import url("{secret.as_uri()}");'
            '@font-face { font-family: stolen; src: url("eventsys-font:../../config.py"), '
            'url("file:///usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"); }'
            'p { font-family: stolen, sans-serif; }</style><p>Hello</p>')
    images = '<img src="file:///etc/passwd"><img src="http://169.254.169.254/latest/x.png">'
    data = fonts.render_pdf(html + images, CSS)
    assert pdf_lines(data) == ["Hello"]
    assert "stolen" not in embedded_fonts(data)
    assert b"/Subtype /Image" not in data

    unguarded = weasyprint.HTML(string=html).write_pdf()
    assert pdf_lines(unguarded) == ["HelloLEAKED"]
    assert "stolen" in {str(font.get_object()["/BaseFont"]).split("+", 1)[1]
                        for font in PdfReader(io.BytesIO(unguarded)).pages[0]
                        ["/Resources"]["/Font"].values()}


def test_every_font_file_is_there_with_its_licence_and_source():
    readme = (fonts.FONTS_DIR / "README.md").read_text()
    for font in fonts.FONTS:
        assert font.path.is_file() and font.path.read_bytes()[:4] == b"wOF2"
        assert f"| {font.file} |" in readme
    for _family, stem in fonts.FAMILIES:
        licence = (fonts.FONTS_DIR / f"{stem}.OFL.txt").read_text()
        assert "SIL Open Font License, Version 1.1" in licence
    assert "@expo-google-fonts/noto-sans-sc@" in readme
    total = sum(font.path.stat().st_size for font in fonts.FONTS)
    assert total < 16_000_000  # a clone carries them: keep an eye on it


def test_the_font_stack_names_only_vendored_families_then_sans_serif():
    families = [f.strip().strip('"') for f in fonts.FONT_FAMILY.split(",")]
    assert families[:-1] == [fonts.CSS_PREFIX + family for family, _stem in fonts.FAMILIES]
    assert families[-1] == "sans-serif"
    for font in fonts.FONTS:
        assert f'src: url("{font.url}")' in fonts.FONT_FACE_CSS


def test_web_pages_use_the_vendored_fonts_for_scripts_that_join(client):
    """Pages, not only PDFs: base.html links scripts.css, whose faces name vendored files
    (served from this site) and whose ranges cover each script the shaped family is for."""
    page = client.get("/").get_data(as_text=True)
    assert "/static/css/scripts.css" in page
    css = (fonts.FONTS_DIR.parent / "css" / "scripts.css").read_text()
    files = re.findall(r'url\("\.\./fonts/([^"]+)"\)', css)
    assert files and all((fonts.FONTS_DIR / name).is_file() for name in files)
    assert "//" not in "".join(files) and "http" not in css.split("*/", 1)[1]
    ranges = " ".join(re.findall(r"unicode-range: ([^;]+);", css))
    for block in ("U+0600-06FF", "U+0900-097F", "U+0E00-0E7F", "U+10A0-10FF"):
        assert block in ranges
