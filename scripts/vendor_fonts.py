"""Vendor the fonts of printed documents into eventsys/static/fonts/ (how the files there
were made; run it again only to update them).

    .venv/bin/python scripts/vendor_fonts.py

Needs npm and the npm registry, here and only here: the app reads the files this writes.

Source: the ``@expo-google-fonts/*`` packages, which ship Google Fonts' own static TrueType
files whole, one per weight, with the SIL Open Font License of each family. Fontsource
ships the same fonts cut into unicode-range slices (about a hundred for Chinese); WeasyPrint
honours ``unicode-range``, but it loads every ``@font-face`` rule of a stylesheet on every
render, used or not, so a hundred slices cost a hundred font loads, and gluing them back
with fontTools' merger is fragile (duplicated glyphs, layout tables). Whole files avoid both.

Each TrueType file is stored as WOFF2 *without* the glyf/loca transform: brotli only. The
transform would save 15 % on the Chinese font but fontTools, which WeasyPrint uses to read
WOFF2, rebuilds transformed glyphs in pure Python: 19 s for Noto Sans SC, against 0.3 s
without. The fonts are not otherwise changed: every table of the WOFF2 decompresses to the
published file's, which this script checks. One exception: Noto Sans KR is cut down to
hangul (syllables and jamo, with spaces and punctuation) by fontTools' subsetter, 0.8 MB a
weight where the whole font is 6 MB of TrueType, most of it Chinese characters that Noto
Sans SC has already; that file is a Modified Version under the OFL, same licence, and no
Reserved Font Name in its names.

Writes ``<stem>-<weight>[-italic].woff2`` for each font of ``eventsys.services.fonts.FONTS``,
``<stem>.OFL.txt`` (the licence text shipped with the package) and ``README.md`` (package,
version, npm integrity, sizes).
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont, woff2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eventsys.services.fonts import FAMILIES, FONTS, FONTS_DIR  # noqa: E402

# family -> (npm package, exact version). The package's files are
# ``<weight><Name>/<Stem>_<weight><Name>.ttf``, e.g. ``700Bold/NotoSansSC_700Bold.ttf``,
# and ``400Regular_Italic/NotoSans_400Regular_Italic.ttf`` for an italic.
PACKAGES = {
    "Noto Sans": ("@expo-google-fonts/noto-sans", "0.4.2"),
    "Noto Sans Arabic": ("@expo-google-fonts/noto-sans-arabic", "0.4.3"),
    "Noto Sans Thai": ("@expo-google-fonts/noto-sans-thai", "0.4.2"),
    "Noto Sans Georgian": ("@expo-google-fonts/noto-sans-georgian", "0.4.3"),
    "Noto Sans SC": ("@expo-google-fonts/noto-sans-sc", "0.4.3"),
    "Noto Sans KR": ("@expo-google-fonts/noto-sans-kr", "0.4.3"),
}
WEIGHT_NAMES = {400: "Regular", 700: "Bold"}
# Families cut down to these code points (see above); the others are taken whole. Spaces
# and punctuation stay: Pango draws a space between two Korean words with the Korean font,
# which must have it or a box is printed.
HANGUL = [*range(0x1100, 0x1200), *range(0x3130, 0x3190), *range(0xAC00, 0xD7A4)]
PUNCTUATION = [*range(0x20, 0x7F), *range(0xA0, 0xC0), *range(0x2000, 0x2070),
               *range(0x3000, 0x3040)]
SUBSETS = {"Noto Sans KR": HANGUL + PUNCTUATION}
RFN_NAME_IDS = {1, 3, 4, 6, 16, 17, 21}  # the names a font goes by


def npm_pack(package: str, version: str, into: Path) -> dict:
    """Download the package's tarball as the registry has it (npm checks its integrity)."""
    result = subprocess.run(  # noqa: S603
        ["npm", "pack", f"{package}@{version}", "--json", "--ignore-scripts",  # noqa: S607
         "--pack-destination", str(into)],
        check=True, capture_output=True, text=True)
    return json.loads(result.stdout)[0]


def same_tables(original: bytes, woff2_data: bytes) -> bool:
    """Whether the WOFF2 decompresses to the original's tables (see _head_as_compared)."""
    out = io.BytesIO()
    woff2.decompress(io.BytesIO(woff2_data), out)
    a, b = TTFont(io.BytesIO(original)), TTFont(io.BytesIO(out.getvalue()))
    tags = sorted(a.reader.keys())
    if tags != sorted(b.reader.keys()):
        return False
    for tag in tags:
        x, y = a.reader[tag], b.reader[tag]
        if tag == "head":
            x, y = _head_as_compared(x), _head_as_compared(y)
        if x != y:
            return False
    return True


def _head_as_compared(head: bytes) -> bytes:
    """head without checkSumAdjustment (bytes 8-11, it depends on the order of the tables)
    and flag bit 11, which the WOFF2 specification asks encoders to set."""
    flags = int.from_bytes(head[16:18], "big") & ~(1 << 11)
    return head[:8] + b"\0\0\0\0" + head[12:16] + flags.to_bytes(2, "big") + head[18:]


