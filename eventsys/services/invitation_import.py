"""Invitation lists: reading the CSV or Excel files partner parks send into invitees.

Pure functions, no database: ``parse()`` turns the uploaded bytes into good rows and bad
rows with reasons, so the organiser sees a preview and nothing is stored until they confirm
(storing, and skipping people invited already, is the caller's part).

The files come from many countries and many spreadsheet programs, so reading is lenient
where that cannot hurt (headers in English or Chinese, in any order; UTF-8, UTF-16 or the
legacy encodings Chinese and European Excel save; comma, semicolon or tab) and strict where
it can (formulas, control characters, overlong text, bad addresses become a reason on the
row, never a half-imported person). Any bytes at all give either a ``ParsedList`` or a
``ServiceError`` with a message for the organiser.

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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import cache
from itertools import islice

import openpyxl
from babel import Locale
from babel.core import UnknownLocaleError, get_global
from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _

from eventsys.i18n import available_locales, country_choices, is_country
from eventsys.services.accounts import normalise_email
from eventsys.services.errors import ServiceError
from eventsys.services.validation import has_control_chars

ROLES = ("participant", "speaker", "guest", "vip")
MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000

# A workbook is a zip: 5 MB of it can unpack to gigabytes of XML (a "zip bomb"). Real lists
# of MAX_ROWS rows unpack to some tens of MB.
MAX_UNPACKED_BYTES = 100 * 1024 * 1024
# Columns read from a worksheet: a cell placed in column XFD would otherwise make every row
# 16,384 cells wide.
MAX_COLUMNS = 100
# Lists often carry a title ("Invitees, Shenzhen Park") or a blank line above the header.
HEADER_SEARCH_ROWS = 10

LIMITS = {"name": 200, "organisation": 200, "email": 254}
FIELDS = ("name", "first_name", "last_name", "email", "organisation", "country", "role",
          "language")


@dataclass(frozen=True)
class Invitee:
    """A row that can be imported as it is."""

    line: int  # as the organiser sees it in the spreadsheet or text editor (header = 1)
    name: str
    email: str  # normalised like account emails, so re-imports and sign-ups match
    organisation: str | None
    country: str | None  # ISO 3166-1 alpha-2
    role: str  # one of ROLES
    locale: str | None  # one of available_locales(), or None for the event's default


@dataclass(frozen=True)
class Problem:
    """A row that will not be imported, with its cells (to show it) and every reason."""

    line: int
    values: dict[str, str]
    reasons: tuple[str, ...]


@dataclass
class ParsedList:
    invitees: list[Invitee]
    problems: list[Problem]
    columns: dict[str, str]  # our field -> the header found in the file
    ignored_columns: list[str]  # headers we did not recognise, shown to the organiser


def parse(filename: str, data: bytes) -> ParsedList:
    """Read an uploaded invitation list (CSV or XLSX, told apart by content, not by name).

    Raises ServiceError when the file as a whole cannot be used; problems with single rows
    are returned in ``problems`` instead, so one typo does not block a list of a thousand.
    """
    if len(data) > MAX_BYTES:
        raise ServiceError(_("The file is too big (%(size)s MB); the limit is %(limit)s MB.",
                             size=f"{len(data) / 1024 / 1024:.1f}",
                             limit=f"{MAX_BYTES / 1024 / 1024:g}"))
    if not data.strip():
        raise ServiceError(_("The file is empty."))
    _refuse_other_formats(data)
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _read_xlsx(data)
    if filename.lower().endswith((".xlsx", ".xlsm")):
        raise ServiceError(_("This file is named like an Excel workbook but is not one; it "
                             "may be damaged. Save the list again as .xlsx or CSV."))
    return _read_csv(_decode(data))


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

def _decode(data: bytes) -> str:
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

_DELIMITERS = (",", ";", "\t")
_SEP_LINE = re.compile(r"sep=(.)\r?\n?")


def _read_csv(text: str) -> ParsedList:
    first_line = 1
    # Excel writes "sep=;" as the first line of some CSV exports and obeys it when reading.
    if (match := _SEP_LINE.match(text)) and match.group(1) in _DELIMITERS:
        delimiter = match.group(1)
        text = text[match.end():]
        first_line = 2
    else:
        delimiter = _choose_delimiter(text)
    rows = _csv_rows(text, delimiter, first_line)
    try:
        result = _read_table(rows)
    except csv.Error:
        raise ServiceError(_("The CSV file could not be read: a quotation mark may be "
                             "missing or a cell is very long.")) from None
    if isinstance(result, ParsedList):
        return result
    raise _no_email_column(result)


def _csv_rows(text: str, delimiter: str, first_line: int = 1) -> Iterator[tuple[int, list[str]]]:
    """Rows with the line each starts on: a quoted cell may span several lines, and the
    organiser looks the row up by the number their editor shows."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    consumed = 0
    for cells in reader:
        yield first_line + consumed, cells
        consumed = reader.line_num


