"""Reading the tables organisers upload: CSV text or Excel workbooks, from any spreadsheet
program of any country, as rows of text cells with the line each starts on.

Used by the invitation lists (``invitation_import``) and the meeting platforms' attendance
reports (``attendance_report``); what the columns mean is theirs, finding rows in the bytes
is here. Lenient where that cannot hurt (UTF-8, UTF-16 or the legacy encodings Chinese and
European Excel save; comma, semicolon or tab; a title or a summary above the header) and
strict where it can: any bytes at all give rows or a ``ServiceError`` with a message for the
organiser (a renamed PDF or photo, an old or password-protected workbook, a zip bomb, a
damaged file, a file over ``MAX_BYTES``).

Encodings: ``charset_normalizer`` is not installed (nothing we require depends on it), so
the legacy encodings are told apart by a small heuristic on the bytes (``_looks_chinese``).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, time
from itertools import islice

import openpyxl
from flask_babel import gettext as _

from eventsys.services.errors import ServiceError

MAX_BYTES = 5 * 1024 * 1024
# A workbook is a zip: 5 MB of it can unpack to gigabytes of XML (a "zip bomb"). Real lists
# of tens of thousands of rows unpack to some tens of MB.
MAX_UNPACKED_BYTES = 100 * 1024 * 1024
# Columns read from a worksheet: a cell placed in column XFD would otherwise make every row
# 16,384 cells wide.
MAX_COLUMNS = 100

# (line as the organiser sees it in the spreadsheet or text editor, cells)
Row = tuple[int, list[str]]
# How well a row reads as the header the caller looks for (0: not at all); decides the
# delimiter of a CSV file.
Understood = Callable[[list[str]], int]


def too_big(size: int) -> ServiceError:
    return ServiceError(_("The file is too big (%(size)s MB); the limit is %(limit)s MB.",
                          size=f"{size / 1024 / 1024:.1f}",
                          limit=f"{MAX_BYTES / 1024 / 1024:g}"))


def sheets(filename: str, data: bytes, *, understood: Understood,
           search_rows: int) -> Iterator[Iterator[Row]]:
    """The tables in an uploaded file (CSV or XLSX, told apart by content, not by name):
    one for CSV text, one per worksheet of a workbook, in order; each an iterator of rows.

    Raises ServiceError, here or while the rows are read, when the file cannot be used.
    For CSV, the delimiter is the one under which one of the first ``search_rows``
    non-blank rows is best ``understood``."""
    if len(data) > MAX_BYTES:
        raise too_big(len(data))
    if not data.strip():
        raise ServiceError(_("The file is empty."))
    _refuse_other_formats(data)
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        yield from _worksheets(data)
        return
    if filename.lower().endswith((".xlsx", ".xlsm")):
        raise ServiceError(_("This file is named like an Excel workbook but is not one; it "
                             "may be damaged. Save the list again as .xlsx or CSV."))
    yield text_rows(decode(data), understood=understood, search_rows=search_rows)


# File types ------------------------------------------------------------------------------

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_MAGIC = (
    (b"%PDF", "PDF"),
    (b"\x89PNG", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF8", "GIF"),
    (b"{\\rtf", "RTF"),
    (b"\x1f\x8b", "gzip"),
    (b"Rar!", "RAR"),
    (b"7z\xbc\xaf", "7-Zip"),
)


def _refuse_other_formats(data: bytes) -> None:
    """Say what the file is when it is plainly not a list: a renamed PDF or photo, or an
    Excel 97-2003 workbook (which openpyxl cannot read, and which is also what a
    password-protected .xlsx looks like from outside)."""
    if data.startswith(_OLE2):
        raise ServiceError(_("This is an old Excel workbook (.xls) or a password-protected "
                             "one. Open it in Excel and save it as .xlsx (without a password) "
                             "or as CSV."))
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            raise ServiceError(_("This file is a %(kind)s file, not a list. Upload the list "
                                 "as CSV or as an Excel workbook (.xlsx).", kind=kind))


def _not_a_list() -> ServiceError:
    return ServiceError(_("This file is neither CSV text nor an Excel workbook (.xlsx). "
                          "Save the list as CSV UTF-8 or .xlsx and upload it again."))


# Text: encodings -------------------------------------------------------------------------

def decode(data: bytes) -> str:
    """The file's text. A byte order mark decides; then UTF-8, which a legacy file almost
    never passes by accident; then GB18030 (Chinese Excel) or Windows-1252 (European
    Excel), whichever the bytes look like. Binary content is refused here."""
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        text = _strict(data, "utf-32")
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = _strict(data, "utf-16")  # Excel's "Unicode text": UTF-16 LE, tab-separated
    elif data.startswith(codecs.BOM_UTF8):
        text = _strict(data, "utf-8-sig")
    elif (guess := _utf16_without_bom(data)) is not None:
        text = guess
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = _decode_legacy(data)
    if not text.strip():
        raise ServiceError(_("The file is empty."))
    if "\x00" in text or _too_many_controls(text):
        raise _not_a_list()
    if text.lstrip()[:9].lower().startswith(("<?xml", "<html", "<!doctype", "<table")):
        # Excel's "XML Spreadsheet 2003" and web pages saved as .xls or .csv.
        raise ServiceError(_("This file is a web page or XML, not CSV. Open it in Excel and "
                             "save it as .xlsx or CSV."))
    return text


def _strict(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        raise ServiceError(_("The file says it is Unicode text but is not valid %(encoding)s. "
                             "Save it again as CSV UTF-8.",
                             encoding=encoding.upper().removesuffix("-SIG"))) from None


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 whose mark was lost: ASCII text then has a zero in every other byte."""
    sample = data[:2000]
    if len(sample) < 4 or len(sample) % 2:
        return None
    for encoding, zeros in (("utf-16-le", sample[1::2]), ("utf-16-be", sample[0::2])):
        if zeros.count(0) > 0.4 * len(zeros):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                return None
    return None