def subset_woff2(ttfont: TTFont, unicodes: list[int]) -> bytes:
    """The font with only the glyphs of ``unicodes`` (and what its layout features reach
    from them), as WOFF2 without transforms; checks every one of them is still mapped and
    that the font's names do not use the Reserved Font Name."""
    wanted = set(unicodes) & set(ttfont.getBestCmap())
    options = subset.Options()
    options.layout_features = ["*"]  # hangul jamo compose through ljmo/vjmo/tjmo
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(wanted))
    subsetter.subset(ttfont)
    ttfont.flavor = "woff2"
    ttfont.flavorData = woff2.WOFF2FlavorData(transformedTables=())
    out = io.BytesIO()
    ttfont.save(out)
    result = TTFont(io.BytesIO(out.getvalue()))
    assert set(result.getBestCmap()) == wanted
    font_names = [r.toUnicode() for r in result["name"].names if r.nameID in RFN_NAME_IDS]
    assert not any("Source" in name for name in font_names), font_names  # the RFN
    return out.getvalue()


def vendor_family(family: str, stem: str, work: Path) -> dict:
    package, version = PACKAGES[family]
    packed = npm_pack(package, version, work)
    tarball = work / packed["filename"]
    files = []
    with tarfile.open(tarball) as tar:
        for font in (f for f in FONTS if f.family == family):
            name = f"{font.weight}{WEIGHT_NAMES[font.weight]}"
            if font.style == "italic":
                name += "_Italic"
            member = f"package/{name}/{family.replace(' ', '')}_{name}.ttf"
            original = tar.extractfile(member).read()
            ttfont = TTFont(io.BytesIO(original), recalcTimestamp=False)  # same bytes each run
            assert ttfont["name"].getDebugName(1) == family, (member, family)
            assert ttfont["OS/2"].usWeightClass == font.weight, (member, font.weight)
            italic = bool(ttfont["OS/2"].fsSelection & 1)
            assert italic == (font.style == "italic"), (member, font.style)
            if family in SUBSETS:
                data = subset_woff2(ttfont, SUBSETS[family])
            else:
                out = io.BytesIO()
                woff2.compress(io.BytesIO(original), out, transform_tables=())
                data = out.getvalue()
                assert same_tables(original, data), member
            font.path.write_bytes(data)
            files.append({"file": font.file, "from": member, "bytes": len(data),
                          "ttf_sha256": hashlib.sha256(original).hexdigest(),
                          "style": font.style, "subset": family in SUBSETS})
            print(f"{font.file}: {len(original):,} -> {len(data):,} bytes")
        licence = tar.extractfile("package/LICENSE_FONT").read()
    (FONTS_DIR / f"{stem}.OFL.txt").write_bytes(licence)
    return {"family": family, "package": package, "version": version,
            "integrity": packed["integrity"], "licence": f"{stem}.OFL.txt", "files": files}


def readme(families: list[dict]) -> str:
    total = sum(f["bytes"] for family in families for f in family["files"])
    lines = [
        "# Fonts of printed documents",
        "",
        "Noto fonts for the agenda PDF (and certificates): Latin with accents, Cyrillic, "
        "Greek, Vietnamese and Devanagari (Noto Sans, with an italic), Arabic and Urdu, "
        "Thai, Georgian, Chinese simplified and common traditional with Japanese kana (Noto "
        "Sans SC), Korean hangul (Noto Sans KR). "
        "`eventsys/services/fonts.py` hands them to WeasyPrint; the machine's fonts are not "
        "used for them.",
        "",
        "Made by `scripts/vendor_fonts.py` (do not edit by hand): each file is the TrueType "
        "file of the npm package below, unchanged, stored as WOFF2 without the glyf "
        "transform; the Korean one (marked *hangul only*) is cut down to hangul. Licence: "
        "SIL Open Font License 1.1, the text each package ships (`*.OFL.txt` here). The "
        "packages' own code (MIT) is not used.",
        "",
        "| file | bytes | family | npm package | file in the package | TTF sha256 |",
        "| --- | ---: | --- | --- | --- | --- |",
    ]
    for family in families:
        for f in family["files"]:
            lines.append(
                f"| {f['file']} | {f['bytes']:,} | {family['family']}"
                f"{' italic' if f['style'] == 'italic' else ''}"
                f"{' (*hangul only*)' if f['subset'] else ''} | "
                f"{family['package']}@{family['version']} | {f['from'].removeprefix('package/')}"
                f" | `{f['ttf_sha256']}` |")
    lines += ["", f"Total: {total:,} bytes.", "", "npm tarball integrity:", ""]
    lines += [f"- {family['package']}@{family['version']}: `{family['integrity']}`"
              for family in families]
    return "\n".join(lines) + "\n"


def main() -> int:
    FONTS_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        families = [vendor_family(family, stem, Path(work)) for family, stem in FAMILIES]
    (FONTS_DIR / "README.md").write_text(readme(families))
    return 0


if __name__ == "__main__":
    sys.exit(main())
