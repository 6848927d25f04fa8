"""The fonts of printed documents (the agenda PDF, later certificates), and what they can draw.

Participants' names come in Latin with accents, Cyrillic, Greek, Georgian, Arabic and Urdu,
Devanagari, Thai and Chinese; the machines have only DejaVu and Liberation, which draw
boxes for most of those. So the Noto fonts that cover them are vendored in
``eventsys/static/fonts/`` (``scripts/vendor_fonts.py`` made them; its README says from
which npm package each came) and handed to WeasyPrint through ``@font-face`` rules: nothing
depends on what fontconfig has installed on the machine.

WeasyPrint reads those fonts through :func:`fetcher`, which knows a fixed list of URLs, one
per vendored file, and refuses every other URL: whatever an organiser or a participant
typed (``<img src="file:///etc/passwd">``, a link to a metadata service, a ``data:`` URL),
the renderer reads no other file and opens no connection.

:func:`missing_glyphs` says which characters of a text none of these fonts can draw, so a
form or a certificate run can warn before printing boxes.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import NoReturn

import weasyprint
from fontTools.ttLib import TTFont, woff2
from weasyprint.text.fonts import FontConfiguration

FONTS_DIR = Path(__file__).resolve().parents[1] / "static" / "fonts"

# Our own scheme: a URL of it names a vendored file and nothing else (no path, no host),
# and no other fetcher anywhere would resolve it.
SCHEME = "eventsys-font"

# Families in fallback order: Pango draws each character with the first one that has it.
# Noto Sans first, so Latin, digits and punctuation never come from the Chinese font; it
# also covers Cyrillic, Greek, Vietnamese and Devanagari. "Noto Sans SC" has the common
# traditional characters and Japanese kana too; hangul comes from Noto Sans KR cut down to
# hangul alone (0.8 MB a weight; the rest of it is Chinese characters that SC has).
# The names in CSS carry a prefix so that a "Noto Sans" installed on the machine (an older
# one, without Devanagari, say) can never be picked instead of ours.
FAMILIES: tuple[tuple[str, str], ...] = (  # (family in the font file, file name stem)
    ("Noto Sans", "noto-sans"),
    ("Noto Sans Arabic", "noto-sans-arabic"),
    ("Noto Sans Thai", "noto-sans-thai"),
    ("Noto Sans Georgian", "noto-sans-georgian"),
    ("Noto Sans SC", "noto-sans-sc"),
    ("Noto Sans KR", "noto-sans-kr-hangul"),
)
# Regular and bold of each; an italic of Noto Sans only (the programme's theme is in <em>),
# as WeasyPrint draws no slanted stand-in when a font has no italic.
STYLES: tuple[tuple[int, str], ...] = ((400, "normal"), (700, "normal"))
ITALIC = ("Noto Sans", 400)
CSS_PREFIX = "eventsys "


@dataclass(frozen=True)
class Font:
    """One vendored file: a family in one weight and style."""

    family: str  # as named inside the file
    weight: int
    style: str  # "normal" or "italic"
    file: str  # name in FONTS_DIR

    @property
    def css_family(self) -> str:
        return CSS_PREFIX + self.family

    @property
    def url(self) -> str:
        return f"{SCHEME}:{self.file}"

    @property
    def path(self) -> Path:
        return FONTS_DIR / self.file


FONTS: tuple[Font, ...] = (
    *(Font(family, weight, style, f"{stem}-{weight}.woff2")
      for family, stem in FAMILIES for weight, style in STYLES),
    Font(*ITALIC, "italic", "noto-sans-400-italic.woff2"),
)

FONT_FAMILY: str = ", ".join(
    [f'"{CSS_PREFIX}{family}"' for family, _stem in FAMILIES] + ["sans-serif"])
"""The ``font-family`` value for printed documents. The generic ``sans-serif`` at the end
(DejaVu here) only matters for characters that :func:`missing_glyphs` reports anyway."""


def font_face_css(fonts: Iterable[Font] = FONTS) -> str:
    """``@font-face`` rules for ``fonts``, pointing at the URLs :func:`fetcher` serves."""
    return "\n".join(
        f'@font-face {{ font-family: "{font.css_family}"; font-style: {font.style}; '
        f'font-weight: {font.weight}; src: url("{font.url}"); }}'
        for font in fonts)


FONT_FACE_CSS: str = font_face_css()

_BY_URL: dict[str, Font] = {font.url: font for font in FONTS}


def _read(path: Path) -> bytes:
    """The font as TrueType bytes. The files are WOFF2 without the glyf transform
    (scripts/vendor_fonts.py says why): brotli only, a third of a second for the Chinese
    font, where WeasyPrint would take as long again on every render."""
    data = path.read_bytes()
    if data[:4] != b"wOF2":
        return data
    out = io.BytesIO()
    woff2.decompress(io.BytesIO(data), out)
    return out.getvalue()


@cache
def font_bytes(font: Font) -> bytes:
    """The TrueType bytes of a vendored font, decompressed once per process (0.6 s for all
    of them; 29 MB kept, mostly the two Chinese fonts) rather than once per document."""
    return _read(font.path)


def _refuse(url: str) -> NoReturn:
    raise ValueError(f"printed documents fetch nothing but their fonts ({url[:80]})")


def serve(url: str) -> bytes:
    """The bytes behind one of our font URLs; ValueError for any other URL. The URL is
    looked up as a whole, never turned into a path, so nothing can climb out of the
    fonts directory."""
    font = _BY_URL.get(url)
    if font is None:
        _refuse(url)
    return font_bytes(font)


try:
    from weasyprint.urls import URLFetcher, URLFetcherResponse
except ImportError:  # WeasyPrint before 66 takes a plain function that returns a dict
    def fetcher():
        """A URL fetcher for WeasyPrint that serves the vendored fonts and nothing else."""
        def fetch(url: str) -> dict:
            return {"string": serve(url), "mime_type": "font/ttf", "redirected_url": url}
        return fetch
else:
    class _FontsOnly(URLFetcher):
        def fetch(self, url, headers=None):
            return URLFetcherResponse(url, serve(url), {"Content-Type": "font/ttf"})

    def fetcher():
        """A URL fetcher for WeasyPrint that serves the vendored fonts and nothing else."""
        return _FontsOnly()


def render_pdf(html: str, css: str) -> bytes:
    """HTML and our stylesheet to PDF bytes, with the vendored fonts and nothing else
    fetched: no other file, no network, not even ``data:`` URLs. ``html`` has no base URL,
    so a relative link resolves to nothing either.

    Each render gets its own FontConfiguration, as WeasyPrint intends (fontconfig and Pango
    are not thread-safe, and it cleans its temporary copies of the fonts when done). Handing
    it the fonts costs about 25 ms, as the bytes come from :func:`font_bytes`; a
    150-session programme takes some 6 s to lay out either way. The PDF embeds only the
    glyphs it uses."""
    url_fetcher = fetcher()
    font_config = FontConfiguration()
    stylesheet = weasyprint.CSS(string=FONT_FACE_CSS + css, font_config=font_config,
                                url_fetcher=url_fetcher)
    document = weasyprint.HTML(string=html, base_url=None, url_fetcher=url_fetcher)
    return document.write_pdf(stylesheets=[stylesheet], font_config=font_config)


# What the fonts can draw ------------------------------------------------------------------

# Characters that need no glyph: Pango draws nothing for them, or a space.
_NO_GLYPH_CATEGORIES = {"Cc", "Cf", "Zs", "Zl", "Zp"}
_VARIATION_SELECTORS = (range(0xFE00, 0xFE10), range(0xE0100, 0xE01F0), range(0x180B, 0x1810))


def _needs_glyph(char: str) -> bool:
    if char.isspace() or unicodedata.category(char) in _NO_GLYPH_CATEGORIES:
        return False
    code = ord(char)
    return code != 0x034F and not any(code in r for r in _VARIATION_SELECTORS)


@cache
def _coverage() -> frozenset[int]:
    """Every code point that some vendored family draws in regular and in bold alike (a
    name may be printed in either). WOFF2 without the glyf transform opens in a fraction
    of a second, and only the cmap is parsed: some 0.6 s, once per process."""
    covered: set[int] = set()
    for family, _stem in FAMILIES:
        repertoires = []
        for font in FONTS:
            if font.family == family and font.style == "normal":
                with TTFont(font.path, lazy=True) as ttfont:
                    repertoires.append(set(ttfont.getBestCmap()))
        covered |= set.intersection(*repertoires)
    return frozenset(covered)


def missing_glyphs(text: str) -> str:
    """The characters of ``text`` that none of the vendored fonts can draw, each once, in
    order of appearance; "" when the whole text prints.

    The text is NFC-normalised first, as a decomposed "é" (e + combining acute) is drawn
    with the precomposed glyph. Spaces, controls and format characters (joiners, direction
    marks, variation selectors) need no glyph and are never reported. Characters that only
    the machine's own fonts have count as missing: this answer must hold on every machine.
    """
    covered = _coverage()
    missing: dict[str, None] = {}
    for char in unicodedata.normalize("NFC", text):
        if char not in missing and _needs_glyph(char) and ord(char) not in covered:
            missing[char] = None
    return "".join(missing)