def _choose_delimiter(text: str) -> str:
    """The delimiter under which the header is best understood; failing that, the one the
    first line has most of. csv.Sniffer guesses from character frequencies alone and is
    easily led astray by commas inside quoted organisation names."""
    first = next((line for line in text.splitlines() if line.strip()), "")

    def score(delimiter: str) -> tuple[int, int]:
        understood = 0
        try:
            for _line, cells in islice(_nonblank(_csv_rows(text, delimiter)),
                                       HEADER_SEARCH_ROWS):
                columns = _recognise(cells)[0]
                if "email" in columns:
                    understood = max(understood, len(columns))
        except csv.Error:
            pass
        return understood, first.count(delimiter)

    return max(_DELIMITERS, key=score)


def _nonblank(rows: Iterable[tuple[int, list[str]]]) -> Iterator[tuple[int, list[str]]]:
    return ((line, cells) for line, cells in rows if any(cell.strip() for cell in cells))


# Workbooks -------------------------------------------------------------------------------

def _read_xlsx(data: bytes) -> ParsedList:
    """The first worksheet with an email column, values as Excel shows them.

    ``data_only`` gives a formula's last calculated value, which is what the organiser
    sees; files written by programs that never calculate have no such value, and the cell
    reads as empty. Anything openpyxl raises on a damaged file means "cannot be read".
    """
    _check_workbook_archive(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about styles and extensions
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            try:
                first_headers: list[str] | None = None
                for sheet in book.worksheets:
                    sheet.reset_dimensions()  # the stored size is often wrong: ignore it
                    rows = ((number, [_cell_text(value) for value in values])
                            for number, values in enumerate(
                                sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True),
                                start=1))
                    result = _read_table(rows)
                    if isinstance(result, ParsedList):
                        return result
                    if first_headers is None:
                        first_headers = result
            finally:
                book.close()
    except ServiceError:
        raise
    except Exception:
        raise _unreadable_workbook() from None
    raise _no_email_column(first_headers)


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


def _cell_text(value: object) -> str:
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

def _key(text: str) -> str:
    """What two spellings of a header, country or role have in common: case, accents,
    spaces and punctuation aside ("E-mail" = "email", "Côte d'Ivoire" = "cote divoire")."""
    text = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in text if char.isalnum() and not unicodedata.combining(char))


_HEADERS = {
    "name": ("name", "fullname", "participant", "participantname", "invitee", "inviteename",
             "attendee", "attendeename", "delegate", "delegatename", "guestname",
             "姓名", "名字", "全名"),
    "first_name": ("firstname", "first", "givenname", "given", "forename", "名"),
    "last_name": ("lastname", "last", "familyname", "family", "surname", "姓"),
    "email": ("email", "mail", "emailaddress", "mailaddress", "emailadress", "emails",
              "邮箱", "电子邮件", "电子邮箱", "邮件", "邮箱地址", "电子邮件地址", "电邮"),
    "organisation": ("organisation", "organization", "company", "institution", "park",
                     "organisationname", "organizationname", "companyname",
                     "institutionname", "parkname", "affiliation", "单位", "机构", "公司",
                     "工作单位", "单位名称", "机构名称", "公司名称", "所在单位", "园区"),
    "country": ("country", "nation", "countryregion", "countryorregion", "nationality",
                "国家", "国家地区", "国籍"),
    "role": ("role", "type", "category", "participanttype", "participantrole", "角色",
             "身份", "类别", "类型"),
    "language": ("language", "lang", "locale", "preferredlanguage", "语言", "语种"),
}
_HEADER_FIELDS = {_key(alias): field for field, aliases in _HEADERS.items() for alias in aliases}
# Bilingual headers ("姓名 Name", "Email / 邮箱", "Country (required)") are read part by part.
_HEADER_PARTS = re.compile(
    r"[/\\|()\[\]\uff08\uff09【】:\uff1a\n]+"
    r"|(?<=[\u3000-\u9fff\uff00-\uffef])\s*(?=[A-Za-z])"
    r"|(?<=[A-Za-z])\s*(?=[\u3000-\u9fff\uff00-\uffef])"
)