def _too_many_controls(text: str) -> bool:
    """Binary that happened to decode. A stray control character in a cell is the row's
    problem, not the file's."""
    sample = text[:65536]
    found = len(re.findall(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", sample))
    return found > max(8, len(sample) / 100)


def _decode_legacy(data: bytes) -> str:
    try:
        chinese = data.decode("gb18030")
    except UnicodeDecodeError:
        chinese = None
    try:
        european = data.decode("cp1252")
    except UnicodeDecodeError:
        european = None  # bytes cp1252 leaves undefined (0x81, 0x8d ...) are GBK lead bytes
    if chinese is not None and (european is None or _looks_chinese(chinese)):
        return chinese
    if european is not None:
        return european
    raise _not_a_list()


_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")
_CJK = re.compile(r"[\u3000-\u9fff\uf900-\ufaff\uff00-\uffef]+")


def _looks_chinese(text: str) -> bool:
    """Is this GB18030 reading of a legacy file right, or is it Windows-1252?

    Both decode most bytes: "Gonçalves" is valid GBK ("Gon" + a rare ideograph + "lves").
    Read wrongly, European accented letters become single ideographs or private-use
    characters stuck to the Latin letters of their word ("Kov醕s", "Ni関鑣"), and those
    ideographs are rare ones outside GB2312 (an accented letter followed by an ASCII letter
    makes a GBK extension character). Real Chinese comes in runs of ideographs standing on
    their own ("张三", traditional "蘇格蘭" too), or next to Latin letters on one side only
    and then mostly within GB2312 ("IBM中国"); a lone ideograph counts as Chinese only
    within GB2312 (Hungarian "és" reads as one rare ideograph). Every character votes, so
    one odd cell does not decide for the whole file. It only matters at all when GBK
    accepts the bytes: an accented letter before a space, comma or line end is not GBK.
    """
    votes = 0
    for match in _NON_ASCII_RUN.finditer(text):
        start, end = match.span()
        stuck = sum(1 for char in (text[start - 1:start], text[end:end + 1])
                    if char.isascii() and char.isalpha())
        if (_CJK.fullmatch(match.group()) is None or stuck == 2
                or (end - start == 1 and stuck)):
            votes -= end - start
        elif stuck or end - start == 1:
            votes += sum(1 if _in_gb2312(char) else -1 for char in match.group())
        else:
            votes += end - start
    return votes > 0


def _in_gb2312(char: str) -> bool:
    try:
        char.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


# Text: rows ------------------------------------------------------------------------------

DELIMITERS = (",", ";", "\t")
_SEP_LINE = re.compile(r"sep=(.)\r?\n?")


def text_rows(text: str, *, understood: Understood, search_rows: int) -> Iterator[Row]:
    """The rows of CSV text, its delimiter chosen (or given by Excel's "sep=" line)."""
    first_line = 1
    # Excel writes "sep=;" as the first line of some CSV exports and obeys it when reading.
    if (match := _SEP_LINE.match(text)) and match.group(1) in DELIMITERS:
        delimiter = match.group(1)
        text = text[match.end():]
        first_line = 2
    else:
        delimiter = choose_delimiter(text, understood, search_rows)
    try:
        yield from csv_rows(text, delimiter, first_line)
    except csv.Error:
        raise ServiceError(_("The CSV file could not be read: a quotation mark may be "
                             "missing or a cell is very long.")) from None


def csv_rows(text: str, delimiter: str, first_line: int = 1) -> Iterator[Row]:
    """Rows with the line each starts on: a quoted cell may span several lines, and the
    organiser looks the row up by the number their editor shows. Raises csv.Error."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    consumed = 0
    for cells in reader:
        yield first_line + consumed, cells
        consumed = reader.line_num


def choose_delimiter(text: str, understood: Understood, search_rows: int) -> str:
    """The delimiter under which the header is best understood; failing that, the one the
    first line has most of. csv.Sniffer guesses from character frequencies alone and is
    easily led astray by commas inside quoted organisation names."""
    first = next((line for line in text.splitlines() if line.strip()), "")

    def score(delimiter: str) -> tuple[int, int]:
        best = 0
        try:
            for _line, cells in islice(nonblank(csv_rows(text, delimiter)), search_rows):
                best = max(best, understood(cells))
        except csv.Error:
            pass
        return best, first.count(delimiter)

    return max(DELIMITERS, key=score)


def nonblank(rows: Iterable[Row]) -> Iterator[Row]:
    return ((line, cells) for line, cells in rows if any(cell.strip() for cell in cells))


# Workbooks -------------------------------------------------------------------------------

def _worksheets(data: bytes) -> Iterator[Iterator[Row]]:
    """Each worksheet's rows, values as Excel shows them.

    ``data_only`` gives a formula's last calculated value, which is what the organiser
    sees; files written by programs that never calculate have no such value, and the cell
    reads as empty. Anything openpyxl raises on a damaged file means "cannot be read".
    """
    _check_workbook_archive(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about styles and extensions
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            worksheets = book.worksheets
    except Exception:
        raise _unreadable_workbook() from None
    try:
        for sheet in worksheets:
            yield _worksheet_rows(sheet)
    finally:
        book.close()


def _worksheet_rows(sheet) -> Iterator[Row]:
    """A read-only worksheet is parsed as it is read: in batches, so that openpyxl's
    warnings are silenced only while it works, not while the caller does."""
    try:
        sheet.reset_dimensions()  # the stored size is often wrong: ignore it
        values = sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True)
    except Exception:
        raise _unreadable_workbook() from None
    number = 0
    while True:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                batch = list(islice(values, 500))
        except Exception:
            raise _unreadable_workbook() from None
        if not batch:
            return
        for row in batch:
            number += 1
            end = len(row)  # a row is as wide as the widest: drop the empty cells after it
            while end and row[end - 1] is None:
                end -= 1
            yield number, [cell_text(value) for value in row[:end]]


def _unreadable_workbook() -> ServiceError:
    return ServiceError(_("This Excel workbook could not be read; it may be damaged. Open it "
                          "in Excel and save it again, or save it as CSV."))


def _check_workbook_archive(data: bytes) -> None:
    """A zip is an .xlsx only if it holds a workbook; say what else it may be."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except Exception:
        raise _unreadable_workbook() from None
    names = {member.filename for member in members}
    if "xl/workbook.bin" in names:
        raise ServiceError(_("This is a binary Excel workbook (.xlsb). Open it in Excel and "
                             "save it as .xlsx or CSV."))
    if "content.xml" in names and "mimetype" in names:
        raise ServiceError(_("This is an OpenDocument spreadsheet (.ods). Save it as .xlsx "
                             "or CSV."))
    if not any(name.startswith("xl/") for name in names):
        raise ServiceError(_("This zip archive is not an Excel workbook. Upload the list as "
                             ".xlsx or CSV."))
    if sum(member.file_size for member in members) > MAX_UNPACKED_BYTES:
        raise _unreadable_workbook()


def cell_text(value: object) -> str:
    """A cell as text: 1234 rather than 1234.0, dates without a midnight."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(" ")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


# Headers ---------------------------------------------------------------------------------

def key(text: str) -> str:
    """What two spellings of a header, country or role have in common: case, accents,
    spaces and punctuation aside ("E-mail" = "email", "Côte d'Ivoire" = "cote divoire")."""
    text = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in text if char.isalnum() and not unicodedata.combining(char))


# Bilingual headers ("姓名 Name", "Email / 邮箱", "Country (required)") are read part by part.
_HEADER_PARTS = re.compile(
    r"[/\\|()\[\]\uff08\uff09【】:\uff1a\n]+"
    r"|(?<=[\u3000-\u9fff\uff00-\uffef])\s*(?=[A-Za-z])"
    r"|(?<=[A-Za-z])\s*(?=[\u3000-\u9fff\uff00-\uffef])"
)


def header_parts(header: str) -> list[str]:
    """A header's parts: "Duration (Minutes)" -> "Duration ", "Minutes", ""."""
    return _HEADER_PARTS.split(header)


def recognise(cells: list[str], fields: dict[str, str]
              ) -> tuple[dict[str, int], dict[str, str], list[str]]:
    """Our field -> column index, our field -> header text, and the headers left over;
    ``fields`` maps a header's ``key`` to our field.

    A header recognised as a whole wins over one recognised by a part, and the first of
    two headers for one field wins; the other is reported as ignored.
    """
    headers = [" ".join(cell.split()) for cell in cells]
    taken: dict[str, int] = {}
    for index, header in enumerate(headers):
        field = fields.get(key(header))
        if field and field not in taken:
            taken[field] = index
    used = set(taken.values())
    for index, header in enumerate(headers):
        if index in used:
            continue
        for part in header_parts(header):
            field = fields.get(key(part))
            if field and field not in taken:
                taken[field] = index
                used.add(index)
                break
    columns = {field: index for field, index in sorted(taken.items(), key=lambda kv: kv[1])}
    names = {field: headers[index] for field, index in columns.items()}
    ignored = [header for index, header in enumerate(headers) if header and index not in used]
    return columns, names, ignored


# Cells -----------------------------------------------------------------------------------

_FORMULA_AFTER_SIGN = re.compile(
    r"""[+\-@\s]*(
        [A-Za-z_][\w.]*\(                          # a function: SUM(, HYPERLINK(, cmd(
      | \(                                         # -(1+2)
      | \$?[A-Za-z]{1,3}\$?\d+\b                    # a cell: A1, $B$2
      | '?[\w .]+'?!                               # another sheet: Sheet1!A1
      | \d[\d.,]*\s*[-+*/^&%<>=]                   # arithmetic: -2+3
    )
    | .*\|.*!                                      # DDE: +cmd|' /C calc'!A0
    """,
    re.VERBOSE,
)


def looks_like_formula(text: str) -> bool:
    """Would a spreadsheet run this cell if we exported it again? Anything after "=" is a
    formula; after "+", "-" or "@" only what looks like one, so that "-" or "+Plus Ltd"
    stay text (OWASP's CSV injection page lists these four characters)."""
    if text.startswith("="):
        return True
    return text[:1] in "+-@" and _FORMULA_AFTER_SIGN.match(text, 1) is not None


def shown(value: str) -> str:
    """A cell quoted in a message: at most 60 characters."""
    return value if len(value) <= 60 else value[:59] + "…"


# Names --------------------------------------------------------------------------------------

def is_cjk(text: str) -> bool:
    return all("\u2e80" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff" for char in text)


def join_name(first: str, last: str) -> str:
    """A list's "first name" and "last name" columns as one name. Chinese names are written
    family name first and without a space; others given name first."""
    if first and last and is_cjk(first + last):
        return last + first
    return " ".join(part for part in (first, last) if part)
