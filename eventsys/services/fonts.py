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
the renderer reads no other file and opens no connection. A document may be handed images
as well (a certificate's logos, signatures and QR code): the fetcher serves those under
``eventsys-image:<name>`` URLs, from the mapping it was given, and nothing else.

:func:`missing_glyphs` says which characters of a text none of these fonts can draw, so a
form or a certificate run can warn before printing boxes.
"""

from __future__ import annotations

import hashlib
import io
import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Iterable, Mapping
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


# A second fixed scheme for the images of one document (a certificate's logos, background,
# signatures and QR code): ``eventsys-image:<name>`` is served from the mapping the caller
# hands to :func:`render_pdf`, looked up as a whole URL, so a document reaches the images
# it was given and no others, and never a file or the network.
IMAGE_SCHEME = "eventsys-image"
IMAGE_TYPES = {b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg", b"<svg": "image/svg+xml"}


def image_url(name: str) -> str:
    return f"{IMAGE_SCHEME}:{name}"


def _image_type(data: bytes) -> str:
    for magic, mime_type in IMAGE_TYPES.items():
        if data.startswith(magic):
            return mime_type
    raise ValueError("an image of a printed document is a PNG, a JPEG or our own SVG")


def _serve_any(url: str, images: Mapping[str, bytes]) -> tuple[bytes, str]:
    font = _BY_URL.get(url)
    if font is not None:
        return font_bytes(font), "font/ttf"
    if url.startswith(IMAGE_SCHEME + ":"):
        data = images.get(url[len(IMAGE_SCHEME) + 1:])
        if data is not None:
            return data, _image_type(data)
    _refuse(url)


try:
    from weasyprint.urls import URLFetcher, URLFetcherResponse
except ImportError:  # WeasyPrint before 66 takes a plain function that returns a dict
    def fetcher(images: Mapping[str, bytes] | None = None):
        """A URL fetcher for WeasyPrint that serves the vendored fonts, and ``images``
        under their ``eventsys-image:`` URLs, and nothing else."""
        def fetch(url: str) -> dict:
            data, mime_type = _serve_any(url, images or {})
            return {"string": data, "mime_type": mime_type, "redirected_url": url}
        return fetch
else:
    class _FontsOnly(URLFetcher):
        def __init__(self, images: Mapping[str, bytes]):
            super().__init__()
            self.images = images

        def fetch(self, url, headers=None):
            data, mime_type = _serve_any(url, self.images)
            return URLFetcherResponse(url, data, {"Content-Type": mime_type})

    def fetcher(images: Mapping[str, bytes] | None = None):
        """A URL fetcher for WeasyPrint that serves the vendored fonts, and ``images``
        under their ``eventsys-image:`` URLs, and nothing else."""
        return _FontsOnly(dict(images or {}))


# WeasyPrint's default stylesheet gives every element six pseudo-elements for list markers,
# footnotes and notes (``::marker { ... }``, ``::footnote-call { ... }``...), and computes
# their styles one by one, uncached: two thirds of the styling time of a document with no
# lists and no footnotes, such as a certificate. The lean sheet leaves those rules out.
_UNIVERSAL_PSEUDO = re.compile(r"^::(marker|footnote-call|footnote-marker|note-call|"
                               r"note-marker|note-callback) \{[^}]*\}$", re.MULTILINE)


@cache
def _lean_ua_stylesheet():
    from weasyprint import html as weasyprint_html
    from weasyprint.css.counters import CounterStyle

    # Its @counter-style rules are WeasyPrint's own, already in the counter styles every
    # document starts from: they go to a throwaway collection, not twice into that one.
    return weasyprint.CSS(string=_UNIVERSAL_PSEUDO.sub("", weasyprint_html.UA),
                          counter_style=CounterStyle())


class _LeanHTML(weasyprint.HTML):
    """HTML whose default stylesheet has no rules for list markers and footnotes: for
    documents that have neither (the design's own stylesheet must not use them)."""

    def _ua_stylesheets(self, forms=False):
        return [_lean_ua_stylesheet()]


class _EncodedImages:
    """WeasyPrint decodes a PNG image and encodes its pixels anew for every PDF it writes:
    a batch of fifty certificates written page by page encodes the same logos and
    signatures fifty times over, a third of the time of a certificate that has them. The
    encoding depends on the pixels alone, so it is kept here, by a digest of the pixels,
    for the images seen last (at most ``limit`` bytes of encoded data)."""

    def __init__(self, encode, limit: int = 48 * 1024 * 1024):
        self.encode, self.limit, self.size = encode, limit, 0
        self.kept: OrderedDict[tuple, bytes] = OrderedDict()
        self.lock = threading.Lock()

    def __call__(self, pillow_image) -> bytes:
        key = (pillow_image.mode, pillow_image.size,
               hashlib.blake2b(pillow_image.tobytes(), digest_size=20).digest())
        with self.lock:
            data = self.kept.get(key)
            if data is not None:
                self.kept.move_to_end(key)
                return data
        data = self.encode(pillow_image)
        with self.lock:
            if key not in self.kept:
                self.kept[key] = data
                self.size += len(data)
            while self.size > self.limit and self.kept:
                self.size -= len(self.kept.popitem(last=False)[1])
        return data


def _keep_encoded_images() -> None:
    from weasyprint import images

    raster = getattr(images, "RasterImage", None)
    encode = getattr(raster, "_get_png_data", None)
    if encode is not None and not isinstance(encode, _EncodedImages):
        raster._get_png_data = staticmethod(_EncodedImages(encode))


_keep_encoded_images()


def render_document(html: str, css: str, images: Mapping[str, bytes] | None = None,
                    fonts: Iterable[Font] = FONTS, lean: bool = False):
    """HTML and our stylesheet laid out as a WeasyPrint Document, ready for ``write_pdf``
    (whole, or page by page with ``copy``), with only the vendored ``fonts`` and the given
    ``images`` fetched: no other file, no network, not even ``data:`` URLs. ``html`` has
    no base URL, so a relative link resolves to nothing either. ``lean``: the document has
    no list markers and no footnotes, and is styled three times faster for it."""
    url_fetcher = fetcher(images)
    font_config = FontConfiguration()
    face_css = FONT_FACE_CSS if fonts is FONTS else font_face_css(fonts)
    stylesheet = weasyprint.CSS(string=face_css + css, font_config=font_config,
                                url_fetcher=url_fetcher)
    document = (_LeanHTML if lean else weasyprint.HTML)(
        string=html, base_url=None, url_fetcher=url_fetcher)
    return document.render(stylesheets=[stylesheet], font_config=font_config)


def render_pdf(html: str, css: str, images: Mapping[str, bytes] | None = None) -> bytes:
    """HTML and our stylesheet to PDF bytes, with the vendored fonts and ``images`` (by
    ``eventsys-image:`` URL) and nothing else fetched: no other file, no network, not even
    ``data:`` URLs. ``html`` has no base URL, so a relative link resolves to nothing
    either.

    Each render gets its own FontConfiguration, as WeasyPrint intends (fontconfig and Pango
    are not thread-safe, and it cleans its temporary copies of the fonts when done). Handing
    it the fonts costs about 25 ms, as the bytes come from :func:`font_bytes`; a
    150-session programme takes some 6 s to lay out either way. The PDF embeds only the
    glyphs it uses."""
    return render_document(html, css, images).write_pdf()


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