def _recognise(cells: list[str]) -> tuple[dict[str, int], dict[str, str], list[str]]:
    """Our field -> column index, our field -> header text, and the headers left over.

    A header recognised as a whole wins over one recognised by a part, and the first of
    two headers for one field wins; the other is reported as ignored.
    """
    headers = [" ".join(cell.split()) for cell in cells]
    taken: dict[str, int] = {}
    for index, header in enumerate(headers):
        field = _HEADER_FIELDS.get(_key(header))
        if field and field not in taken:
            taken[field] = index
    used = set(taken.values())
    for index, header in enumerate(headers):
        if index in used:
            continue
        for part in _HEADER_PARTS.split(header):
            field = _HEADER_FIELDS.get(_key(part))
            if field and field not in taken:
                taken[field] = index
                used.add(index)
                break
    columns = {field: index for field, index in sorted(taken.items(), key=lambda kv: kv[1])}
    names = {field: headers[index] for field, index in columns.items()}
    ignored = [header for index, header in enumerate(headers) if header and index not in used]
    return columns, names, ignored


def _no_email_column(headers: list[str] | None) -> ServiceError:
    if not headers:
        return ServiceError(_("The file is empty."))
    shown = ", ".join(f"“{header[:40]}”" for header in headers if header)[:400]
    return ServiceError(_("No column of email addresses was found. Name the columns in the "
                          "first row, e.g. Name, Email, Organisation, Country, Role, Language. "
                          "Headers found: %(headers)s.", headers=shown))


# Rows ------------------------------------------------------------------------------------

def _read_table(rows: Iterator[tuple[int, list[str]]]) -> ParsedList | list[str] | None:
    """The list below the header, or, when no header with an email column is found among
    the first rows, the first row's cells (for the message), or None for no rows at all."""
    rows = _nonblank(rows)
    first: list[str] | None = None
    for _line, cells in islice(rows, HEADER_SEARCH_ROWS):
        if first is None:
            first = [" ".join(cell.split()) for cell in cells]
        columns, names, ignored = _recognise(cells)
        if "email" in columns:
            break
    else:
        return first

    invitees: list[Invitee] = []
    problems: list[Problem] = []
    first_line_of: dict[str, int] = {}
    for count, (line, cells) in enumerate(rows, start=1):
        if count > MAX_ROWS:
            raise ServiceError(_("The list has more than %(n)d rows. Split it into smaller "
                                 "files.", n=MAX_ROWS))
        values = {field: cells[index] if index < len(cells) else ""
                  for field, index in columns.items()}
        row = _check_row(line, values, names, first_line_of)
        if isinstance(row, Invitee):
            first_line_of[row.email] = line
            invitees.append(row)
        else:
            problems.append(row)
    if not invitees and not problems:
        raise ServiceError(_("The list has a header but no rows below it."))
    return ParsedList(invitees, problems, names, ignored)


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


def _looks_like_formula(text: str) -> bool:
    """Would a spreadsheet run this cell if we exported it again? Anything after "=" is a
    formula; after "+", "-" or "@" only what looks like one, so that "-" or "+Plus Ltd"
    stay text (OWASP's CSV injection page lists these four characters)."""
    if text.startswith("="):
        return True
    return text[:1] in "+-@" and _FORMULA_AFTER_SIGN.match(text, 1) is not None


def _shown(value: str) -> str:
    return value if len(value) <= 60 else value[:59] + "…"


_LETTER_OR_DIGIT = re.compile(r"[^\W_]")


def _is_placeholder(text: str) -> bool:
    """"-", "—", "/", "n/a": a spreadsheet's way of saying "nothing here"."""
    return not _LETTER_OR_DIGIT.search(text) or text.casefold() == "n/a"


def _check_row(line: int, values: dict[str, str], headers: dict[str, str],
               first_line_of: dict[str, int]) -> Invitee | Problem:
    reasons: list[str] = []
    clean: dict[str, str] = {}
    for field, raw in values.items():
        text = unicodedata.normalize("NFC", raw).strip()
        if has_control_chars(text):
            reasons.append(_("%(column)s contains characters that are not allowed",
                             column=headers[field]))
        elif _looks_like_formula(text):
            reasons.append(_("a spreadsheet formula, not text: '%(value)s'",
                             value=_shown(text)))
        else:
            if field != "email":
                text = " ".join(text.split())
            clean[field] = "" if _is_placeholder(text) else text
    refused = values.keys() - clean.keys()

    name = clean.get("name") or _join_name(clean.get("first_name", ""),
                                           clean.get("last_name", ""))
    if not name:
        if not refused & {"name", "first_name", "last_name"}:
            reasons.append(_("missing name"))
    elif len(name) > LIMITS["name"]:
        reasons.append(_("the name is longer than %(n)d characters", n=LIMITS["name"]))

    email = _email(clean["email"], reasons) if "email" in clean else None
    if email and email in first_line_of:
        reasons.append(_("listed twice (first on line %(line)d)", line=first_line_of[email]))

    organisation = clean.get("organisation") or None
    if organisation and len(organisation) > LIMITS["organisation"]:
        reasons.append(_("the organisation is longer than %(n)d characters",
                         n=LIMITS["organisation"]))

    country = None
    if clean.get("country"):
        country = country_code(clean["country"])
        if country is None:
            reasons.append(_("unknown country '%(value)s'", value=_shown(clean["country"])))

    role = "participant"
    if clean.get("role"):
        role = role_of(clean["role"])
        if role is None:
            reasons.append(_("unknown role '%(value)s' (participant, speaker, guest or VIP)",
                             value=_shown(clean["role"])))

    if reasons:
        return Problem(line, dict(values), tuple(reasons))
    return Invitee(line=line, name=name, email=email, organisation=organisation,
                   country=country, role=role, locale=locale_of(clean.get("language", "")))


def _is_cjk(text: str) -> bool:
    return all("\u2e80" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff" for char in text)


def _join_name(first: str, last: str) -> str:
    """Chinese names are written family name first and without a space; others given name
    first."""
    if first and last and _is_cjk(first + last):
        return last + first
    return " ".join(part for part in (first, last) if part)


_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))


def _email(text: str, reasons: list[str]) -> str | None:
    """The normalised address, or None with the reason added. Pasted addresses bring
    invisible characters and "mailto:" along; a second address or a header line
    ("a@b.org\\r\\nBcc: ...") fails validation."""
    address = text.translate(_INVISIBLE).strip()
    if address[:7].casefold() == "mailto:":
        address = address[7:]
    if not address:
        reasons.append(_("missing email address"))
        return None
    if len(address) > LIMITS["email"]:
        reasons.append(_("the email address is longer than %(n)d characters",
                         n=LIMITS["email"]))
        return None
    try:
        checked = validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        reasons.append(_("not an email address: '%(value)s'", value=_shown(text)))
        return None
    return normalise_email(checked.normalized)


# Countries, roles, languages -------------------------------------------------------------

_COUNTRY_ALIASES = {
    "usa": "US", "us": "US", "unitedstatesofamerica": "US", "america": "US",
    "uk": "GB", "greatbritain": "GB", "britain": "GB", "england": "GB", "scotland": "GB",
    "wales": "GB", "northernireland": "GB",
    "korea": "KR", "republicofkorea": "KR", "korearepublicof": "KR",
    "russianfederation": "RU", "czechrepublic": "CZ", "turkey": "TR", "holland": "NL",
    "hongkong": "HK", "macau": "MO", "macao": "MO", "ivorycoast": "CI", "uae": "AE",
    "prc": "CN", "prchina": "CN", "peoplesrepublicofchina": "CN", "mainlandchina": "CN",
    "chinamainland": "CN", "vietnam": "VN",
    "中国大陆": "CN", "中华人民共和国": "CN", "中国香港": "HK", "香港": "HK",
    "中国澳门": "MO", "澳门": "MO", "中国台湾": "TW",
}


@cache
def _country_names() -> dict[str, str]:
    """Names in English and Chinese first (the forum's languages), then in the languages
    of the largest European partners; ISO alpha-3 codes from CLDR's territory aliases."""
    names: dict[str, str] = {}
    for locale in ("en", "zh", "zh_Hant", "de", "fr", "es", "pt", "it"):
        for code, name in country_choices(locale):
            names.setdefault(_key(name), code)
    for alias, targets in get_global("territory_aliases").items():
        if len(alias) == 3 and alias.isalpha() and len(targets) == 1 and is_country(targets[0]):
            names.setdefault(alias.lower(), targets[0])
    for alias, code in _COUNTRY_ALIASES.items():
        names.setdefault(alias, code)
    return names


def country_code(text: str) -> str | None:
    """ISO alpha-2 code for a code ("cn", "CHN") or a name ("China", "中国", "The
    Netherlands"), or None."""
    value = text.strip()
    if len(value) == 2 and is_country(value.upper()):
        return value.upper()
    key = _key(value)
    names = _country_names()
    return names.get(key) or (names.get(key[3:]) if key.startswith("the") else None)


_ROLE_NAMES = {
    "participant": ("participant", "attendee", "delegate", "参会者", "参会人员", "与会者",
                    "参会代表"),
    "speaker": ("speaker", "presenter", "keynote", "keynotespeaker", "演讲嘉宾", "讲者",
                "演讲者", "发言人", "发言嘉宾", "主讲人"),
    "guest": ("guest", "嘉宾", "来宾"),
    "vip": ("vip", "vipguest", "贵宾", "vip嘉宾"),
}
_ROLES = {_key(alias): role for role, aliases in _ROLE_NAMES.items() for alias in aliases}


def role_of(text: str) -> str | None:
    key = _key(text)
    return _ROLES.get(key) or (_ROLES.get(key[:-1]) if key.endswith("s") else None)


_LANGUAGE_ALIASES = {"mandarin": "zh", "汉语": "zh", "普通话": "zh", "简体中文": "zh_Hans",
                     "繁体中文": "zh_Hant", "繁體中文": "zh_Hant", "英语": "en", "英文": "en"}


def locale_of(text: str) -> str | None:
    """The site's locale for a code ("zh-CN", "zh_Hans") or a language name ("Chinese",
    "中文"); None for blank or a language the site does not speak (the invitation then
    goes out in the event's default language)."""
    if not text.strip():
        return None
    available = tuple(available_locales())
    found = _match_locale(text, available)
    if found is None:
        code = _language_names(available).get(_key(text))
        found = _match_locale(code, available) if code else None
    return found


def _match_locale(code: str, available: tuple[str, ...]) -> str | None:
    parts = [part for part in re.split(r"[-_\s]+", code.strip().lower()) if part]
    if not parts or not (parts[0].isascii() and parts[0].isalpha() and len(parts[0]) in (2, 3)):
        return None
    by_key = {locale.lower().replace("-", "_"): locale for locale in available}
    return by_key.get("_".join(parts)) or by_key.get(parts[0])


@cache
def _language_names(available: tuple[str, ...]) -> dict[str, str]:
    """Language names -> codes: each site language by its own name first ("中文"), then
    every language by its name in English and in each site language."""
    names: dict[str, str] = {}
    for code in available:
        try:
            locale = Locale.parse(code)
        except (ValueError, UnknownLocaleError):
            continue
        for name in (locale.languages.get(locale.language), locale.get_display_name(code)):
            if name:
                names.setdefault(_key(name), code)
    for display in dict.fromkeys(("en", *available)):
        try:
            languages = Locale.parse(display).languages
        except (ValueError, UnknownLocaleError):
            continue
        for code, name in languages.items():
            names.setdefault(_key(name), code)
    for alias, code in _LANGUAGE_ALIASES.items():
        names.setdefault(_key(alias), code)
    return names
